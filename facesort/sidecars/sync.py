"""Names in and out of other apps' metadata: write XMP sidecars for the
library's named faces, and import the face names other apps wrote."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from facesort.sidecars import xmp
from facesort.scanning.decoding import swaps_axes
from facesort.scanning.walk import is_raw_name, is_video_name
from facesort.errors import FacesortError, PhotoError, shown
from facesort.files import atomic_write, remove_stale_temporaries
from facesort.people.decisions import person_for_naming
from facesort.store import PhotoRecord, Store
from facesort.store import FaceInfo
from facesort.store.decisions import box_overlap

# A region and a detected face are the same face when they overlap this much
# (intersection over union); other apps draw boxes a little differently.
MATCH_IOU = 0.3


@dataclass
class WriteReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    # Names written but left out of the keyword trees, whose level separator they hold.
    left_out_of_trees: set[str] = field(default_factory=set)
    # Photos sharing a stem whose names went to sidecars of their full names.
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "failed": len(self.errors), "errors": self.errors,
                "left_out_of_trees": sorted(self.left_out_of_trees), "notes": self.notes}


def _stored_size(photo: PhotoRecord) -> tuple[int, int]:
    return (photo.height, photo.width) if swaps_axes(photo.orientation) else (photo.width, photo.height)


def _one_shot(photos: list[PhotoRecord]) -> bool:
    """Photos that share a stem are one shot (a RAW and the camera's JPEG of
    it) when they were taken at the same second and have the same shape."""
    first = photos[0]

    def aspect(photo: PhotoRecord) -> float:
        return photo.width / photo.height if photo.height else 0.0

    return first.taken_at is not None and all(
        p.taken_at == first.taken_at and math.isclose(aspect(p), aspect(first), rel_tol=0.01)
        for p in photos[1:])


@dataclass(frozen=True)
class _Sidecar:
    """Where a photo's names go, and whose names they are: one photo's, or
    those of every photo of one shot when they share the stem's sidecar."""

    target: Path
    current: Path | None
    photos: tuple[PhotoRecord, ...]
    note: str | None = None


def _sidecar_of(photo: PhotoRecord, same_stem: list[PhotoRecord] | None,
                stem_names: bool) -> _Sidecar:
    """photo.ext.xmp where it exists; else photo.xmp (where it exists, or
    for a new sidecar with ``stem_names``) unless another photo has the same
    stem: then only one shot shares it, and different photos use their
    full names, so that no photo's names replace another's."""
    full, stem = xmp.sidecar_paths(Path(photo.path))
    if full.is_file():
        return _Sidecar(full, full, (photo,))
    wants_stem = stem.is_file() or stem_names
    if same_stem is None:
        return _Sidecar(stem if wants_stem else full, stem if stem.is_file() else None, (photo,))
    if _one_shot(same_stem):
        if not wants_stem:
            return _Sidecar(full, None, (photo,))
        sharing = tuple(p for p in same_stem if not xmp.sidecar_paths(Path(p.path))[0].is_file())
        return _Sidecar(stem, stem if stem.is_file() else None, sharing)
    note = None
    if wants_stem:
        names = [shown(Path(p.path).name) for p in same_stem]
        note = (f"{', '.join(names)} share the name {shown(stem.name)} but are different photos: "
                f"their names go to {', '.join(n + '.xmp' for n in names)}")
    return _Sidecar(full, None, (photo,), note)


def _photos_by_stem(library: list[PhotoRecord]) -> dict[tuple[str, str], list[PhotoRecord]]:
    """The library's photos that share their folder and stem with another."""
    by_stem: dict[tuple[str, str], list[PhotoRecord]] = {}
    for photo in library:
        path = Path(photo.path)
        by_stem.setdefault((str(path.parent), path.stem), []).append(photo)
    return {key: photos for key, photos in by_stem.items() if len(photos) > 1}


