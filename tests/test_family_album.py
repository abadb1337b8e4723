"""A family album end to end, on real photos of children growing up (FG-NET):
one name given to a baby follows that child for twenty years, through the
photos of each age, and does not reach another child."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3

import pytest
from PIL import Image

from conftest import FGNET
from facesort.people import timeline

BORN = {"009": 1964, "015": 1967}  # two children three years apart, as siblings are
OUTSIDE = "009A18.JPG"  # Ben at 18, kept out of the library: 'who' is asked about it


@pytest.fixture
def album(cli, tmp_path, db_path, monkeypatch):
    """Both children's photos scanned with the built-in pack, each dated June
    of the year they show the child's age."""
    monkeypatch.setenv("FACESORT_MODEL", "yunet_sface")
    folder = tmp_path / "album"
    folder.mkdir()
    for person in BORN:
        for photo in FGNET.glob(f"{person}A*.JPG"):
            if photo.name != OUTSIDE:
                shutil.copy(photo, folder)
    assert cli("scan", str(folder)).exit_code == 0
    with sqlite3.connect(db_path) as db:
        for photo_id, path in db.execute("SELECT id, path FROM photos").fetchall():
            person, age = re.search(r"(\d{3})A(\d{2})", path).groups()
            db.execute("UPDATE photos SET taken_at = ? WHERE id = ?",
                       (f"{BORN[person] + int(age)}-06-01T10:00:00", photo_id))
    return folder


def names(cli) -> dict[str, str | None]:
    """Each photo's child (by file name) and the name facesort gives its face."""
    found = {}
    for line in cli("export").stdout.splitlines():
        photo = json.loads(line)
        [face] = photo["faces"]
        found[photo["path"].rsplit("/", 1)[1]] = face["person"]
    return found


def face_id(cli, photo_name: str) -> int:
    return next(face["id"] for line in cli("export").stdout.splitlines()
                for photo in [json.loads(line)] if photo["path"].endswith(photo_name)
                for face in photo["faces"])


def name_the_babies(cli) -> None:
    """Each child named once, on a baby photo; the babies look alike and are grouped together."""
    cli("cluster")
    assert cli("assign", str(face_id(cli, "009A00.JPG")), "Ben").exit_code == 0
    assert cli("assign", str(face_id(cli, "015A00.JPG")), "Ann").exit_code == 0
    assert cli("cluster").exit_code == 0


def test_one_name_given_to_a_baby_follows_the_child_for_years(cli, album, monkeypatch):
    name_the_babies(cli)
    given = names(cli)
    ben = [given[photo] for photo in given if photo.startswith("009")]
    assert len(ben) == 12 and ben.count("Ben") >= 9, given  # 0 to 22 years old
    assert all(given[photo] != "Ben" for photo in given if photo.startswith("015")), given
    assert all(given[photo] != "Ann" for photo in given if photo.startswith("009")), given
    # In one round, as before names chained, the name stays near the baby photos.
    monkeypatch.setattr(timeline, "CHAIN_ROUNDS", 1)
    assert cli("cluster", "--full").exit_code == 0
    once = names(cli)
    assert [once[photo] for photo in once if photo.startswith("009")].count("Ben") <= 4, once


def test_who_follows_the_names_through_time_on_a_new_dated_photo(cli, album, tmp_path):
    """Ben at 18, taken in 1982, in no library: his baby photo alone is too far
    from it, his photos the names chained to are near."""
    name_the_babies(cli)
    photo = tmp_path / "ben_at_18.jpg"
    image = Image.open(FGNET / OUTSIDE)
    exif = image.getexif()
    exif.get_ifd(0x8769)[0x9003] = "1982:06:01 10:00:00"  # DateTimeOriginal
    image.save(photo, exif=exif)
    [answer] = json.loads(cli("who", str(photo), "--json").stdout)
    [face] = answer["faces"]
    assert face["person"] == "Ben", face
