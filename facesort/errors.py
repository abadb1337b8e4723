"""Errors facesort raises on purpose.

``str(error)`` is the message a user reads; the CLI prints it as it is and
chooses the exit code from the class.
"""

from __future__ import annotations

import os
from pathlib import Path


def shown(path) -> str:
    """``path`` as a message shows it: a file name that is not valid UTF-8
    (written by another system) gets ``\\xNN`` escapes, as ``ls -b`` shows it,
    where printing it as it is would fail."""
    return os.fsencode(os.fspath(path)).decode("utf-8", "backslashreplace")


class FacesortError(Exception):
    """Something the user can fix: a setup, usage or library problem."""


# Every model error ends with how to choose a pack, since the user may have set
# either the option or the environment variable and not remember which.
CHOOSE_PACK = (
    "choose a pack with --model or FACESORT_MODEL (an insightface pack name or a "
    "folder with a detector and a recognizer .onnx), or unset both to use the "
    "built-in pack"
)


class ModelNotFoundError(FacesortError):
    """The pack named is not on this machine and cannot be fetched."""

    def __init__(self, pack: str, looked_in: Path, reason: str):
        self.pack = pack
        self.looked_in = looked_in
        super().__init__(f"model pack {pack!r}: {reason}; {CHOOSE_PACK}")


class ModelLoadError(FacesortError):
    """The pack is there but unusable: a file is missing, broken or unknown."""

    def __init__(self, pack_path: Path, cause: str):
        self.pack_path = pack_path
        super().__init__(f"{pack_path}: cannot use this model pack: {cause}; {CHOOSE_PACK}")


class DeviceError(FacesortError):
    """The device asked for with --device is unknown, missing, or will not start."""


class LibraryBusyError(FacesortError):
    def __init__(self, db_path: Path, holder: str | None = None, doing: str = "writing to it"):
        self.db_path = db_path
        who = f" ({holder})" if holder else ""
        super().__init__(
            f"{shown(db_path)}: the library is busy: another facesort process is "
            f"{doing}{who}. Wait for it to finish and run again"
        )


class StoreError(FacesortError):
    def __init__(self, db_path: Path, cause: str):
        self.db_path = db_path
        super().__init__(f"{shown(db_path)}: {cause}")


class LibraryDamagedError(StoreError):
    """SQLite found the library's file damaged (a failing disk, an interrupted copy)."""

    def __init__(self, db_path: Path, cause: str):
        super().__init__(
            db_path,
            f"the library is damaged ({cause}): 'facesort check' lists what is wrong, and "
            "'facesort restore' rebuilds your decisions into a fresh library",
        )


def is_damage(exc: Exception) -> bool:
    """SQLite's word for a damaged file (SQLITE_CORRUPT and its kinds)."""
    return (getattr(exc, "sqlite_errorname", None) or "").startswith("SQLITE_CORRUPT")


class PackMismatchError(StoreError):
    """A pack name already in the library now points at different model files."""


class PhotoError(FacesortError):
    """One photo could not be read; the run records it and goes on."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{shown(path)}: {reason}")


class LibraryReadOnlyError(FacesortError):
    def __init__(self, db_path: Path, cause: str | None = None):
        self.db_path = db_path
        because = f" ({cause})" if cause else ""
        super().__init__(
            f"the library is read-only: {shown(db_path)}{because}; commands that only "
            "read it still work. Copy it somewhere writable and use --db to change it",
        )


class DiskFullError(FacesortError):
    """A write failed for lack of space; what was saved before it is kept."""

    def __init__(self, path: Path | str, cause: str):
        self.path = Path(path)
        super().__init__(
            f"{shown(path)}: the disk is full ({cause}); everything finished so far is "
            "saved: free some space and run the same command again",
        )
