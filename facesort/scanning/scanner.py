"""The scan loop: walk → compare with the library → read → decode → detect and
embed → store, one transaction per photo, so an interruption loses at most the
photos in flight.

Reading (and hashing) and decoding run in worker threads ahead of the model;
Pillow and onnxruntime release the GIL, so the two overlap.
"""

from __future__ import annotations

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

from facesort.scanning import decoding
from facesort.config import DEFAULT_DET_SIZE, DEFAULT_MIN_FACE_SIZE, PackRef
from facesort.engine.face_engine import FaceEngine, available_providers, choose_providers, load_engine
from facesort.errors import PhotoError, shown
from facesort.scanning.quality import face_quality, sharpness
from facesort.store import CarryReport, FaceRecord, PhotoMeta, PhotoState, Store
from facesort.scanning.walk import FileEntry, walk_photos

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


def _ignore(*_args) -> None:
    return None


@dataclass
class ScanEvents:
    """What the scan tells its caller as it goes; every hook is optional."""

    on_total: Callable[[int], None] = _ignore  # photos to look at
    on_photo: Callable[[int], None] = _ignore  # one photo done, with its face count
    on_error: Callable[[str], None] = _ignore  # "path: reason"
    on_warning: Callable[[str], None] = _ignore


@dataclass
class ScanReport:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    moved: int = 0
    removed: int = 0
    failed: int = 0
    faces: int = 0
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

    @property
    def photos(self) -> int:
        return self.new + self.changed + self.unchanged + self.moved + self.failed

    def as_dict(self) -> dict:
        return {
            "photos": self.photos,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "moved": self.moved,
            "removed": self.removed,
            "failed": self.failed,
            "faces": self.faces,
            "decisions_carried": self.decisions.carried,
            "decisions_orphaned": self.decisions.orphaned,
            "decisions_from_packs": dict(self.decisions.from_packs),
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "device": self.device,
            "providers": self.providers,
            "errors": self.errors,
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


@dataclass
class _Item:
    entry: FileEntry
    state: PhotoState | None  # the library's record of this path, if any
    data: bytes = b""
    content_hash: str = ""
    error: str | None = None
    photo: decoding.DecodedPhoto | None = None


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


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


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
        # Paths the library stores photos under that were reached by another
        # path (through a symbolic link) in this scan.
        self._reached_otherwise: set[str] = set()
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
        entries, walked_roots = self._walk(roots)
        self.events.on_total(len(entries))
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
            found = list(walk_photos(Path(root_path), self._walk_error, self.options.follow_symlinks))
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
                self.report.unchanged += 1
                self.events.on_photo(0)
                continue
            yield _Item(entry, state)

    def _read(self, item: _Item) -> _Item:
        since = time.perf_counter()
        try:
            with open(item.entry.path, "rb") as handle:
                item.data = handle.read()
        except OSError as exc:
            item.error = _os_reason(exc)
            return item
        item.content_hash = hashlib.blake2b(item.data, digest_size=20).hexdigest()
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
                self.events.on_photo(0)
            else:
                yield item

    def _settle_known_content(self, item: _Item) -> bool:
        entry, state = item.entry, item.state
        if state is not None:
            # Also after a failure: the content is back to what was scanned.
            if state.content_hash == item.content_hash and state.scanned_with_pack:
                self.store.update_file_stat(state.id, entry.size, entry.mtime_ns)
                self.report.unchanged += 1
                return True
            return False
        twins = self.store.photos_with_hash(item.content_hash, self.pack_id)
        for twin in twins:
            if _same_file(twin.path, entry.path):
                # Reached through a link the library did not know of (stored
                # before it kept resolved paths): the same photo.
                self.store.set_real_path(twin.id, entry.real_path)
                item.entry, item.state = self._stored_as(entry, twin.path), twin
                return self._settle_known_content(item)
        for twin in twins:
            if not os.path.exists(twin.path):
                self.store.move_photo(twin.id, entry.path, entry.size, entry.mtime_ns,
                                      entry.real_path)
                self.report.moved += 1
                if twin.scanned_with_pack:
                    return True
                item.state = self.store.photo_state(entry.path, self.pack_id)
                return False
        for twin in twins:
            if twin.scanned_with_pack:
                # A copy of a photo already scanned: same faces, own face ids.
                faces = self.store.faces_of(twin.id, self.pack_id)
                self.store.save_photo(
                    entry.path, entry.size, entry.mtime_ns, item.content_hash,
                    self.store.photo_meta(twin.id), self.pack_id, faces, entry.real_path,
                )
                self.report.new += 1
                self.report.faces += len(faces)
                return True
        return False

    def _decode(self, item: _Item) -> _Item:
        since = time.perf_counter()
        try:
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
            for note in photo.notes:
                self.events.on_warning(f"{shown(item.entry.path)}: {note} (the photo is read; "
                                       "its orientation or date may be missing)")
            since = time.perf_counter()
            self.report.decisions.add(self.store.save_photo(
                item.entry.path, item.entry.size, item.entry.mtime_ns, item.content_hash,
                PhotoMeta(info.width, info.height, info.orientation, info.taken_at),
                self.pack_id, faces, item.entry.real_path or None,
            ))
            self._timings.add("database", since)
            if item.state is None or item.state.status != "ok" or not item.state.scanned_with_pack:
                self.report.new += 1
            else:
                self.report.changed += 1
            self.report.faces += len(faces)
            item.photo = None
            self.events.on_photo(len(faces))

    # -- bookkeeping ---------------------------------------------------------------

    def _error(self, message: str) -> None:
        self.report.errors.append(message)
        self.events.on_error(message)

    def _fail(self, item: _Item, reason: str) -> None:
        self.store.record_failure(item.entry.path, item.entry.size, item.entry.mtime_ns, reason,
                                  item.entry.real_path or None)
        self.report.failed += 1
        self._error(f"{shown(item.entry.path)}: {reason}")
        self.events.on_photo(0)

    def _remove_missing(self, root: str, seen: set[str]) -> None:
        gone = [
            photo_id
            for photo_id, path in self.store.photos_under(root)
            if path not in seen
            and not any(path.startswith(folder) for folder in self._unreadable_folders)
            and not os.path.exists(path)
        ]
        if gone:
            self.store.delete_photos(gone)
            self.report.removed += len(gone)


def scan(
    store: Store,
    roots: list[Path],
    pack: PackRef,
    options: ScanOptions | None = None,
    events: ScanEvents | None = None,
) -> ScanReport:
    return Scanner(store, pack, options, events).run(roots)
