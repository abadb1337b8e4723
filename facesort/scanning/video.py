"""Reading video clips: frames sampled upright at the detector's size, the
frame at a time again (for contact sheets), and a content hash that does not
read the whole clip.

OpenCV's ``VideoCapture`` (FFmpeg inside, already a dependency) decodes
every format facesort lists and applies the rotation phones record (the
display matrix of MP4/MOV, the rotate tag), so boxes are in displayed pixels
as they are for photos. docs/video.md says why OpenCV and not PyAV.
"""

from __future__ import annotations

import hashlib
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facesort.errors import PhotoError

# A frame a second is decoded, and never more than MAX_SAMPLES a clip: a
# longer clip is sampled sparser, so an hour-long clip costs no more than a
# minute's. Fewer are searched for faces (facesort/scanning/tracks.py's
# Lookout), so a one-minute clip costs about as much as a few photos.
EVERY_SECONDS = 1.0
MAX_SAMPLES = 60
# Samples further apart than this are sought (from the keyframe before
# each); closer ones are read in one pass, which decodes every frame but
# seeks never.
SEEK_ABOVE_SECONDS = 4.0
# Head and tail read for the content hash. A clip changed in place keeps
# neither its size nor both ends (containers write their index at one end),
# so these with the size tell an edited clip from the one scanned; hashing
# all of a 2 GB clip would cost more than sampling it.
HASH_CHUNK = 1 << 20
# A clip this small (720p or less) is decoded on one thread: its frames are
# decoded beside the search, which takes the cores, and FFmpeg's frame
# threads cost more than they save on small frames (the one-minute 640x480
# clip of bench/scan.py: 0.24 s of CPU on one thread, 0.39 s on two).
ONE_THREAD_PIXELS = 1280 * 720
# Frames decoded ahead of the one searched (each a few hundred KiB at the
# detector's size).
FRAMES_AHEAD = 8


@dataclass(frozen=True)
class ClipInfo:
    width: int  # displayed (rotation applied), full size
    height: int
    duration: float  # seconds


@dataclass(frozen=True)
class Frame:
    time: float  # seconds from the start
    pixels: np.ndarray  # RGB, uint8, upright; maybe smaller than the clip
    scale: float  # displayed pixels per decoded pixel


@dataclass(frozen=True)
class DecodedClip:
    info: ClipInfo
    frames: Iterable[Frame]  # decoded as iterated, once


def clip_hash(path: str | Path, size: int) -> str:
    """The size and the first and last MiB, hashed (see HASH_CHUNK)."""
    digest = hashlib.blake2b(b"clip:" + size.to_bytes(8, "little"), digest_size=20)
    with open(path, "rb") as handle:
        digest.update(handle.read(HASH_CHUNK))
        if size > 2 * HASH_CHUNK:
            handle.seek(size - HASH_CHUNK)
        digest.update(handle.read(HASH_CHUNK))
    return digest.hexdigest()


def sample_times(duration: float, every: float = EVERY_SECONDS,
                 most: int = MAX_SAMPLES) -> list[float]:
    """When to look: ``every`` seconds, or evenly ``most`` times over a long
    clip; each in the middle of its stretch, away from fades at the ends."""
    if duration <= 0:
        return [0.0]
    step = max(every, duration / most)
    count = max(1, min(most, math.floor(duration / step)))
    step = duration / count
    return [round(step * (i + 0.5), 3) for i in range(count)]


def _open(path: Path, threads: int = 0):
    """``threads``: FFmpeg's decoding threads, 0 for its default (one a core)."""
    import cv2

    if not os.path.isfile(path):
        raise PhotoError(path, "not found")
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads])
    if not capture.isOpened():
        raise PhotoError(path, "not a video facesort can read (unknown format or corrupt)")
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return capture


def _duration(capture) -> float:
    import cv2

    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    return frames / fps if fps > 0 and frames > 0 else 0.0


def _upright(bgr: np.ndarray, long_side: int | None) -> tuple[np.ndarray, float]:
    import cv2

    height, width = bgr.shape[:2]
    scale = 1.0
    if long_side and max(width, height) > long_side:
        scale = max(width, height) / long_side
        bgr = cv2.resize(bgr, (round(width / scale), round(height / scale)),
                         interpolation=cv2.INTER_AREA)
        scale = width / bgr.shape[1]
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), scale


