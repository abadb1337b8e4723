"""FaceNet's verbs on any photo or video clip, in the library or not: who is
in it (one-to-K recognition) and whether two show the same person (one-to-one
verification). In a clip a face is a track (facesort/scanning/tracks.py):
one person's stretch of it, numbered in order of appearance."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facesort.scanning import decoding, tracks, video
from facesort.scanning.walk import is_video_name
from facesort.engine.face_engine import FaceEngine
from facesort.errors import FacesortError, PhotoError, shown
from facesort.people import timeline
from facesort.people.gallery import UNKNOWN, Gallery, Recognition, recognize
from facesort.people.timeline import Timeline
from facesort.store import Store
from facesort.engine.thresholds import PackThresholds
from facesort.people.tune import Adapter, adapter_for


@dataclass(frozen=True)
class FoundFace:
    number: int  # 1 = leftmost (in a clip: the first to appear)
    box: tuple[float, float, float, float]  # displayed pixels
    score: float
    embedding: np.ndarray
    time: float | None = None  # in a clip: seconds to the track's best face
    day: float = float("nan")  # the photo's capture time (Julian day); NaN without a date


@dataclass(frozen=True)
class Identified:
    face: FoundFace
    person: str | None  # the answer (the library's for a photo in it); None: unknown
    nearest: str | None  # the best-matching named person, even when too far
    distance: float | None
    # For a photo in the library: who named the face ("user", "import",
    # "auto", or None: nobody), and the model's own answer (None: unknown).
    source: str | None = None
    model_person: str | None = None
    in_library: bool = False


@dataclass(frozen=True)
class KnownFace:
    """A face of a photo in the library, with the library's answer."""

    face: FoundFace
    person: str | None
    source: str | None


def faces_in_library(store: Store, pack_id: int, path: Path) -> list[KnownFace] | None:
    """The faces the library holds for ``path`` with their names, or None when
    the photo is not in the library as it is now (not scanned with this pack,
    or changed since)."""
    stat = os.stat(path)
    state = store.photo_state(os.path.abspath(path), pack_id, os.path.realpath(path))
    if (state is None or state.status != "ok" or not state.scanned_with_pack
            or (state.size, state.mtime_ns) != (stat.st_size, stat.st_mtime_ns)):
        return None
    day = julian_day(store.photo_meta(state.id).taken_at)
    records = store.faces_of(state.id, pack_id)
    infos = store.faces_of_photo(state.id, pack_id)  # the same faces, in the same order (by id)
    # Numbered as the model numbers them: from the left, a clip's in order of appearance.
    ordered = sorted(zip(records, infos), key=lambda pair: (
        pair[0].time if pair[0].time is not None else 0.0, pair[0].box[0]))
    return [KnownFace(FoundFace(number, tuple(record.box), record.score, record.embedding, record.time,
                                day), info.person, info.person_source)
            for number, (record, info) in enumerate(ordered, 1)]


def faces_in_clip(engine: FaceEngine, path: Path, min_face_size: int) -> list[FoundFace]:
    clip = video.decode_clip(Path(path), engine.det_size)
    return [FoundFace(number, face.box, face.score, face.embedding, face.time)
            for number, face in enumerate(tracks.clip_faces(engine, clip.frames, min_face_size), 1)]


def faces_in_photo(engine: FaceEngine, path: Path, min_face_size: int) -> list[FoundFace]:
    """The faces of a photo from the left, or of a clip in order of appearance."""
    if is_video_name(str(path)):
        return faces_in_clip(engine, path, min_face_size)
    photo = decoding.read_and_decode(Path(path), engine.det_size)
    found = sorted(engine.detect(photo.pixels, min_side=min_face_size / photo.scale),
                   key=lambda d: d.box[0])
    embeddings = engine.embed([engine.align(photo.pixels, d.landmarks) for d in found])
    day = julian_day(photo.info.taken_at)
    return [
        FoundFace(number, d.scaled(photo.scale).box, d.score, embedding, day=day)
        for number, (d, embedding) in enumerate(zip(found, embeddings), 1)
    ]


