"""The fault zoo, the library: scanning many copies, checking a library and
restoring its decisions, and the smaller things a new user meets on the way.

Each test is one case a tester reproduced; its docstring says what holds.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from PIL import Image

from conftest import copy_people, faces, group_of, lfw_photo
from facesort.scanning.scanner import Scanner
from facesort.store import Store


# -- copies of one photo ------------------------------------------------------------------

def test_copies_of_one_photo_look_at_each_earlier_copy_once(db_path, pack, tmp_path):
    """Each new copy used to load and stat every earlier one: 10,000 copies took 258 s."""
    folder = tmp_path / "copies"
    folder.mkdir()
    copies = 60
    for index in range(copies):
        shutil.copy(lfw_photo("Tony_Blair"), folder / f"copy_{index:03d}.jpg")
    with Store(db_path) as store:
        read = []
        real = store.photos_with_hash

        def counted(*args, **kwargs):
            twins = real(*args, **kwargs)
            read.extend(twins)
            return twins

        store.photos_with_hash = counted
        report = Scanner(store, pack).run([folder])
        assert report.new == copies and report.faces == copies
        assert len(read) <= 2 * copies  # before: about copies² / 2


# -- a library that can be checked ----------------------------------------------------------

def test_check_says_a_sound_library_is_fine_also_when_read_only(cli, library, db_path):
    """'check' only reads: a library on a read-only drive is checked too."""
    result = cli("check")
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.stdout
    db_path.chmod(0o444)
    db_path.parent.chmod(0o555)
    try:
        result = cli("check")
    finally:
        db_path.parent.chmod(0o755)
        db_path.chmod(0o644)
    assert result.exit_code == 0, result.output


def test_check_names_each_broken_rule_on_its_own_line_and_exits_1(cli, library, db_path):
    """Decisions that contradict each other, or point at nothing, are each one line."""
    tony = [f for f in faces(cli) if "Tony_Blair_1" in f["path"] or "Tony_Blair_2" in f["path"]]
    cli("assign", str(tony[0]["id"]), "Tony Blair")
    with sqlite3.connect(db_path) as db:
        photo = db.execute("SELECT photo_id FROM faces WHERE id = ?", (tony[0]["id"],)).fetchone()[0]
        # A second face in the same photo, named the same by the user.
        db.execute("INSERT INTO faces (photo_id, pack_id, x, y, w, h, landmarks, score, embedding,"
                   " person_id, person_source) SELECT photo_id, pack_id, 1, 1, 5, 5, landmarks, score,"
                   " embedding, person_id, 'user' FROM faces WHERE id = ?", (tony[0]["id"],))
        db.execute("INSERT INTO rejections (face_id, person_id) SELECT id, person_id FROM faces"
                   " WHERE id = ?", (tony[0]["id"],))
        db.execute("UPDATE faces SET person_id = 999, person_source = 'user' WHERE id = ?", (tony[1]["id"],))
    result = cli("check")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any("Tony Blair named on more than one face" in line for line in lines), lines
    assert any(f"face {tony[0]['id']}" in line and "rejected from Tony Blair" in line for line in lines)
    assert any(f"face {tony[1]['id']}" in line and "person 999" in line for line in lines)
    assert "facesort restore" in result.stderr
    assert photo


def test_check_reports_a_damaged_file_as_a_problem_not_a_traceback(cli, library, db_path):
    """Garbage inside the file, as a failing disk leaves it: one line, exit 1."""
    cli("assign", str(faces(cli)[0]["id"]), "Someone")  # leaves a copy of the decisions
    data = bytearray(db_path.read_bytes())
    data[4096 * 3: 4096 * 6] = b"\x5a" * (4096 * 3)
    db_path.write_bytes(bytes(data))
    result = cli("check")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stdout.strip()
    assert "facesort restore" in result.stderr and ".decisions.jsonl.gz" in result.stderr


# -- a copy of the decisions, and restoring it -------------------------------------------------

def decisions_of(db_path) -> set[tuple]:
    """Every decision as the user would recognise it: photo, place, what was decided."""
    with sqlite3.connect(db_path) as db:
        on_faces = db.execute(
            "SELECT p.path, round(f.x), round(f.y), n.name, f.person_source, f.ignored,"
            " (SELECT group_concat(m.name) FROM rejections r JOIN people m ON m.id = r.person_id"
            "  WHERE r.face_id = f.id) FROM faces f JOIN photos p ON p.id = f.photo_id"
            " LEFT JOIN people n ON n.id = f.person_id"
            " WHERE f.person_id IS NOT NULL OR f.ignored OR f.id IN (SELECT face_id FROM rejections)"
        ).fetchall()
        orphans = db.execute(
            "SELECT p.path, 'orphan', round(o.x, 3), n.name, o.person_source, o.ignored, NULL"
            " FROM orphans o JOIN photos p ON p.id = o.photo_id LEFT JOIN people n ON n.id = o.person_id"
        ).fetchall()
    return set(on_faces) | set(orphans)


def lose_library(db_path) -> None:
    for path in db_path.parent.glob(db_path.name + "*"):
        if not path.name.endswith(".decisions.jsonl.gz"):
            path.unlink()


def test_every_decision_comes_back_after_the_library_is_lost(cli, library, db_path, tmp_path):
    """Names, imports' kind, rejections, ignores and orphans: scan again, restore, all are back."""
    assert cli("cluster").exit_code == 0
    everyone = faces(cli)
    blair = [f for f in everyone if "Tony_Blair" in f["path"]]
    powell = [f for f in everyone if "Colin_Powell" in f["path"]]
    cli("assign", *[str(f["id"]) for f in blair[:3]], "Tony Blair")
    cli("assign", str(powell[0]["id"]), "Colin Powell")
    cli("reject", str(powell[0]["id"]))
    cli("assign", str(powell[1]["id"]), "Colin Powell")
    cli("rename", "Colin Powell", "Colin L. Powell")
    chretien = group_of(cli, "Jean_Chretien")
    assert cli("ignore", str(chretien)).exit_code == 0
    gone = library / "Tony_Blair_2.jpg"
    Image.new("RGB", (250, 250), "gray").save(gone, "JPEG")  # the face is gone: an orphan
    cli("scan", str(library))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(library / "Tony_Blair_1.jpg", elsewhere / "moved.jpg")  # not scanned yet
    before = decisions_of(db_path)
    assert len(before) >= 6 and any(d[1] == "orphan" for d in before)
    copy = db_path.with_name(db_path.name + ".decisions.jsonl.gz")
    assert copy.exists()

    lose_library(db_path)
    assert cli("scan", str(library)).exit_code == 0
    assert "would restore" in cli("restore", "--dry-run").stdout
    assert decisions_of(db_path) == set()
    result = cli("restore")
    assert result.exit_code == 0, result.output
    assert "1 waiting for photos not in the library" in result.stdout
    cli("scan", str(elsewhere))
    result = cli("restore")  # again: the waiting one is placed, nothing is made twice
    assert "0 waiting" in result.stdout, result.output
    after = {(path.replace(str(elsewhere / "moved.jpg"), str(library / "Tony_Blair_1.jpg")), *rest)
             for path, *rest in decisions_of(db_path)}
    assert after == before


