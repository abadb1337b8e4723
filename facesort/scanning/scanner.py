"""The scan loop: walk → compare with the library → read → decode → detect and
embed → store, one transaction per photo, so an interruption loses at most the
photos in flight.

A video clip goes the same way, as a row of the library's photos: its hash is
of its size, head and tail (facesort/scanning/video.py), its decoding is a
frame a second, and its faces are linked across frames into tracks
(facesort/scanning/tracks.py), each stored as one face.

Reading (and hashing) and decoding run in worker threads ahead of the model;
Pillow and onnxruntime release the GIL, so the two overlap. A camera RAW is
hashed as it is streamed, not held: LibRaw reads what it needs of the file
when decoding, so the RAWs in flight (up to READ_AHEAD + DECODE_AHEAD, at
25-60 MB each) do not add up (bench/raw.py).
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from facesort.scanning import clip_time, decoding, tracks, video
from facesort.config import DEFAULT_DET_SIZE, DEFAULT_MIN_FACE_SIZE, PackRef
from facesort.engine.face_engine import FaceEngine, available_providers, choose_providers, load_engine
from facesort.errors import PhotoError, shown
from facesort.scanning.quality import face_quality, sharpness
from facesort.store import CarryReport, FaceRecord, PhotoMeta, PhotoState, Store
from facesort.scanning.walk import FileEntry, is_raw_name, is_video_name, walk_photos
from facesort.text import plural

T = TypeVar("T")
R = TypeVar("R")

# Photos whose faces are embedded together: the recognizer is about twice as
# fast per face in batches of 8 or more than one face at a time.
PHOTOS_PER_BATCH = 8
READ_AHEAD = 8
DECODE_AHEAD = 4


@dataclass(frozen=True)
class ScanOptions:
    det_size: int = DEFAULT_DET_SIZE
    min_face_size: int = DEFAULT_MIN_FACE_SIZE
    follow_symlinks: bool = False
    workers: int = 2
    device: str = "auto"  # a key of engine.DEVICES, or auto
    videos: bool = True  # scan video clips too


# Of a file's bytes, whole or streamed (the same digest either way).
_content_hash = functools.partial(hashlib.blake2b, digest_size=20)


def _ignore(*_args) -> None:
    return None


@dataclass
class ScanEvents:
    """What the scan tells its caller as it goes; every hook is optional."""

    on_total: Callable[[int], None] = _ignore  # photos to look at
    on_photo: Callable[[int], None] = _ignore  # one photo done, with its face count
    on_clip_total: Callable[[int], None] = _ignore  # clips to look at
    on_clip: Callable[[int], None] = _ignore  # one clip done, with its track count
    on_error: Callable[[str], None] = _ignore  # "path: reason"
    on_warning: Callable[[str], None] = _ignore


@dataclass
class Counts:
    """What a scan did with one kind of file: photos or clips."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    moved: int = 0
    removed: int = 0
    failed: int = 0
    faces: int = 0

    @property
    def seen(self) -> int:
        """The files of this kind the scan found (removed ones are gone)."""
        return self.new + self.changed + self.unchanged + self.moved + self.failed

    def counts_dict(self, kind: str) -> dict:
        return {kind: self.seen, "new": self.new, "changed": self.changed,
                "unchanged": self.unchanged, "moved": self.moved, "removed": self.removed,
                "failed": self.failed, "faces": self.faces}


@dataclass
class ClipCounts(Counts):
    """The clips' part of a scan; ``faces`` counts tracks (a person's stretch
    of a clip, stored as one face)."""

    @property
    def clips(self) -> int:
        return self.seen

    def as_dict(self) -> dict:
        return self.counts_dict("clips")


