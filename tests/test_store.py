"""The library file: migrations on fresh and old databases, and its contract."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from facesort.errors import StoreError
from facesort.store import Store, blob_to_embedding, embedding_to_blob
from facesort.store.migrations import MIGRATIONS, migrate


def recorded(path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def test_a_fresh_library_has_every_migration_and_wal(db_path):
    with Store(db_path) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert recorded(db_path) == [name for name, _ in MIGRATIONS]


@pytest.mark.parametrize("done", range(len(MIGRATIONS)))
def test_an_older_library_is_upgraded_in_place(db_path, done):
    db = sqlite3.connect(db_path, isolation_level=None)
    migrate(db, MIGRATIONS[:done])
    db.close()
    with Store(db_path):
        pass
    assert recorded(db_path) == [name for name, _ in MIGRATIONS]


def test_a_failing_migration_leaves_the_library_as_it_was(db_path):
    def broken(db):
        db.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("boom")

    db = sqlite3.connect(db_path, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        migrate(db, MIGRATIONS + [("9999_broken", broken)])
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in tables and "photos" in tables
    assert "9999_broken" not in recorded(db_path)


def test_a_library_from_a_newer_facesort_is_refused(db_path):
    Store(db_path).close()
    with sqlite3.connect(db_path) as db:
        db.execute("INSERT INTO _migrations (name) VALUES ('9999_from_the_future')")
    with pytest.raises(StoreError, match="newer facesort"):
        Store(db_path)


def test_a_file_that_is_not_a_library_is_a_clear_error(cli, db_path):
    db_path.write_text("hello, I am a text file\n" * 100)
    result = cli("status")
    assert result.exit_code == 2
    assert str(db_path) in result.stderr and "not a usable facesort library" in result.stderr


def test_embeddings_are_little_endian_float32():
    vector = np.array([1.0, -0.5, 0.25], dtype=np.float64)
    blob = embedding_to_blob(vector)
    assert blob == np.array(vector, dtype="<f4").tobytes() and len(blob) == 12
    assert np.array_equal(blob_to_embedding(blob), vector.astype(np.float32))


def test_an_upgrade_keeps_the_photos_and_faces_already_stored(db_path, pack):
    from conftest import lfw_photo
    from facesort.scanning.scanner import scan

    db = sqlite3.connect(db_path, isolation_level=None)
    migrate(db, MIGRATIONS[:1])  # a library written by the first release
    db.close()
    # The first release's scan would have written exactly these tables; let the
    # current scanner fill them, then take the library back to that schema.
    with Store(db_path) as store:
        scan(store, [lfw_photo("Colin_Powell")], pack)
        before = [(p.path, [f.box for f in p.faces]) for p in store.export_photos(1)]
    with sqlite3.connect(db_path) as old:
        copy_triggers = [name for (name,) in old.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'copy_%'")]
        for trigger in ("face_decision_changed", "face_with_decision_added", *copy_triggers):
            old.execute(f"DROP TRIGGER {trigger}")
        old.execute("DROP INDEX faces_ignored")
        for column in ("cluster_id", "person_id", "person_source", "auto_person_id",
                       "auto_distance", "ignored", "quality"):
            old.execute("DROP INDEX IF EXISTS faces_by_cluster")
            old.execute("DROP INDEX IF EXISTS faces_by_person")
            old.execute("DROP INDEX IF EXISTS faces_by_auto_person")
            old.execute("DROP INDEX IF EXISTS faces_by_quality")
            old.execute(f"ALTER TABLE faces DROP COLUMN {column}")
        old.execute("DROP INDEX photos_failed")
        old.execute("DROP INDEX photos_by_real_path")
        old.execute("ALTER TABLE photos DROP COLUMN real_path")
        old.execute("ALTER TABLE faces DROP COLUMN clip_time")
        for column in ("media", "duration"):
            old.execute(f"ALTER TABLE photos DROP COLUMN {column}")
        for table in ("undated_clips", "library", "decision_copy", "waiting_decisions", "track_faces", "adapters", "cluster_runs", "decision_changes", "refusals", "orphan_rejections",
                      "orphans", "rejections", "clusters", "people"):
            old.execute(f"DROP TABLE {table}")
        old.execute("DELETE FROM _migrations WHERE name != '0001_initial'")
    with Store(db_path) as store:
        after = [(p.path, [f.box for f in p.faces]) for p in store.export_photos(1)]
        assert after == before
        assert all(f.person is None and f.cluster is None for p in store.export_photos(1) for f in p.faces)
    assert recorded(db_path) == [name for name, _ in MIGRATIONS]
