"""The library: one SQLite file with photos, faces and their embeddings.

This is the only module that speaks SQL. Embeddings go in and out as numpy
arrays and are stored as little-endian float32 BLOBs beside the pack that made
them; queries always name the pack, so two packs' embeddings never meet.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING

from facesort.errors import LibraryReadOnlyError, PackMismatchError, StoreError
from facesort.quality import POOR as POOR_QUALITY, face_quality
from facesort.store import decisions
from facesort.store.decisions import CarryReport, Place, box_overlap
from facesort.store.migrations import MIGRATIONS, migrate

# numpy is imported where embeddings are handled, not here: the commands that
# only list and find start without it.
if TYPE_CHECKING:
    import numpy as np

BUSY_TIMEOUT_MS = 30_000
_EMBEDDING_DTYPE = "<f4"
# Faces read at once into the grouping arrays.
_GROUPING_CHUNK = 50_000
# Faces grouping and suggestions may use: good enough to judge (or scanned
# before faces had a quality), or named by the user whatever their quality.
_JUDGEABLE = " (quality IS NULL OR quality >= ? OR person_id IS NOT NULL)"


def embedding_to_blob(vector: np.ndarray) -> bytes:
    import numpy as np

    return np.ascontiguousarray(vector, dtype=_EMBEDDING_DTYPE).tobytes()


def blob_to_embedding(blob: bytes) -> np.ndarray:
    import numpy as np

    return np.frombuffer(blob, dtype=_EMBEDDING_DTYPE)


# A path is stored as TEXT, or, when it is not valid UTF-8 (a file named on
# another system, e.g. in Latin-1), as its bytes in a BLOB: sqlite3 cannot
# bind such a str, and a replacement character would lose the name. SQLite
# sorts every BLOB after every TEXT, so a range of paths is two ranges.
_UNDER = "((path >= ? AND path < ?) OR (path >= ? AND path < ?))"


def _under(folder: str) -> tuple[str, str, bytes, bytes]:
    """The half-open ranges of paths below ``folder`` (for ``_UNDER``): ranges
    on the path index, where LIKE 'folder/%' would scan the table."""
    prefix = folder.rstrip(os.sep) + os.sep
    text = (prefix, prefix[:-1] + chr(ord(os.sep) + 1))
    return (*text, *(os.fsencode(bound) for bound in text))


def _bindable(value):
    if type(value) is str and not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:  # surrogate escapes: os.fsdecode of non-UTF-8 bytes
            return os.fsencode(value)
    return value


def _bindable_all(parameters):
    if isinstance(parameters, dict):
        return {key: _bindable(value) for key, value in parameters.items()}
    return tuple(_bindable(value) for value in parameters)


class _Connection(sqlite3.Connection):
    """Binds a str that is not valid UTF-8 as its file-system bytes."""

    def execute(self, sql, parameters=()):
        return super().execute(sql, _bindable_all(parameters))

    def executemany(self, sql, seq_of_parameters):
        return super().executemany(sql, map(_bindable_all, seq_of_parameters))


# Back from the library, a BLOB path becomes the str that names the file
# (with surrogate escapes); UTF-8 TEXT comes back as it went in.
sqlite3.register_converter("TEXT", os.fsdecode)


def _connect(database: str, uri: bool = False) -> sqlite3.Connection:
    return sqlite3.connect(database, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                           factory=_Connection, detect_types=sqlite3.PARSE_DECLTYPES, uri=uri)


def _writable(path: Path) -> bool:
    """Whether the library and its folder (for the WAL and lock files) can be written."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _open_read_only(path: Path) -> sqlite3.Connection:
    """Open without writing anything. A WAL library needs its -shm file; where
    it is missing and cannot be created (a read-only drive), ``immutable``
    reads the file as it is, which is safe since nothing can change it."""
    uri = path.absolute().as_uri()
    for option in ("mode=ro", "immutable=1"):
        db = _connect(f"{uri}?{option}", uri=True)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            db.close()
            if option == "immutable=1":
                raise
    raise AssertionError("unreachable")


def _require_current_schema(db: sqlite3.Connection) -> None:
    has_log = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'"
                         " AND name = '_migrations'").fetchone()
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")} if has_log else set()
    known = {name for name, _ in MIGRATIONS}
    if done - known:
        raise RuntimeError("the library was upgraded by a newer facesort; upgrade facesort to use it")
    if known - done:
        raise RuntimeError("the library needs an upgrade to this facesort's format, which needs "
                           "write access: run any facesort command once where it can be written")


def _is_write_failure(exc: sqlite3.Error) -> bool:
    """A full disk, a failing one, or a file that cannot be written: not the library's fault."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    return name.startswith(("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY"))


def _chunks(ids: list, size: int = 500) -> Iterator[tuple[list, str]]:
    """``ids`` in slices that fit SQLite's parameter limit, each with its ``?`` marks."""
    for start in range(0, len(ids), size):
        chunk = ids[start:start + size]
        yield chunk, ",".join("?" * len(chunk))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PhotoState:
    id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str
    scanned_with_pack: bool


@dataclass(frozen=True)
class PhotoMeta:
    width: int
    height: int
    orientation: int
    taken_at: str | None


@dataclass(frozen=True)
class FaceRecord:
    box: tuple[float, float, float, float]  # x, y, w, h in displayed pixels
    landmarks: list[list[float]]  # 5 points in displayed pixels
    score: float
    embedding: np.ndarray
    quality: float | None = None  # facesort.quality; None when not measured


@dataclass(frozen=True)
class PackSummary:
    name: str
    photos: int
    faces: int
    dimensions: int | None


@dataclass(frozen=True)
class LibrarySummary:
    db_path: str
    db_bytes: int
    photos: int
    failed: int
    faces: int
    packs: list[PackSummary]
    people: int
    groups: int
    grouped_faces: int
    named_faces: int  # the user's (and imported) decisions
    auto_faces: int
    orphans: int  # decisions whose face was not found again


@dataclass(frozen=True)
class Orphan:
    """A decision whose face was not found again when its photo was detected again."""

    id: int
    path: str
    pack: str  # the pack whose face held it
    box: tuple[float, float, float, float]  # normalised to the displayed photo (0..1)
    person: str | None
    person_source: str | None
    ignored: bool
    rejected: list[str]
    since: str


@dataclass(frozen=True)
class FailedPhoto:
    path: str
    error: str
    scanned_at: str


