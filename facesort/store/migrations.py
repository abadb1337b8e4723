"""Named, ordered schema migrations, recorded in the ``_migrations`` table.

Each one runs once, inside a transaction with its record, so a library is
never left half-upgraded. Append new migrations; never edit a released one.
"""

from __future__ import annotations

import json
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


def _people_and_groups(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        -- key is the casefolded name: names match case-insensitively in any script.
        CREATE TABLE people (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            key TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
        );
        -- AUTOINCREMENT: "group 12" never names another group later.
        CREATE TABLE clusters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            pack_id INTEGER NOT NULL REFERENCES packs (id),
            ignored INTEGER NOT NULL DEFAULT 0
        );
        -- person_id is the user's own decision (or one imported from another
        -- app); auto_person_id is facesort's suggestion, recomputed by every
        -- cluster run and never mixed with the user's decisions.
        ALTER TABLE faces ADD COLUMN cluster_id INTEGER REFERENCES clusters (id) ON DELETE SET NULL;
        ALTER TABLE faces ADD COLUMN person_id INTEGER REFERENCES people (id) ON DELETE SET NULL;
        ALTER TABLE faces ADD COLUMN person_source TEXT CHECK (person_source IN ('user', 'import'));
        ALTER TABLE faces ADD COLUMN auto_person_id INTEGER REFERENCES people (id) ON DELETE SET NULL;
        ALTER TABLE faces ADD COLUMN auto_distance REAL;
        ALTER TABLE faces ADD COLUMN ignored INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX faces_by_cluster ON faces (cluster_id);
        CREATE INDEX faces_by_person ON faces (person_id);
        CREATE INDEX faces_by_auto_person ON faces (auto_person_id);
        -- A face the user took away from a person never goes back to that person.
        CREATE TABLE rejections (
            face_id INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
            person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
            PRIMARY KEY (face_id, person_id)
        ) WITHOUT ROWID;
        """,
    )


def _orphaned_decisions(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        -- A decision whose face was not found again when its photo was detected
        -- again (an edit, a new pack). It is kept here, never deleted, and goes
        -- back to a face whenever one is found at its place. The box is
        -- normalised to the displayed photo (0..1), so a resize keeps it; the
        -- orientation is the photo's when the face was seen.
        CREATE TABLE orphans (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
            pack TEXT NOT NULL,
            x REAL NOT NULL,
            y REAL NOT NULL,
            w REAL NOT NULL,
            h REAL NOT NULL,
            orientation INTEGER NOT NULL,
            person_id INTEGER REFERENCES people (id),
            person_source TEXT CHECK (person_source IN ('user', 'import')),
            ignored INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
        );
        CREATE INDEX orphans_by_photo ON orphans (photo_id);
        CREATE TABLE orphan_rejections (
            orphan_id INTEGER NOT NULL REFERENCES orphans (id) ON DELETE CASCADE,
            person_id INTEGER NOT NULL REFERENCES people (id),
            PRIMARY KEY (orphan_id, person_id)
        ) WITHOUT ROWID;
        -- A group the user ignored that holds faces they named hid that person
        -- from automatic naming; such a group is a person, not strangers.
        UPDATE clusters SET ignored = 0 WHERE ignored AND id IN
            (SELECT cluster_id FROM faces WHERE person_id IS NOT NULL);
        """,
    )


def _clean_names(db: sqlite3.Connection) -> None:
    """Names typed before facesort cleaned them may hold tabs, newlines or
    other control characters, which sidecars then carried to other apps.
    A name whose clean form is taken by another person stays as it was,
    so that no two people become one without the user saying so."""
    from facesort.errors import FacesortError
    from facesort.people.names import clean_name

    taken = {key for (key,) in db.execute("SELECT key FROM people")}
    for person_id, name, key in db.execute("SELECT id, name, key FROM people").fetchall():
        try:
            clean = clean_name(name, allow_separators=True)
        except FacesortError:  # nothing but white space: keep it findable as it is
            continue
        if clean == name or (clean.casefold() != key and clean.casefold() in taken):
            continue
        taken.discard(key)
        taken.add(clean.casefold())
        db.execute("UPDATE people SET name = ?, key = ? WHERE id = ?", (clean, clean.casefold(), person_id))


