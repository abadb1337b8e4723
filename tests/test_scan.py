"""Scanning real photos with the real sc_dlib pack."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import pytest
from PIL import Image

from conftest import GROUP, GROUP_FACES, lfw_photo
from facesort.scanning import decoding
from facesort.scanning.scanner import ScanEvents, scan


def export_by_name(cli) -> dict[str, dict]:
    result = cli("export")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return {os.path.basename(r["path"]): r for r in records}


@pytest.fixture
def count_decodes(monkeypatch):
    calls = []
    real = decoding.decode

    def counting(path, data, long_side):
        calls.append(path)
        return real(path, data, long_side)

    monkeypatch.setattr(decoding, "decode", counting)
    return calls


def test_group_photos_give_the_expected_face_counts(cli, tmp_path):
    result = cli("scan", str(GROUP), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["new"] == len(GROUP_FACES)
    assert summary["faces"] == sum(GROUP_FACES.values())
    found = {name: len(r["faces"]) for name, r in export_by_name(cli).items()}
    assert found == GROUP_FACES


def _store_with_orientation(upright: Image.Image, orientation: int, path):
    """Save ``upright`` so that a viewer applying EXIF ``orientation`` shows it."""
    stored = {
        1: upright,
        3: upright.transpose(Image.Transpose.ROTATE_180),
        6: upright.transpose(Image.Transpose.ROTATE_90),
        8: upright.transpose(Image.Transpose.ROTATE_270),
    }[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, quality=95, exif=exif)


def test_every_exif_orientation_gives_the_same_displayed_boxes(cli, tmp_path):
    upright = Image.open(GROUP / "insightface_t1.jpg").convert("RGB")
    folder = tmp_path / "rotated"
    folder.mkdir()
    for orientation in (1, 3, 6, 8):
        _store_with_orientation(upright, orientation, folder / f"o{orientation}.jpg")
    assert cli("scan", str(folder)).exit_code == 0
    records = export_by_name(cli)
    reference = sorted(face["box"] for face in records["o1.jpg"]["faces"])
    assert len(reference) == GROUP_FACES["insightface_t1.jpg"]
    for orientation in (3, 6, 8):
        record = records[f"o{orientation}.jpg"]
        assert (record["width"], record["height"]) == upright.size
        boxes = sorted(face["box"] for face in record["faces"])
        assert len(boxes) == len(reference)
        for box, ref in zip(boxes, reference):
            assert box == pytest.approx(ref, abs=4.0), (orientation, box, ref)


def test_an_unchanged_rescan_decodes_nothing(store, pack, photos, count_decodes):
    first = scan(store, [photos], pack)
    assert first.new == 6 and first.faces >= 6
    count_decodes.clear()
    again = scan(store, [photos], pack)
    assert again.unchanged == 6 and again.new == again.changed == again.faces == 0
    assert count_decodes == []


def test_a_moved_photo_keeps_its_face_ids_without_detection(cli, photos, count_decodes):
    assert cli("scan", str(photos)).exit_code == 0
    before = export_by_name(cli)["Colin_Powell_1.jpg"]
    (photos / "2024").mkdir()
    os.rename(photos / "colin" / "Colin_Powell_1.jpg", photos / "2024" / "renamed.jpg")
    count_decodes.clear()
    result = cli("scan", str(photos), "--json")
    assert json.loads(result.stdout)["moved"] == 1
    assert count_decodes == []
    after = export_by_name(cli)
    assert "Colin_Powell_1.jpg" not in after
    assert after["renamed.jpg"]["faces"] == before["faces"]


def test_a_copy_gets_the_faces_of_the_original_with_new_ids(store, pack, photos, count_decodes):
    scan(store, [photos], pack)
    shutil.copy(photos / "tony" / "Tony_Blair_1.jpg", photos / "tony" / "copy.jpg")
    count_decodes.clear()
    report = scan(store, [photos], pack)
    assert (report.new, report.unchanged) == (1, 6)
    assert report.faces == len(store.faces_of(store.photo_state(str(photos / "tony" / "Tony_Blair_1.jpg"), 1).id, 1))
    assert count_decodes == []


def test_a_changed_photo_is_detected_again(store, pack, photos, tmp_path):
    scan(store, [photos], pack)
    target = photos / "tony" / "Tony_Blair_1.jpg"
    shutil.copy(GROUP / "two_people.jpg", target)
    report = scan(store, [photos], pack)
    assert (report.changed, report.unchanged, report.faces) == (1, 5, 2)


def test_a_vanished_photo_is_dropped_but_a_missing_root_keeps_everything(cli, photos, tmp_path):
    assert cli("scan", str(photos)).exit_code == 0
    (photos / "tony" / "Tony_Blair_2.jpg").unlink()
    result = cli("scan", str(photos), "--json")
    assert json.loads(result.stdout)["removed"] == 1
    # The drive is unmounted: the root is gone, or an empty mount point is left.
    moved_away = tmp_path / "elsewhere"
    os.rename(photos, moved_away)
    result = cli("scan", str(photos), "--json")
    assert result.exit_code == 2 and "not found" in result.stderr
    # Beside a folder that is there, the scan goes on and exits 1.
    (tmp_path / "other").mkdir()
    result = cli("scan", str(photos), str(tmp_path / "other"), "--json")
    assert result.exit_code == 1
    assert "not found" in result.stderr
    assert json.loads(result.stdout)["removed"] == 0
    photos.mkdir()
    result = cli("scan", str(photos), "--json")
    assert "no photos found" in result.stderr
    assert json.loads(result.stdout)["removed"] == 0
    assert len(export_by_name(cli)) == 5


def test_an_interrupted_scan_resumes_to_the_same_result(tmp_path, pack, photos):
    from facesort.store import Store

    def stop_after(limit):
        done = []

        def on_photo(_faces):
            done.append(1)
            if len(done) == limit:
                raise KeyboardInterrupt

        return ScanEvents(on_photo=on_photo)

    with Store(tmp_path / "interrupted.db") as interrupted:
        with pytest.raises(KeyboardInterrupt):
            scan(interrupted, [photos], pack, events=stop_after(3))
        assert len(list(interrupted.export_photos(1))) == 3
        resumed = scan(interrupted, [photos], pack)
        assert (resumed.unchanged, resumed.new) == (3, 3)
        got = [(p.path, [f.box for f in p.faces]) for p in interrupted.export_photos(1)]
    with Store(tmp_path / "clean.db") as clean:
        scan(clean, [photos], pack)
        want = [(p.path, [f.box for f in p.faces]) for p in clean.export_photos(1)]
    assert got == want


def test_hidden_folders_and_symlinks_are_skipped_unless_asked(store, pack, photos, tmp_path):
    hidden = photos / ".thumbnails"
    hidden.mkdir()
    shutil.copy(lfw_photo("Hans_Blix"), hidden / "thumb.jpg")
    (photos / "notes.txt").write_text("not a photo")
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(lfw_photo("Laura_Bush"), outside / "laura.jpg")
    os.symlink(outside, photos / "linked")
    assert scan(store, [photos], pack).new == 6
    from facesort.scanning.scanner import ScanOptions

    followed = scan(store, [photos], pack, ScanOptions(follow_symlinks=True))
    assert (followed.new, followed.unchanged) == (1, 6)


def test_capture_time_comes_from_exif(cli, tmp_path):
    folder = tmp_path / "dated"
    folder.mkdir()
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2019:07:04 12:30:05"
    Image.open(lfw_photo("Laura_Bush")).save(folder / "laura.jpg", exif=exif)
    assert cli("scan", str(folder)).exit_code == 0
    assert export_by_name(cli)["laura.jpg"]["taken_at"] == "2019-07-04T12:30:05"


def test_min_face_size_drops_small_faces(cli, tmp_path):
    result = cli("scan", str(GROUP / "solvay_conference_1927.png"), "--min-face-size", "90", "--json")
    assert 0 < json.loads(result.stdout)["faces"] < GROUP_FACES["solvay_conference_1927.png"]


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif", ".bmp"])
def test_every_supported_format_is_scanned(cli, tmp_path, suffix):
    folder = tmp_path / "formats"
    folder.mkdir()
    Image.open(lfw_photo("Colin_Powell")).save(folder / f"colin{suffix}")
    result = cli("scan", str(folder), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["faces"] == 1


def test_heic_photos_are_read_with_the_extra(cli, tmp_path):
    import pillow_heif  # in the dev extra, so CI always has it

    pillow_heif.register_heif_opener()
    folder = tmp_path / "phone"
    folder.mkdir()
    Image.open(lfw_photo("Colin_Powell")).save(folder / "IMG_0001.HEIC", quality=90)
    result = cli("scan", str(folder), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["faces"] == 1


def test_heic_without_the_extra_says_how_to_install_it(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(decoding, "_heif_opener_registered", lambda: False)
    folder = tmp_path / "phone"
    folder.mkdir()
    (folder / "IMG_0002.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    result = cli("scan", str(folder))
    assert result.exit_code == 1
    assert "pip install 'facesort[heic]'" in result.stderr


def test_a_killed_scan_leaves_a_sound_library_that_carries_on(tmp_path):
    import subprocess
    import sys
    import time

    folder = tmp_path / "many"
    folder.mkdir()
    for person in ("Colin_Powell", "Tony_Blair", "Hans_Blix", "Laura_Bush"):
        for n in range(1, 11):
            shutil.copy(lfw_photo(person, n), folder / f"{person}_{n}.jpg")
    db = tmp_path / "killed.db"
    env = dict(os.environ, FACESORT_DB=str(db))
    proc = subprocess.Popen([sys.executable, "-m", "facesort", "scan", str(folder), "-q"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    saved = 0
    while time.monotonic() < deadline and saved < 5 and proc.poll() is None:
        time.sleep(0.05)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as conn:
                    saved = conn.execute("SELECT count(*) FROM photos").fetchone()[0]
            except sqlite3.OperationalError:
                pass  # schema not created yet
    proc.kill()
    proc.wait()
    assert 0 < saved < 40, "the scan should have been killed part way"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rerun = subprocess.run([sys.executable, "-m", "facesort", "scan", str(folder), "--json"], env=env,
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["new"] + summary["unchanged"] == 40
    assert summary["unchanged"] >= saved - 1
