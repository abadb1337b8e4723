"""Searching a clip's decoded frames for faces while its scene changes
(see :class:`Lookout`), and linking the faces into tracks: one track is one
person's stretch of the clip.

A face joins the track whose last face, in one of the last few samples, is
nearest: close enough in the embedding alone, or a little further where the
boxes overlap (the person did not move, the light or the angle changed).
When the clip ends, the tracks of one person seen at different times (who
left and came back) are joined (see :func:`join_apart`).
Each track keeps its best few faces by quality; the library stores the track
as one face (see :func:`Track.record`), so a long clip of one person
counts once in grouping, as one photo of them does.

Embedding is most of a clip's cost, and most faces need none: a face that
sits where the track's face was a sample before and looks like it (its
aligned crop, shrunk to a thumbnail, correlates closely) continues that
track. Only faces that do not, the faces linking must compare, and at the
end each track's best few (its template) are embedded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from facesort.engine.thresholds import thresholds_for
from facesort.scanning.quality import face_quality, sharpness
from facesort.scanning.video import EVERY_SECONDS, ClipFrames, Frame
from facesort.store import FaceRecord, TrackFace
from facesort.store.decisions import box_overlap

if TYPE_CHECKING:
    from facesort.engine.face_engine import FaceEngine

# Faces a track keeps, best first by quality, with their times.
KEEP = 3
# A face may be missed (turned away, blurred) in this many samples in a row
# and still continue its track.
MAX_GAP = 2
# Boxes overlapping this much (IoU) allow a distance LOOSER times the pack's
# same-person distance.
LINK_IOU = 0.3
LOOSER = 1.3
# A face continues the track of the sample before without being embedded
# when its box moved at most STEADY_MOVE of the boxes' width a second since
# (a face moving half its width a second overlaps its last box only 0.33;
# samples are 1-2 s apart, see STEADY_STEP) and the sizes
# differ at most STEADY_GROWTH times, and the thumbnails of the aligned faces
# correlate this closely. Measured (yunet_sface): of 19652 pairs of
# different people's LFW faces none correlates 0.9 (at most 0.876, 99.9% under
# 0.833); in bench/scan.py's one-minute clip most of a track's faces a second
# apart correlate 0.9-0.998, and a turn of the head falls below.
STEADY_MOVE = 0.75
STEADY_GROWTH = 1.5
# A face in the place of a track's face that does not look like it (a turn
# of the head, or someone else) is checked against the track's last embedded
# face if that is this many seconds old: someone taking another's place is
# found within a few seconds, and a person turning costs an embedding every
# few seconds, not every sample.
VERIFY_EVERY = 6.0
STEADY_LOOK = 0.9
LOOK_SIDE = 16
# A face looks like its track when it looks like one of the track's last
# LOOKS_KEPT faces: a head turning back needs no embedding.
LOOKS_KEPT = 8
# Clip frames are searched at the size where the smallest face kept is this
# many pixels across (see detection_side), never below MIN_SIDE.
FACE_PIXELS = 20
MIN_SIDE = 320
# A frame a second may be decoded (facesort/scanning/video.py); one is
# searched a second after the last while people come and go (the last frame
# searched began or ended a track), and else STEADY_STEP seconds after it,
# the frames between neither searched nor decoded: a person in view 3 s or
# more is in a searched frame, and a cut is seen up to 3 s late. A frame in
# which no patch of its THUMBNAIL (each a 20x20 patch of a 640x480 frame)
# moved more than STILL_LEVEL grey levels since the last one searched holds
# no face that one did not: it is passed over as if searched.
STEADY_STEP = 3.0
THUMBNAIL = (32, 24)
STILL_LEVEL = 6

@dataclass
class Sighting:
    """A face found in one sampled frame, in displayed pixels; its aligned
    crop is embedded only when linking or the track's template needs it."""

    time: float
    box: tuple[float, float, float, float]
    landmarks: list[list[float]]
    score: float
    quality: float
    crop: np.ndarray | None = None  # aligned, for the recognizer
    embedding: np.ndarray | None = None
    _look: np.ndarray | None = field(default=None, repr=False)

    def look(self) -> np.ndarray:
        """The aligned face as a small grey thumbnail, zero mean, unit norm:
        the dot product of two is their correlation."""
        import cv2

        if self._look is None:
            grey = cv2.cvtColor(self.crop, cv2.COLOR_BGR2GRAY)
            small = cv2.resize(grey, (LOOK_SIDE, LOOK_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
            small -= small.mean()
            self._look = (small / max(float(np.linalg.norm(small)), 1e-6)).ravel()
        return self._look


Embed = Callable[[Sequence[Sighting]], None]


@dataclass
class Track:
    sightings: list[Sighting] = field(default_factory=list)
    last_sample: int = -1
    # The first face taken on trust since the track's last embedded one:
    # near, not alike, and too soon to embed (see VERIFY_EVERY).
    unchecked: int | None = None

    def best(self) -> list[Sighting]:
        """The track's KEEP best faces, best first (earlier first among equals)."""
        return sorted(self.sightings, key=lambda s: (-s.quality, s.time))[:KEEP]

    def embedding(self) -> np.ndarray:
        """The mean of the best faces' embeddings, L2-normalised: a template
        steadier than any one frame, as face recognition does with a video."""
        mean = np.mean([s.embedding for s in self.best()], axis=0).astype(np.float32)
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


def detection_side(frame: Frame, min_face_size: float, det_size: int) -> int:
    """The long side at which to look for faces in a clip's frames: where
    the smallest face kept (``min_face_size`` displayed pixels) is FACE_PIXELS
    across, which the detectors still find, within [MIN_SIDE, det_size]. A
    640x480 clip is searched at 320 pixels, a quarter of the work; a 1080p
    one at --det-size, as before."""
    long_side = max(frame.pixels.shape[:2])
    wanted = long_side * FACE_PIXELS / (min_face_size / frame.scale) if min_face_size else det_size
    return int(min(det_size, max(MIN_SIDE, wanted)))


def _thumbnail(frame: Frame) -> np.ndarray:
    import cv2

    grey = cv2.cvtColor(frame.pixels, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, THUMBNAIL, interpolation=cv2.INTER_AREA).astype(np.int16)


class Lookout:
    """Which of a clip's frames are searched for faces (see STEADY_STEP):
    those :meth:`wants` says, and no frame before :attr:`next_time`;
    ``settled`` is set after each search: False when a track began or ended
    in it."""

    def __init__(self) -> None:
        self._last: np.ndarray | None = None
        self._last_time: float | None = None
        self.settled = True

    @property
    def next_time(self) -> float:
        """The time of the next frame worth looking at."""
        if self._last_time is None:
            return 0.0
        return self._last_time + (STEADY_STEP if self.settled else EVERY_SECONDS)

    def wants(self, frame: Frame) -> bool:
        if frame.time < self.next_time - 1e-3:
            return False
        thumbnail = _thumbnail(frame)
        last = self._last
        self._last_time = frame.time
        if last is not None and thumbnail.shape == last.shape \
                and int(np.abs(thumbnail - last).max()) <= STILL_LEVEL:
            return False
        self._last = thumbnail
        return True


def clip_faces(engine: FaceEngine, frames: ClipFrames, min_face_size: float,
               timed: Callable[[str, float], None] = _untimed) -> list[FaceRecord]:
    """The clip's faces as the library keeps them: one a track, linked at the
    engine's pack's same-person distance."""
    thresholds = thresholds_for(engine.pack.name)
    found = clip_tracks(engine, frames, min_face_size, thresholds.verify if thresholds else None, timed)
    return [track.record() for track in found]


def clip_tracks(engine: FaceEngine, frames: ClipFrames, min_face_size: float,
                distance: float | None,
                timed: Callable[[str, float], None] = _untimed) -> list[Track]:
    """Detect the faces of the clip's frames worth searching (see Lookout),
    link them into tracks and embed what the tracks need; ``timed(stage,
    since)`` is told of the detect and embed time."""

    def embed(sightings: Sequence[Sighting]) -> None:
        wanted = [s for s in sightings if s.embedding is None]
        if wanted:
            since = time.perf_counter()
            for sighting, vector in zip(wanted, engine.embed([s.crop for s in wanted])):
                sighting.embedding = vector
            timed("embed", since)

    lookout = Lookout()
    linker = Linker(distance, embed)
    for frame in frames:
        if not lookout.wants(frame):
            frames.skip_to(lookout.next_time)
            continue
        # Most searches leave the scene steady: the decoder starts on the
        # frame 3 s on now, and is told otherwise if this search is not.
        frames.skip_to(frame.time + STEADY_STEP)
        since = time.perf_counter()
        side = detection_side(frame, min_face_size, engine.det_size)
        detections = engine.detect(frame.pixels, min_side=min_face_size / frame.scale, det_size=side)
        timed("detect", since)
        since = time.perf_counter()
        sightings = [
            Sighting(frame.time, shown.box, shown.landmarks.tolist(), round(shown.score, 4),
                     face_quality(shown.box, shown.landmarks, shown.score,
                                  sharpness(frame.pixels, d.box)),
                     engine.align(frame.pixels, d.landmarks))
            for d, shown in ((d, d.scaled(frame.scale)) for d in detections)]
        timed("embed", since)
        lookout.settled = linker.add(sightings)
        frames.skip_to(lookout.next_time)
    found = linker.tracks()
    embed([s for track in found for s in track.best()])
    found = join_apart(found, distance)
    for track in found:
        for sighting in track.sightings:
            sighting.crop = None  # a long clip's crops are not kept past its scan
    return found


def join_apart(found: list[Track], distance: float | None) -> list[Track]:
    """The tracks, with those of one person at different times joined: a
    person who leaves the clip for longer than MAX_GAP samples and comes
    back is one track, as one photo of them is one face (the library, the
    one-person-per-photo rules of naming and ``check`` would otherwise see
    two people). Two tracks join when no sample saw both and their templates
    are within the pack's same-person distance, nearest first; a track
    joined is compared again by its new template. Tracks seen in one frame
    are two people and never join."""
    if distance is None:
        return found
    found = list(found)
    while True:
        times = [{s.time for s in track.sightings} for track in found]
        templates = [track.embedding() for track in found]
        pairs = [(float(np.linalg.norm(templates[a] - templates[b])), a, b)
                 for a in range(len(found)) for b in range(a + 1, len(found))
                 if not times[a] & times[b]]
        apart, a, b = min(pairs, default=(np.inf, 0, 0))
        if apart > distance:
            return found  # in order of appearance still: a track joins the earlier one
        joined = Track(sorted(found[a].sightings + found[b].sightings, key=lambda s: s.time),
                       max(found[a].last_sample, found[b].last_sample))
        found[a] = joined
        del found[b]


def _near(track: Track, sighting: Sighting, index: int) -> bool:
    """Where the track's face was a sample before, at about its size."""
    if track.last_sample != index - 1:
        return False
    last = track.sightings[-1]
    (ax, ay, aw, ah), (bx, by, bw, bh) = last.box, sighting.box
    moved = np.hypot(ax + aw / 2 - bx - bw / 2, ay + ah / 2 - by - bh / 2)
    seconds = max(1.0, sighting.time - last.time)
    return moved <= STEADY_MOVE * seconds * (aw + bw) / 2 and max(aw, bw) <= STEADY_GROWTH * min(aw, bw)


def _continues(track: Track, sighting: Sighting, distance: float | None,
               embed: Embed) -> bool | None:
    """Whether ``sighting``, near the track's face, continues ``track``: by
    look alone, or else by an embedding compared every VERIFY_EVERY seconds
    (False: checked, someone else); None: linking must decide. A face
    taken on trust between comparisons is checked when the clip ends (see
    :func:`_cut_unchecked`) if no comparison came after it."""
    look = sighting.look()
    if any(float(seen.look() @ look) >= STEADY_LOOK for seen in reversed(track.sightings[-LOOKS_KEPT:])):
        return True
    if distance is None:
        return None
    checked = next((s for s in reversed(track.sightings) if s.embedding is not None), None)
    if checked is not None and sighting.time - checked.time < VERIFY_EVERY:
        if track.unchecked is None:
            track.unchecked = len(track.sightings)
        return True
    checked = checked or track.sightings[0]
    embed([checked, sighting])
    same = float(np.linalg.norm(checked.embedding - sighting.embedding)) <= distance
    if same:
        track.unchecked = None
    return same


def _cut_unchecked(track: Track, distance: float | None, embed: Embed) -> list[Track]:
    """The track, or the track cut in two at the first of the faces it took
    on trust since its last comparison that is someone else: a person seen
    in another's place for less than VERIFY_EVERY is not lost in the other's
    track."""
    if track.unchecked is None or distance is None:
        return [track]
    cut = track.unchecked
    checked = next((s for s in reversed(track.sightings[:cut]) if s.embedding is not None),
                   track.sightings[0])
    trusted = track.sightings[cut:]

    def same(sighting: Sighting) -> bool:
        return float(np.linalg.norm(checked.embedding - sighting.embedding)) <= distance

    # The last face first: the track most often ends as it began.
    embed([checked, trusted[-1]])
    if same(trusted[-1]):
        return [track]
    embed(trusted)
    index = next(index for index, sighting in enumerate(trusted, cut) if not same(sighting))
    return [Track(track.sightings[:index], track.last_sample),
            Track(track.sightings[index:], track.last_sample)]


class Linker:
    """Tracks from the faces of each sample, given in time order; ``distance``
    is the pack's same-person distance (None for a pack never measured: then
    only overlapping boxes link). ``embed`` fills in the embeddings of the
    sightings it is given, for the faces that must be compared."""

    def __init__(self, distance: float | None, embed: Embed):
        self._distance, self._embed = distance, embed
        self._tracks: list[Track] = []
        self._index = -1

    def tracks(self) -> list[Track]:
        """The tracks, each checked where it took a face on trust, in order
        of appearance."""
        tracks = [part for track in self._tracks
                  for part in _cut_unchecked(track, self._distance, self._embed)]
        return sorted(tracks, key=lambda t: (t.sightings[0].time, t.sightings[0].box[0]))

    def add(self, sightings: list[Sighting]) -> bool:
        """Link one sample's faces; whether the people in view stayed: every
        face continued a track and every track of the sample before went on."""
        self._index += 1
        index, distance, embed = self._index, self._distance, self._embed
        open_tracks = [t for t in self._tracks if index - t.last_sample <= MAX_GAP]
        shown_before = sum(t.last_sample == index - 1 for t in open_tracks)
        taken_tracks: set[int] = set()
        taken_faces: set[int] = set()

        def take(pairs: list[tuple[float, int, int]]) -> None:
            for _, ti, si in sorted(pairs):
                if ti in taken_tracks or si in taken_faces:
                    continue
                taken_tracks.add(ti)
                taken_faces.add(si)
                open_tracks[ti].sightings.append(sightings[si])
                open_tracks[ti].last_sample = index

        near = [(ti, si) for ti, track in enumerate(open_tracks)
                for si, sighting in enumerate(sightings) if _near(track, sighting, index)]
        # Only a face alone near a track alone may skip the embedding: where
        # two faces are close, the embeddings must tell them apart.
        tracks_near = [ti for ti, _ in near]
        faces_near = [si for _, si in near]
        verdicts = {(ti, si): _continues(open_tracks[ti], sightings[si], distance, embed)
                    for ti, si in near if tracks_near.count(ti) == 1 and faces_near.count(si) == 1}
        take([(0.0, ti, si) for (ti, si), verdict in verdicts.items() if verdict])
        rest_tracks = [ti for ti in range(len(open_tracks)) if ti not in taken_tracks]
        rest_faces = [si for si in range(len(sightings)) if si not in taken_faces]
        # A track is compared by its last embedded face where it has one: no
        # new embedding for a face it took by look or on trust since.
        compared = {ti: next((s for s in reversed(open_tracks[ti].sightings) if s.embedding is not None),
                             open_tracks[ti].sightings[-1]) for ti in rest_tracks}
        if rest_tracks and rest_faces and distance is not None:
            embed([sightings[si] for si in rest_faces] + list(compared.values()))
        pairs = []
        for ti in rest_tracks:
            last = open_tracks[ti].sightings[-1]
            for si in rest_faces:
                sighting = sightings[si]
                overlap = box_overlap(last.box, sighting.box)
                if distance is None:
                    linked = overlap >= LINK_IOU
                    cost = -overlap
                else:
                    apart = float(np.linalg.norm(compared[ti].embedding - sighting.embedding))
                    linked = apart <= distance or (overlap >= LINK_IOU and apart <= LOOSER * distance)
                    cost = apart - overlap * distance
                if linked and verdicts.get((ti, si)) is not False:
                    pairs.append((cost, ti, si))
        take(pairs)
        for si, sighting in enumerate(sightings):
            if si not in taken_faces:
                self._tracks.append(Track([sighting], index))
        return len(taken_faces) == len(sightings) == shown_before