@dataclass
class ScanReport(Counts):
    """What a scan did; the counts are of photos, and ``clips`` of clips."""

    # The user's decisions on photos detected again: moved to the new faces,
    # or kept as orphans of their photo when no face was found at their place.
    decisions: CarryReport = field(default_factory=CarryReport)
    seconds: float = 0.0
    # Seconds spent in each stage, summed over threads: read (and hash),
    # decode, detect, embed (align + recognizer), database.
    timings: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # What the recognizer ran on ("cpu", "cuda", ...) and onnxruntime's
    # providers for it; None and empty when no photo needed the model.
    device: str | None = None
    providers: list[str] = field(default_factory=list)
    clips: ClipCounts = field(default_factory=ClipCounts)

    @property
    def photos(self) -> int:
        return self.seen

    def as_dict(self) -> dict:
        return {
            **self.counts_dict("photos"),
            "decisions_carried": self.decisions.carried,
            "decisions_orphaned": self.decisions.orphaned,
            "decisions_from_packs": dict(self.decisions.from_packs),
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "device": self.device,
            "providers": self.providers,
            "errors": self.errors,
            "clips": self.clips.as_dict(),
        }


class _Timings:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {
            stage: 0.0 for stage in ("read", "decode", "detect", "embed", "database")
        }
        self._lock = threading.Lock()

    def add(self, stage: str, since: float) -> None:
        elapsed = time.perf_counter() - since
        with self._lock:
            self.seconds[stage] += elapsed


# The library's photos of one content are read this many at a time: a copy
# needs only those this scan has not looked at yet.
TWINS_PER_QUERY = 256


@dataclass
class _Twins:
    """What this scan knows of the library's photos of one content: all up to
    id ``checked`` are where the library says (or were moved), ``source`` is
    the first scanned with the pack, whose faces a copy gets. Each twin is
    looked at once a scan, so 10,000 copies of a photo cost 10,000 looks,
    not 50 million."""

    checked: int = 0
    source: int | None = None
    faces: list[FaceRecord] | None = None
    meta: PhotoMeta | None = None


@dataclass
class _Item:
    entry: FileEntry
    state: PhotoState | None  # the library's record of this path, if any
    data: bytes = b""
    content_hash: str = ""
    error: str | None = None
    photo: decoding.DecodedPhoto | None = None
    decoded_clip: video.DecodedClip | None = None

    @property
    def is_clip(self) -> bool:
        return is_video_name(self.entry.path)

    @property
    def is_raw(self) -> bool:
        return is_raw_name(self.entry.path)


def _ordered_map(pool: Executor, fn: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[R]:
    """``map`` over a pool, in order, with at most ``ahead`` items in flight.

    ``items`` is pulled in the caller's thread, so it may use the database.
    """
    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _stat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):  # gone, unreadable, or a name the system refuses
        return None


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


