"""Every kind of bad file gives one line, is recorded, and the scan goes on."""

from __future__ import annotations

import builtins
import json
import os
import shutil
import struct
import zlib

import pytest

from conftest import DATA, GROUP, lfw_photo
from facesort.scanning import scanner as scan_module


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG header for a huge image with no pixel data: a
    decompression bomb as far as anything that trusts the header knows."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
            ">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


@pytest.fixture
def messy(tmp_path, monkeypatch):
    folder = tmp_path / "messy"
    folder.mkdir()
    shutil.copy(lfw_photo("Colin_Powell"), folder / "good.jpg")
    whole = lfw_photo("Tony_Blair").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "corrupt.jpg").write_bytes(os.urandom(5000))
    (folder / "text.png").write_text("this is not a picture\n")
    shutil.copy(GROUP / "two_people.jpg", folder / "really_a_jpeg.png")
    (folder / "bomb.png").write_bytes(_png_header_only(40_000, 40_000))
    (folder / "truncated.dng").write_bytes((DATA / "raw" / "canon_eos_6d.dng").read_bytes()[:100_000])
    (folder / "corrupt.NEF").write_bytes(os.urandom(5000))
    unreadable = folder / "locked.jpg"
    shutil.copy(lfw_photo("Hans_Blix"), unreadable)
    unreadable.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make this one file refuse as it would for a user
        real_open = builtins.open

        def refusing_open(file, *args, **kwargs):
            if os.fspath(file) == str(unreadable):
                raise PermissionError(13, "Permission denied", str(unreadable))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(scan_module, "open", refusing_open, raising=False)
    return folder


EXPECTED_REASONS = {
    "truncated.jpg": "truncated",
    "empty.jpg": "empty file",
    "corrupt.jpg": "not an image",
    "text.png": "not an image",
    "bomb.png": "megapixel limit",
    "truncated.dng": "corrupt or truncated raw file",
    "corrupt.NEF": "not a raw file",
    "locked.jpg": "permission denied",
}


def test_each_bad_file_gets_one_line_and_the_scan_goes_on(cli, messy):
    result = cli("scan", str(messy), "--json")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(EXPECTED_REASONS), result.stderr
    for name, reason in EXPECTED_REASONS.items():
        line = next(line for line in lines if line.startswith(str(messy / name) + ": "))
        assert reason in line.lower(), line
    summary = json.loads(result.stdout)
    assert summary["failed"] == len(EXPECTED_REASONS)
    assert summary["new"] == 2  # good.jpg, and the JPEG named .png
    assert summary["faces"] >= 3


def test_failed_files_are_listed_by_status_and_retried(cli, messy):
    cli("scan", str(messy))
    status = cli("status", "--errors", "--json")
    assert status.exit_code == 0
    listed = {os.path.basename(e["path"]): e["error"] for e in json.loads(status.stdout)["errors"]}
    assert set(listed) == set(EXPECTED_REASONS)
    # Fix one file: the next scan picks it up; the good photos stay untouched.
    shutil.copy(lfw_photo("Tony_Blair"), messy / "truncated.jpg")
    again = json.loads(cli("scan", str(messy), "--json").stdout)
    assert (again["new"], again["failed"], again["unchanged"]) == (1, len(EXPECTED_REASONS) - 1, 2)


def test_a_photo_that_breaks_keeps_what_was_stored(cli, tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    photo = folder / "a.jpg"
    shutil.copy(lfw_photo("Colin_Powell"), photo)
    cli("scan", str(folder))
    before = cli("export").stdout
    photo.write_bytes(photo.read_bytes()[:2000])  # a half-synced file
    assert cli("scan", str(folder)).exit_code == 1
    assert json.loads(cli("status", "--json").stdout)["faces"] >= 1
    shutil.copy(lfw_photo("Colin_Powell"), photo)
    assert cli("scan", str(folder)).exit_code == 0
    assert cli("export").stdout == before


def test_an_unreadable_folder_is_reported_and_its_photos_are_kept(cli, tmp_path, monkeypatch):
    from facesort.scanning import walk

    root = tmp_path / "photos"
    (root / "locked").mkdir(parents=True)
    shutil.copy(lfw_photo("Colin_Powell"), root / "locked" / "a.jpg")
    shutil.copy(lfw_photo("Tony_Blair"), root / "b.jpg")
    assert cli("scan", str(root)).exit_code == 0
    real_scandir = os.scandir

    def refusing_scandir(path):
        if os.fspath(path) == str(root / "locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(walk.os, "scandir", refusing_scandir)
    result = cli("scan", str(root), "--json")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"{root / 'locked'}: permission denied"
    assert json.loads(result.stdout)["removed"] == 0
    assert len(json.loads(cli("status", "--json").stdout)["packs"]) == 1
    assert json.loads(cli("status", "--json").stdout)["photos"] == 2
