"""Named, ordered schema migrations, recorded in the ``_migrations`` table.

Each one runs once, inside a transaction with its record, so a library is
never left half-upgraded. Append new migrations; never edit a released one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = tuple[str, Callable[[sqlite3.Connection], None]]


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run each statement of ``script`` in the open transaction.

    ``executescript`` would COMMIT that transaction first, so a failing
    migration could leave half a schema behind.
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""


def _initial(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE packs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            fingerprint TEXT NOT NULL,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
        );
        CREATE TABLE photos (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            content_hash TEXT,
            width INTEGER,
            height INTEGER,
            orientation INTEGER,
            taken_at TEXT,
            status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
            error TEXT,
            scanned_at TEXT NOT NULL
        );
        CREATE INDEX photos_by_hash ON photos (content_hash);
        -- A photo can be scanned by several packs; this says which ones, also
        -- for photos in which a pack found no face.
        CREATE TABLE photo_scans (
            photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
            pack_id INTEGER NOT NULL REFERENCES packs (id),
            PRIMARY KEY (photo_id, pack_id)
        ) WITHOUT ROWID;
        -- AUTOINCREMENT: a face id, once shown to the user, never names another face.
        CREATE TABLE faces (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
            pack_id INTEGER NOT NULL REFERENCES packs (id),
            x REAL NOT NULL,
            y REAL NOT NULL,
            w REAL NOT NULL,
            h REAL NOT NULL,
            landmarks TEXT NOT NULL,
            score REAL NOT NULL,
            embedding BLOB NOT NULL
        );
        CREATE INDEX faces_by_photo ON faces (photo_id, pack_id);
        CREATE INDEX faces_by_pack ON faces (pack_id);
        """
    )


MIGRATIONS: list[Migration] = [
    ("0001_initial", _initial),
]


def applied(db: sqlite3.Connection) -> list[str]:
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations ("
        " name TEXT PRIMARY KEY,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))"
    )
    return [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(db: sqlite3.Connection, migrations: list[Migration] = MIGRATIONS) -> list[str]:
    """Apply the pending ``migrations``; return the names applied now.

    ``db`` must be in autocommit mode (``isolation_level=None``) so that each
    migration's transaction is the one opened here.
    """
    done = set(applied(db))
    unknown = done - {name for name, _ in migrations}
    if unknown:
        raise RuntimeError(
            "the library was upgraded by a newer facesort (unknown migrations: "
            + ", ".join(sorted(unknown))
            + "); upgrade facesort to use it"
        )
    ran = []
    for name, step in migrations:
        if name in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            step(db)
            db.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        ran.append(name)
    return ran