def write_sidecars(
    store: Store,
    pack_id: int,
    photos: list[PhotoRecord],
    *,
    person_id: int | None = None,
    include_auto: bool = True,
    stem_names: bool = False,
    dry_run: bool = False,
    library: list[PhotoRecord] | None = None,
    on_change: Callable[[str, str, list[str]], None] = lambda *_: None,
    on_error: Callable[[str], None] = lambda _: None,
) -> WriteReport:
    """Bring each photo's sidecar up to date with the library's names.

    A sidecar that already exists (either name) is merged into; one is created
    only for a photo with named faces. ``on_change(kind, sidecar, names)`` is
    told of each change, also in a dry run. ``library`` is every photo in the
    library, when the caller has already read it (shared stems are found among
    all of them, not only among ``photos``).
    """
    report = WriteReport()
    cleaned: set[Path] = set()
    done: set[Path] = set()
    named = store.named_faces(pack_id, include_auto)
    wanted = store.photos_of_person(person_id, pack_id) if person_id is not None else None
    by_stem = _photos_by_stem(store.photos_in(None) if library is None else library)
    for photo in photos:
        if wanted is not None and photo.id not in wanted:
            continue
        path = Path(photo.path)
        sidecar = _sidecar_of(photo, by_stem.get((str(path.parent), path.stem)), stem_names)
        target, current = sidecar.target, sidecar.current
        if target in done:
            continue  # shared with a photo of the same shot, written with it
        done.add(target)
        faces = [face for shot in sidecar.photos for face in named.get(shot.id, [])]
        if current is None and not faces:
            continue
        if sidecar.note and sidecar.note not in report.notes:
            report.notes.append(sidecar.note)
        # One shot's photos name the same faces: each region once. A clip's
        # people go in as keywords only: a region is of one frame.
        regions = list(dict.fromkeys(
            xmp.Region(name, *xmp.displayed_to_stored(box, shot.width, shot.height,
                                                      shot.orientation))
            for shot in sidecar.photos if not shot.is_clip for box, name in named.get(shot.id, [])))
        people = sorted({name for shot in sidecar.photos if shot.is_clip
                         for _, name in named.get(shot.id, [])})
        if not dry_run and target.parent not in cleaned:
            cleaned.add(target.parent)
            remove_stale_temporaries(target.parent, ".xmp")
        try:
            old = current.read_bytes() if current else None
            new = xmp.merge(old, target, regions, *_stored_size(sidecar.photos[0]), people=people)
            if new == old:
                report.unchanged += 1
                continue
            if current and not current.stat().st_mode & 0o222:
                # Made read-only on purpose (by the user or another app):
                # replacing it would undo that.
                raise PhotoError(current, "the sidecar is read-only; left as it is (make it "
                                          "writable to let facesort update it)")
            if not dry_run:
                if not path.exists():
                    raise PhotoError(path, "the photo is gone; run 'facesort scan' to update the library")
                with atomic_write(target) as out:
                    out.write(new)
        except (PhotoError, OSError) as exc:
            message = str(exc) if isinstance(exc, PhotoError) else f"{target}: {exc.strerror or exc}"
            report.errors.append(message)
            on_error(message)
            continue
        kind = "updated" if current else "created"
        getattr(report, kind).append(str(target))
        names = sorted({name for _, name in faces})
        report.left_out_of_trees |= {n for n in names if xmp.nests_in_a_tree(n)}
        on_change(kind, str(target), names)
    return report


@dataclass
class ImportReport:
    photos: int = 0
    faces_named: int = 0
    regions_unmatched: int = 0
    people: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"photos": self.photos, "faces_named": self.faces_named,
                "regions_unmatched": self.regions_unmatched, "people": sorted(self.people),
                "failed": len(self.errors), "errors": self.errors}