def _frames_in_one_pass(capture, times: list[float]) -> Iterator[tuple[float, np.ndarray]]:
    import cv2

    wanted = iter(times)
    next_time = next(wanted, None)
    while next_time is not None and capture.grab():
        now = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
        if now + 1e-3 < next_time:
            continue
        ok, bgr = capture.retrieve()
        if ok:
            yield round(now, 3), bgr
        while next_time is not None and next_time <= now + 1e-3:
            next_time = next(wanted, None)


def _frames_sought(capture, times: list[float]) -> Iterator[tuple[float, np.ndarray]]:
    import cv2

    for time in times:
        capture.set(cv2.CAP_PROP_POS_MSEC, time * 1000)
        ok, bgr = capture.read()
        if ok:
            yield time, bgr


class _FramesAhead:
    """A clip's sampled frames, decoded on a thread of their own while the
    frames before are searched: a clip's decoding costs no wall time beside
    its detection. Iterated once; the thread starts with the iteration and
    stops when it ends, however it ends."""

    def __init__(self, path: Path, capture, times: list[float], long_side: int | None,
                 timed: Callable[[str, float], None]):
        self._path, self._capture, self._times = path, capture, times
        self._long_side, self._timed = long_side, timed

    def _decode(self, out: queue.Queue, stop: threading.Event) -> None:
        capture = self._capture
        read = _frames_sought if len(self._times) > 1 \
            and self._times[1] - self._times[0] > SEEK_ABOVE_SECONDS else _frames_in_one_pass

        def hand(item: Frame | PhotoError | None) -> bool:
            """Queue ``item``; False when the frames are no longer wanted."""
            while not stop.is_set():
                try:
                    out.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            since = time.perf_counter()
            for at, bgr in read(capture, self._times):
                pixels, scale = _upright(bgr, self._long_side)
                self._timed("decode", since)
                if not hand(Frame(at, pixels, scale)):
                    return
                since = time.perf_counter()
            hand(None)
        except Exception as exc:  # OpenCV raises cv2.error on damaged streams
            hand(PhotoError(self._path, f"corrupt or truncated video: {exc}"))
        finally:
            capture.release()

    def __iter__(self) -> Iterator[Frame]:
        out: queue.Queue = queue.Queue(maxsize=FRAMES_AHEAD)
        stop = threading.Event()
        worker = threading.Thread(target=self._decode, args=(out, stop), daemon=True,
                                  name="facesort-clip-decode")
        worker.start()
        any_frame = False
        try:
            while (frame := out.get()) is not None:
                if isinstance(frame, PhotoError):
                    raise frame
                any_frame = True
                yield frame
        finally:
            stop.set()
            worker.join()
        if not any_frame:
            raise PhotoError(self._path, "no frame could be decoded (corrupt, or a codec FFmpeg lacks)")


def decode_clip(path: Path, long_side: int | None,
                timed: Callable[[str, float], None] = lambda _stage, _since: None) -> DecodedClip:
    """The clip's size and length now, and its sampled frames (upright,
    shrunk to ``long_side``) as they are iterated: decoded ahead on a
    thread, told to ``timed("decode", since)``. A clip never iterated keeps
    its decoder open until it is collected."""
    capture = _open(path)
    import cv2

    duration = _duration(capture)
    # With the rotation applied (CAP_PROP_ORIENTATION_AUTO), OpenCV reports
    # the displayed size.
    size = (round(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), round(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    if size[0] * size[1] <= ONE_THREAD_PIXELS:
        capture.release()
        capture = _open(path, threads=1)
    frames = _FramesAhead(path, capture, sample_times(duration), long_side, timed)
    return DecodedClip(ClipInfo(*size, round(duration, 3)), frames)


def frame_at(path: Path, time: float, long_side: int | None) -> Frame:
    """The frame shown at ``time`` seconds, decoded again."""
    capture = _open(path)
    try:
        frames = list(_frames_sought(capture, [time]))
    finally:
        capture.release()
    if not frames:
        raise PhotoError(path, f"no frame at {time:.1f} s")
    pixels, scale = _upright(frames[0][1], long_side)
    return Frame(time, pixels, scale)


def clock(seconds: float) -> str:
    """A time in a clip as players show it: 1:05, or 1:02:05 past an hour."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return (f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours
            else f"{rest // 60}:{rest % 60:02d}")