def test_a_new_library_made_before_restoring_does_not_overwrite_the_lost_ones_copy(cli, library, db_path):
    """Naming in a fresh library first sets the old copy aside, and says where it is."""
    cli("assign", str(faces(cli)[0]["id"]), "Someone")
    before = decisions_of(db_path)
    lose_library(db_path)
    cli("scan", str(library))
    result = cli("assign", str(faces(cli)[1]["id"]), "Someone Else")
    assert "facesort restore" in result.stderr, result.output
    [kept] = db_path.parent.glob(db_path.name + ".decisions-*.jsonl.gz")
    assert cli("restore", str(kept)).exit_code == 0
    assert before <= decisions_of(db_path)


def test_a_copy_from_a_newer_facesort_keeps_what_this_one_does_not_know(cli, library, db_path, tmp_path):
    """A person's birth date is restored, and fields this facesort does not know
    (a nickname) go back into the next copy."""
    [face] = [f for f in faces(cli) if f["path"].endswith("Tony_Blair_1.jpg")][:1]
    with sqlite3.connect(db_path) as db:
        content_hash, width, height = db.execute(
            "SELECT content_hash, width, height FROM photos WHERE path = ?", (face["path"],)).fetchone()
    x, y, w, h = face["box"]
    copy = tmp_path / "old.decisions.jsonl.gz"
    with gzip.open(copy, "wt") as out:
        out.write(json.dumps({"format": "facesort decisions", "version": 1, "library": "x",
                              "people": [{"name": "Tony Blair", "born": "1953-05-06", "nickname": "TB"}],
                              "colour": "blue"}) + "\n")
        out.write(json.dumps({"photo": content_hash, "pack": "sc_dlib", "path": "/old/place.jpg",
                              "box": [x / width, y / height, w / width, h / height], "orientation": 1,
                              "person": "Tony Blair", "source": "import", "mood": "happy"}) + "\n")
    result = cli("restore", str(copy))
    assert "1 decision on faces" in result.stdout, result.output
    assert face_at(cli, face["path"]) == ("Tony Blair", "import")
    own = db_path.with_name(db_path.name + ".decisions.jsonl.gz")
    with gzip.open(own, "rt") as lines:
        assert {"name": "Tony Blair", "born": "1953-05-06", "nickname": "TB"} in json.loads(lines.readline())["people"]
    assert json.loads(cli("person", "Tony Blair", "--json").stdout)["born"] == "1953-05-06"
    with gzip.open(copy, "wt") as out:
        out.write(json.dumps({"format": "facesort decisions", "version": 2, "people": []}) + "\n")
    result = cli("restore", str(copy))
    assert result.exit_code == 2 and "newer facesort" in result.stderr
    with gzip.open(copy, "wt") as out:
        out.write(json.dumps({"format": "facesort decisions", "version": 1, "people": []}) + "\n")
        out.write('{"photo": "abc", "pack": "p", "box": [1, 2]}\n')
    result = cli("restore", str(copy))
    assert result.exit_code == 2 and "line 2: not a decision" in result.stderr, result.output