def _cluster_runs(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        -- What the last cluster run of each pack saw, so that the next one
        -- knows what changed: faces (their count and the highest id, as ids
        -- are never reused), the user's decisions (decision_changes.count
        -- then), the settings, and the blocks new faces go to.
        CREATE TABLE cluster_runs (
            pack_id INTEGER PRIMARY KEY REFERENCES packs (id),
            faces INTEGER NOT NULL,
            max_face_id INTEGER NOT NULL,
            decisions INTEGER NOT NULL,
            settings TEXT NOT NULL,
            full_run_faces INTEGER NOT NULL,
            blocking BLOB,
            report TEXT NOT NULL
        );
        -- Counts every change to a decision that grouping or automatic names
        -- depend on, whichever command (or app) made it.
        CREATE TABLE decision_changes (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            count INTEGER NOT NULL
        );
        INSERT INTO decision_changes (id, count) VALUES (1, 0);
        CREATE TRIGGER face_decision_changed AFTER UPDATE OF person_id, ignored ON faces
            WHEN OLD.person_id IS NOT NEW.person_id OR OLD.ignored IS NOT NEW.ignored
            BEGIN UPDATE decision_changes SET count = count + 1; END;
        CREATE TRIGGER face_with_decision_added AFTER INSERT ON faces
            WHEN NEW.person_id IS NOT NULL OR NEW.ignored
            BEGIN UPDATE decision_changes SET count = count + 1; END;
        CREATE TRIGGER rejection_added AFTER INSERT ON rejections
            BEGIN UPDATE decision_changes SET count = count + 1; END;
        CREATE TRIGGER rejection_removed AFTER DELETE ON rejections
            BEGIN UPDATE decision_changes SET count = count + 1; END;
        CREATE TRIGGER group_ignore_changed AFTER UPDATE OF ignored ON clusters
            WHEN OLD.ignored IS NOT NEW.ignored
            BEGIN UPDATE decision_changes SET count = count + 1; END;
        -- Listing people, groups and photos of a person reads these indexes
        -- alone, never the faces' rows with their embeddings.
        DROP INDEX faces_by_cluster;
        DROP INDEX faces_by_person;
        DROP INDEX faces_by_auto_person;
        CREATE INDEX faces_by_cluster ON faces (cluster_id, photo_id, person_id, auto_person_id);
        CREATE INDEX faces_by_person ON faces (person_id, pack_id, photo_id);
        CREATE INDEX faces_by_auto_person ON faces (auto_person_id, pack_id, person_id, photo_id);
        """,
    )


def _adapter(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        -- The adapter 'facesort tune' learned from the user's decisions, for one
        -- pack's embeddings only: a (rows x cols) little-endian float32 matrix,
        -- the recognition distance and margin measured with it, and how many
        -- decisions there were, so that 'cluster' can suggest training again.
        CREATE TABLE adapters (
            pack_id INTEGER PRIMARY KEY REFERENCES packs (id) ON DELETE CASCADE,
            rows INTEGER NOT NULL,
            cols INTEGER NOT NULL,
            matrix BLOB NOT NULL,
            recognize REAL NOT NULL,
            margin REAL NOT NULL,
            trained_at TEXT NOT NULL,
            faces INTEGER NOT NULL,
            decisions INTEGER NOT NULL,
            seed INTEGER NOT NULL
        );
        -- A new or dropped adapter changes the automatic names: the next
        -- cluster run must not answer "nothing changed".
        CREATE TRIGGER adapter_saved AFTER INSERT ON adapters
            BEGIN UPDATE decision_changes SET count = count + 1; END;
        CREATE TRIGGER adapter_dropped AFTER DELETE ON adapters
            BEGIN UPDATE decision_changes SET count = count + 1; END;
        """,
    )


def _naming(db: sqlite3.Connection) -> None:
    """A quality score per face, and the suggestions the user refused.

    Existing faces get their quality from what is stored (box, landmarks,
    detector score) without decoding any photo again; their sharpness stays
    unknown until the photo is scanned again."""
    from facesort.scanning.quality import face_quality

    _run_script(
        db,
        """
        ALTER TABLE faces ADD COLUMN quality REAL;
        -- "Also Alice?" answered no: that group is never offered as that person again.
        CREATE TABLE refusals (
            cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
            person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
            PRIMARY KEY (cluster_id, person_id)
        ) WITHOUT ROWID;
        """,
    )
    rows = db.execute("SELECT id, x, y, w, h, landmarks, score FROM faces").fetchall()
    db.executemany("UPDATE faces SET quality = ? WHERE id = ?", [
        (face_quality((x, y, w, h), json.loads(marks), score), face_id)
        for face_id, x, y, w, h, marks, score in rows])


