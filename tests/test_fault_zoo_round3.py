"""Faults a code review found (fault zoo, round three): each test says in its
docstring what facesort survives, and failed before its fix."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import faces


# -- a copy of the decisions whose header is not a JSON object ---------------------------------

@pytest.mark.parametrize("first_line", ["[1, 2]", '"facesort decisions"', "42"],
                         ids=["list", "string", "number"])
def test_a_copy_whose_header_is_not_a_json_object_is_a_damaged_copy(cli, library, db_path, tmp_path,
                                                                     first_line):
    """facesort survives a copy of the decisions whose first line is JSON but not an object:
    'assign' used to end in an AttributeError traceback. It is a damaged copy: replaced by
    this library's, and 'restore' from it is one line saying it is not a copy."""
    copy = db_path.with_name(db_path.name + ".decisions.jsonl.gz")
    with gzip.open(copy, "wt") as out:
        out.write(first_line + "\n")
    damaged = tmp_path / "damaged.decisions.jsonl.gz"
    shutil.copy(copy, damaged)
    result = cli("assign", str(faces(cli)[0]["id"]), "Someone")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    with gzip.open(copy, "rt") as lines:
        assert json.loads(lines.readline())["format"] == "facesort decisions"
    restored = cli("restore", str(damaged))
    assert restored.exit_code == 2, restored.output
    assert restored.stderr.strip() == f"error: {damaged}: not a copy of facesort decisions"


HEADER = {"format": "facesort decisions", "version": 1, "library": "x", "people": []}
UNNAMED = {"photo": "0" * 32, "pack": "sc_dlib", "box": [0.3, 0.3, 0.3, 0.4], "orientation": 1}
DECISION = {**UNNAMED, "person": "Colin"}


@pytest.mark.parametrize("header, decision, says", [
    ({**HEADER, "library": ["x"]}, DECISION, "not a copy of facesort decisions"),
    ({**HEADER, "people": [{"name": "Colin", "born": [1941]}]}, DECISION,
     "its list of people is not one facesort wrote"),
    (HEADER, {**DECISION, "path": ["/a.jpg"]}, "line 2: not a decision"),
    (HEADER, {**DECISION, "orientation": "up"}, "line 2: not a decision"),
    (HEADER, {**DECISION, "source": ["user"]}, "line 2: not a decision"),
    (HEADER, {**UNNAMED, "rejected": "Bob"}, "line 2: not a decision"),
    (HEADER, {**UNNAMED, "ignored": "no"}, "line 2: not a decision"),
], ids=["library", "born", "path", "orientation", "source", "rejected", "ignored"])
def test_restore_from_a_copy_with_a_field_of_the_wrong_json_type_is_one_line(cli, library, db_path, tmp_path,
                                                                              header, decision, says):
    """facesort survives 'restore' from a copy whose fields have the wrong JSON type: each
    used to end in a traceback (an unhashable list, int('up'), a list SQLite cannot bind) or,
    worse, to reject the face from people named 'B', 'o' and 'b'. One line naming the copy."""
    with sqlite3.connect(db_path) as db:  # a photo of the library's: the decision is not left waiting
        decision = {**decision, "photo": db.execute("SELECT content_hash FROM photos").fetchone()[0]}
    copy = tmp_path / "odd.decisions.jsonl.gz"
    with gzip.open(copy, "wt") as out:
        out.write(json.dumps(header) + "\n" + json.dumps(decision) + "\n")
    result = cli("restore", str(copy))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.strip().startswith(f"error: {copy}"), result.stderr
    assert says in result.stderr


# -- a capture time with an offset, on both sides of who's comparison -------------------------

@pytest.mark.parametrize("taken_at", ["2024-01-01T01:30:00+05:00", "2023-12-31T20:00:00-08:00",
                                      "2024-01-01T00:30:00Z", "2024-01-01T00:30:00"])
def test_who_reads_a_capture_time_with_an_offset_as_the_library_does(library, db_path, taken_at):
    """facesort survives a photo taken at 01:30 at +05:00 (20:30 UTC the day before): 'who'
    dropped the offset and put the photo 5 hours later than the named faces it is compared
    with, which SQLite's julianday() reads in UTC; across a day, a year or the two-year
    window of faces nearest in time, the two disagreed."""
    from facesort.people.identify import faces_in_library, julian_day
    from facesort.store import Store

    with sqlite3.connect(db_path) as db:
        face_id, photo_id, path = db.execute("SELECT f.id, p.id, p.path FROM faces f"
                                             " JOIN photos p ON p.id = f.photo_id LIMIT 1").fetchone()
        db.execute("UPDATE photos SET taken_at = ? WHERE id = ?", (taken_at, photo_id))
    photo = Path(os.fsdecode(path))
    with Store(db_path) as store:
        pack_id = store.find_pack(store.pack_names()[0])
        [known] = faces_in_library(store, pack_id, photo)  # 'who' on a photo of the library
        data = store.grouping_input(pack_id)  # the named faces it is compared with
    [stored] = data.days[data.face_ids == face_id]
    assert known.face.day == pytest.approx(stored, abs=1e-9)
    assert julian_day(taken_at) == pytest.approx(stored, abs=1e-9)  # 'who' on a file
    # 20:30 UTC on 31 December: the day before the one written, as SQLite has it.
    if taken_at.endswith("+05:00"):
        assert julian_day(taken_at) < julian_day("2024-01-01T00:00:00")
