"""Awkward machines (issue 7): one line, exit 2, nothing lost. One test per
fault, each docstring saying what facesort survives."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import lfw_photo, one_line
from facesort.store import library as store_library

LFW_PEOPLE = ("Colin_Powell", "Tony_Blair", "Hans_Blix", "Laura_Bush")


def _copy_lfw(folder: Path, per_person: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for person in LFW_PEOPLE:
        for n in range(1, per_person + 1):
            shutil.copy(lfw_photo(person, n), folder / f"{person}_{n}.jpg")
    return folder


def test_a_file_name_that_is_not_utf8(cli, tmp_path):
    """A photo named in another encoding (not UTF-8) is scanned beside the others, exported,
    found, written to and dropped when deleted, with its exact name; a broken one is named
    in its error line with \\xNN escapes."""
    folder = tmp_path / "d"
    folder.mkdir()
    shutil.copy(lfw_photo("Colin_Powell", 1), folder / "a.jpg")
    odd = os.path.join(os.fsencode(folder), b"caf\xe9.jpg")  # Latin-1 "café.jpg"
    shutil.copy(lfw_photo("Colin_Powell", 2), odd)
    with open(os.path.join(os.fsencode(folder), b"bad\xe9.jpg"), "wb") as bad:
        bad.write(b"not a photo")
    result = cli("scan", str(folder), "--json")
    assert result.exit_code == 1, result.output
    assert one_line(result) == f"{folder}/bad\\xe9.jpg: not an image facesort can read (unknown format or corrupt)"
    assert (json.loads(result.stdout)["new"], json.loads(result.stdout)["failed"]) == (2, 1)
    again = cli("scan", str(folder), "--json")
    assert (json.loads(again.stdout)["unchanged"], json.loads(again.stdout)["failed"]) == (2, 1)
    exported = cli("export")
    assert exported.exit_code == 0, exported.output
    assert odd in exported.stdout_bytes  # the name's own bytes, as ls prints them
    face_ids = [str(f["id"]) for line in exported.stdout.splitlines() for f in json.loads(line)["faces"]]
    assert len(face_ids) == 2
    out = tmp_path / "faces.jsonl"
    assert cli("export", "-o", str(out)).exit_code == 0  # to a file, the same bytes
    assert odd in out.read_bytes()
    assert cli("assign", *face_ids, "Colin").exit_code == 0
    found = cli("find", "Colin", "-0")
    assert found.exit_code == 0, found.output
    assert set(found.stdout_bytes.split(b"\0")[:-1]) == {os.fsencode(folder / "a.jpg"), odd}
    written = cli("write", str(folder))  # a folder: a range query on the paths
    assert written.exit_code == 0, written.output
    assert "2 sidecars created" in written.stdout
    assert os.path.exists(odd + b".xmp")
    os.unlink(odd)
    removed = cli("scan", str(folder), "--json")
    assert json.loads(removed.stdout)["removed"] == 1
    assert json.loads(cli("status", "--json").stdout)["photos"] == 2  # a.jpg, and bad\xe9.jpg failed


def test_verify_names_a_photo_not_in_utf8_with_escapes_when_asking_for_a_face(cli, tmp_path):
    """A group photo named in another encoding, given to verify without --face, is named
    in the one line asking for a face as ls -b shows it, as every other error names it."""
    from conftest import GROUP

    odd = os.path.join(os.fsencode(tmp_path), b"caf\xe9.jpg")
    shutil.copy(GROUP / "two_people.jpg", odd)
    result = cli("verify", os.fsdecode(odd), str(lfw_photo("Colin_Powell", 1)))
    assert result.exit_code == 2, result.output
    assert one_line(result).startswith(f"error: {tmp_path}/caf\\xe9.jpg: 2 faces found; choose one with --face-a N")


def _make_read_only(paths: list[Path]) -> list[list[str]]:
    """Make ``paths`` unwritable, also for root; the commands that undo it."""
    if os.geteuid() != 0:
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        return [["chmod", "u+w", str(path)] for path in paths]
    # chmod does not stop root; the immutable attribute does, like a read-only drive.
    done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("root can write anything here and chattr +i is not available "
                    f"({done.stderr.strip()}): no read-only library can be made")
    return [["chattr", "-i", *map(str, paths)]]


def test_a_read_only_library(cli, tmp_path, photos):
    """A library on a read-only drive can still be read; commands that write say so in one line."""
    library = tmp_path / "ro" / "library.db"
    db = ["--db", str(library)]
    assert cli("scan", str(photos), *db).exit_code == 0
    assert cli("cluster", *db).exit_code == 0
    group = json.loads(cli("clusters", "--json", *db).stdout)[0]["id"]
    assert not Path(f"{library}-shm").exists()  # closed cleanly: a read needs to create it
    undo = _make_read_only([library, library.parent])
    try:
        status = cli("status", "--json", *db)
        assert status.exit_code == 0, status.output
        assert json.loads(status.stdout)["photos"] == 6
        assert cli("export", *db).stdout.count("\n") == 6
        assert cli("clusters", *db).exit_code == 0
        shown = cli("show", str(group), *db)  # the sheet goes to the config folder instead
        assert shown.exit_code == 0, shown.output
        for command in (["scan", str(photos)], ["cluster"], ["name", str(group), "Someone"],
                        ["write"], ["rename", "a", "b"]):
            result = cli(*command, *db)
            assert result.exit_code == 2, (command, result.output)
            assert f"the library is read-only: {library}" in one_line(result)
    finally:
        for command in undo:
            subprocess.run(command, check=True)


def _no_bigger_than(limit: int):
    def apply() -> None:
        # A process that writes past RLIMIT_FSIZE is killed by SIGXFSZ unless
        # it ignores it; then the write fails with EFBIG, as on a full disk.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_while_scanning(cli, db_path, tmp_path, monkeypatch):
    """A disk that fills up during a scan stops it with one line naming the library, and the
    next scan carries on from where it stopped."""
    folder = _copy_lfw(tmp_path / "many", 8)
    env = dict(os.environ, FACESORT_DB=str(db_path), PYTHONDONTWRITEBYTECODE="1")
    full = subprocess.run([sys.executable, "-m", "facesort", "scan", str(folder), "-q"], env=env,
                          capture_output=True, text=True, timeout=120,
                          # Room for the schema's migrations and a few photos, not all of them.
                          preexec_fn=_no_bigger_than(700_000))
    assert full.returncode == 2, full.stderr
    assert "Traceback" not in full.stderr and len(full.stderr.strip().splitlines()) == 1
    assert full.stderr.startswith(f"error: {db_path}: ") and "disk" in full.stderr
    # SQLite's own "disk full" (SQLITE_FULL, as from a real full disk) reads the same way.
    real_connect = store_library.connect

    def nearly_full(*args, **kwargs):
        db = real_connect(*args, **kwargs)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 1}")
        return db

    monkeypatch.setattr(store_library, "connect", nearly_full)
    (folder / "more").mkdir()
    for n in range(1, 6):
        shutil.copy(lfw_photo("Tony_Blair", 10 + n), folder / "more" / f"{n}.jpg")
    result = cli("scan", str(folder), "--json")
    assert result.exit_code == 2
    assert one_line(result).startswith(f"error: {db_path}: the disk is full")
    monkeypatch.setattr(store_library, "connect", real_connect)  # space freed
    resumed = cli("scan", str(folder), "--json")
    assert resumed.exit_code == 0, resumed.output
    summary = json.loads(resumed.stdout)
    assert summary["new"] + summary["unchanged"] == 37 and summary["unchanged"] > 0


def test_a_scan_root_that_does_not_exist(cli, db_path, photos, tmp_path):
    """A scan of a folder that is not there (a typing error, an unmounted drive) is a usage
    error, and beside folders that are there, a warning and exit 1."""
    missing = tmp_path / "Pictures"
    result = cli("scan", str(missing))
    assert result.exit_code == 2
    assert str(missing) in one_line(result) and "not found" in result.stderr
    assert not db_path.exists()
    both = cli("scan", str(missing), str(photos), "--json")
    assert both.exit_code == 1
    assert "an unmounted drive?" in one_line(both)
    assert json.loads(both.stdout)["new"] == 6


def test_a_first_scan_with_a_missing_model_pack(cli, db_path, photos, tmp_path):
    """A first scan that fails for want of a model pack leaves no library file behind."""
    result = cli("scan", str(photos), "--model", str(tmp_path / "no" / "such" / "folder"))
    assert result.exit_code == 2
    assert "no such folder" in one_line(result)
    assert not db_path.exists()
    assert list(db_path.parent.glob(db_path.name + "*")) == []


def test_contact_sheets_go_beside_the_library(cli, tmp_path, photos, isolated_home):
    """Contact sheets of a library given with --db or FACESORT_DB go beside it, not to the
    default library's folder."""
    library = tmp_path / "elsewhere" / "family.db"
    assert cli("scan", str(photos), "--db", str(library)).exit_code == 0
    assert cli("cluster", "--db", str(library)).exit_code == 0
    group = json.loads(cli("clusters", "--json", "--db", str(library)).stdout)[0]["id"]
    shown = cli("show", str(group), "--db", str(library))
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() == str(library.parent / "family-sheets" / f"group-{group}.png")
    session = cli("name", "--db", str(library), "--preview", "0", input="q\n")
    assert str(library.parent / "family-sheets") in session.stdout
    assert not (isolated_home / ".config" / "facesort").exists()