def julian_day(taken_at: str | None) -> float:
    """A capture time as the store reads it (SQLite's julianday), NaN for none:
    a time with an offset in UTC, one without as it is written."""
    from datetime import datetime, timezone

    if not taken_at:
        return float("nan")
    try:
        moment = datetime.fromisoformat(taken_at)
    except ValueError:
        return float("nan")
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    # Julian day 2440587.5 is 1970-01-01T00:00.
    return 2440587.5 + (moment - datetime(1970, 1, 1)).total_seconds() / 86400


@dataclass(frozen=True)
class NamedGallery:
    """The people the user named in a pack, ready for recognition."""

    gallery: Gallery
    names: dict[int, str]
    adapter: Adapter | None = None  # the one 'facesort tune' kept for this pack
    timeline: Timeline | None = None  # the named faces by capture time, when any has a date
    # ... with the faces named automatically too: the names chained through
    # time (cluster_run.auto_names), for a dated photo outside the library.
    chained: Timeline | None = None

    @classmethod
    def of_library(cls, store: Store, pack_id: int) -> NamedGallery:
        data = store.grouping_input(pack_id)
        if len(data.face_ids) == 0:
            return cls(Gallery(np.zeros(0, np.int64), np.zeros((0, 0), np.float32)), {})
        adapter = adapter_for(store, pack_id)
        embeddings = adapter.apply(data.embeddings) if adapter else data.embeddings
        dated = timeline.in_use(data.days[data.person_ids > 0])
        faces_of_time = Timeline.of(embeddings, data.person_ids, data.days) if dated else None
        gallery = faces_of_time.gallery if dated else Gallery.from_named(embeddings, data.person_ids)
        evidence = np.where(data.person_ids > 0, data.person_ids, data.auto_person_ids)
        chained = (Timeline.of(embeddings, evidence, data.days)
                   if dated and (evidence != data.person_ids).any() else None)
        known = set(gallery.person_ids) | set(chained.gallery.person_ids if chained else ())
        names = {int(p): store.person_by_id(int(p)).name for p in known}
        return cls(gallery, names, adapter, faces_of_time, chained)

    def thresholds(self, pack: PackThresholds) -> PackThresholds:
        return self.adapter.thresholds(pack) if self.adapter else pack

    def adapt(self, embeddings: np.ndarray) -> np.ndarray:
        return self.adapter.apply(embeddings) if self.adapter else embeddings


def who(engine: FaceEngine, people: NamedGallery, thresholds: PackThresholds, path: Path,
        min_face_size: int, known: list[KnownFace] | None = None) -> list[Identified]:
    """Who is on each face of ``path``: for a photo in the library (its
    ``known`` faces), what the library says (the user's decision, or the
    automatic name, or unknown), with the model's own answer beside it; for
    any other photo, the model's answer."""
    faces = [k.face for k in known] if known is not None else faces_in_photo(engine, path, min_face_size)
    if not faces or len(people.gallery.person_ids) == 0:
        model = [(None, None, None)] * len(faces)
    else:
        thresholds = people.thresholds(thresholds)
        queries = people.adapt(np.stack([f.embedding for f in faces]))
        days = np.array([f.day for f in faces])
        if people.timeline is not None and timeline.in_use(days):
            # A dated photo: each person through their faces nearest in time.
            found = people.timeline.recognize(queries, days, thresholds.recognize, thresholds.margin)
            if known is None and people.chained is not None:
                found = _through_the_chain(found, people.chained, queries, days, thresholds)
        else:
            found = recognize(queries, people.gallery, thresholds.recognize, thresholds.margin)
        model = [(people.names.get(int(person)), people.names.get(int(nearest)),
                  round(float(distance), 4))
                 for person, nearest, distance in zip(found.person, found.nearest, found.distance)]
    if known is None:
        return [Identified(face, *answer) for face, answer in zip(faces, model)]
    return [Identified(k.face, k.person, nearest, distance, k.source, person, in_library=True)
            for k, (person, nearest, distance) in zip(known, model)]


