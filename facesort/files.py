"""Writing files that users rely on: atomically, or not at all."""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO


# The longest file name most file systems take (ext4, APFS, NTFS, btrfs).
NAME_MAX = 255
# A temporary file older than this was left by a write that was killed: a
# write in progress takes milliseconds.
STALE_SECONDS = 600


def _temporary_name(name: str, token: str) -> str:
    """``.NAME.TOKEN.tmp``, with as much of NAME's start cut off as the
    longest file name needs: its end, the extension, tells whose it is."""
    raw = os.fsencode(name)
    excess = len(raw) + len(f"..{token}.tmp") - NAME_MAX
    if excess > 0:
        raw = raw[excess:]
        while raw and raw[0] & 0xC0 == 0x80:  # not in the middle of a UTF-8 letter
            raw = raw[1:]
    return f".{os.fsdecode(raw)}.{token}.tmp"


def remove_stale_temporaries(folder: Path, suffix: str) -> int:
    """Remove the temporary files that an ``atomic_write`` of a file ending
    in ``suffix`` left in ``folder`` when it was killed; how many."""
    pattern = re.compile(r"\..*" + re.escape(suffix) + r"\.[0-9a-f]{8}\.tmp")
    removed = 0
    try:
        with os.scandir(folder) as entries:
            stale = [entry.path for entry in entries if pattern.fullmatch(entry.name)
                     and entry.is_file(follow_symlinks=False)
                     and entry.stat(follow_symlinks=False).st_mtime < time.time() - STALE_SECONDS]
    except OSError:
        return 0  # the writes that follow say what is wrong with the folder
    for path in stale:
        with suppress(FileNotFoundError):  # another write removed it first
            os.unlink(path)
            removed += 1
    return removed


def _create_beside(path: Path) -> tuple[int, Path]:
    """A new, empty temporary file in ``path``'s folder. Created with 0666 so
    the kernel applies the umask (and any default ACL) as for any new file;
    ``tempfile.mkstemp`` would make it 0600 whatever the user asked for."""
    while True:
        tmp = path.with_name(_temporary_name(path.name, secrets.token_hex(4)))
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def _keep_owner_and_mode(fd: int, old: os.stat_result) -> None:
    """Give the new file the replaced one's owner and permissions, so that
    another user's photo app or a network share can read it as before.
    Changing the owner needs privileges; without them the group alone may
    still be kept, and otherwise the file is the writer's own."""
    new = os.fstat(fd)
    if (new.st_uid, new.st_gid) != (old.st_uid, old.st_gid):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except OSError:
            with suppress(OSError):
                os.fchown(fd, -1, old.st_gid)
    # After the chown, which may clear set-id bits.
    os.fchmod(fd, stat.S_IMODE(old.st_mode))


@contextmanager
def atomic_write(path: Path, mode: str = "wb", parents: bool = False) -> Iterator[IO]:
    """Write through a temporary file beside ``path`` and move it into place
    at the end, so a reader never sees half a file and an interruption or an
    error leaves the old one as it was. A replaced file keeps its mode and,
    where allowed, its owner; a new one gets the umask's usual mode. With
    ``parents``, missing folders above ``path`` are made first."""
    path = Path(path).expanduser()
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        old = os.stat(path)
    except FileNotFoundError:
        old = None
    fd, tmp = _create_beside(path)
    try:
        # surrogateescape: a path that is not UTF-8 goes out as the bytes it is.
        text = {} if "b" in mode else {"encoding": "utf-8", "newline": "", "errors": "surrogateescape"}
        with os.fdopen(fd, mode, **text) as out:
            if old is not None:
                _keep_owner_and_mode(out.fileno(), old)
            yield out
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