@dataclass(frozen=True)
class ExportFace:
    id: int
    box: tuple[float, float, float, float]
    score: float
    cluster: int | None
    person: str | None  # the user's (or imported) decision, else the automatic one
    person_source: str | None  # user, import, auto


@dataclass(frozen=True)
class ExportPhoto:
    path: str
    width: int
    height: int
    taken_at: str | None
    faces: list[ExportFace]


@dataclass(frozen=True)
class PhotoRecord:
    id: int
    path: str
    width: int  # displayed
    height: int
    orientation: int
    taken_at: str | None


@dataclass(frozen=True)
class GroupingInput:
    """A pack's faces as clustering and naming need them, one row per face."""

    face_ids: np.ndarray
    photo_ids: np.ndarray
    embeddings: np.ndarray
    cluster_ids: np.ndarray  # 0 for none
    person_ids: np.ndarray  # the user's decision; 0 for none
    ignored: np.ndarray


@dataclass(frozen=True)
class NewCluster:
    previous_id: int | None
    ignored: bool
    face_ids: np.ndarray


@dataclass(frozen=True)
class ClusterRun:
    """What the last cluster run of a pack saw, and what it reported."""

    faces: int
    max_face_id: int
    decisions: int
    settings: str
    full_run_faces: int  # faces at the last run that clustered everything
    blocking: bytes | None
    report: str


@dataclass(frozen=True)
class Person:
    id: int
    name: str


@dataclass(frozen=True)
class PersonSummary:
    id: int
    name: str
    faces: int  # the user's (and imported) decisions
    auto_faces: int
    photos: int


@dataclass(frozen=True)
class ClusterSummary:
    id: int
    faces: int
    photos: int
    ignored: bool
    named_faces: int
    auto_faces: int
    person: str | None


@dataclass(frozen=True)
class FaceInfo:
    id: int
    path: str
    box: tuple[float, float, float, float]
    cluster: int | None
    user_person_id: int | None
    person: str | None
    person_source: str | None  # user, import, auto
    auto_distance: float | None
    photo_id: int
    quality: float | None = None


@dataclass(frozen=True)
class ScoredGroup:
    """An unnamed group as suggestions see it: its judgeable faces, best first."""

    id: int
    face_ids: np.ndarray
    photo_ids: np.ndarray
    embeddings: np.ndarray


@dataclass(frozen=True)
class Exemplar:
    face_id: int
    taken_at: str | None
    quality: float | None
    embedding: np.ndarray


@dataclass(frozen=True)
class StoredAdapter:
    """What 'facesort tune' kept for one pack (see :mod:`facesort.tune`)."""

    pack: str
    matrix: np.ndarray  # (rows, cols) float32
    recognize: float
    margin: float
    trained_at: str
    faces: int  # named faces it learned from
    decisions: int  # the user's decisions on the pack's faces when it was trained
    seed: int


