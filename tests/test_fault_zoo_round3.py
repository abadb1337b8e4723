"""Faults a code review found (fault zoo, round three): each test says in its
docstring what facesort survives, and failed before its fix."""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import sqlite3
import struct
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


# -- a camera RAW with a damaged EXIF directory -------------------------------------------------

def test_a_raw_with_a_damaged_exif_directory_is_one_line_naming_it(tmp_path):
    """facesort survives a RAW whose directory claims a tag longer than the file: Pillow's
    warnings (one for each tag it then skips) reached the terminal raw, with Pillow's file
    and line but not the RAW's name. One line naming the RAW; it is scanned, with its date."""
    from PIL import Image

    from bayer_dng import bayer_dng
    from conftest import DLIB_PACK, GROUP
    from test_fault_zoo_round2 import run_facesort

    folder = tmp_path / "shoot"
    folder.mkdir()
    photo = Image.open(GROUP / "two_people.jpg").convert("RGB").crop((0, 0, 800, 600))
    raw = bayer_dng(photo, folder / "IMG_0001.DNG", preview=photo)
    data = bytearray(raw.read_bytes())
    model = data.index(struct.pack("<HH", 272, 2))  # the camera model's entry, ASCII
    data[model + 4:model + 8] = struct.pack("<I", 0x7FFFFFFF)  # its length: 2 GB
    raw.write_bytes(data)
    result = run_facesort("scan", str(folder), "--db", str(tmp_path / "library.db"),
                          env={"FACESORT_MODEL": str(DLIB_PACK)})
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{raw}: Tag data larger than file"), lines
    assert b"1 new" in result.stdout


# -- export of a file name that is not UTF-8 ------------------------------------------------------

def test_export_writes_a_name_that_is_not_utf8_as_find_does_so_a_script_finds_the_file(cli, library,
                                                                                      db_path, tmp_path):
    """A review saw export print a Latin-1 name as U+FFFD (CliRunner's reading of the bytes).
    export's jsonl and csv, to stdout or a file, hold the name's own bytes, as 'find' and
    'find --json' print it: a script reading them with surrogateescape opens the file.
    (Messages on stderr show it with \\xNN escapes; that is for people, not for scripts.)"""
    with sqlite3.connect(db_path) as db:
        photo_id, face_id, path = db.execute("SELECT p.id, f.id, p.path FROM faces f"
                                             " JOIN photos p ON p.id = f.photo_id LIMIT 1").fetchone()
        odd = os.path.join(os.path.dirname(os.fsencode(path)), b"caf\xe9.jpg")  # Latin-1 "cafe"
        os.rename(path, odd)
        db.execute("UPDATE photos SET path = ? WHERE id = ?", (odd, photo_id))
    assert cli("assign", str(face_id), "Colin").exit_code == 0
    found = cli("find", "Colin", "--json")
    assert found.exit_code == 0, found.output
    [hit] = json.loads(found.stdout_bytes.decode("utf-8", "surrogateescape"))
    lines = cli("export").stdout_bytes.decode("utf-8", "surrogateescape").splitlines()
    [exported] = [json.loads(line) for line in lines if json.loads(line)["path"] == hit["path"]]
    assert os.fsencode(exported["path"]) == odd and os.path.exists(exported["path"])
    out = tmp_path / "faces.csv"
    assert cli("export", "--format", "csv", "-o", str(out)).exit_code == 0
    with open(out, encoding="utf-8", errors="surrogateescape", newline="") as rows:
        assert hit["path"] in {row["path"] for row in csv.DictReader(rows)}


# -- clips in a library from before clip capture times were read -----------------------------------

def _clips_with_and_without_a_time(folder: Path) -> None:
    from test_video import _scene, _set_mvhd_time, write_clip

    frames = [_scene("Colin_Powell", 20)] * 2
    for name, moment in (("unchanged", "2021-03-04T05:06:07+00:00"), ("touched", "2020-01-02T03:04:05+00:00"),
                         ("moved", "2019-05-06T07:08:09+00:00"), ("undated", None)):
        clip = write_clip(folder / f"{name}.mp4", frames)
        if moment:
            _set_mvhd_time(clip, moment)


def _taken(db_path: Path) -> dict[str, str | None]:
    with sqlite3.connect(db_path) as db:
        return {Path(os.fsdecode(path)).stem: taken
                for path, taken in db.execute("SELECT path, taken_at FROM photos WHERE media = 'video'")}