def _through_the_chain(found: Recognition, chained: Timeline, queries: np.ndarray,
                       days: np.ndarray, thresholds: PackThresholds) -> Recognition:
    """``found`` where it names someone; elsewhere, the person the library's
    automatic names of that time point to, as a cluster run would name the
    face: clearly nearest by timeline.CHAIN_MARGIN times the margin."""
    again = chained.recognize(queries, days, thresholds.recognize,
                              timeline.CHAIN_MARGIN * thresholds.margin)
    take = (found.person == UNKNOWN) & (again.person != UNKNOWN)
    if not take.any():
        return found
    return Recognition(np.where(take, again.person, found.person), np.where(take, again.nearest, found.nearest),
                       np.where(take, again.distance, found.distance))


# A face whose area is this many times every other face's is the one a
# photo is of: the others are bystanders (a head cut off at the edge, a
# face far behind).
DOMINANT_AREA = 4.0


def _dominant(faces: list[FoundFace]) -> FoundFace | None:
    by_area = sorted(faces, key=lambda f: f.box[2] * f.box[3], reverse=True)
    first, second = (f.box[2] * f.box[3] for f in by_area[:2])
    return by_area[0] if first >= DOMINANT_AREA * second else None


def pick_face(faces: list[FoundFace], path: Path, number: int | None, option: str,
              notes: list[str] | None = None) -> FoundFace:
    """Face ``number`` (1 = leftmost, or in a clip the first to appear), or
    the only face, or the one face that clearly dominates the photo (said in
    ``notes``); ``option`` is how the user chooses one, for the messages."""
    clip = is_video_name(str(path))
    first = "1 = the first to appear" if clip else "1 = leftmost"
    if not faces:
        raise PhotoError(path, "no face found")
    if number is not None:
        if not 1 <= number <= len(faces):
            raise PhotoError(path, f"{option} {number}: the {'clip' if clip else 'photo'} "
                                   f"has {len(faces)} faces")
        return faces[number - 1]
    if len(faces) > 1:
        dominant = _dominant(faces)
        if dominant is None:
            raise FacesortError(
                f"{shown(path)}: {len(faces)} faces found; choose one with {option} N ({first})"
            )
        if notes is not None:
            notes.append(f"{shown(path)}: {len(faces)} faces found; using face {dominant.number} "
                         f"({first}), at least {DOMINANT_AREA:.0f} times the size of the "
                         f"others; choose another with {option} N")
        return dominant
    return faces[0]


@dataclass(frozen=True)
class Verdict:
    same: bool
    distance: float
    threshold: float
    box_a: tuple
    box_b: tuple
    time_a: float | None = None  # where a clip's face was compared
    time_b: float | None = None
    notes: tuple[str, ...] = ()  # which face was taken where the user named none


def verify(engine: FaceEngine, thresholds: PackThresholds, a: Path, b: Path, min_face_size: int,
           *, face: int | None = None, face_a: int | None = None,
           face_b: int | None = None) -> Verdict:
    """Whether face ``face_a`` of ``a`` and face ``face_b`` of ``b`` are the
    same person. A photo given no number of its own uses face ``face`` when it
    has several faces, and its only face otherwise (or the face that clearly
    dominates it), so that one number picks a face in a group photo compared
    with a portrait."""
    notes: list[str] = []

    def chosen(path: Path, number: int | None, option: str) -> FoundFace:
        faces = faces_in_photo(engine, path, min_face_size)
        if number is None and face is not None and len(faces) > 1:
            number, option = face, "--face"
        return pick_face(faces, path, number, option, notes)

    face_a, face_b = chosen(a, face_a, "--face-a"), chosen(b, face_b, "--face-b")
    distance = float(np.linalg.norm(face_a.embedding - face_b.embedding))
    return Verdict(distance <= thresholds.verify, round(distance, 4), thresholds.verify,
                   face_a.box, face_b.box, face_a.time, face_b.time, tuple(notes))
