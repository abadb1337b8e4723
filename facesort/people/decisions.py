"""The user's decisions on people: finding a person by name, naming a group,
rename, merge, reject, assign, confirm, ignore.

The user's decisions (names, assignments, rejections, ignored groups) are
stored apart from facesort's automatic names (``cluster_run``) and are never
overwritten by a cluster run.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from facesort.text import plural
from facesort.errors import FacesortError
from facesort.people.ages import before_birth
from facesort.people.names import clean_name
from facesort.store import Person, Store


class UnknownNameError(FacesortError):
    def __init__(self, name: str, known: list[str]):
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        if not close:  # a prefix or a different case is a likely slip too
            close = [k for k in known if k.casefold().startswith(name.casefold()[:3])][:3]
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(f"no person named {name!r}{hint}")


class AmbiguousNameError(FacesortError):
    def __init__(self, name: str, matches: list[str]):
        listed = ", ".join(repr(m) for m in matches[:5]) + (", ..." if len(matches) > 5 else "")
        super().__init__(f"{name!r} could be {listed}: give more of the name")


class UnknownGroupError(FacesortError):
    def __init__(self, group_id: int):
        super().__init__(f"no group {group_id}: 'facesort clusters' lists them")


class UnknownFaceError(FacesortError):
    def __init__(self, face_ids: list[int]):
        ids = ", ".join(map(str, face_ids))
        super().__init__(f"no face {ids} in the library: 'facesort show NAME|GROUP' numbers them")


def find_person(store: Store, name: str) -> Person:
    """The person ``name`` means: the same name in any case, else the one
    person whose name (or a word of it) starts with it, so "putin" finds
    "Vladimir Putin"."""
    wanted = clean_name(name, allow_separators=True)
    person = store.find_person(wanted)
    if person is not None:
        return person
    everyone = store.people()
    key = wanted.casefold()
    starts = [p for p in everyone
              if any(word.startswith(key) for word in (p.name.casefold(), *p.name.casefold().split()))]
    if len(starts) == 1:
        return starts[0]
    if starts:
        raise AmbiguousNameError(wanted, [p.name for p in starts])
    raise UnknownNameError(wanted, [p.name for p in everyone])


def person_for_naming(store: Store, name: str, *, from_other_app: bool = False) -> Person:
    """The person called ``name`` (any case), created if there is none yet."""
    name = clean_name(name, allow_separators=from_other_app)
    return store.find_person(name) or store.add_person(name)


def require_group(store: Store, group_id: int) -> None:
    if not store.cluster_exists(group_id):
        raise UnknownGroupError(group_id)


@dataclass(frozen=True)
class Naming:
    """What naming a group did: the faces named, and the ones left out with why."""

    person: Person
    named: list[int]
    left_out: dict[str, list[int]]  # reason → face ids
    born: str | None = None  # the birth date given with the name


def name_group(store: Store, group_id: int, name: str, exclude: Iterable[int] = (),
               born: str | None = None) -> Naming:
    """Name a group's faces; faces in ``exclude`` leave the group and are
    rejected from this person. Faces the user already gave to someone else,
    or rejected from this person, keep those decisions. One person is in a
    photo once: of a group's faces in one photo, the one nearest the group's
    other faces is named. Naming an ignored group takes the ignore back.
    ``born`` (ages.parse_born) gives the person that birth date first: the
    group's faces in photos taken before it are left out."""
    require_group(store, group_id)
    person = person_for_naming(store, name)
    if born is not None:
        store.set_born(person.id, born)
    store.unignore_cluster(group_id)
    excluded = set(exclude)
    if excluded:
        store.reject(excluded, person.id)
        store.detach_from_cluster(excluded)
    faces = [face for face in store.faces_in_cluster(group_id) if face.id not in excluded]
    rejected = store.rejected_pairs_for(person.id)
    already_there = store.photos_named_by_user(person.id, store.cluster_pack(group_id))
    born = store.birth_dates().get(person.id)
    early = faces_before_birth(store, (face.id for face in faces), born)
    left_out: dict[str, list[int]] = {}
    candidates = []
    for face in faces:
        if face.user_person_id not in (None, person.id):
            reason = f"you named it {face.person}"
        elif face.id in rejected:
            reason = f"you rejected it from {person.name}"
        elif face.user_person_id is None and face.id in early:
            reason = f"the photo was taken before {person.name} was born ({born})"
        elif face.user_person_id is None and face.photo_id in already_there:
            reason = f"{person.name} is already named in the same photo"
        else:
            candidates.append(face)
            continue
        left_out.setdefault(reason, []).append(face.id)
    chosen = _one_face_per_photo(store, candidates)
    crowded = [face.id for face in candidates if face.id not in chosen]
    if crowded:
        left_out[f"another face in the same photo fits {person.name} better"] = crowded
    store.set_person(chosen, person.id)
    return Naming(person, sorted(chosen), left_out, born)


def _one_face_per_photo(store: Store, faces: list) -> set[int]:
    """The faces to name: all of them, except that of several faces in one
    photo only the one nearest the mean of the others is kept."""
    import numpy as np

    per_photo = Counter(face.photo_id for face in faces)
    alone = [face.id for face in faces if per_photo[face.photo_id] == 1]
    shared = [face for face in faces if per_photo[face.photo_id] > 1]
    if not shared:
        return set(alone)
    vectors = store.embeddings_of([f.id for f in faces])
    anchor = np.mean([vectors[i] for i in alone] if alone else list(vectors.values()), axis=0)
    best: dict[int, tuple[float, int]] = {}
    for face in shared:
        distance = float(np.linalg.norm(vectors[face.id] - anchor))
        if face.photo_id not in best or distance < best[face.photo_id][0]:
            best[face.photo_id] = (distance, face.id)
    return set(alone) | {face_id for _, face_id in best.values()}