def test_clips_scanned_before_clip_times_were_read_get_theirs_at_the_next_scan(db_path, pack, tmp_path,
                                                                               monkeypatch):
    """facesort survives an upgrade over clips scanned before their capture time was read:
    an unchanged clip kept no date until it changed. The next scan reads the date of each
    clip without one (unchanged, touched, moved or copied) from its header, decodes nothing, and
    never reads the header of a clip without a date again."""
    from facesort.scanning import clip_time
    from facesort.scanning.scanner import scan
    from facesort.store import Store

    folder = tmp_path / "clips"
    folder.mkdir()
    _clips_with_and_without_a_time(folder)
    with Store(db_path) as store:
        assert scan(store, [folder], pack).clips.new == 4
    # As the library was before: no clip dated, and the migration not applied.
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE photos SET taken_at = NULL")
        db.execute("DROP TABLE IF EXISTS undated_clips")
        db.execute("DELETE FROM _migrations WHERE name LIKE '0015_%'")
    os.utime(folder / "touched.mp4")
    (folder / "moved.mp4").rename(folder / "renamed.mp4")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(folder / "unchanged.mp4", elsewhere / "copy.mp4")  # takes its source's faces and time

    read = []
    real = clip_time.creation_time
    monkeypatch.setattr(clip_time, "creation_time", lambda path: read.append(path) or real(path))
    with Store(db_path) as store:
        assert scan(store, [elsewhere], pack).clips.new == 1  # its source not scanned now
        report = scan(store, [folder], pack)
    assert (report.clips.unchanged, report.clips.moved, report.clips.new, report.clips.changed) == (3, 1, 0, 0)
    assert report.device is None  # the model was not even loaded: nothing was decoded
    assert len(read) == 4
    assert _taken(db_path) == {"unchanged": "2021-03-04T05:06:07+00:00", "copy": "2021-03-04T05:06:07+00:00",
                               "touched": "2020-01-02T03:04:05+00:00", "renamed": "2019-05-06T07:08:09+00:00",
                               "undated": None}
    read.clear()
    with Store(db_path) as store:
        scan(store, [folder, elsewhere], pack)
    assert read == []  # the clip without a date is not read again


def test_a_fresh_library_reads_a_clips_time_once_when_it_is_scanned(db_path, pack, tmp_path, monkeypatch):
    """The same in a library made now: each clip's header is read once, by its scan."""
    from facesort.scanning import clip_time
    from facesort.scanning.scanner import scan
    from facesort.store import Store

    folder = tmp_path / "clips"
    folder.mkdir()
    _clips_with_and_without_a_time(folder)
    with Store(db_path) as store:
        scan(store, [folder], pack)
    read = []
    monkeypatch.setattr(clip_time, "creation_time", lambda path: read.append(path))
    os.utime(folder / "undated.mp4")
    with Store(db_path) as store:
        assert scan(store, [folder], pack).clips.unchanged == 4
    assert read == []
    assert _taken(db_path)["unchanged"] == "2021-03-04T05:06:07+00:00"


def test_the_undated_clips_migration_on_an_old_and_a_fresh_library(db_path, tmp_path):
    """0015_undated_clips: an upgraded library lists its clips without a time (not its photos,
    nor its dated clips); a fresh one lists none, and the list goes with a deleted clip."""
    from facesort.store import Store
    from facesort.store.migrations import MIGRATIONS, migrate

    db = sqlite3.connect(db_path, isolation_level=None)
    migrate(db, [m for m in MIGRATIONS if m[0] < "0015"])
    for path, media, taken in (("/a.mp4", "video", None), ("/b.mp4", "video", "2020-01-01T00:00:00+00:00"),
                               ("/c.jpg", "photo", None), ("/d.mkv", "video", None)):
        db.execute("INSERT INTO photos (path, size, mtime_ns, status, scanned_at, media, taken_at)"
                   " VALUES (?, 1, 1, 'ok', 'then', ?, ?)", (path, media, taken))
    db.close()
    with Store(db_path) as store:
        undated = store.undated_clips()
        ids = dict(store.db.execute("SELECT path, id FROM photos"))
        assert undated == {ids["/a.mp4"], ids["/d.mkv"]}
        store.delete_photos([ids["/d.mkv"]])
        assert store.undated_clips() == {ids["/a.mp4"]}
    with Store(tmp_path / "fresh.db") as fresh:
        assert fresh.undated_clips() == set()
