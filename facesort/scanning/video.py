"""Reading video clips: frames sampled upright at the detector's size, the
frame at a time again (for contact sheets), and a content hash that does not
read the whole clip.

OpenCV's ``VideoCapture`` (FFmpeg inside, already a dependency) decodes
every format facesort lists and applies the rotation phones record (the
display matrix of MP4/MOV, the rotate tag), so boxes are in displayed pixels
as they are for photos. docs/video.md says why OpenCV and not PyAV.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facesort.errors import PhotoError
from facesort.scanning.clip_time import creation_time

# A frame a second is decoded, and never more than MAX_SAMPLES a clip: a
# longer clip is sampled sparser, so an hour-long clip costs no more than a
# minute's. Fewer are searched for faces (facesort/scanning/tracks.py's
# Lookout), so a one-minute clip costs about as much as a few photos.
EVERY_SECONDS = 1.0
MAX_SAMPLES = 60
# A frame wanted further ahead than this is sought (from the keyframe
# before it); a nearer one is reached by passing over the frames between
# (`grab`), which decodes them all but seeks never. The next second is
# reached in one pass; a frame 3 s on, as a steady scene asks for (see
# facesort/scanning/tracks.py's Lookout), is sought: 0.07 s of CPU for the
# one-minute clip of bench/scan.py, 0.24 s passing over every frame.
SEEK_BEYOND = 1.5
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
@dataclass(frozen=True)
class ClipInfo:
    width: int  # displayed (rotation applied), full size
    height: int
    duration: float  # seconds
    taken_at: str | None = None  # when shot, from the container (clip_time.py)


@dataclass(frozen=True)
class Frame:
    time: float  # seconds from the start
    pixels: np.ndarray  # RGB, uint8, upright; maybe smaller than the clip
    scale: float  # displayed pixels per decoded pixel


@dataclass(frozen=True)
class DecodedClip:
    info: ClipInfo
    frames: ClipFrames  # decoded as iterated, once


def clip_hash(path: str | Path, size: int) -> str:
    """The size and the first and last MiB, hashed (see HASH_CHUNK)."""
    digest = hashlib.blake2b(b"clip:" + size.to_bytes(8, "little"), digest_size=20)
    with open(path, "rb") as handle:
        digest.update(handle.read(HASH_CHUNK))
        if size > 2 * HASH_CHUNK:
            handle.seek(size - HASH_CHUNK)
        digest.update(handle.read(HASH_CHUNK))
    return digest.hexdigest()


def sample_times(duration: float) -> list[float]:
    """When to look: every EVERY_SECONDS, or evenly MAX_SAMPLES times over a
    long clip; each in the middle of its stretch, away from fades at the ends."""
    if duration <= 0:
        return [0.0]
    step = max(EVERY_SECONDS, duration / MAX_SAMPLES)
    count = max(1, min(MAX_SAMPLES, math.floor(duration / step)))
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


def _read_at(capture, at: float, position: float | None) -> tuple[float, np.ndarray] | None:
    """The first frame shown at or after ``at`` seconds, the capture's last
    frame being at ``position`` (None: none read yet); None past the end."""
    import cv2

    if position is None or at > position + SEEK_BEYOND or at <= position:
        capture.set(cv2.CAP_PROP_POS_MSEC, at * 1000)
        ok, bgr = capture.read()
        return (round(capture.get(cv2.CAP_PROP_POS_MSEC) / 1000, 3), bgr) if ok else None
    while capture.grab():
        now = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
        if now + 1e-3 >= at:
            ok, bgr = capture.retrieve()
            return (round(now, 3), bgr) if ok else None
    return None


class ClipFrames:
    """A clip's sampled frames, each decoded on a thread of its own while the
    one before is searched. Only the frame wanted next is decoded: the next
    sample, unless :meth:`skip_to` says a later one; the samples skipped are
    neither decoded nor passed over. Iterated once; the thread starts with
    the iteration and stops when it ends, however it ends."""

    def __init__(self, path: Path, capture, times: list[float], long_side: int | None,
                 timed: Callable[[str, float], None]):
        self._path, self._capture, self._times = path, capture, times
        self._long_side, self._timed = long_side, timed
        self._wanted = threading.Condition()
        # The sample wanted next, and its request's number: a frame decoded
        # for an earlier request (a guess corrected since) is dropped.
        self._request, self._index = 0, 0
        self._lag = 0.0  # the last frame's time past its sample's

    def skip_to(self, at: float) -> None:
        """The frame wanted after the one last given is the first sample at or
        after ``at`` seconds (a time as Frame.time counts). Said as soon as it
        is guessed, and again when it is known: the last word counts."""
        index = bisect.bisect_left(self._times, at - self._lag - 1e-3)
        with self._wanted:
            if index != self._index:
                self._request, self._index = self._request + 1, index
                self._wanted.notify()

    def _ask(self, index: int) -> None:
        with self._wanted:
            self._request, self._index = self._request + 1, index
            self._wanted.notify()

    def _decode(self, out: queue.Queue, stop: threading.Event) -> None:
        capture, served, position = self._capture, 0, None

        def hand(item) -> bool:
            """Queue ``item``; False when the frames are no longer wanted."""
            while not stop.is_set():
                try:
                    out.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            while not stop.is_set():
                with self._wanted:
                    if self._request == served:
                        self._wanted.wait(timeout=0.1)
                        continue
                    served, index = self._request, self._index
                since = time.perf_counter()
                read = _read_at(capture, self._times[index], position) if index < len(self._times) else None
                if read is None:
                    frame = None
                else:
                    position = read[0]
                    pixels, scale = _upright(read[1], self._long_side)
                    frame = Frame(read[0], pixels, scale)
                    self._timed("decode", since)
                if not hand((served, index, frame)):
                    return
        except Exception as exc:  # OpenCV raises cv2.error on damaged streams
            hand((None, None, PhotoError(self._path, f"corrupt or truncated video: {exc}")))
        finally:
            capture.release()

    def __iter__(self) -> Iterator[Frame]:
        out: queue.Queue = queue.Queue(maxsize=1)
        stop = threading.Event()
        worker = threading.Thread(target=self._decode, args=(out, stop), daemon=True,
                                  name="facesort-clip-decode")
        self._ask(0)
        worker.start()
        any_frame = False
        try:
            while True:
                try:
                    request, index, frame = out.get(timeout=0.1)
                except queue.Empty:
                    if not worker.is_alive():
                        raise PhotoError(self._path, "the decoder stopped") from None
                    continue
                if isinstance(frame, PhotoError):
                    raise frame
                if request != self._request:
                    continue  # decoded for a guess corrected since
                if frame is None:
                    break
                any_frame = True
                self._lag = max(0.0, frame.time - self._times[index])
                self._ask(index + 1)  # the next sample, unless skip_to says otherwise
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
    frames = ClipFrames(path, capture, sample_times(duration), long_side, timed)
    return DecodedClip(ClipInfo(*size, round(duration, 3), creation_time(path)), frames)


def frame_at(path: Path, time: float, long_side: int | None) -> Frame:
    """The frame shown at ``time`` seconds, decoded again."""
    capture = _open(path)
    try:
        read = _read_at(capture, time, None)
    finally:
        capture.release()
    if read is None:
        raise PhotoError(path, f"no frame at {time:.1f} s")
    pixels, scale = _upright(read[1], long_side)
    return Frame(time, pixels, scale)


def clock(seconds: float) -> str:
    """A time in a clip as players show it: 1:05, or 1:02:05 past an hour."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return (f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours
            else f"{rest // 60}:{rest % 60:02d}")
