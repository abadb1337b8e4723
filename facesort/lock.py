"""One writer per library: a lock file beside the database.

SQLite alone would let two scans interleave their transactions and do every
photo twice; the lock makes the second one stop at once with a clear message.
Readers never take it: WAL lets them read while a scan writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from facesort.errors import LibraryBusyError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _holder(fd: int) -> str | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        pid = os.read(fd, 32).decode(errors="replace").strip()
    except OSError:  # Windows forbids reading a region another process locked
        return None
    return f"pid {pid}" if pid else None


@contextmanager
def writer_lock(db_path: Path) -> Iterator[None]:
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = db_path.with_name(db_path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            raise LibraryBusyError(db_path, _holder(fd))
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        # Closing the descriptor releases the lock, also when the process dies.
        os.close(fd)