class Scanner:
    def __init__(
        self,
        store: Store,
        pack: PackRef,
        options: ScanOptions | None = None,
        events: ScanEvents | None = None,
    ):
        self.store = store
        self.pack = pack
        self.options = options or ScanOptions()
        self.events = events or ScanEvents()
        self.report = ScanReport()
        self._timings = _Timings()
        self._engine: FaceEngine | None = None
        self._unreadable_folders: list[str] = []
        # By content hash, only for contents the library already holds.
        self._twins: dict[str, _Twins] = {}
        # Paths the library stores photos under that were reached by another
        # path (through a symbolic link) in this scan.
        self._reached_otherwise: set[str] = set()
        # Clips stored before their capture time was read: each gets it once.
        self._undated_clips: set[int] = set()
        self.pack_id = -1

    @property
    def engine(self) -> FaceEngine:
        # Loaded on first need: a rescan of an unchanged tree never pays for it.
        if self._engine is None:
            self._engine = load_engine(self.pack, self.options.det_size, self.options.device)
            self.report.device = self._engine.device
            self.report.providers = self._engine.providers
        return self._engine

    def run(self, roots: list[Path]) -> ScanReport:
        started = time.perf_counter()
        if not self.pack.exists:
            self.engine  # a pack name that is not installed yet: fetch it now
        if self.options.device not in ("auto", "cpu"):
            # A device insisted on is checked even when no photo needs the model.
            choose_providers(available_providers(), self.options.device)
        self.pack_id = self.store.pack_id(self.pack.name, self.pack.fingerprint())
        self._undated_clips = self.store.undated_clips()
        entries, walked_roots = self._walk(roots)
        clips = sum(is_video_name(entry.path) for entry in entries)
        self.events.on_total(len(entries) - clips)
        if clips:
            self.events.on_clip_total(clips)
        pool = ThreadPoolExecutor(max_workers=self.options.workers)
        try:
            reads = _ordered_map(pool, self._read, self._needing_read(entries), READ_AHEAD)
            decoded = _ordered_map(pool, self._decode, self._needing_detection(reads), DECODE_AHEAD)
            for batch in _batched(decoded, PHOTOS_PER_BATCH):
                self._detect_and_store(batch)
        finally:
            # On Ctrl-C, reads and decodes queued ahead are dropped, not waited for.
            pool.shutdown(wait=True, cancel_futures=True)
        seen = {entry.path for entry in entries} | self._reached_otherwise
        for root in walked_roots:
            self._remove_missing(root, seen)
        self.report.timings = dict(self._timings.seconds)
        self.report.seconds = time.perf_counter() - started
        return self.report

    # -- stages ----------------------------------------------------------------

    def _walk(self, roots: list[Path]) -> tuple[list[FileEntry], list[str]]:
        entries: dict[str, FileEntry] = {}
        walked_roots = []
        for root in roots:
            root_path = os.path.abspath(root)
            if not os.path.exists(root_path):
                self.events.on_warning(
                    f"{shown(root_path)}: not found (an unmounted drive?); "
                    "its photos stay in the library"
                )
                continue
            found = list(walk_photos(Path(root_path), self._walk_error, self.options.follow_symlinks,
                                     self.options.videos))
            for entry in found:
                # Two roots reaching one file (one through a link): one photo.
                entries.setdefault(entry.real_path or entry.path, entry)
            if os.path.isdir(root_path):
                if found or not self.store.photos_under(root_path):
                    walked_roots.append(root_path)
                else:
                    self.events.on_warning(
                        f"{shown(root_path)}: no photos found, but the library has photos there "
                        "(an unmounted drive?); they are kept"
                    )
        return list(entries.values()), walked_roots

    def _walk_error(self, path: str, reason: str) -> None:
        self._unreadable_folders.append(path.rstrip(os.sep) + os.sep)
        self._error(f"{shown(path)}: {reason.lower()}")

    def _stored_as(self, entry: FileEntry, path: str) -> FileEntry:
        """``entry`` under the path the library stores its photo under, when
        this scan reached it by another one: the path first given stays."""
        if path == entry.path:
            return entry
        self._reached_otherwise.add(path)
        return replace(entry, path=path)

    def _needing_read(self, entries: list[FileEntry]) -> Iterator[_Item]:
        for entry in entries:
            since = time.perf_counter()
            state = self.store.photo_state(entry.path, self.pack_id, entry.real_path)
            self._timings.add("database", since)
            if state is not None:
                entry = self._stored_as(entry, state.path)
            if (
                state is not None
                and state.status == "ok"
                and state.scanned_with_pack
                and state.size == entry.size
                and state.mtime_ns == entry.mtime_ns
            ):
                item = _Item(entry, state)
                self._date_if_undated(state.id, entry.path)
                self._counts(item).unchanged += 1
                self._done(item, 0)
                continue
            yield _Item(entry, state)

    def _read(self, item: _Item) -> _Item:
        since = time.perf_counter()
        try:
            if item.is_clip:
                # The decoder reads the clip itself, only as far as it samples.
                item.content_hash = video.clip_hash(item.entry.path, item.entry.size)
                self._timings.add("read", since)
                return item
            with open(item.entry.path, "rb") as handle:
                if item.is_raw:
                    item.content_hash = hashlib.file_digest(handle, _content_hash).hexdigest()
                else:
                    item.data = handle.read()
                    item.content_hash = _content_hash(item.data).hexdigest()
        except OSError as exc:
            item.error = _os_reason(exc)
            return item
        self._timings.add("read", since)
        return item

    def _needing_detection(self, reads: Iterable[_Item]) -> Iterator[_Item]:
        """Settle in the library what needs no decoding: failed reads, touched
        files, moved files and copies of known photos. Yield the rest."""
        for item in reads:
            if item.error:
                self._fail(item, item.error)
                continue
            since = time.perf_counter()
            settled = self._settle_known_content(item)
            self._timings.add("database", since)
            if settled:
                self._done(item, 0)
            else:
                yield item

    def _settle_known_content(self, item: _Item) -> bool:
        entry, state = item.entry, item.state
        counts = self._counts(item)
        if state is not None:
            # Also after a failure: the content is back to what was scanned.
            if state.content_hash == item.content_hash and state.scanned_with_pack:
                self.store.update_file_stat(state.id, entry.size, entry.mtime_ns)
                self._date_if_undated(state.id, entry.path)
                counts.unchanged += 1
                return True
            return False
        twins = self._twins.get(item.content_hash) or _Twins()
        mine = None  # this file's own stat, once a twin needs it
        while batch := self.store.photos_with_hash(item.content_hash, self.pack_id,
                                                   after_id=twins.checked, limit=TWINS_PER_QUERY):
            self._twins[item.content_hash] = twins
            for twin in batch:
                theirs = _stat_or_none(twin.path)
                mine = mine or _stat_or_none(entry.path)
                if theirs is not None and mine is not None and os.path.samestat(theirs, mine):
                    # Reached through a link the library did not know of (stored
                    # before it kept resolved paths): the same photo.
                    self.store.set_real_path(twin.id, entry.real_path)
                    item.entry, item.state = self._stored_as(entry, twin.path), twin
                    return self._settle_known_content(item)
                if theirs is None:
                    self.store.move_photo(twin.id, entry.path, entry.size, entry.mtime_ns,
                                          entry.real_path)
                    counts.moved += 1
                    self._date_if_undated(twin.id, entry.path)
                    if twin.scanned_with_pack:
                        twins.checked = twin.id
                        twins.source = twins.source or twin.id
                        return True
                    # Looked at again by the next copy, when it may have been
                    # scanned and be the source of its faces.
                    item.state = self.store.photo_state(entry.path, self.pack_id)
                    return False
                twins.checked = twin.id
                if twin.scanned_with_pack and twins.source is None:
                    twins.source = twin.id
        if twins.source is None:
            return False
        # A copy of a photo already scanned: same faces, own face ids.
        if twins.faces is None:
            self._date_if_undated(twins.source, entry.path)  # the copy's time is the source's
            twins.faces = self.store.faces_of(twins.source, self.pack_id)
            twins.meta = self.store.photo_meta(twins.source)
        self.store.save_photo(entry.path, entry.size, entry.mtime_ns, item.content_hash,
                              twins.meta, self.pack_id, twins.faces, entry.real_path)
        counts.new += 1
        counts.faces += len(twins.faces)
        return True

    def _date_if_undated(self, photo_id: int, path: str) -> None:
        """Read the capture time of a clip stored before clip times were read,
        from its header only (a few KiB): a clip the scan skips as unchanged
        would never get one."""
        if photo_id in self._undated_clips:
            self._undated_clips.discard(photo_id)
            since = time.perf_counter()
            self.store.date_clip(photo_id, clip_time.creation_time(path))
            self._timings.add("read", since)

    def _decode(self, item: _Item) -> _Item:
        since = time.perf_counter()
        try:
            if item.is_clip:
                # Opened only: its frames are decoded on a thread of their own
                # while it is searched.
                item.decoded_clip = video.decode_clip(Path(item.entry.path), self.options.det_size,
                                                      self._timings.add)
            elif item.is_raw:
                item.photo = decoding.read_and_decode(Path(item.entry.path), self.options.det_size)
            else:
                item.photo = decoding.decode(Path(item.entry.path), item.data, self.options.det_size)
        except PhotoError as exc:
            item.error = exc.reason
        item.data = b""
        self._timings.add("decode", since)
        return item

    def _detect_and_store(self, batch: list[_Item]) -> None:
        engine = self.engine
        found: list[tuple[_Item, list]] = []
        crops = []
        for item in batch:
            if item.is_clip and item.decoded_clip is not None:
                self._detect_and_store_clip(item)
                continue
            if item.error or item.photo is None:
                self._fail(item, item.error or "not decoded")
                continue
            since = time.perf_counter()
            detections = engine.detect(item.photo.pixels,
                                       min_side=self.options.min_face_size / item.photo.scale)
            self._timings.add("detect", since)
            since = time.perf_counter()
            crops.extend(engine.align(item.photo.pixels, d.landmarks) for d in detections)
            self._timings.add("embed", since)
            found.append((item, detections))
        since = time.perf_counter()
        embeddings = iter(engine.embed(crops))
        self._timings.add("embed", since)
        for item, detections in found:
            photo = item.photo
            faces = [
                FaceRecord(box=shown.box, landmarks=shown.landmarks.tolist(),
                           score=round(shown.score, 4), embedding=next(embeddings),
                           quality=face_quality(shown.box, shown.landmarks, shown.score,
                                                sharpness(photo.pixels, d.box)))
                for d, shown in ((d, d.scaled(photo.scale)) for d in detections)
            ]
            info = photo.info
            if photo.notes:
                # One line a photo: a damaged directory makes Pillow skip each tag after it.
                more = f"; and {plural(len(photo.notes) - 1, 'more warning')}" if len(photo.notes) > 1 else ""
                self.events.on_warning(f"{shown(item.entry.path)}: {photo.notes[0]}{more} (the photo "
                                       "is read; its orientation or date may be missing)")
            since = time.perf_counter()
            self.report.decisions.add(self.store.save_photo(
                item.entry.path, item.entry.size, item.entry.mtime_ns, item.content_hash,
                PhotoMeta(info.width, info.height, info.orientation, info.taken_at),
                self.pack_id, faces, item.entry.real_path or None,
            ))
            self._timings.add("database", since)
            self._stored(item, len(faces))
            item.photo = None

    def _detect_and_store_clip(self, item: _Item) -> None:
        """Find faces in each sampled frame, link them into tracks, store
        each track as one face (its best face, its embedding template)."""
        clip = item.decoded_clip
        item.decoded_clip = None
        try:
            faces = tracks.clip_faces(self.engine, clip.frames, self.options.min_face_size,
                                      self._timings.add)
        except PhotoError as exc:
            self._fail(item, exc.reason)
            return
        info = clip.info
        since = time.perf_counter()
        self.report.decisions.add(self.store.save_photo(
            item.entry.path, item.entry.size, item.entry.mtime_ns, item.content_hash,
            PhotoMeta(info.width, info.height, 1, info.taken_at, "video", info.duration),
            self.pack_id, faces, item.entry.real_path or None,
        ))
        self._timings.add("database", since)
        self._stored(item, len(faces))

    def _stored(self, item: _Item, faces: int) -> None:
        counts = self._counts(item)
        if item.state is None or item.state.status != "ok" or not item.state.scanned_with_pack:
            counts.new += 1
        else:
            counts.changed += 1
        counts.faces += faces
        self._done(item, faces)

    # -- bookkeeping ---------------------------------------------------------------

    def _counts(self, item: _Item) -> Counts:
        return self.report.clips if item.is_clip else self.report

    def _done(self, item: _Item, faces: int) -> None:
        (self.events.on_clip if item.is_clip else self.events.on_photo)(faces)

    def _error(self, message: str) -> None:
        self.report.errors.append(message)
        self.events.on_error(message)

    def _fail(self, item: _Item, reason: str) -> None:
        self.store.record_failure(item.entry.path, item.entry.size, item.entry.mtime_ns, reason,
                                  "video" if item.is_clip else "photo", item.entry.real_path or None)
        self._counts(item).failed += 1
        self._error(f"{shown(item.entry.path)}: {reason}")
        self._done(item, 0)

    def _remove_missing(self, root: str, seen: set[str]) -> None:
        gone = [
            (photo_id, path)
            for photo_id, path in self.store.photos_under(root)
            if path not in seen
            and not any(path.startswith(folder) for folder in self._unreadable_folders)
            and not os.path.exists(path)
        ]
        if gone:
            self.store.delete_photos([photo_id for photo_id, _ in gone])
            clips = sum(is_video_name(path) for _, path in gone)
            self.report.clips.removed += clips
            self.report.removed += len(gone) - clips


def scan(
    store: Store,
    roots: list[Path],
    pack: PackRef,
    options: ScanOptions | None = None,
    events: ScanEvents | None = None,
) -> ScanReport:
    return Scanner(store, pack, options, events).run(roots)
