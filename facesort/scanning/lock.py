"""One scan and one cluster run per library: a lock file beside the database
for each of these jobs.

SQLite alone would let two scans interleave their transactions and do every
photo twice; the lock makes the second one stop at once with a clear message.
Every other command takes no lock: WAL lets readers in while a job writes, and
short write transactions (naming, fixing, writing sidecars) wait their turn
between the scan's per-photo commits.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from facesort.errors import LibraryBusyError, LibraryReadOnlyError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

# What the message says the process holding a job's lock is doing.
JOBS = {"scan": "scanning it", "cluster": "grouping its faces"}


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
def job_lock(db_path: Path, job: str) -> Iterator[None]:
    """Hold ``job``'s lock ("scan" or "cluster") on the library at ``db_path``."""
    db_path = Path(db_path)
    lock_path = db_path.with_name(f"{db_path.name}.{job}.lock")
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise LibraryReadOnlyError(db_path, (exc.strerror or str(exc)).lower()) from None
        raise
    try:
        if not _try_lock(fd):
            raise LibraryBusyError(db_path, _holder(fd), JOBS[job])
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        # Closing the descriptor releases the lock, also when the process dies.
        os.close(fd)
