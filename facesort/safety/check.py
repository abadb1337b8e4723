"""``facesort check``: is the library whole, and do its decisions hold together?

SQLite's integrity and foreign key checks, then facesort's own invariants
(:meth:`~facesort.store.keeping.KeepingQueries.problems`). It only reads, so
it works on a read-only library, and a library too damaged to open is one
problem, not a traceback.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from facesort.errors import StoreError, shown
from facesort.safety.decision_copy import copy_path
from facesort.store import Store


def check_library(path: Path) -> Iterator[str]:
    """One line per problem found in the library at ``path``; none: all is well."""
    if not Path(path).exists():
        raise StoreError(Path(path), "no library here")
    try:
        with Store(path, create=False, write=False) as store:
            yield from store.problems()
    except StoreError as exc:
        yield str(exc)
    except sqlite3.DatabaseError as exc:
        yield f"{shown(path)}: damaged ({exc})"


def restore_hint(path: Path) -> str:
    copy = copy_path(path)
    where = f"'facesort restore {shown(copy)}'" if copy.exists() else "'facesort restore FILE'"
    return (f"move the library aside, scan your photos again and run {where} "
            "to put your decisions back (docs/check-and-restore.md)")
