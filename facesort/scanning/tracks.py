"""Linking a clip's faces across its sampled frames into tracks: one track
is one person's stretch of the clip.

A face joins the track whose last face, in one of the last few samples, is
nearest: close enough in the embedding alone, or a little further where the
boxes overlap (the person did not move, the light or the angle changed).
Each track keeps its best few faces by quality; the library stores the track
as one face (see :func:`representative`), so a long clip of one person
counts once in grouping, as one photo of them does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from facesort.scanning.quality import face_quality, sharpness
from facesort.store import FaceRecord, TrackFace
from facesort.store.decisions import box_overlap

if TYPE_CHECKING:
    from facesort.engine.face_engine import FaceEngine
    from facesort.scanning.video import Frame

# Faces a track keeps, best first by quality, with their times.
KEEP = 3
# A face may be missed (turned away, blurred) in this many samples in a row
# and still continue its track.
MAX_GAP = 2
# Boxes overlapping this much (IoU) allow a distance LOOSER times the pack's
# same-person distance.
LINK_IOU = 0.3
LOOSER = 1.3


@dataclass(frozen=True)
class Sighting:
    """A face found in one sampled frame, in displayed pixels."""

    time: float
    box: tuple[float, float, float, float]
    landmarks: list[list[float]]
    score: float
    quality: float
    embedding: np.ndarray


@dataclass
class Track:
    sightings: list[Sighting] = field(default_factory=list)
    last_sample: int = -1

    def best(self, keep: int = KEEP) -> list[Sighting]:
        """The track's best faces, best first (earlier first among equals)."""
        return sorted(self.sightings, key=lambda s: (-s.quality, s.time))[:keep]

    def embedding(self, keep: int = KEEP) -> np.ndarray:
        """The mean of the best faces' embeddings, L2-normalised: a template
        steadier than any one frame, as face recognition does with a video."""
        mean = np.mean([s.embedding for s in self.best(keep)], axis=0).astype(np.float32)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)

    def record(self) -> FaceRecord:
        """The track as the library stores it: one face, the track's best
        (box, time, quality), with the track's embedding and best faces."""
        best = self.best()
        top = best[0]
        return FaceRecord(box=top.box, landmarks=top.landmarks, score=top.score,
                          embedding=self.embedding(), quality=top.quality, time=top.time,
                          track=tuple(TrackFace(s.time, s.box, s.quality) for s in best))


def _untimed(_stage: str, _since: float) -> None:
    return None


def clip_tracks(engine: FaceEngine, frames: Sequence[Frame], min_face_size: float,
                distance: float | None,
                timed: Callable[[str, float], None] = _untimed) -> list[Track]:
    """Detect and embed the faces of a clip's sampled frames, and link them
    into tracks; ``timed(stage, since)`` is told of the detect and embed time."""
    found = []
    crops = []
    for frame in frames:
        since = time.perf_counter()
        detections = engine.detect(frame.pixels, min_side=min_face_size / frame.scale)
        timed("detect", since)
        since = time.perf_counter()
        crops.extend(engine.align(frame.pixels, d.landmarks) for d in detections)
        timed("embed", since)
        found.append(detections)
    since = time.perf_counter()
    embeddings = iter(engine.embed(crops))
    timed("embed", since)
    samples = [
        [Sighting(frame.time, shown.box, shown.landmarks.tolist(), round(shown.score, 4),
                  face_quality(shown.box, shown.landmarks, shown.score,
                               sharpness(frame.pixels, d.box)), next(embeddings))
         for d, shown in ((d, d.scaled(frame.scale)) for d in detections)]
        for frame, detections in zip(frames, found)
    ]
    return link(samples, distance)


def link(samples: list[list[Sighting]], distance: float | None) -> list[Track]:
    """Tracks from the faces of each sample, in time order; ``distance`` is
    the pack's same-person distance (None for a pack never measured: then
    only overlapping boxes link)."""
    tracks: list[Track] = []
    for index, sightings in enumerate(samples):
        open_tracks = [t for t in tracks if index - t.last_sample <= MAX_GAP]
        pairs = []
        for ti, track in enumerate(open_tracks):
            last = track.sightings[-1]
            for si, sighting in enumerate(sightings):
                apart = float(np.linalg.norm(last.embedding - sighting.embedding))
                overlap = box_overlap(last.box, sighting.box)
                if distance is None:
                    linked = overlap >= LINK_IOU
                    cost = -overlap
                else:
                    linked = apart <= distance or (overlap >= LINK_IOU and apart <= LOOSER * distance)
                    cost = apart - overlap * distance
                if linked:
                    pairs.append((cost, ti, si))
        taken_tracks: set[int] = set()
        taken_faces: set[int] = set()
        for _, ti, si in sorted(pairs):
            if ti in taken_tracks or si in taken_faces:
                continue
            taken_tracks.add(ti)
            taken_faces.add(si)
            open_tracks[ti].sightings.append(sightings[si])
            open_tracks[ti].last_sample = index
        for si, sighting in enumerate(sightings):
            if si not in taken_faces:
                tracks.append(Track([sighting], index))
    return sorted(tracks, key=lambda t: (t.sightings[0].time, t.sightings[0].box[0]))