def test_naming_while_a_scan_runs(cli, db_path, photos, tmp_path):
    """Naming, merging and writing sidecars go on during a long scan, which keeps every
    decision and photo; a second scan is still refused."""
    import sqlite3
    import time

    from conftest import LFW

    assert cli("scan", str(photos)).exit_code == 0
    assert cli("cluster").exit_code == 0
    first, second = (g["id"] for g in json.loads(cli("clusters", "--json").stdout)[:2])
    big = tmp_path / "big"
    big.mkdir()
    for person in sorted(os.listdir(LFW))[:60]:
        for name in sorted(os.listdir(LFW / person))[:1]:
            shutil.copy(LFW / person / name, big / name)
    env = dict(os.environ, FACESORT_DB=str(db_path))
    scanning = subprocess.Popen([sys.executable, "-m", "facesort", "scan", str(big), "-q"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        stored = 0
        while stored < 6 + 5 and time.monotonic() < deadline and scanning.poll() is None:
            time.sleep(0.05)
            with sqlite3.connect(db_path, timeout=5) as db:
                stored = db.execute("SELECT count(*) FROM photos").fetchone()[0]
        assert scanning.poll() is None and stored > 6, "the scan should be under way"
        refused = cli("scan", str(big))
        assert refused.exit_code == 2 and "is scanning it" in one_line(refused)
        for command in (["name", str(first), "Alice"], ["name", str(second), "Al"],
                        ["merge", "Alice", "Al"], ["write", "--dry-run", str(photos)],
                        ["write", str(photos)]):
            result = cli(*command)
            assert result.exit_code == 0, (command, result.output)
        assert scanning.wait(timeout=120) == 0, scanning.stderr.read()
    finally:
        scanning.kill()
        scanning.wait()
    status = json.loads(cli("status", "--json").stdout)
    assert status["photos"] == 6 + 60
    people = json.loads(cli("people", "--json").stdout)
    assert [p["name"] for p in people] == ["Alice"] and people[0]["faces"] >= 4
    assert len(list(photos.rglob("*.xmp"))) >= 4


def test_a_huge_png_is_decoded_small(monkeypatch):
    """A PNG of tens of megapixels is decoded a strip at a time to the detector's size, pixel
    for pixel as shrinking the full decode would give (bench/decode_memory.py: 21 MB, not 956)."""
    import io

    import numpy as np
    from PIL import Image

    from conftest import GROUP
    from facesort.scanning import decoding

    def png(image: Image.Image) -> bytes:
        out = io.BytesIO()
        image.save(out, "PNG", compress_level=1)
        return out.getvalue()

    huge = png(Image.new("L", (9_000, 6_000), 120))  # 54 MP in a few hundred KB
    photo = decoding.decode(Path("huge.png"), huge, 640)
    height, width, _ = photo.pixels.shape
    assert 640 <= max(width, height) < 2 * 640 and width * height <= 2 * 640 * 640
    assert (photo.info.width, photo.info.height) == (9_000, 6_000)
    assert photo.scale == 9_000 / width
    # Every 8-bit colour type, with strips of a few rows, decodes exactly.
    monkeypatch.setattr(decoding, "REDUCE_ABOVE_PIXELS", 0)
    monkeypatch.setattr(decoding, "_STRIP_PIXELS", 50_000)
    source = Image.open(GROUP / "solvay_conference_1927.png").convert("RGB").crop((0, 0, 1700, 1000))
    for mode in ("RGB", "RGBA", "L", "LA"):
        data = png(source.convert(mode))
        expected = Image.open(io.BytesIO(data)).convert("RGB").reduce(1700 // 640)
        decoded = decoding.decode(Path(f"{mode}.png"), data, 640)
        assert np.array_equal(decoded.pixels, np.asarray(expected)), mode


def test_a_terminal_preview_keeps_faces_in_proportion(cli, library):
    """A terminal's cells are twice as tall as wide: a square face is drawn half as many rows as columns."""
    cli("cluster")
    session = cli("name", "--preview", "1", input="q\n")
    rows = [line for line in session.stdout.splitlines() if "▀" in line]
    assert rows and len(rows) * 2 == len(rows[0].strip())
