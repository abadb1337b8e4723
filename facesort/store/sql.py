"""What the store's parts share: opening the SQLite file, paths and
embeddings as SQLite holds them, and small query helpers."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from facesort.store.migrations import MIGRATIONS

# numpy is imported where embeddings are handled, not here: the commands that
# only list and find start without it.
if TYPE_CHECKING:
    import numpy as np


BUSY_TIMEOUT_MS = 30_000
EMBEDDING_DTYPE = "<f4"


def embedding_to_blob(vector: np.ndarray) -> bytes:
    import numpy as np

    return np.ascontiguousarray(vector, dtype=EMBEDDING_DTYPE).tobytes()


def blob_to_embedding(blob: bytes) -> np.ndarray:
    import numpy as np

    return np.frombuffer(blob, dtype=EMBEDDING_DTYPE)


def equal_runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal values starts and ends in ``values`` (rows
    read in order of a key: each key's rows together)."""
    import numpy as np

    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    return starts, np.r_[starts[1:], len(values)]


# A path is stored as TEXT, or, when it is not valid UTF-8 (a file named on
# another system, e.g. in Latin-1), as its bytes in a BLOB: sqlite3 cannot
# bind such a str, and a replacement character would lose the name. SQLite
# sorts every BLOB after every TEXT, so a range of paths is two ranges.
UNDER = "((path >= ? AND path < ?) OR (path >= ? AND path < ?))"


def under(folder: str) -> tuple[str, str, bytes, bytes]:
    """The half-open ranges of paths below ``folder`` (for ``UNDER``): ranges
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


def connect(database: str, uri: bool = False) -> sqlite3.Connection:
    return sqlite3.connect(database, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                           factory=_Connection, detect_types=sqlite3.PARSE_DECLTYPES, uri=uri)


def writable(path: Path) -> bool:
    """Whether the library and its folder (for the WAL and lock files) can be written."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def open_read_only(path: Path) -> sqlite3.Connection:
    """Open without writing anything. A WAL library needs its -shm file; where
    it is missing and cannot be created (a read-only drive), ``immutable``
    reads the file as it is, which is safe since nothing can change it."""
    uri = path.absolute().as_uri()
    for option in ("mode=ro", "immutable=1"):
        db = connect(f"{uri}?{option}", uri=True)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            db.close()
            if option == "immutable=1":
                raise
    raise AssertionError("unreachable")


def require_current_schema(db: sqlite3.Connection) -> None:
    has_log = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'"
                         " AND name = '_migrations'").fetchone()
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")} if has_log else set()
    known = {name for name, _ in MIGRATIONS}
    if done - known:
        raise RuntimeError("the library was upgraded by a newer facesort; upgrade facesort to use it")
    if known - done:
        raise RuntimeError("the library needs an upgrade to this facesort's format, which needs "
                           "write access: run any facesort command once where it can be written")


def is_write_failure(exc: sqlite3.Error) -> bool:
    """A full disk, a failing one, or a file that cannot be written: not the library's fault."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    return name.startswith(("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY"))


def chunks(ids: list, size: int = 500) -> Iterator[tuple[list, str]]:
    """``ids`` in slices that fit SQLite's parameter limit, each with its ``?`` marks."""
    for start in range(0, len(ids), size):
        chunk = ids[start:start + size]
        yield chunk, ",".join("?" * len(chunk))


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


