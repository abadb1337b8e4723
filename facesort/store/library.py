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

import numpy as np

from facesort.errors import PackMismatchError, StoreError
from facesort.store.migrations import migrate

BUSY_TIMEOUT_MS = 30_000
_EMBEDDING_DTYPE = np.dtype("<f4")


def embedding_to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=_EMBEDDING_DTYPE).tobytes()


def blob_to_embedding(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=_EMBEDDING_DTYPE)


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


@dataclass(frozen=True)
class ExportPhoto:
    path: str
    width: int
    height: int
    taken_at: str | None
    faces: list[ExportFace]


class Store:
    """An open library. Use as a context manager, or call ``close``."""

    def __init__(self, path: Path, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(self.path, "no library here yet: run 'facesort scan' first")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(
                self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
            )
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA journal_mode = WAL")
            # WAL with NORMAL stays consistent after a crash or power cut; it
            # may lose the last commits, which the next scan redoes.
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            migrate(self.db)
        except sqlite3.DatabaseError as exc:
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
            "SELECT x, y, w, h, landmarks, score, embedding FROM faces"
            " WHERE photo_id = ? AND pack_id = ? ORDER BY id",
            (photo_id, pack_id),
        )
        return [
            FaceRecord((x, y, w, h), json.loads(marks), score, blob_to_embedding(blob))
            for x, y, w, h, marks, score, blob in rows
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
    ) -> int:
        """Store a scanned photo and the faces ``pack_id`` found in it, in one
        transaction. If the file's content changed, every pack's old faces go."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT id, content_hash FROM photos WHERE path = ?", (path,)
            ).fetchone()
            values = (size, mtime_ns, content_hash, meta.width, meta.height,
                      meta.orientation, meta.taken_at, _now())
            if row is None:
                photo_id = db.execute(
                    "INSERT INTO photos (size, mtime_ns, content_hash, width, height,"
                    " orientation, taken_at, scanned_at, path, status)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok')",
                    (*values, path),
                ).lastrowid
            else:
                photo_id = row[0]
                if row[1] != content_hash:
                    db.execute("DELETE FROM faces WHERE photo_id = ?", (photo_id,))
                    db.execute("DELETE FROM photo_scans WHERE photo_id = ?", (photo_id,))
                db.execute(
                    "UPDATE photos SET size = ?, mtime_ns = ?, content_hash = ?, width = ?,"
                    " height = ?, orientation = ?, taken_at = ?, scanned_at = ?,"
                    " status = 'ok', error = NULL WHERE id = ?",
                    (*values, photo_id),
                )
            db.execute("DELETE FROM faces WHERE photo_id = ? AND pack_id = ?", (photo_id, pack_id))
            db.executemany(
                "INSERT INTO faces (photo_id, pack_id, x, y, w, h, landmarks, score, embedding)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (photo_id, pack_id, *face.box, json.dumps(face.landmarks), face.score,
                     embedding_to_blob(face.embedding))
                    for face in faces
                ],
            )
            db.execute(
                "INSERT OR IGNORE INTO photo_scans (photo_id, pack_id) VALUES (?, ?)",
                (photo_id, pack_id),
            )
        return photo_id

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
        prefix = folder.rstrip(os.sep) + os.sep
        # A range on the path index: every path that starts with prefix.
        upper = prefix[:-1] + chr(ord(os.sep) + 1)
        return self.db.execute(
            "SELECT id, path FROM photos WHERE path >= ? AND path < ?", (prefix, upper)
        ).fetchall()

    def delete_photos(self, photo_ids: list[int]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM photos WHERE id = ?", [(i,) for i in photo_ids])

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
        return LibrarySummary(
            db_path=str(self.path),
            db_bytes=db_bytes,
            photos=photos,
            failed=failed,
            faces=sum(p.faces for p in packs),
            packs=packs,
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
            "SELECT p.path, p.width, p.height, p.taken_at, f.id, f.x, f.y, f.w, f.h, f.score"
            " FROM photos p"
            " JOIN photo_scans s ON s.photo_id = p.id AND s.pack_id = ?1"
            " LEFT JOIN faces f ON f.photo_id = p.id AND f.pack_id = ?1"
            " WHERE p.status = 'ok' ORDER BY p.path, f.id",
            (pack_id,),
        )
        for (path, width, height, taken_at), group in groupby(rows, key=lambda r: r[:4]):
            faces = [
                ExportFace(face_id, (x, y, w, h), score)
                for *_, face_id, x, y, w, h, score in group
                if face_id is not None
            ]
            yield ExportPhoto(path, width, height, taken_at, faces)