def rename(store: Store, old: str, new: str) -> Person:
    person = find_person(store, old)
    new = clean_name(new)
    clash = store.find_person(new)
    if clash is not None and clash.id != person.id:
        raise FacesortError(
            f"{clash.name!r} already exists; to make them one person: facesort merge {clash.name!r} {person.name!r}"
        )
    store.rename_person(person.id, new)
    return store.person_by_id(person.id)


def merge(store: Store, name: str, other: str) -> Person:
    keep, gone = find_person(store, name), find_person(store, other)
    if keep.id == gone.id:
        raise FacesortError(f"{keep.name!r} and {other!r} are the same person already")
    store.merge_people(keep.id, gone.id)
    return keep


def _faces(store: Store, face_ids: Iterable[int]):
    wanted = list(dict.fromkeys(int(f) for f in face_ids))
    faces = store.faces_by_id(wanted)
    missing = [f for f in wanted if f not in faces]
    if missing:
        raise UnknownFaceError(missing)
    return [faces[f] for f in wanted]


def reject(store: Store, face_ids: Iterable[int], from_name: str | None = None) -> int:
    """Take faces away from a person (``from_name``, else each face's current
    person); the person is never given back to them automatically."""
    faces = _faces(store, face_ids)
    if from_name is not None:
        person = find_person(store, from_name)
        store.reject([f.id for f in faces], person.id)
        return len(faces)
    unnamed = [f.id for f in faces if f.person is None]
    if unnamed:
        raise FacesortError(
            f"face {', '.join(map(str, unnamed))} has no person to reject it from; use --from NAME"
        )
    for face in faces:
        store.reject([face.id], find_person(store, face.person).id)
    return len(faces)


def assign(store: Store, face_ids: Iterable[int], name: str) -> Person:
    faces = _faces(store, face_ids)
    person = person_for_naming(store, name)
    store.set_person([f.id for f in faces], person.id)
    return person


def taken_before_birth(store: Store, face_ids: Iterable[int], person: Person) -> list[int]:
    """Of ``face_ids``, those in photos taken before ``person`` was born."""
    return sorted(faces_before_birth(store, face_ids, store.birth_dates().get(person.id)))


def faces_before_birth(store: Store, face_ids: Iterable[int], born: str | None) -> set[int]:
    """Of ``face_ids``, those in photos taken before ``born`` (ages.before_birth);
    none, and nothing read, without a birth date."""
    if not born:
        return set()
    taken = store.capture_times(face_ids)
    return {face for face, when in taken.items() if before_birth(born, when)}


def set_born(store: Store, name: str, born: str | None) -> Person:
    """Give ``name`` a birth date (facesort.people.ages.parse_born), or clear it with None."""
    person = find_person(store, name)
    store.set_born(person.id, born)
    return person


def confirm(store: Store, name: str, face_ids: Iterable[int] = ()) -> int:
    """Make automatic names your own decisions: all of a person's, or those faces."""
    person = find_person(store, name)
    wanted = set(face_ids)
    automatic = [f.id for pack in store.pack_names() for f in
                 store.faces_of_person(person.id, store.find_pack(pack)) if f.person_source == "auto"]
    if wanted:
        unknown = sorted(wanted - set(automatic))
        if unknown:
            raise FacesortError(
                f"face {', '.join(map(str, unknown))} is not automatically named {person.name!r}")
        automatic = [f for f in automatic if f in wanted]
    store.set_person(automatic, person.id)
    return len(automatic)


class NamedGroupError(FacesortError):
    def __init__(self, group_id: int, names: dict[str, tuple[int, int]]):
        said = ", ".join(f"{name} ({plural(mine, 'face')} named by you, {auto} automatically)"
                         for name, (mine, auto) in names.items())
        first = next(iter(names))
        super().__init__(
            f"group {group_id} holds faces named {said}: ignoring it would stop naming "
            f"{'them' if len(names) > 1 else first} in new photos. To mark only its unnamed faces "
            f"as strangers: facesort ignore {group_id} --unnamed; for faces that are not {first}: "
            f"facesort reject FACE... --from {first!r} (see facesort show {group_id})")


def ignore(store: Store, group_id: int, unnamed_only: bool = False) -> int:
    """Mark a group as strangers, or only its faces nobody is named on.
    A group with named faces is a person: ignoring it whole would hide that
    person from automatic naming, so that is refused. Returns the faces ignored."""
    require_group(store, group_id)
    faces = store.faces_in_cluster(group_id)
    if unnamed_only:
        return store.ignore_faces([f.id for f in faces if f.person is None])
    names: dict[str, tuple[int, int]] = {}
    for face in faces:
        if face.person is not None:
            mine, auto = names.get(face.person, (0, 0))
            names[face.person] = (mine + (face.person_source != "auto"), auto + (face.person_source == "auto"))
    if names:
        raise NamedGroupError(group_id, names)
    store.ignore_cluster(group_id)
    return len(faces)


def unignore(store: Store, group_id: int) -> None:
    require_group(store, group_id)
    store.unignore_cluster(group_id)