def face_at(cli, path: str) -> tuple:
    [face] = [f for f in faces(cli) if f["path"] == path]
    return face["person"], face["person_source"]


def test_a_command_that_changes_no_decision_leaves_the_copy_alone(cli, library, db_path):
    """The copy is written when a decision changed, not after every command."""
    cli("assign", str(faces(cli)[0]["id"]), "Someone")
    copy = db_path.with_name(db_path.name + ".decisions.jsonl.gz")
    written = copy.stat().st_mtime_ns
    cli("cluster")
    cli("scan", str(library))
    assert copy.stat().st_mtime_ns == written


# -- smaller things -------------------------------------------------------------------------

def test_naming_ends_with_one_line_of_what_was_decided(cli, library):
    """'name' used to end silently, whatever was decided."""
    cli("cluster")
    session = cli("name", "--preview", "0", input="Somebody\nq\nq\n")
    assert session.exit_code == 0, session.output
    last = session.stdout.strip().splitlines()[-1]
    assert last.startswith("named 1 group (") and "1 person" in last and "ignored 0 groups" in last


def test_split_ends_with_one_line_of_what_was_decided(cli, library):
    """'split' used to end silently after its last part."""
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Pat")
    cli("name", str(group_of(cli, "Tony_Blair")), "Pat")
    session = cli("split", "Pat", "--parts", "2", "--preview", "0", input="\nTony\n")
    assert session.exit_code == 0, session.output
    last = session.stdout.strip().splitlines()[-1]
    assert last.startswith("Pat: kept 1 part, gave ") and " to Tony, rejected 0 faces" in last


def test_find_with_no_match_says_so_and_exits_1_as_grep(cli, library):
    """An empty answer used to look like success; dates from file times are said too."""
    cli("assign", str(faces(cli)[0]["id"]), "Someone")
    result = cli("find", "Someone", "--year", "1990")
    assert result.exit_code == 1 and result.stdout == ""
    assert "no photos match" in result.stderr and "modification time" in result.stderr
    found = cli("find", "Someone", "--since", "2000-01-01")  # LFW photos have no capture date
    assert found.exit_code == 0 and found.stdout.strip()
    assert "no capture date: the file's modification time was used" in found.stderr


def test_the_people_table_says_its_faces_are_the_ones_you_named(cli, library):
    """The header said "faces" but counted only the faces you named."""
    cli("assign", str(faces(cli)[0]["id"]), "Someone")
    header = cli("people").stdout.splitlines()[0]
    assert "named by you" in header and "automatic" in header


def test_status_poor_never_prints_minus_zero(cli, library, db_path):
    """A box that starts a little outside the photo printed "at 128,-0"."""
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE faces SET x = 128.2, y = -0.4, quality = 0.01 WHERE id ="
                   " (SELECT min(id) FROM faces)")
    listed = cli("status", "--poor").stdout
    assert "at 128,0," in listed and "-0" not in listed


def test_review_shows_whole_names(cli, library, tmp_path):
    """Names were cut to 12 characters under the faces."""
    long_name = "Colin Luther Powell the Elder"
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), long_name)
    cli("scan", str(library), str(copy_people(tmp_path / "more", range(9, 12))))
    cli("cluster")
    session = cli("review", "--preview", "2", input="q\n")
    assert session.exit_code == 0, session.output
    assert long_name + ":" in session.stdout


def test_without_the_shared_data_tests_skip_with_the_reason_except_in_ci(tmp_path):
    """A fresh clone used to stop at once; in CI missing data must still fail."""
    tests = Path(__file__).parent
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["FACESORT_SHARED"] = str(tmp_path)
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "test_store.py"]
    fresh = subprocess.run(command, cwd=tests, env=env, capture_output=True, text=True, timeout=120)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert " passed" in fresh.stdout and " skipped" in fresh.stdout
    assert "the shared models and data are missing" in fresh.stdout
    in_ci = subprocess.run(command, cwd=tests, env={**env, "CI": "true"}, capture_output=True,
                           text=True, timeout=120)
    assert in_ci.returncode != 0
    assert "the shared models and data are missing" in in_ci.stdout + in_ci.stderr


def test_a_library_from_before_the_copy_gets_one_at_the_next_command(db_path):
    """An upgraded library with decisions is copied at once; a fresh empty one is not."""
    from facesort.safety.decision_copy import copy_path, keep_copy
    from facesort.store.migrations import MIGRATIONS, migrate

    db = sqlite3.connect(db_path, isolation_level=None)
    migrate(db, [m for m in MIGRATIONS if not m[0].startswith("0014_")])
    db.execute("INSERT INTO people (name, key) VALUES ('Dick', 'dick')")
    db.close()
    with Store(db_path) as store:
        kept = keep_copy(store)
    assert kept is not None and kept.path == copy_path(db_path)
    with gzip.open(kept.path, "rt") as lines:
        assert json.loads(lines.readline())["people"] == [{"name": "Dick"}]
    fresh = db_path.with_name("fresh.db")
    with Store(fresh) as store:
        assert keep_copy(store) is None and not copy_path(fresh).exists()
