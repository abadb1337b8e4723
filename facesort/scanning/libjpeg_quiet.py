"""Keeping libjpeg's warnings about damaged data off the user's terminal.

LibRaw decodes the JPEG-compressed sensor data of many DNGs with libjpeg,
whose warnings ("Premature end of JPEG file", "Corrupt JPEG data: bad
Huffman code") are written by C code straight to file descriptor 2; the
user should see facesort's one line per bad file only. No thread can have a
descriptor 2 of its own, so while any thread is inside LibRaw, descriptor 2
is a pipe, and a forwarding thread copies everything written to it to the
real stderr, in order, except those warning lines: what other threads write
meanwhile (facesort's own messages, a traceback, FFmpeg's warnings about a
clip) still reaches the user, a moment later.

Limits: where the forwarding cannot start (no descriptor 2, as under
pythonw), LibRaw runs with the real stderr, warnings and all; on Windows a
LibRaw built against another C runtime keeps its own descriptor 2 (untested
there). A process that dies inside LibRaw may lose what was written in that
moment with the forwarder. Descriptor 2 is not a terminal while redirected,
so the stderr console decides once whether it is one (facesort/cli/console.py).
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from facesort import stderr_fd

# libjpeg's warnings (its jerror.h, JWRN_*); its errors LibRaw turns into
# exceptions, which become facesort's line for the file.
WARNINGS = (
    b"Premature end of JPEG file",
    b"Corrupt JPEG data",
    b"Invalid SOS parameters for sequential JPEG",
    b"Inconsistent progression sequence",
    b"Warning: unknown JFIF revision number",
    b"Unknown Adobe color transform code",
    b"Application transferred too many scanlines",
)
# How long the last thread out waits for the forwarder to copy what is left:
# only a child process started meanwhile, holding the pipe, makes it wait.
_DRAIN_SECONDS = 2.0

_users = 0
_saved: int | None = None  # the real stderr, while redirected
_forwarder: threading.Thread | None = None


# A warning is written whole, in one write, but may follow another thread's
# unfinished line (a progress bar's) in what the pipe gives.
_WARNING = re.compile(b"(?:" + b"|".join(map(re.escape, WARNINGS)) + b")[^\n]*\n")
_WARNING_AT_END = re.compile(b"(?:" + b"|".join(map(re.escape, WARNINGS)) + b")[^\n]*$")


def _unfinished_warning(data: bytes) -> int:
    """Where a warning that may still be being written starts at the end of
    ``data`` (all of it ahead of any newline), else ``len(data)``."""
    found = _WARNING_AT_END.search(data)
    if found:
        return found.start()
    for warning in WARNINGS:
        for size in range(min(len(warning), len(data)), 0, -1):
            if data.endswith(warning[:size]):
                return len(data) - size
    return len(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except OSError:  # stderr closed or gone: nothing to tell
            return


def _forward(source: int, target: int) -> None:
    """Copy ``source`` to ``target`` without libjpeg's warnings, at once:
    only what may be the start of a warning waits for more."""
    pending = b""
    try:
        while chunk := os.read(source, 65536):
            pending = _WARNING.sub(b"", pending + chunk)
            ready = _unfinished_warning(pending)
            if ready:
                _write_all(target, pending[:ready])
                pending = pending[ready:]
        if pending := _WARNING_AT_END.sub(b"", pending):
            _write_all(target, pending)
    finally:
        os.close(source)
        os.close(target)


def _flush() -> None:
    """What Python holds for stderr goes out before descriptor 2 changes."""
    if sys.stderr is not None:
        sys.stderr.flush()


def _redirect() -> None:
    global _saved, _forwarder
    _flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    try:
        forwarder = threading.Thread(target=_forward, args=(read_end, os.dup(saved)),
                                     name="libjpeg-quiet", daemon=True)
        forwarder.start()
        os.dup2(write_end, 2)
    except BaseException:
        os.close(saved)
        os.close(write_end)
        raise
    os.close(write_end)  # descriptor 2 is now the pipe's only writer
    _saved, _forwarder = saved, forwarder


def _restore() -> None:
    global _saved, _forwarder
    _flush()
    os.dup2(_saved, 2)  # closes the pipe: the forwarder copies the rest and ends
    os.close(_saved)
    _forwarder.join(_DRAIN_SECONDS)
    _saved = _forwarder = None


def _enter() -> bool:
    global _users
    with stderr_fd.lock:
        if _users == 0:
            try:
                _redirect()
            except OSError:
                return False
        _users += 1
        return True


def _leave() -> None:
    global _users
    with stderr_fd.lock:
        _users -= 1
        if _users == 0:
            _restore()


@contextmanager
def quiet_libjpeg() -> Iterator[None]:
    """Around a call into LibRaw, from any thread."""
    if not _enter():
        yield
        return
    try:
        yield
    finally:
        _leave()
