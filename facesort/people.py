"""People: grouping faces, naming groups, and every decision the user makes.

The user's decisions (names, assignments, rejections, ignored groups) are
stored apart from facesort's automatic names and are never overwritten by a
cluster run; automatic names are recomputed from them every time.
"""

from __future__ import annotations

import difflib
import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from facesort.text import plural
from facesort.errors import FacesortError
from facesort.names import clean_name
from facesort.store import ClusterRun, GroupingInput, NewCluster, Person, Store
from facesort.thresholds import PackThresholds, thresholds_for

# numpy and the clustering modules are imported by the functions that group
# and compare faces: finding and listing people start without them.
if TYPE_CHECKING:
    import numpy as np

    from facesort.cluster import ClusterParams


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


@dataclass(frozen=True)
class ClusterReport:
    faces: int
    groups: int
    grouped_faces: int
    unknown_faces: int
    ignored_groups: int
    kept_group_ids: int
    named_people: int
    auto_named_faces: int
    group_sizes: list[int]
    seconds: float
    thresholds: str | None
    run: str  # full, incremental (only new faces and changes), or unchanged
    new_faces: int

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


def require_pack(store: Store, pack_name: str) -> int:
    pack_id = store.find_pack(pack_name)
    if pack_id is None:
        known = ", ".join(store.pack_names()) or "none yet"
        raise FacesortError(
            f"no faces from model pack {pack_name!r} in the library (packs: {known}); "
            "run 'facesort scan' with it first"
        )
    return pack_id


def auto_names(data: GroupingInput, labels: np.ndarray, thresholds: PackThresholds,
               rejected: set[tuple[int, int]], excluded: np.ndarray) -> list[tuple[int, int, float]]:
    """Automatic ``(face, person, distance)`` for the faces the user has not
    decided, from the people the user named.

    Two sources, both FaceNet's one-to-K recognition at heart:
    - a face within the recognition threshold of one named person's centroid
      (and clearly nearer to it than to anyone else's) gets that person;
    - named faces anchor their group: when all the user-named faces of a group
      are one person, its other faces get that person too. Groups are refined
      to about 0.99 precision, and this is what makes one named face enough.
    A face that recognition gives to someone else than its group's anchor gets
    no name. Never given: a person the user rejected for that face, a person
    already named in the same photo, or one person to two faces of one photo
    (the nearest face wins).
    """
    import numpy as np

    from facesort.recognize import UNKNOWN, Gallery, recognize

    gallery = Gallery.from_named(data.embeddings, data.person_ids)
    open_faces = np.flatnonzero((data.person_ids == 0) & ~excluded)
    if len(gallery.person_ids) == 0 or len(open_faces) == 0:
        return []
    found = recognize(data.embeddings[open_faces], gallery, thresholds.recognize, thresholds.margin)
    # A group's anchor: the one person its user-named faces are, if one.
    both = (labels >= 0) & (data.person_ids > 0)
    pairs = np.unique(np.stack([labels[both], data.person_ids[both]], axis=1), axis=0)
    group, first, people_in_group = np.unique(pairs[:, 0], return_index=True, return_counts=True)
    anchor_of = np.zeros(int(labels.max(initial=-1)) + 2, np.int64)  # by label + 1; 0 for none
    anchor_of[group[people_in_group == 1] + 1] = pairs[first[people_in_group == 1], 1]
    anchor = anchor_of[labels[open_faces] + 1]
    anchored = anchor > 0
    disagrees = anchored & (found.person != UNKNOWN) & (found.person != anchor)
    person = np.where(anchored, anchor, found.person)
    person[disagrees] = UNKNOWN
    distance = found.distance.copy()
    by_anchor = anchored & ~disagrees
    distance[by_anchor] = np.linalg.norm(
        data.embeddings[open_faces[by_anchor]]
        - gallery.centroids[np.searchsorted(gallery.person_ids, anchor[by_anchor])], axis=1)
    keep = person != UNKNOWN
    rows, person, distance = open_faces[keep], person[keep], distance[keep]
    faces, photos = data.face_ids[rows], data.photo_ids[rows]
    # A person already named in the photo, or rejected for the face, is never given.
    span = int(max(person.max(initial=0), data.person_ids.max(initial=0))) + 1
    named = data.person_ids > 0
    taken = np.isin(photos * span + person, data.photo_ids[named] * span + data.person_ids[named])
    refused = np.isin(faces * span + person,
                      [face * span + rejected_person for face, rejected_person in rejected
                       if rejected_person < span])
    keep = ~taken & ~refused
    faces, photos, person, distance = faces[keep], photos[keep], person[keep], distance[keep]
    # One person to one face of a photo: the nearest (then the first) wins.
    order = np.lexsort((np.arange(len(faces)), distance, photos * span + person))
    _, first_of_pair = np.unique((photos * span + person)[order], return_index=True)
    chosen = order[first_of_pair]
    return [(int(f), int(p), float(d)) for f, p, d in zip(faces[chosen], person[chosen], distance[chosen])]