def _quality_index(db: sqlite3.Connection) -> None:
    """`status` counts the faces too poor to judge on every call: with no
    index that read every face (60 ms at 200,000 faces, growing with the
    library); the few poor faces are a short range of this one."""
    db.execute("CREATE INDEX faces_by_quality ON faces (quality)")


def _cluster_index_by_person(db: sqlite3.Connection) -> None:
    """The group index ordered by person after the group: listing the
    groups counts each group's faces by person in one ordered pass over it
    (0.24 s instead of 0.44 s at a million faces); it still holds the photo,
    so no query needs the faces' rows."""
    _run_script(
        db,
        """
        DROP INDEX faces_by_cluster;
        CREATE INDEX faces_by_cluster ON faces (cluster_id, person_id, auto_person_id, photo_id);
        """,
    )


def _failed_photos_index(db: sqlite3.Connection) -> None:
    """`status` counts the photos that failed on every call: a partial index
    holds just those, instead of a pass over every photo (58 ms at a million)."""
    db.execute("CREATE INDEX photos_failed ON photos (id) WHERE status = 'failed'")


def _real_paths(db: sqlite3.Connection) -> None:
    # A photo reached through a symbolic link (a linked root, a linked
    # folder) is the photo stored under the path first given: its path with
    # every link resolved, where that differs, finds it whatever path is given.
    _run_script(
        db,
        """
        ALTER TABLE photos ADD COLUMN real_path TEXT;
        CREATE INDEX photos_by_real_path ON photos (real_path) WHERE real_path IS NOT NULL;
        """,
    )


def _birth_dates(db: sqlite3.Connection) -> None:
    """A person's birth date, at the precision the user gave it (2015,
    2015-03 or 2015-03-02; facesort.people.ages): no sidecar standard holds one.
    It decides which automatic names are allowed, so changing it is a
    decision the next cluster run must see."""
    _run_script(
        db,
        """
        ALTER TABLE people ADD COLUMN born TEXT;
        CREATE TRIGGER birth_date_changed AFTER UPDATE OF born ON people
            WHEN OLD.born IS NOT NEW.born
            BEGIN UPDATE decision_changes SET count = count + 1; END;
        """,
    )


def _video(db: sqlite3.Connection) -> None:
    """Video clips beside photos. A clip is a row of photos (media 'video',
    with its duration); each of its faces is a whole track, at its best
    face's time in the clip, so that a track counts once wherever faces are
    counted; the track's best few faces and their times are kept beside it."""
    _run_script(
        db,
        """
        ALTER TABLE photos ADD COLUMN media TEXT NOT NULL DEFAULT 'photo'
            CHECK (media IN ('photo', 'video'));
        ALTER TABLE photos ADD COLUMN duration REAL;
        ALTER TABLE faces ADD COLUMN clip_time REAL;
        CREATE TABLE track_faces (
            face_id INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
            clip_time REAL NOT NULL,
            x REAL NOT NULL,
            y REAL NOT NULL,
            w REAL NOT NULL,
            h REAL NOT NULL,
            quality REAL NOT NULL,
            PRIMARY KEY (face_id, clip_time)
        ) WITHOUT ROWID;
        """,
    )