class Store:
    """An open library. Use as a context manager, or call ``close``.

    ``write=False`` is for commands that only read: where the file or its
    folder cannot be written (a read-only drive, no permission), the library
    is opened read-only instead of failing; with ``write=True`` that is a
    :class:`LibraryReadOnlyError`.
    """

    def __init__(self, path: Path, create: bool = True, write: bool = True):
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(self.path, "no library here yet: run 'facesort scan' first")
        self.read_only = self.path.exists() and not _writable(self.path)
        if self.read_only and write:
            raise LibraryReadOnlyError(self.path)
        try:
            if self.read_only:
                self.db = _open_read_only(self.path)
                _require_current_schema(self.db)
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = _connect(str(self.path))
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA journal_mode = WAL")
            # WAL with NORMAL stays consistent after a crash or power cut; it
            # may lose the last commits, which the next scan redoes.
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            migrate(self.db)
        except sqlite3.DatabaseError as exc:
            if _is_write_failure(exc):
                raise  # a full disk: the CLI says so, with the path
            raise StoreError(self.path, f"not a usable facesort library ({exc})") from exc
        except (OSError, RuntimeError) as exc:
            raise StoreError(self.path, str(exc)) from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            # SQLite has already rolled back after a full disk or an I/O error;
            # a second ROLLBACK would hide that error behind its own.
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- packs ---------------------------------------------------------------

    def pack_id(self, name: str, fingerprint: str) -> int:
        """The id of pack ``name``, registering it on first use."""
        row = self.db.execute(
            "SELECT id, fingerprint FROM packs WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            with self.transaction():
                return self.db.execute(
                    "INSERT INTO packs (name, fingerprint) VALUES (?, ?)", (name, fingerprint)
                ).lastrowid
        if row[1] != fingerprint:
            raise PackMismatchError(
                self.path,
                f"the library's faces from pack {name!r} were made by other model files "
                f"({row[1]}) than the ones found now ({fingerprint}); give the new pack "
                "folder another name so their embeddings are not mixed",
            )
        return row[0]

    def find_pack(self, name: str) -> int | None:
        row = self.db.execute("SELECT id FROM packs WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def pack_names(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT name FROM packs ORDER BY id")]

    # -- photos, as the scanner sees them ------------------------------------

    def photo_state(self, path: str, pack_id: int) -> PhotoState | None:
        row = self.db.execute(
            "SELECT id, path, size, mtime_ns, content_hash, status,"
            " EXISTS (SELECT 1 FROM photo_scans s WHERE s.photo_id = photos.id AND s.pack_id = ?)"
            " FROM photos WHERE path = ?",
            (pack_id, path),
        ).fetchone()
        return PhotoState(*row[:6], bool(row[6])) if row else None

    def photos_with_hash(self, content_hash: str, pack_id: int) -> list[PhotoState]:
        rows = self.db.execute(
            "SELECT id, path, size, mtime_ns, content_hash, status,"
            " EXISTS (SELECT 1 FROM photo_scans s WHERE s.photo_id = photos.id AND s.pack_id = ?)"
            " FROM photos WHERE content_hash = ? AND status = 'ok' ORDER BY id",
            (pack_id, content_hash),
        ).fetchall()
        return [PhotoState(*row[:6], bool(row[6])) for row in rows]

    def photo_meta(self, photo_id: int) -> PhotoMeta:
        row = self.db.execute(
            "SELECT width, height, orientation, taken_at FROM photos WHERE id = ?", (photo_id,)
        ).fetchone()
        return PhotoMeta(*row)

    def faces_of(self, photo_id: int, pack_id: int) -> list[FaceRecord]:
        rows = self.db.execute(
            "SELECT x, y, w, h, landmarks, score, embedding, quality FROM faces"
            " WHERE photo_id = ? AND pack_id = ? ORDER BY id",
            (photo_id, pack_id),
        )
        return [
            FaceRecord((x, y, w, h), json.loads(marks), score, blob_to_embedding(blob), quality)
            for x, y, w, h, marks, score, blob, quality in rows
        ]

    def save_photo(
        self,
        path: str,
        size: int,
        mtime_ns: int,
        content_hash: str,
        meta: PhotoMeta,
        pack_id: int,
        faces: Iterable[FaceRecord],
    ) -> CarryReport:
        """Store a scanned photo and the faces ``pack_id`` found in it, in one
        transaction. If the file's content changed, every pack's old faces go.
        The user's decisions on the photo's faces go to the new faces at the
        same place, or are kept as orphans of the photo (see
        :mod:`facesort.store.decisions`); what happened to them is returned."""
        faces = list(faces)
        with self.transaction() as db:
            row = db.execute(
                "SELECT id, content_hash, width, height, orientation,"
                " EXISTS (SELECT 1 FROM photo_scans s WHERE s.photo_id = photos.id AND s.pack_id = ?)"
                " FROM photos WHERE path = ?", (pack_id, path),
            ).fetchone()
            values = (size, mtime_ns, content_hash, meta.width, meta.height,
                      meta.orientation, meta.taken_at, _now())
            pending: list[decisions.Decision] = []
            if row is None:
                photo_id = db.execute(
                    "INSERT INTO photos (size, mtime_ns, content_hash, width, height,"
                    " orientation, taken_at, scanned_at, path, status)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok')",
                    (*values, path),
                ).lastrowid
            else:
                photo_id, old_hash, old_width, old_height, old_orientation, scanned = row
                changed = old_hash != content_hash
                if old_width and old_height:
                    pending = decisions.collect(
                        db, photo_id, pack_id, (old_width, old_height, old_orientation),
                        other_packs="move" if changed else (None if scanned else "copy"))
                if changed:
                    db.execute("DELETE FROM faces WHERE photo_id = ? AND pack_id != ?",
                               (photo_id, pack_id))
                    db.execute("DELETE FROM photo_scans WHERE photo_id = ?", (photo_id,))
                db.execute(
                    "UPDATE photos SET size = ?, mtime_ns = ?, content_hash = ?, width = ?,"
                    " height = ?, orientation = ?, taken_at = ?, scanned_at = ?,"
                    " status = 'ok', error = NULL WHERE id = ?",
                    (*values, photo_id),
                )
            db.execute("DELETE FROM faces WHERE photo_id = ? AND pack_id = ?", (photo_id, pack_id))
            new_faces = [
                (db.execute(
                    "INSERT INTO faces (photo_id, pack_id, x, y, w, h, landmarks, score, embedding,"
                    " quality) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (photo_id, pack_id, *face.box, json.dumps(face.landmarks), face.score,
                     embedding_to_blob(face.embedding),
                     face.quality if face.quality is not None
                     else face_quality(face.box, face.landmarks, face.score)),
                ).lastrowid, Place.of(face.box, meta.width, meta.height, meta.orientation))
                for face in faces
            ]
            pack = db.execute("SELECT name FROM packs WHERE id = ?", (pack_id,)).fetchone()[0]
            carried = decisions.carry(db, photo_id, pack, pending, new_faces)
            db.execute(
                "INSERT OR IGNORE INTO photo_scans (photo_id, pack_id) VALUES (?, ?)",
                (photo_id, pack_id),
            )
        return carried

    def record_failure(self, path: str, size: int, mtime_ns: int, error: str) -> None:
        """Mark ``path`` as failed. A photo that was fine before keeps its faces
        and its old size and time, so the next scan tries it again."""
        with self.transaction() as db:
            updated = db.execute(
                "UPDATE photos SET status = 'failed', error = ?, scanned_at = ? WHERE path = ?",
                (error, _now(), path),
            ).rowcount
            if not updated:
                db.execute(
                    "INSERT INTO photos (path, size, mtime_ns, status, error, scanned_at)"
                    " VALUES (?, ?, ?, 'failed', ?, ?)",
                    (path, size, mtime_ns, error, _now()),
                )

    def move_photo(self, photo_id: int, new_path: str, size: int, mtime_ns: int) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE photos SET path = ?, size = ?, mtime_ns = ? WHERE id = ?",
                (new_path, size, mtime_ns, photo_id),
            )

    def update_file_stat(self, photo_id: int, size: int, mtime_ns: int) -> None:
        """The file was touched but its content is what was scanned."""
        with self.transaction() as db:
            db.execute(
                "UPDATE photos SET size = ?, mtime_ns = ?, status = 'ok', error = NULL WHERE id = ?",
                (size, mtime_ns, photo_id),
            )

    def photos_under(self, folder: str) -> list[tuple[int, str]]:
        return self.db.execute(
            "SELECT id, path FROM photos WHERE " + _UNDER, _under(folder)
        ).fetchall()

    def delete_photos(self, photo_ids: list[int]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM photos WHERE id = ?", [(i,) for i in photo_ids])

    def face_count(self, photo_ids: list[int]) -> int:
        return sum(self.db.execute(f"SELECT count(*) FROM faces WHERE photo_id IN ({marks})",
                                   chunk).fetchone()[0] for chunk, marks in _chunks(photo_ids))

    def decisions_on_photos(self, photo_ids: list[int]) -> int:
        """How many user decisions (faces named, imported, ignored or
        rejected, and orphans) the photos hold."""
        count = 0
        for chunk, marks in _chunks(photo_ids):
            count += self.db.execute(
                f"SELECT (SELECT count(*) FROM faces f WHERE f.photo_id IN ({marks}) AND"
                "   (f.person_id IS NOT NULL OR f.ignored"
                "    OR EXISTS (SELECT 1 FROM rejections r WHERE r.face_id = f.id)))"
                f" + (SELECT count(*) FROM orphans o WHERE o.photo_id IN ({marks}))",
                (*chunk, *chunk)).fetchone()[0]
        return count

    # -- orphaned decisions --------------------------------------------------

    def orphans(self) -> list[Orphan]:
        rows = self.db.execute(
            "SELECT o.id, p.path, o.pack, o.x, o.y, o.w, o.h, u.name, o.person_source, o.ignored,"
            " (SELECT group_concat(r.name, ', ') FROM orphan_rejections j"
            "   JOIN people r ON r.id = j.person_id WHERE j.orphan_id = o.id),"
            " o.created_at"
            " FROM orphans o JOIN photos p ON p.id = o.photo_id"
            " LEFT JOIN people u ON u.id = o.person_id ORDER BY p.path, o.id")
        return [Orphan(orphan_id, path, pack, (x, y, w, h), person, source, bool(ignored),
                       rejected.split(", ") if rejected else [], created)
                for orphan_id, path, pack, x, y, w, h, person, source, ignored, rejected, created
                in rows]

    def drop_orphans(self, orphan_ids: Iterable[int]) -> int:
        with self.transaction() as db:
            return sum(db.execute("DELETE FROM orphans WHERE id = ?", (int(i),)).rowcount
                       for i in orphan_ids)

    # -- adapters ------------------------------------------------------------

    def save_adapter(self, pack_id: int, matrix: np.ndarray, recognize: float, margin: float,
                     faces: int, decisions: int, seed: int) -> None:
        """Keep ``matrix`` as the pack's adapter, replacing any before it."""
        rows, cols = matrix.shape
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO adapters (pack_id, rows, cols, matrix, recognize, margin,"
                " trained_at, faces, decisions, seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (pack_id, rows, cols, embedding_to_blob(matrix), float(recognize), float(margin),
                 _now(), int(faces), int(decisions), int(seed)))

    def adapter(self, pack_id: int) -> StoredAdapter | None:
        row = self.db.execute(
            "SELECT k.name, a.rows, a.cols, a.matrix, a.recognize, a.margin, a.trained_at, a.faces,"
            " a.decisions, a.seed FROM adapters a JOIN packs k ON k.id = a.pack_id"
            " WHERE a.pack_id = ?", (pack_id,)).fetchone()
        if row is None:
            return None
        pack, rows, cols, blob, *rest = row
        return StoredAdapter(pack, blob_to_embedding(blob).reshape(rows, cols), *rest)

    def adapters(self) -> list[StoredAdapter]:
        return [self.adapter(pack_id) for (pack_id,) in
                self.db.execute("SELECT pack_id FROM adapters ORDER BY pack_id")]

    def drop_adapter(self, pack_id: int) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM adapters WHERE pack_id = ?", (pack_id,)).rowcount > 0

    def decision_count(self, pack_id: int) -> int:
        """The user's names and rejections on the pack's faces."""
        return self.db.execute(
            "SELECT (SELECT count(*) FROM faces WHERE pack_id = ?1 AND person_id IS NOT NULL)"
            " + (SELECT count(*) FROM rejections r JOIN faces f ON f.id = r.face_id"
            " WHERE f.pack_id = ?1)", (pack_id,)).fetchone()[0]

    # -- reading -------------------------------------------------------------

    def summary(self) -> LibrarySummary:
        photos, failed = self.db.execute(
            "SELECT count(*), coalesce(sum(status = 'failed'), 0) FROM photos"
        ).fetchone()
        packs = [
            PackSummary(name, n_photos, n_faces, dim)
            for name, n_photos, n_faces, dim in self.db.execute(
                "SELECT p.name,"
                " (SELECT count(*) FROM photo_scans s WHERE s.pack_id = p.id),"
                " (SELECT count(*) FROM faces f WHERE f.pack_id = p.id),"
                " (SELECT length(embedding) / 4 FROM faces f WHERE f.pack_id = p.id LIMIT 1)"
                " FROM packs p ORDER BY p.id"
            )
        ]
        db_bytes = sum(
            os.path.getsize(p)
            for p in (self.path, Path(f"{self.path}-wal"))
            if os.path.exists(p)
        )
        people, groups = self.db.execute(
            "SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM clusters)").fetchone()
        grouped, named, auto = self.db.execute(
            "SELECT coalesce(sum(cluster_id IS NOT NULL), 0), coalesce(sum(person_id IS NOT NULL), 0),"
            " coalesce(sum(person_id IS NULL AND auto_person_id IS NOT NULL), 0) FROM faces"
        ).fetchone()
        return LibrarySummary(
            db_path=str(self.path),
            db_bytes=db_bytes,
            photos=photos,
            failed=failed,
            faces=sum(p.faces for p in packs),
            packs=packs,
            people=people,
            groups=groups,
            grouped_faces=grouped,
            named_faces=named,
            orphans=self.db.execute("SELECT count(*) FROM orphans").fetchone()[0],
            auto_faces=auto,
        )

    def failed_photos(self) -> list[FailedPhoto]:
        return [
            FailedPhoto(*row)
            for row in self.db.execute(
                "SELECT path, error, scanned_at FROM photos WHERE status = 'failed' ORDER BY path"
            )
        ]

    def export_photos(self, pack_id: int) -> Iterator[ExportPhoto]:
        """Every photo ``pack_id`` scanned, with the faces it found, by path."""
        rows = self.db.execute(
            "SELECT p.path, p.width, p.height, p.taken_at, f.id, f.x, f.y, f.w, f.h, f.score,"
            " f.cluster_id, coalesce(u.name, a.name),"
            " CASE WHEN u.id IS NOT NULL THEN f.person_source WHEN a.id IS NOT NULL THEN 'auto' END"
            " FROM photos p"
            " JOIN photo_scans s ON s.photo_id = p.id AND s.pack_id = ?1"
            " LEFT JOIN faces f ON f.photo_id = p.id AND f.pack_id = ?1"
            " LEFT JOIN people u ON u.id = f.person_id"
            " LEFT JOIN people a ON a.id = f.auto_person_id"
            " WHERE p.status = 'ok' ORDER BY p.path, f.id",
            (pack_id,),
        )
        for (path, width, height, taken_at), group in groupby(rows, key=lambda r: r[:4]):
            faces = [
                ExportFace(face_id, (x, y, w, h), score, cluster, person, source)
                for *_, face_id, x, y, w, h, score, cluster, person, source in group
                if face_id is not None
            ]
            yield ExportPhoto(path, width, height, taken_at, faces)

    # -- groups and people -------------------------------------------------------

    def grouping_input(self, pack_id: int) -> GroupingInput:
        """The pack's faces by id, read in chunks straight into preallocated
        arrays: a million faces cost their embeddings' memory and little more.
        Faces too poor to judge stay out, unless the user named them."""
        import numpy as np

        count, dims = self.db.execute(
            "SELECT count(*), (SELECT length(embedding) / 4 FROM faces WHERE pack_id = ?1 LIMIT 1)"
            " FROM faces WHERE pack_id = ?1 AND" + _JUDGEABLE.replace("?", "?2"),
            (pack_id, POOR_QUALITY)).fetchone()
        columns = np.zeros((count, 5), np.int64)
        embeddings = np.empty((count, dims or 0), np.float32)
        rows = self.db.execute(
            "SELECT id, photo_id, coalesce(cluster_id, 0), coalesce(person_id, 0), ignored, embedding"
            " FROM faces WHERE pack_id = ? AND" + _JUDGEABLE + " ORDER BY id",
            (pack_id, POOR_QUALITY))
        start = 0
        while chunk := rows.fetchmany(_GROUPING_CHUNK):
            end = start + len(chunk)
            columns[start:end] = [row[:5] for row in chunk]
            embeddings[start:end] = np.frombuffer(b"".join(row[5] for row in chunk),
                                                  _EMBEDDING_DTYPE).reshape(len(chunk), -1)
            start = end
        return GroupingInput(
            face_ids=columns[:, 0].copy(), photo_ids=columns[:, 1].copy(), embeddings=embeddings,
            cluster_ids=columns[:, 2].copy(), person_ids=columns[:, 3].copy(),
            ignored=columns[:, 4].astype(bool))

    def ignored_clusters(self, pack_id: int) -> set[int]:
        return {row[0] for row in self.db.execute(
            "SELECT id FROM clusters WHERE pack_id = ? AND ignored", (pack_id,))}

    def save_clusters(self, pack_id: int, groups: list[NewCluster], face_ids: np.ndarray,
                      before: np.ndarray) -> list[int]:
        """Replace the pack's groups; a group with a ``previous_id`` keeps it.
        ``before`` is each of ``face_ids``' group id so far (0 for none):
        only faces whose group changes are written."""
        import numpy as np

        ids = []
        with self.transaction() as db:
            for group in groups:
                if group.previous_id is None:
                    ids.append(db.execute("INSERT INTO clusters (pack_id, ignored) VALUES (?, ?)",
                                          (pack_id, int(group.ignored))).lastrowid)
                else:
                    ids.append(group.previous_id)
            db.executemany("UPDATE clusters SET ignored = ?1 WHERE id = ?2 AND ignored != ?1",
                           [(int(g.ignored), g.previous_id) for g in groups if g.previous_id is not None])
            after = np.zeros(len(face_ids), np.int64)
            if groups:
                members = np.concatenate([g.face_ids for g in groups])
                row_of = np.argsort(face_ids)
                after[row_of[np.searchsorted(face_ids, members, sorter=row_of)]] = np.repeat(
                    ids, [len(g.face_ids) for g in groups])
            changed = np.flatnonzero(after != before)
            db.executemany("UPDATE faces SET cluster_id = ? WHERE id = ?",
                           [(cluster or None, face) for cluster, face
                            in zip(after[changed].tolist(), face_ids[changed].tolist())])
            db.execute(
                "DELETE FROM clusters WHERE pack_id = ? AND id NOT IN"
                " (SELECT cluster_id FROM faces WHERE cluster_id IS NOT NULL)",
                (pack_id,),
            )
        return ids

    def decision_changes(self) -> int:
        """A counter that every change to a decision moves on."""
        return self.db.execute("SELECT count FROM decision_changes").fetchone()[0]

    def face_state(self, pack_id: int) -> tuple[int, int]:
        """The pack's face count and highest face id: together they change
        whenever a face comes or goes, as face ids are never reused."""
        return self.db.execute("SELECT count(*), coalesce(max(id), 0) FROM faces WHERE pack_id = ?",
                               (pack_id,)).fetchone()

    def cluster_run(self, pack_id: int) -> ClusterRun | None:
        row = self.db.execute(
            "SELECT faces, max_face_id, decisions, settings, full_run_faces, blocking, report"
            " FROM cluster_runs WHERE pack_id = ?", (pack_id,)).fetchone()
        return ClusterRun(*row) if row else None

    def save_cluster_run(self, pack_id: int, run: ClusterRun) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO cluster_runs (pack_id, faces, max_face_id, decisions, settings,"
                " full_run_faces, blocking, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (pack_id, run.faces, run.max_face_id, run.decisions, run.settings,
                 run.full_run_faces, run.blocking, run.report))

    def rejected_pairs(self, pack_id: int) -> set[tuple[int, int]]:
        return set(self.db.execute(
            "SELECT r.face_id, r.person_id FROM rejections r JOIN faces f ON f.id = r.face_id"
            " WHERE f.pack_id = ?", (pack_id,)))

    def rejected_pairs_for(self, person_id: int) -> set[int]:
        """The faces the user rejected from ``person_id``."""
        return {row[0] for row in self.db.execute(
            "SELECT face_id FROM rejections WHERE person_id = ?", (person_id,))}

    def save_auto_names(self, pack_id: int, names: list[tuple[int, int, float]]) -> None:
        """Replace the pack's automatic names with ``(face, person, distance)``."""
        with self.transaction() as db:
            # On the index: only the faces named automatically are touched.
            db.execute("UPDATE faces SET auto_person_id = NULL, auto_distance = NULL"
                       " WHERE auto_person_id IS NOT NULL AND pack_id = ?", (pack_id,))
            # Names were computed from the decisions at the start of the run;
            # a face the user named or rejected meanwhile keeps that decision.
            db.executemany(
                "UPDATE faces SET auto_person_id = ?1, auto_distance = ?2 WHERE id = ?3"
                " AND person_id IS NULL AND NOT EXISTS"
                " (SELECT 1 FROM rejections r WHERE r.face_id = ?3 AND r.person_id = ?1)",
                [(person, round(distance, 4), face) for face, person, distance in names],
            )

    def find_person(self, name: str) -> Person | None:
        row = self.db.execute("SELECT id, name FROM people WHERE key = ?",
                              (name.strip().casefold(),)).fetchone()
        return Person(*row) if row else None

    def person_by_id(self, person_id: int) -> Person:
        return Person(*self.db.execute("SELECT id, name FROM people WHERE id = ?",
                                       (person_id,)).fetchone())

    def add_person(self, name: str) -> Person:
        name = name.strip()
        with self.transaction() as db:
            person_id = db.execute("INSERT INTO people (name, key) VALUES (?, ?)",
                                   (name, name.casefold())).lastrowid
        return Person(person_id, name)

    def people(self) -> list[Person]:
        return [Person(*row) for row in self.db.execute("SELECT id, name FROM people ORDER BY key")]

    def people_summary(self, pack_id: int) -> list[PersonSummary]:
        rows = self.db.execute(
            "SELECT p.id, p.name,"
            " (SELECT count(*) FROM faces f WHERE f.person_id = p.id AND f.pack_id = ?1),"
            " (SELECT count(*) FROM faces f WHERE f.auto_person_id = p.id AND f.person_id IS NULL"
            "   AND f.pack_id = ?1),"
            # Two lookups on the person indexes: with an OR between them no
            # index could serve, and each person read the whole pack.
            " (SELECT count(DISTINCT photo_id) FROM"
            "   (SELECT photo_id FROM faces WHERE person_id = p.id AND pack_id = ?1"
            "    UNION ALL SELECT photo_id FROM faces WHERE auto_person_id = p.id AND pack_id = ?1"
            "    AND person_id IS NULL))"
            " FROM people p ORDER BY p.key",
            (pack_id,),
        )
        return [PersonSummary(*row) for row in rows]

    def rename_person(self, person_id: int, new_name: str) -> None:
        new_name = new_name.strip()
        with self.transaction() as db:
            db.execute("UPDATE people SET name = ?, key = ? WHERE id = ?",
                       (new_name, new_name.casefold(), person_id))

    def merge_people(self, keep_id: int, other_id: int) -> None:
        """Every face and decision of ``other_id`` moves to ``keep_id``."""
        with self.transaction() as db:
            db.execute("UPDATE faces SET person_id = ? WHERE person_id = ?", (keep_id, other_id))
            db.execute("UPDATE faces SET auto_person_id = ? WHERE auto_person_id = ?",
                       (keep_id, other_id))
            db.execute("INSERT OR IGNORE INTO rejections (face_id, person_id)"
                       " SELECT face_id, ? FROM rejections WHERE person_id = ?", (keep_id, other_id))
            db.execute("UPDATE orphans SET person_id = ? WHERE person_id = ?", (keep_id, other_id))
            db.execute("INSERT OR IGNORE INTO orphan_rejections (orphan_id, person_id)"
                       " SELECT orphan_id, ? FROM orphan_rejections WHERE person_id = ?",
                       (keep_id, other_id))
            db.execute("DELETE FROM orphan_rejections WHERE person_id = ?", (other_id,))
            db.execute("INSERT OR IGNORE INTO refusals (cluster_id, person_id)"
                       " SELECT cluster_id, ? FROM refusals WHERE person_id = ?", (keep_id, other_id))
            db.execute("DELETE FROM people WHERE id = ?", (other_id,))

    def set_person(self, face_ids: Iterable[int], person_id: int, source: str = "user") -> None:
        """Record the user's decision that these faces are ``person_id``. An
        explicit decision also lifts an earlier rejection of that person."""
        pairs = [(int(face_id), person_id) for face_id in face_ids]
        with self.transaction() as db:
            db.executemany(
                "UPDATE faces SET person_id = ?2, person_source = ?3, auto_person_id = NULL,"
                " auto_distance = NULL, ignored = 0 WHERE id = ?1",
                [(face, person, source) for face, person in pairs],
            )
            db.executemany("DELETE FROM rejections WHERE face_id = ? AND person_id = ?", pairs)

    def reject(self, face_ids: Iterable[int], person_id: int) -> None:
        pairs = [(int(face_id), person_id) for face_id in face_ids]
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO rejections (face_id, person_id) VALUES (?, ?)",
                           pairs)
            db.executemany("UPDATE faces SET person_id = NULL, person_source = NULL"
                           " WHERE id = ? AND person_id = ?", pairs)
            db.executemany("UPDATE faces SET auto_person_id = NULL, auto_distance = NULL"
                           " WHERE id = ? AND auto_person_id = ?", pairs)

    def ignore_cluster(self, cluster_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE clusters SET ignored = 1 WHERE id = ?", (cluster_id,))
            db.execute("UPDATE faces SET ignored = 1 WHERE cluster_id = ? AND person_id IS NULL",
                       (cluster_id,))

    def unignore_cluster(self, cluster_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE clusters SET ignored = 0 WHERE id = ?", (cluster_id,))
            db.execute("UPDATE faces SET ignored = 0 WHERE cluster_id = ?", (cluster_id,))

    def ignore_faces(self, face_ids: Iterable[int]) -> int:
        with self.transaction() as db:
            return sum(db.execute("UPDATE faces SET ignored = 1 WHERE id = ? AND NOT ignored",
                                  (int(face_id),)).rowcount for face_id in face_ids)

    def cluster_pack(self, cluster_id: int) -> int:
        return self.db.execute("SELECT pack_id FROM clusters WHERE id = ?", (cluster_id,)).fetchone()[0]

    def photos_named_by_user(self, person_id: int, pack_id: int) -> set[int]:
        """Photos where the user (or an import) put ``person_id`` on a face."""
        return {row[0] for row in self.db.execute(
            "SELECT photo_id FROM faces WHERE pack_id = ? AND person_id = ?", (pack_id, person_id))}

    def embeddings_of(self, face_ids: Iterable[int]) -> dict[int, np.ndarray]:
        found: dict[int, np.ndarray] = {}
        for chunk, marks in _chunks([int(face_id) for face_id in face_ids]):
            for face_id, blob in self.db.execute(
                    f"SELECT id, embedding FROM faces WHERE id IN ({marks})", chunk):
                found[face_id] = blob_to_embedding(blob)
        return found

    def detach_from_cluster(self, face_ids: Iterable[int]) -> None:
        with self.transaction() as db:
            db.executemany("UPDATE faces SET cluster_id = NULL WHERE id = ?",
                           [(int(face_id),) for face_id in face_ids])

    def cluster_exists(self, cluster_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM clusters WHERE id = ?",
                               (cluster_id,)).fetchone() is not None

    def clusters_summary(self, pack_id: int) -> list[ClusterSummary]:
        """Every group of the pack, largest first, with the person most of its
        named faces have (the user's decisions first, else automatic ones)."""
        rows = self.db.execute(
            "SELECT c.id, count(f.id), count(DISTINCT f.photo_id), c.ignored,"
            " sum(f.person_id IS NOT NULL), sum(f.person_id IS NULL AND f.auto_person_id IS NOT NULL),"
            " (SELECT p.name FROM faces g JOIN people p"
            "   ON p.id = coalesce(g.person_id, g.auto_person_id)"
            "   WHERE g.cluster_id = c.id GROUP BY p.id"
            "   ORDER BY sum(g.person_id IS NOT NULL) DESC, count(*) DESC LIMIT 1)"
            " FROM clusters c JOIN faces f ON f.cluster_id = c.id"
            " WHERE c.pack_id = ? GROUP BY c.id ORDER BY count(f.id) DESC, c.id",
            (pack_id,),
        )
        return [ClusterSummary(cid, faces, photos, bool(ignored), named, auto, person)
                for cid, faces, photos, ignored, named, auto, person in rows]

    def faces_in_cluster(self, cluster_id: int) -> list[FaceInfo]:
        return self._faces_where("f.cluster_id = ?", (cluster_id,))

    def faces_of_person(self, person_id: int, pack_id: int) -> list[FaceInfo]:
        # Two lookups on the person indexes: an OR between them would read the pack.
        return self._faces_where(
            "f.id IN (SELECT id FROM faces WHERE person_id = ?2 AND pack_id = ?1 UNION ALL"
            " SELECT id FROM faces WHERE auto_person_id = ?2 AND pack_id = ?1 AND person_id IS NULL)",
            (pack_id, person_id),
        )

    def faces_by_id(self, face_ids: Iterable[int]) -> dict[int, FaceInfo]:
        found: dict[int, FaceInfo] = {}
        for chunk, marks in _chunks([int(face_id) for face_id in face_ids]):
            for face in self._faces_where(f"f.id IN ({marks})", chunk):
                found[face.id] = face
        return found

    def faces_of_photo(self, photo_id: int, pack_id: int) -> list[FaceInfo]:
        return self._faces_where("f.photo_id = ? AND f.pack_id = ?", (photo_id, pack_id))

    # -- suggestions and review --------------------------------------------------

    def unnamed_groups(self, pack_id: int) -> list[ScoredGroup]:
        """The pack's groups that are not ignored and hold no named face (by
        the user or automatically), each with its judgeable faces, best first."""
        import numpy as np

        rows = self.db.execute(
            "SELECT f.cluster_id, f.id, f.photo_id, f.embedding FROM faces f"
            " JOIN clusters c ON c.id = f.cluster_id"
            " WHERE c.pack_id = ?1 AND NOT c.ignored AND (f.quality IS NULL OR f.quality >= ?2)"
            " AND NOT EXISTS (SELECT 1 FROM faces g WHERE g.cluster_id = c.id"
            "   AND (g.person_id IS NOT NULL OR g.auto_person_id IS NOT NULL))"
            " ORDER BY f.cluster_id, coalesce(f.quality, 0.5) DESC, f.id",
            (pack_id, POOR_QUALITY),
        ).fetchall()
        return [
            ScoredGroup(cluster_id, np.array([r[1] for r in members], dtype=np.int64),
                        np.array([r[2] for r in members], dtype=np.int64),
                        np.stack([blob_to_embedding(r[3]) for r in members]))
            for cluster_id, group in groupby(rows, key=lambda r: r[0])
            for members in [list(group)]
        ]

    def exemplars(self, pack_id: int) -> dict[int, list[Exemplar]]:
        """person id → the faces the user (or an import) gave that person,
        oldest capture first."""
        found: dict[int, list[Exemplar]] = {}
        for person_id, face_id, taken_at, quality, blob in self.db.execute(
            "SELECT f.person_id, f.id, p.taken_at, f.quality, f.embedding FROM faces f"
            " JOIN photos p ON p.id = f.photo_id WHERE f.pack_id = ? AND f.person_id IS NOT NULL"
            " ORDER BY f.person_id, p.taken_at IS NULL, p.taken_at, f.id",
            (pack_id,),
        ):
            found.setdefault(person_id, []).append(
                Exemplar(face_id, taken_at, quality, blob_to_embedding(blob)))
        return found

    def person_photos(self, pack_id: int) -> dict[int, set[int]]:
        """person id → the photos where a face is that person (the user's
        decision, else the automatic one)."""
        found: dict[int, set[int]] = {}
        for person_id, photo_id in self.db.execute(
            "SELECT DISTINCT coalesce(person_id, auto_person_id), photo_id FROM faces"
            " WHERE pack_id = ? AND coalesce(person_id, auto_person_id) IS NOT NULL", (pack_id,)
        ):
            found.setdefault(person_id, set()).add(photo_id)
        return found

    def refusals(self) -> set[tuple[int, int]]:
        """(group, person) pairs the user said no to."""
        return set(self.db.execute("SELECT cluster_id, person_id FROM refusals"))

    def refuse(self, cluster_id: int, person_id: int) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO refusals (cluster_id, person_id) VALUES (?, ?)",
                       (cluster_id, person_id))

    def auto_named(self, pack_id: int, person_id: int | None = None) -> list[FaceInfo]:
        """Faces named automatically (and not decided by the user), the least
        certain (farthest from their person) first."""
        condition = "f.pack_id = ? AND f.person_id IS NULL AND f.auto_person_id IS NOT NULL"
        params: tuple = (pack_id,)
        if person_id is not None:
            condition += " AND f.auto_person_id = ?"
            params += (person_id,)
        faces = self._faces_where(condition, params)
        return sorted(faces, key=lambda f: (-(f.auto_distance or 0.0), f.id))

    def capture_years(self, face_ids: Iterable[int]) -> dict[int, str]:
        """face id → the year its photo was taken (else the file's modification year)."""
        found: dict[int, str] = {}
        for chunk, marks in _chunks([int(face_id) for face_id in face_ids]):
            found.update(self.db.execute(
                "SELECT f.id, coalesce(substr(p.taken_at, 1, 4),"
                " strftime('%Y', p.mtime_ns / 1000000000, 'unixepoch', 'localtime'))"
                f" FROM faces f JOIN photos p ON p.id = f.photo_id WHERE f.id IN ({marks})", chunk))
        return found

    def poor_faces(self, pack_id: int | None = None) -> list[FaceInfo]:
        """Faces too small or too blurred to judge, kept out of grouping."""
        if pack_id is None:
            return self._faces_where("f.quality < ?", (POOR_QUALITY,))
        return self._faces_where("f.pack_id = ? AND f.quality < ?", (pack_id, POOR_QUALITY))

    def photos_in(self, folders: list[str] | None, failed_too: bool = False) -> list[PhotoRecord]:
        """Readable photos under ``folders`` (or exactly those paths), or all;
        with ``failed_too`` also the ones that could not be read."""
        query = ("SELECT id, path, width, height, orientation, taken_at FROM photos"
                 " WHERE " + ("1" if failed_too else "status = 'ok'"))
        if folders is None:
            rows = self.db.execute(query + " ORDER BY path").fetchall()
        else:
            rows = []
            for folder in folders:
                rows += self.db.execute(
                    query + " AND (path = ? OR " + _UNDER + ") ORDER BY path",
                    (folder, *_under(folder)),
                ).fetchall()
        return [PhotoRecord(*row) for row in dict.fromkeys(rows)]

    def named_faces(self, pack_id: int, include_auto: bool) -> dict[int, list[tuple[tuple, str]]]:
        """photo id → [(box, person name)] for every face with a person."""
        person = "coalesce(f.person_id, f.auto_person_id)" if include_auto else "f.person_id"
        named: dict[int, list[tuple[tuple, str]]] = {}
        for photo_id, x, y, w, h, name in self.db.execute(
            f"SELECT f.photo_id, f.x, f.y, f.w, f.h, p.name FROM faces f"
            f" JOIN people p ON p.id = {person} WHERE f.pack_id = ? ORDER BY f.id",
            (pack_id,),
        ):
            named.setdefault(photo_id, []).append(((x, y, w, h), name))
        return named

    def search_photos(self, pack_id: int, wanted: list[int], *, any_of: bool = False,
                      without: Iterable[int] = (), only: bool = False, year: int | None = None,
                      since: str | None = None, until: str | None = None) -> list[PhotoRecord]:
        """Photos with all (or any) of ``wanted``, none of ``without``, with
        nobody else named when ``only``; dates filter the capture day, else the
        file's modification day. A face's person is the user's decision, else
        the automatic one. One query, on the person indexes."""
        # The photos where a face is person ?N: a union of two index lookups,
        # since coalesce(person_id, auto_person_id) could use no index.
        has = ("(SELECT photo_id FROM faces WHERE pack_id = :pack AND person_id = {p}"
               " UNION SELECT photo_id FROM faces WHERE pack_id = :pack AND person_id IS NULL"
               " AND auto_person_id = {p})")
        params: dict[str, object] = {"pack": pack_id}
        for index, person in enumerate([*wanted, *without]):
            params[f"p{index}"] = person
        wanted_sets = [has.format(p=f":p{i}") for i in range(len(wanted))]
        clauses = (["(" + " OR ".join(f"p.id IN {w}" for w in wanted_sets) + ")"] if any_of
                   else [f"p.id IN {w}" for w in wanted_sets])
        clauses += [f"p.id NOT IN {has.format(p=f':p{len(wanted) + i}')}"
                    for i in range(len(list(without)))]
        if only:
            marks = ", ".join(f":p{i}" for i in range(len(wanted)))
            clauses.append(
                "NOT EXISTS (SELECT 1 FROM faces o WHERE o.photo_id = p.id AND o.pack_id = :pack"
                f" AND coalesce(o.person_id, o.auto_person_id) NOT IN ({marks}))")
        # A photo without a capture time goes by its file's modification day,
        # in local time as the camera's clock would have said.
        day = ("coalesce(substr(p.taken_at, 1, 10),"
               " date(p.mtime_ns / 1000000000, 'unixepoch', 'localtime'))")
        if year is not None:
            clauses.append(f"substr({day}, 1, 5) = :year")
            params["year"] = f"{year:04d}-"
        if since is not None:
            clauses.append(f"{day} >= :since")
            params["since"] = since
        if until is not None:
            clauses.append(f"{day} <= :until")
            params["until"] = until
        rows = self.db.execute(
            "SELECT p.id, p.path, p.width, p.height, p.orientation, p.taken_at FROM photos p"
            " WHERE p.status = 'ok' AND " + " AND ".join(clauses) + " ORDER BY p.path",
            params,
        )
        return [PhotoRecord(*row) for row in rows]

    def photos_of_person(self, person_id: int, pack_id: int) -> set[int]:
        """Photos where the user, an import or facesort named a face ``person_id``."""
        return {row[0] for row in self.db.execute(
            "SELECT photo_id FROM faces WHERE pack_id = ?1 AND person_id = ?2"
            " UNION SELECT photo_id FROM faces WHERE pack_id = ?1 AND person_id IS NULL"
            " AND auto_person_id = ?2",
            (pack_id, person_id),
        )}

    def people_in_photos(self, photo_ids: Iterable[int], pack_id: int) -> dict[int, list[str]]:
        """photo id → the names of the people on its faces."""
        found: dict[int, list[str]] = {}
        for chunk, marks in _chunks(list(photo_ids)):
            for photo_id, name in self.db.execute(
                f"SELECT DISTINCT f.photo_id, p.name FROM faces f"
                f" JOIN people p ON p.id = coalesce(f.person_id, f.auto_person_id)"
                f" WHERE f.pack_id = ? AND f.photo_id IN ({marks})",
                (pack_id, *chunk),
            ):
                found.setdefault(photo_id, []).append(name)
        return found

    def _faces_where(self, condition: str, params) -> list[FaceInfo]:
        rows = self.db.execute(
            "SELECT f.id, p.path, f.x, f.y, f.w, f.h, f.cluster_id, f.person_id, u.name,"
            " f.person_source, a.name, f.auto_distance, f.photo_id, f.quality"
            " FROM faces f JOIN photos p ON p.id = f.photo_id"
            " LEFT JOIN people u ON u.id = f.person_id LEFT JOIN people a ON a.id = f.auto_person_id"
            f" WHERE {condition} ORDER BY f.id",
            params,
        )
        return [
            FaceInfo(face_id, path, (x, y, w, h), cluster, person_id, user_name or auto_name,
                     source if user_name else ("auto" if auto_name else None), distance, photo_id,
                     quality)
            for face_id, path, x, y, w, h, cluster, person_id, user_name, source, auto_name,
            distance, photo_id, quality in rows
        ]
