"""find, who and verify, on real photos."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from conftest import GROUP, lfw_photo


@pytest.fixture
def family(cli, tmp_path) -> Path:
    """Photos of Colin, of Tony, of both together, and a dated one."""
    folder = tmp_path / "family"
    folder.mkdir()
    for n in (1, 2):
        shutil.copy(lfw_photo("Colin_Powell", n), folder / f"colin_{n}.jpg")
        shutil.copy(lfw_photo("Tony_Blair", n), folder / f"tony_{n}.jpg")
    both = Image.new("RGB", (500, 250))
    both.paste(Image.open(lfw_photo("Colin_Powell", 3)), (0, 0))
    both.paste(Image.open(lfw_photo("Tony_Blair", 3)), (250, 0))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2021:06:01 10:00:00"
    both.save(folder / "both.jpg", exif=exif)
    # The portraits have no capture date: they go by their files' date, in 2019.
    for portrait in folder.glob("*_?.jpg"):
        os.utime(portrait, (1552000000, 1552000000))
    assert cli("scan", str(folder), "--min-face-size", "60").exit_code == 0
    for record in map(json.loads, cli("export").stdout.splitlines()):
        for face in sorted(record["faces"], key=lambda f: f["box"][0]):
            name = Path(record["path"]).stem
            person = "Colin" if name.startswith("colin") or (name == "both" and face["box"][0] < 250) else "Tony"
            assert cli("assign", str(face["id"]), person).exit_code == 0
    return folder


def found(cli, *args) -> list[str]:
    result = cli("find", *args)
    assert result.exit_code == (0 if result.stdout else 1), result.output  # nothing found: 1, as grep
    return sorted(Path(p).name for p in result.stdout.splitlines())


def test_find_all_any_not_and_only(cli, family):
    assert found(cli, "colin") == ["both.jpg", "colin_1.jpg", "colin_2.jpg"]
    assert found(cli, "Colin", "Tony") == ["both.jpg"]
    assert found(cli, "Colin", "Tony", "--any") == sorted(
        ["both.jpg", "colin_1.jpg", "colin_2.jpg", "tony_1.jpg", "tony_2.jpg"])
    assert found(cli, "Colin", "--not", "Tony") == ["colin_1.jpg", "colin_2.jpg"]
    assert found(cli, "Colin", "--only") == ["colin_1.jpg", "colin_2.jpg"]


def test_find_by_capture_date_and_for_scripts(cli, family):
    assert found(cli, "Tony", "--year", "2021") == ["both.jpg"]
    assert found(cli, "Tony", "--since", "2021-06-02") == []
    assert found(cli, "Tony", "--until", "2021-06-01") == ["both.jpg", "tony_1.jpg", "tony_2.jpg"]
    assert found(cli, "Tony", "--until", "2020-01-01") == ["tony_1.jpg", "tony_2.jpg"]
    nul = cli("find", "Colin", "-0").stdout
    assert nul.endswith("\0") and nul.count("\0") == 3 and "\n" not in nul
    data = json.loads(cli("find", "Colin", "Tony", "--json").stdout)
    assert data == [{"path": str(family / "both.jpg"), "taken_at": "2021-06-01T10:00:00",
                     "media": "photo", "people": ["Colin", "Tony"], "ages": {}}]  # ages: of people with a birth date
    bad = cli("find", "Tony", "--since", "June")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.stderr


def test_find_suggests_names_for_an_unknown_one(cli, family):
    result = cli("find", "Colln")
    assert result.exit_code == 2
    assert "no person named 'Colln'; did you mean 'Colin'?" in result.stderr


def test_who_names_known_people_in_any_photo_and_says_unknown_otherwise(cli, family):
    result = cli("who", str(lfw_photo("Colin_Powell", 5)), str(lfw_photo("Laura_Bush")), "--json")
    assert result.exit_code == 0, result.output
    colin, stranger = json.loads(result.stdout)
    assert colin["faces"][0]["person"] == "Colin"
    assert colin["faces"][0]["distance"] <= colin["threshold"]
    assert stranger["faces"][0]["person"] is None
    assert stranger["faces"][0]["nearest"] in ("Colin", "Tony")
    assert stranger["faces"][0]["distance"] > stranger["threshold"]
    text = cli("who", str(lfw_photo("Laura_Bush"))).stdout
    assert "unknown (nearest" in text and "box " in text


def test_verify_says_same_or_different_with_exit_codes_like_cmp(cli):
    same = cli("verify", str(lfw_photo("Tony_Blair", 1)), str(lfw_photo("Tony_Blair", 5)), "--json")
    assert same.exit_code == 0
    figures = json.loads(same.stdout)
    assert figures["same"] is True and figures["distance"] <= figures["threshold"]
    assert figures["pack"] == "sc_dlib" and figures["threshold"] == pytest.approx(0.4515)
    different = cli("verify", str(lfw_photo("Tony_Blair", 1)), str(lfw_photo("Laura_Bush", 1)))
    assert different.exit_code == 1 and different.stdout.startswith("different people: distance")


def test_verify_needs_exactly_one_face_or_face_n(cli, tmp_path):
    group = str(GROUP / "two_people.jpg")
    several = cli("verify", group, str(lfw_photo("Tony_Blair")))
    assert several.exit_code == 2 and "2 faces found; choose one with --face-a N" in several.stderr
    assert cli("verify", group, str(lfw_photo("Tony_Blair")), "--face", "1").exit_code in (0, 1)
    blank = tmp_path / "blank.jpg"
    Image.new("RGB", (300, 300), (120, 160, 200)).save(blank)
    none = cli("verify", str(blank), str(lfw_photo("Tony_Blair")))
    assert none.exit_code == 2 and f"{blank}: no face found" in none.stderr


def test_verify_refuses_a_pack_without_a_measured_threshold(cli, tmp_path):
    unmeasured = tmp_path / "my_pack"
    shutil.copytree(Path(str(lfw_photo("Tony_Blair"))).parents[3] / "models" / "sc_dlib", unmeasured)
    result = cli("verify", str(lfw_photo("Tony_Blair", 1)), str(lfw_photo("Tony_Blair", 2)),
                 "--model", str(unmeasured))
    assert result.exit_code == 2 and "no verification threshold" in result.stderr
