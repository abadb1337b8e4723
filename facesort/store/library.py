"""The library: one SQLite file with photos, faces and their embeddings.

The store package is the only one that speaks SQL; this module opens the file
(migrating it, or read-only where it cannot be written) and holds transactions
and packs; the queries live in :mod:`~facesort.store.photos` and
:mod:`~facesort.store.people`. Embeddings go in and out as numpy arrays and are
stored as little-endian float32 BLOBs beside the pack that made them; queries
always name the pack, so two packs' embeddings never meet.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from facesort.errors import (
    LibraryDamagedError,
    LibraryReadOnlyError,
    PackMismatchError,
    StoreError,
    is_damage,
)
from facesort.store.migrations import migrate
from facesort.store.sql import (
    BUSY_TIMEOUT_MS,
    connect,
    writable,
    open_read_only,
    require_current_schema,
    is_write_failure,
)
from facesort.store.keeping import KeepingQueries
from facesort.store.people import PeopleQueries
from facesort.store.photos import PhotoQueries


class Store(PhotoQueries, PeopleQueries, KeepingQueries):
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
        self.read_only = self.path.exists() and not writable(self.path)
        if self.read_only and write:
            raise LibraryReadOnlyError(self.path)
        try:
            if self.read_only:
                self.db = open_read_only(self.path)
                require_current_schema(self.db)
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = connect(str(self.path))
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA journal_mode = WAL")
            # WAL with NORMAL stays consistent after a crash or power cut; it
            # may lose the last commits, which the next scan redoes.
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            migrate(self.db)
        except sqlite3.DatabaseError as exc:
            if is_write_failure(exc):
                raise  # a full disk: the CLI says so, with the path
            if is_damage(exc):
                raise LibraryDamagedError(self.path, str(exc)) from exc
            raise StoreError(self.path, f"not a usable facesort library ({exc})") from exc
        except (OSError, RuntimeError) as exc:
            raise StoreError(self.path, str(exc)) from exc

    def check_quickly(self, seconds: float) -> None:
        """SQLite's quick check of the whole file, for at most ``seconds``:
        raise :class:`LibraryDamagedError` at the first damage it finds. A
        library too big to check in time is checked as far as time allows
        (its start: the schema, then the tables in order)."""
        deadline = time.monotonic() + seconds
        self.db.set_progress_handler(lambda: time.monotonic() > deadline, 20_000)
        try:
            found = self.db.execute("PRAGMA quick_check(1)").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if str(exc) != "interrupted":
                raise
            return
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            found = str(exc)
        finally:
            self.db.set_progress_handler(None, 0)
        if found != "ok":
            problem = [line for line in found.splitlines() if not line.startswith("***")]
            raise LibraryDamagedError(self.path, (problem or [found])[0])

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