def _decision_copy(db: sqlite3.Connection) -> None:
    """What keeping a copy of the decisions beside the library needs."""
    _run_script(
        db,
        """
        -- Which library this is, so that the copy beside it is never overwritten
        -- by another library made at the same path (after a loss, before
        -- 'facesort restore'); restored_from names the copy it was restored from.
        CREATE TABLE library (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            uuid TEXT NOT NULL,
            restored_from TEXT
        );
        INSERT INTO library (id, uuid) VALUES (1, lower(hex(randomblob(16))));
        -- Every change to what the copy holds moves 'changes' on; 'written' is
        -- its value when the copy was last written. A library that holds
        -- decisions already gets its first copy from the next command.
        CREATE TABLE decision_copy (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            changes INTEGER NOT NULL,
            written INTEGER NOT NULL
        );
        INSERT INTO decision_copy (id, changes, written)
            VALUES (1, EXISTS (SELECT 1 FROM people) OR EXISTS (SELECT 1 FROM orphans)
                       OR EXISTS (SELECT 1 FROM faces WHERE ignored), 0);
        -- A person's fields that this facesort does not know, from a copy
        -- written by a newer one (a JSON object), written back to the next copy.
        ALTER TABLE people ADD COLUMN extra TEXT;
        -- Restored decisions whose photo is not in the library (yet): the
        -- copy keeps them, and a later restore places them.
        CREATE TABLE waiting_decisions (
            id INTEGER PRIMARY KEY,
            content_hash TEXT NOT NULL,
            record TEXT NOT NULL UNIQUE
        );
        CREATE INDEX waiting_by_hash ON waiting_decisions (content_hash);
        -- The copy reads the ignored faces through this, not a pass over every face.
        CREATE INDEX faces_ignored ON faces (photo_id) WHERE ignored;
        CREATE TRIGGER copy_face_decision AFTER UPDATE OF person_id, person_source, ignored ON faces
            WHEN OLD.person_id IS NOT NEW.person_id OR OLD.person_source IS NOT NEW.person_source
              OR OLD.ignored IS NOT NEW.ignored
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        CREATE TRIGGER copy_face_added AFTER INSERT ON faces
            WHEN NEW.person_id IS NOT NULL OR NEW.ignored
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        CREATE TRIGGER copy_face_removed AFTER DELETE ON faces
            WHEN OLD.person_id IS NOT NULL OR OLD.ignored
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        CREATE TRIGGER copy_rejection_added AFTER INSERT ON rejections
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        CREATE TRIGGER copy_rejection_removed AFTER DELETE ON rejections
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        CREATE TRIGGER copy_orphan_added AFTER INSERT ON orphans
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        CREATE TRIGGER copy_orphan_changed AFTER UPDATE ON orphans
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        CREATE TRIGGER copy_orphan_removed AFTER DELETE ON orphans
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        CREATE TRIGGER copy_orphan_rejection_added AFTER INSERT ON orphan_rejections
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        CREATE TRIGGER copy_person_added AFTER INSERT ON people
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        CREATE TRIGGER copy_person_changed AFTER UPDATE OF name, born, extra ON people
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        CREATE TRIGGER copy_person_removed AFTER DELETE ON people
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        CREATE TRIGGER copy_waiting_added AFTER INSERT ON waiting_decisions
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        CREATE TRIGGER copy_waiting_removed AFTER DELETE ON waiting_decisions
            BEGIN UPDATE decision_copy SET changes = changes + 1; END;
        """,
    )


def _undated_clips(db: sqlite3.Connection) -> None:
    """Clips stored before their capture time was read from the container
    (0013_video came first): the next scan reads each one's time from its
    header even when the clip is unchanged, once, found or not. A clip
    scanned since had its time read then."""
    _run_script(
        db,
        """
        CREATE TABLE undated_clips (
            photo_id INTEGER PRIMARY KEY REFERENCES photos (id) ON DELETE CASCADE
        );
        INSERT INTO undated_clips (photo_id)
            SELECT id FROM photos WHERE media = 'video' AND taken_at IS NULL;
        """,
    )


MIGRATIONS: list[Migration] = [
    ("0001_initial", _initial),
    ("0002_people_and_groups", _people_and_groups),
    ("0003_orphaned_decisions", _orphaned_decisions),
    ("0004_clean_names", _clean_names),
    ("0005_cluster_runs", _cluster_runs),
    ("0006_adapter", _adapter),
    ("0007_naming", _naming),
    ("0008_quality_index", _quality_index),
    ("0009_cluster_index_by_person", _cluster_index_by_person),
    ("0010_failed_photos_index", _failed_photos_index),
    ("0011_real_paths", _real_paths),
    ("0012_birth_dates", _birth_dates),
    ("0013_video", _video),
    ("0014_decision_copy", _decision_copy),
    ("0015_undated_clips", _undated_clips),
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
            # Two commands may open an old library at once; the second waits
            # for the first's upgrade here and finds it done.
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                db.execute("COMMIT")
                continue
            step(db)
            db.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # SQLite may have rolled back already (a full disk)
                db.execute("ROLLBACK")
            raise
        ran.append(name)
    return ran
