"""FaceNet's verbs on any photo or video clip, in the library or not: who is
in it (one-to-K recognition) and whether two show the same person (one-to-one
verification). In a clip a face is a track (facesort/scanning/tracks.py):
one person's stretch of it, numbered in order of appearance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facesort.scanning import decoding, tracks, video
from facesort.scanning.walk import is_video_name
from facesort.engine.face_engine import FaceEngine
from facesort.errors import FacesortError, PhotoError
from facesort.people.gallery import Gallery, recognize
from facesort.store import Store
from facesort.engine.thresholds import PackThresholds, thresholds_for
from facesort.people.tune import Adapter, adapter_for


@dataclass(frozen=True)
class FoundFace:
    number: int  # 1 = leftmost; in a clip, the first to appear
    box: tuple[float, float, float, float]  # displayed pixels
    score: float
    embedding: np.ndarray
    time: float | None = None  # in a clip: seconds to the track's best face


@dataclass(frozen=True)
class Identified:
    face: FoundFace
    person: str | None  # None: unknown
    nearest: str | None  # the best-matching named person, even when too far
    distance: float | None


def faces_in_clip(engine: FaceEngine, path: Path, min_face_size: int) -> list[FoundFace]:
    clip = video.decode_clip(Path(path), engine.det_size)
    thresholds = thresholds_for(engine.pack.name)
    found = tracks.clip_tracks(engine, clip.frames, min_face_size,
                               thresholds.verify if thresholds else None)
    return [FoundFace(number, face.box, face.score, face.embedding, face.time)
            for number, face in enumerate((track.record() for track in found), 1)]


def faces_in_photo(engine: FaceEngine, path: Path, min_face_size: int) -> list[FoundFace]:
    """The faces of a photo from the left, or of a clip in order of appearance."""
    if is_video_name(str(path)):
        return faces_in_clip(engine, path, min_face_size)
    photo = decoding.read_and_decode(Path(path), engine.det_size)
    found = sorted(engine.detect(photo.pixels, min_side=min_face_size / photo.scale),
                   key=lambda d: d.box[0])
    embeddings = engine.embed([engine.align(photo.pixels, d.landmarks) for d in found])
    return [
        FoundFace(number, d.scaled(photo.scale).box, d.score, embedding)
        for number, (d, embedding) in enumerate(zip(found, embeddings), 1)
    ]


@dataclass(frozen=True)
class NamedGallery:
    """The people the user named in a pack, ready for recognition."""

    gallery: Gallery
    names: dict[int, str]
    adapter: Adapter | None = None  # the one 'facesort tune' kept for this pack

    @classmethod
    def of_library(cls, store: Store, pack_id: int) -> NamedGallery:
        data = store.grouping_input(pack_id)
        if len(data.face_ids) == 0:
            return cls(Gallery(np.zeros(0, np.int64), np.zeros((0, 0), np.float32)), {})
        adapter = adapter_for(store, pack_id)
        embeddings = adapter.apply(data.embeddings) if adapter else data.embeddings
        gallery = Gallery.from_named(embeddings, data.person_ids)
        return cls(gallery, {int(p): store.person_by_id(int(p)).name for p in gallery.person_ids},
                   adapter)

    def thresholds(self, pack: PackThresholds) -> PackThresholds:
        return self.adapter.thresholds(pack) if self.adapter else pack

    def adapt(self, embeddings: np.ndarray) -> np.ndarray:
        return self.adapter.apply(embeddings) if self.adapter else embeddings


def who(engine: FaceEngine, people: NamedGallery, thresholds: PackThresholds, path: Path,
        min_face_size: int) -> list[Identified]:
    faces = faces_in_photo(engine, path, min_face_size)
    if not faces or len(people.gallery.person_ids) == 0:
        return [Identified(face, None, None, None) for face in faces]
    thresholds = people.thresholds(thresholds)
    found = recognize(people.adapt(np.stack([f.embedding for f in faces])), people.gallery,
                      thresholds.recognize, thresholds.margin)
    return [
        Identified(face, people.names.get(int(person)), people.names.get(int(nearest)),
                   round(float(distance), 4))
        for face, person, nearest, distance in zip(faces, found.person, found.nearest, found.distance)
    ]


def pick_face(faces: list[FoundFace], path: Path, number: int | None, option: str) -> FoundFace:
    """Face ``number`` (1 = leftmost, or in a clip the first to appear), or
    the only face; ``option`` is how the user chooses one, for the message."""
    clip = is_video_name(str(path))
    if not faces:
        raise PhotoError(path, "no face found")
    if number is not None:
        if not 1 <= number <= len(faces):
            raise PhotoError(path, f"{option} {number}: the {'clip' if clip else 'photo'} "
                                   f"has {len(faces)} faces")
        return faces[number - 1]
    if len(faces) > 1:
        first = "1 = the first to appear" if clip else "1 = leftmost"
        raise FacesortError(f"{path}: {len(faces)} faces found; choose one with {option} N ({first})")
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


def verify(engine: FaceEngine, thresholds: PackThresholds, a: Path, b: Path, min_face_size: int,
           *, face: int | None = None, face_a: int | None = None,
           face_b: int | None = None) -> Verdict:
    """Whether face ``face_a`` of ``a`` and face ``face_b`` of ``b`` are the
    same person. A photo given no number of its own uses face ``face`` when it
    has several faces, and its only face otherwise, so that one number picks a
    face in a group photo compared with a portrait."""

    def chosen(path: Path, number: int | None, option: str) -> FoundFace:
        faces = faces_in_photo(engine, path, min_face_size)
        if number is None and face is not None and len(faces) > 1:
            number, option = face, "--face"
        return pick_face(faces, path, number, option)

    face_a, face_b = chosen(a, face_a, "--face-a"), chosen(b, face_b, "--face-b")
    distance = float(np.linalg.norm(face_a.embedding - face_b.embedding))
    return Verdict(distance <= thresholds.verify, round(distance, 4), thresholds.verify,
                   face_a.box, face_b.box, face_a.time, face_b.time)