def embedded_xmp(path: Path) -> bytes | None:
    """The XMP packet inside a JPEG, PNG, WebP or TIFF file, or a TIFF-based
    camera RAW (DNG, CR2, NEF...), if any."""
    try:
        with Image.open(path) as image:
            packet = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
            if packet is None and hasattr(image, "tag_v2"):
                packet = image.tag_v2.get(700)
    except Exception as exc:  # Pillow raises many kinds on damaged files
        if is_raw_name(path):
            # Pillow reads only TIFF-based RAWs, and not all of those; apps
            # keep the names of a CR3, RAF or ORF in its sidecar.
            return None
        raise PhotoError(path, f"cannot read embedded XMP: {exc}") from exc
    if isinstance(packet, str):
        packet = packet.encode("utf-8")
    return bytes(packet) if packet else None


def _foreign_tags(path: Path, people_tag: tuple[str, ...]) -> list[xmp.ForeignTags]:
    sources = []
    for candidate in xmp.sidecar_paths(path):
        if candidate.is_file():
            try:
                sources.append((candidate, candidate.read_bytes()))
            except OSError as exc:
                raise xmp.SidecarError(candidate, exc.strerror or str(exc)) from exc
    # A clip's own XMP (in its container) is not read: Pillow cannot open it.
    packet = None if is_video_name(str(path)) else embedded_xmp(path)
    if packet:
        sources.append((path, packet))
    return [xmp.read_xmp(text, source, people_tag) for source, text in sources]


def _keyword_people(store: Store, tags: list[xmp.ForeignTags]) -> list[str]:
    """The people that a photo's keywords name. The person properties say so
    outright; dc:subject is a flat list that also holds keywords such as
    "beach", so one of its keywords is a person only when another person
    property names it too, when a person of that name is in the library, or
    when it is the photo's only keyword and no keyword tree says otherwise."""
    people: dict[str, str] = {}
    for found in tags:
        for name in found.people:
            people.setdefault(name.casefold(), name)
    for found in tags:
        for keyword in found.subjects:
            if keyword.casefold() not in people and (
                    keyword == found.lone_subject or store.find_person(keyword) is not None):
                people[keyword.casefold()] = keyword
    return list(people.values())


def import_names(
    store: Store,
    pack_id: int,
    photos: list[PhotoRecord],
    people_tag: str = xmp.DEFAULT_PEOPLE_TAG,
    on_error: Callable[[str], None] = lambda _: None,
) -> ImportReport:
    """Take over the face names other apps wrote, as the user's own decisions
    (source "import"). A face the user already decided keeps that decision;
    what facesort itself wrote is never taken back. ``people_tag`` is the top
    of the people tree in digiKam's and Lightroom's keywords."""
    tag = xmp.people_tag_levels(people_tag)
    report = ImportReport()
    for photo in photos:
        try:
            tags = _foreign_tags(Path(photo.path), tag)
        except PhotoError as exc:
            report.errors.append(str(exc))
            on_error(str(exc))
            continue
        regions = [region for found in tags for region in found.regions]
        people = [] if regions else _keyword_people(store, tags)
        if not regions and not people:
            continue
        report.photos += 1
        detected = store.faces_of_photo(photo.id, pack_id)
        faces = [f for f in detected if f.person_source != "user"]
        matches: list[tuple[FaceInfo, str]] = []
        if regions:
            taken: set[int] = set()
            for region in regions:
                box = xmp.stored_to_displayed(region, photo.width, photo.height, photo.orientation)
                best = max(faces, key=lambda f: box_overlap(f.box, box), default=None)
                if best is None or best.id in taken or box_overlap(best.box, box) < MATCH_IOU:
                    report.regions_unmatched += 1
                    continue
                taken.add(best.id)
                matches.append((best, region.name))
        elif len(people) == 1 and len(detected) == 1 and faces:
            # A person tag without a region, on a photo with one face: that face.
            matches.append((faces[0], people[0]))
        for face, name in matches:
            try:
                person = person_for_naming(store, name, from_other_app=True)
            except FacesortError as exc:
                message = f"{photo.path}: name {name!r} not taken: {exc}"
                report.errors.append(message)
                on_error(message)
                continue
            report.people.add(person.name)
            if face.person_source == "import" and face.user_person_id == person.id:
                continue  # imported before
            store.set_person([face.id], person.id, source="import")
            report.faces_named += 1
    return report