# A library this many times larger than at its last full run is clustered in
# full again: its blocks have grown too large to cluster again quickly.
FULL_RUN_GROWTH = 2


def grouping_state(store: Store, pack_name: str) -> str:
    """Whether the pack's faces are grouped: "never" (no cluster run yet),
    "stale" (faces came or went since the last run) or "current"."""
    pack_id = store.find_pack(pack_name) if pack_name else None
    last = store.cluster_run(pack_id) if pack_id is not None else None
    if last is None:
        return "never"
    return "current" if (last.faces, last.max_face_id) == tuple(store.face_state(pack_id)) else "stale"


def update_groups(store: Store, pack_name: str, params: ClusterParams | None = None,
                  full: bool = False) -> ClusterReport:
    """Group the pack's faces, keep group ids and ignored groups where
    membership mostly persists, and recompute the automatic names.

    Only what changed since the last run is done again: nothing at all when
    no face came or went and no decision changed; new faces join the groups
    they clearly belong to, and only the blocks that received the others are
    clustered again. ``full`` clusters every face again."""
    import numpy as np

    from facesort.cluster import (BLOCK_SIZE, Blocking, ClusterParams, blocking_for,
                                  cluster_embeddings, cluster_new_faces, match_groups, members_of)
    from facesort.tune import adapter_for

    started = time.perf_counter()
    pack_id = require_pack(store, pack_name)
    thresholds = thresholds_for(pack_name)
    params = params or ClusterParams()
    if params.refine_distance is None and thresholds is not None:
        params = replace(params, refine_distance=thresholds.cluster,
                         rescue_distance=thresholds.recognize, rescue_margin=thresholds.margin)
    settings = json.dumps(asdict(params), sort_keys=True)
    # Read before the faces: a decision made while this run works is seen by the next.
    decisions = store.decision_changes()
    faces, max_face_id = store.face_state(pack_id)
    last = store.cluster_run(pack_id) if not full else None
    if last is not None and last.settings != settings:
        last = None
    if last is not None and (last.faces, last.max_face_id, last.decisions) == (
            faces, max_face_id, decisions):
        return replace(ClusterReport(**json.loads(last.report)), run="unchanged", new_faces=0,
                       seconds=time.perf_counter() - started)
    if last is not None and (faces > FULL_RUN_GROWTH * last.full_run_faces
                             or (last.blocking is None and faces > BLOCK_SIZE)):
        last = None
    data = store.grouping_input(pack_id)
    new = data.face_ids > (last.max_face_id if last else 0)
    if last is None:
        blocking = blocking_for(data.embeddings)
        labels = (cluster_embeddings(data.embeddings, params, blocking) if len(data.face_ids)
                  else np.zeros(0, dtype=np.int64))
    else:
        blocking = Blocking.from_bytes(last.blocking) if last.blocking else None
        _, labels = np.unique(data.cluster_ids, return_inverse=True)
        labels = labels - (1 if (data.cluster_ids == 0).any() else 0)
        if new.any():
            labels = cluster_new_faces(data.embeddings, labels, new, params, blocking)
    kept = match_groups(labels, data.cluster_ids)
    ignored_before = store.ignored_clusters(pack_id)
    groups = []
    excluded = data.ignored.copy()
    for label, members in enumerate(members_of(labels)):
        previous = kept.get(label)
        # A group stays ignored when it is the ignored group of before, or a
        # new group most of whose faces were ignored; never when the user named
        # any of its faces: such a group is a person, and ignoring it would
        # hide that person from automatic naming.
        ignored = (
            (previous in ignored_before
             or (previous is None and bool(data.ignored[members].mean() >= 0.5)))
            and not data.person_ids[members].any()
        )
        if ignored:
            excluded[members] = True
        groups.append(NewCluster(previous, ignored, data.face_ids[members]))
    store.save_clusters(pack_id, groups, data.face_ids, data.cluster_ids)
    names = []
    if thresholds is not None:
        # The adapter 'facesort tune' kept changes recognition only: the groups
        # stay on the pack's own embeddings.
        adapter = adapter_for(store, pack_id)
        named_from = data
        if adapter is not None:
            named_from = replace(data, embeddings=adapter.apply(data.embeddings))
            thresholds = adapter.thresholds(thresholds)
        names = auto_names(named_from, labels, thresholds, store.rejected_pairs(pack_id), excluded)
    store.save_auto_names(pack_id, names)
    report = ClusterReport(
        faces=len(data.face_ids),
        groups=len(groups),
        grouped_faces=int(np.sum(labels >= 0)),
        unknown_faces=int(np.sum(labels < 0)),
        ignored_groups=sum(g.ignored for g in groups),
        kept_group_ids=len(kept),
        named_people=len(np.unique(data.person_ids[data.person_ids > 0])),
        auto_named_faces=len(names),
        group_sizes=[len(g.face_ids) for g in groups],
        seconds=time.perf_counter() - started,
        thresholds=thresholds.source if thresholds else None,
        run="full" if last is None else "incremental",
        new_faces=int(new.sum()),
    )
    store.save_cluster_run(pack_id, ClusterRun(
        faces=faces, max_face_id=max_face_id, decisions=decisions, settings=settings,
        full_run_faces=faces if last is None else last.full_run_faces,
        blocking=blocking.to_bytes() if blocking is not None else None,
        report=json.dumps(report.as_dict())))
    return report


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


def name_group(store: Store, group_id: int, name: str, exclude: Iterable[int] = ()) -> Naming:
    """Name a group's faces; faces in ``exclude`` leave the group and are
    rejected from this person. Faces the user already gave to someone else,
    or rejected from this person, keep those decisions. One person is in a
    photo once: of a group's faces in one photo, the one nearest the group's
    other faces is named. Naming an ignored group takes the ignore back."""
    require_group(store, group_id)
    person = person_for_naming(store, name)
    store.unignore_cluster(group_id)
    excluded = set(exclude)
    if excluded:
        store.reject(excluded, person.id)
        store.detach_from_cluster(excluded)
    faces = [face for face in store.faces_in_cluster(group_id) if face.id not in excluded]
    rejected = store.rejected_pairs_for(person.id)
    already_there = store.photos_named_by_user(person.id, store.cluster_pack(group_id))
    left_out: dict[str, list[int]] = {}
    candidates = []
    for face in faces:
        if face.user_person_id not in (None, person.id):
            reason = f"you named it {face.person}"
        elif face.id in rejected:
            reason = f"you rejected it from {person.name}"
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
    return Naming(person, sorted(chosen), left_out)


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
