"""Faults from issue 17 (fault zoo, round two): each test says in its
docstring what facesort survives, and failed before its fix."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DLIB_PACK, GROUP, lfw_photo, one_line
from test_sidecars import exiftool, export

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    return folder


def run_facesort(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """facesort in its own process, for what CliRunner cannot show: the real
    streams' encoding, a command that could hang."""
    return subprocess.run([sys.executable, "-m", "facesort", *args], capture_output=True,
                          timeout=timeout, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def name_only_face(cli, photo_name: str, person: str) -> None:
    face = export(cli)[photo_name]["faces"][0]
    assert cli("assign", str(face["id"]), person).exit_code == 0


# -- 5: a damaged library -------------------------------------------------------------------

def damage(db_path: Path, table: str = "faces") -> None:
    """Garbage over the pages of ``table``, as a failing disk leaves it; the
    file's header and schema are intact."""
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        pages = [row[0] for row in db.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype != 'internal'", (table,))]
    with open(db_path, "r+b") as raw:
        for page in pages:
            raw.seek((page - 1) * page_size)
            raw.write(os.urandom(page_size))


@pytest.mark.parametrize("command", [["status"], ["export"], ["write"], ["suggest"],
                                     ["who", str(lfw_photo("Colin_Powell", 1))]])
def test_a_damaged_library_says_so_inone_line(cli, library, db_path, command):
    """facesort survives garbage written inside the library: each command says in one
    line which library is damaged and how to check and restore it, and exits 2."""
    damage(db_path)
    result = cli(*command)
    assert result.exit_code == 2, result.output
    line = one_line(result)
    assert str(db_path) in line and "damaged" in line, line
    assert "facesort check" in line and "facesort restore" in line, line


# -- 6: export into a folder that does not exist --------------------------------------------

def test_export_creates_the_folders_of_its_output_as_show_does(cli, library, tmp_path):
    """facesort survives 'export -o' into folders that are not there yet: it makes them."""
    out = tmp_path / "no" / "such" / "dir" / "out.jsonl"
    result = cli("export", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 22


def test_export_into_a_place_it_cannot_write_isone_line(cli, library, tmp_path):
    """facesort survives 'export -o' where a file stands in the way of a folder: one line, exit 2."""
    (tmp_path / "a_file").write_text("")
    result = cli("export", "-o", str(tmp_path / "a_file" / "out.jsonl"))
    assert result.exit_code == 2, result.output
    assert str(tmp_path / "a_file") in one_line(result)


# -- 7: a stdout that is not UTF-8 ------------------------------------------------------------

def test_a_stdout_that_is_not_utf8_gets_escapes_not_a_traceback(cli, library, db_path):
    """facesort survives printing a name with non-ASCII letters to an ASCII stdout."""
    name_only_face(cli, "Colin_Powell_1.jpg", "Zoë Ñuñez")
    env = {"PYTHONIOENCODING": "ascii", "FACESORT_DB": str(db_path), "FACESORT_MODEL": str(DLIB_PACK)}
    people = run_facesort("people", env=env)
    assert people.returncode == 0, people.stderr.decode()
    assert b"Zo\\xeb \\xd1u\\xf1ez" in people.stdout
    renamed = run_facesort("rename", "Zoë Ñuñez", "Zoë", env=env)
    assert renamed.returncode == 0 and b"Traceback" not in renamed.stderr, renamed.stderr.decode()


def test_find_prints_a_non_ascii_path_as_its_bytes_to_an_ascii_stdout(cli, folder, db_path):
    """facesort survives 'find' on a photo named café.jpg with an ASCII stdout: the path's own bytes."""
    shutil.copy(lfw_photo("Colin_Powell", 1), folder / "café.jpg")
    assert cli("scan", str(folder)).exit_code == 0
    name_only_face(cli, "café.jpg", "Colin")
    found = run_facesort("find", "Colin", env={"PYTHONIOENCODING": "ascii", "FACESORT_DB": str(db_path)})
    assert found.returncode == 0, found.stderr.decode()
    assert found.stdout == os.fsencode(folder / "café.jpg") + b"\n"


# -- 8: who and verify on a FIFO --------------------------------------------------------------

@pytest.mark.parametrize("verb", ["who", "verify"])
def test_who_and_verify_on_a_fifo_say_so_and_do_not_hang(library, db_path, tmp_path, verb):
    """facesort survives 'who' and 'verify' given a named pipe: one line, no hang."""
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    args = [verb, str(fifo)] + ([str(lfw_photo("Colin_Powell", 1))] if verb == "verify" else [])
    result = run_facesort(*args, env={"FACESORT_DB": str(db_path), "FACESORT_MODEL": str(DLIB_PACK)},
                          timeout=60)
    assert result.returncode in (1, 2), result.stderr.decode()
    assert b"Traceback" not in result.stderr
    assert f"{fifo}: not a regular file".encode() in result.stderr


# -- 9: long file names ----------------------------------------------------------------------

def test_a_photo_with_a_long_name_gets_its_sidecar(cli, folder):
    """facesort survives a 240-byte file name: the sidecar is written anyway."""
    photo = folder / ("a" * 236 + ".jpg")
    shutil.copy(lfw_photo("Colin_Powell", 1), photo)
    assert cli("scan", str(folder)).exit_code == 0
    name_only_face(cli, photo.name, "Colin")
    result = cli("write")
    assert result.exit_code == 0, result.output
    assert exiftool(Path(f"{photo}.xmp"))["PersonInImage"] == ["Colin"]
    assert sorted(p.name for p in folder.iterdir()) == [photo.name, photo.name + ".xmp"]


# -- smaller things: read-only sidecars, stale temporary files -------------------------------

def test_a_read_only_sidecar_is_left_as_it_is_and_counted_as_failed(cli, folder):
    """facesort survives a sidecar the user made read-only (0444): it is not replaced."""
    shutil.copy(lfw_photo("Colin_Powell", 1), folder / "colin.jpg")
    assert cli("scan", str(folder)).exit_code == 0
    name_only_face(cli, "colin.jpg", "Colin")
    assert cli("write").exit_code == 0
    sidecar = folder / "colin.jpg.xmp"
    sidecar.chmod(0o444)
    before = sidecar.read_bytes()
    assert cli("rename", "Colin", "Colin Powell").exit_code == 0
    result = cli("write")
    assert result.exit_code == 1, result.output
    assert f"{sidecar}: the sidecar is read-only" in one_line(result)
    assert "1 failed" in result.stdout
    assert sidecar.read_bytes() == before and (sidecar.stat().st_mode & 0o777) == 0o444


def test_temporary_files_left_by_a_killed_write_are_removed_by_the_next(cli, folder):
    """facesort survives a kill during 'write': the next write removes the temporary files left."""
    shutil.copy(lfw_photo("Colin_Powell", 1), folder / "colin.jpg")
    assert cli("scan", str(folder)).exit_code == 0
    name_only_face(cli, "colin.jpg", "Colin")
    stale = folder / ".colin.jpg.xmp.0badf00d.tmp"
    stale.write_text("<half a sidecar")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    fresh = folder / ".colin.jpg.xmp.0badcafe.tmp"  # another write, going on now
    fresh.write_text("<being written")
    other = folder / ".notes.txt.0badf00d.tmp"  # not facesort's
    other.write_text("")
    os.utime(other, (an_hour_ago, an_hour_ago))
    assert cli("write").exit_code == 0
    assert not stale.exists() and fresh.exists() and other.exists()


def test_status_notices_damage_where_its_counts_do_not_read(cli, library, db_path):
    """facesort survives damage in the photos table, which status's counts never read:
    status says the library is damaged instead of all is well."""
    damage(db_path, "photos")
    result = cli("status")
    assert result.exit_code == 2, result.output
    assert "the library is damaged (page " in one_line(result).lower()


# -- 3: who answers what the library says ------------------------------------------------------

def test_who_answers_the_users_decision_for_a_photo_in_the_library(cli, library):
    """facesort survives a face the user named against the model's opinion: 'who'
    answers the user's decision, and the model's guess beside it."""
    faces = export(cli)
    for person, first in (("Colin", "Colin_Powell"), ("Tony", "Tony_Blair")):
        ids = [str(faces[f"{first}_{n}.jpg"]["faces"][0]["id"]) for n in range(2, 7)]
        assert cli("assign", *ids, person).exit_code == 0
    assert cli("assign", str(faces["Colin_Powell_1.jpg"]["faces"][0]["id"]), "Tony").exit_code == 0
    photo = str(library / "Colin_Powell_1.jpg")
    said = cli("who", photo)
    assert said.exit_code == 0, said.output
    assert "Tony (your decision; the model alone says Colin at distance" in said.stdout
    answer = json.loads(cli("who", photo, "--json").stdout)[0]["faces"][0]
    assert (answer["person"], answer["source"], answer["model_person"]) == ("Tony", "user", "Colin")
    # A face the model agrees on says so once; a photo outside the library gets the model's answer.
    assert "Colin (your decision)\n" in cli("who", str(library / "Colin_Powell_2.jpg")).stdout
    outside = cli("who", str(lfw_photo("Colin_Powell", 9))).stdout
    assert "Colin (distance" in outside and "decision" not in outside


def test_who_never_names_a_face_with_a_person_the_user_rejected(cli, library):
    """facesort survives a rejection the model disagrees with: the face is unknown to 'who'."""
    faces = export(cli)
    ids = [str(faces[f"Colin_Powell_{n}.jpg"]["faces"][0]["id"]) for n in range(1, 7)]
    assert cli("assign", *ids, "Colin").exit_code == 0
    assert cli("reject", ids[0], "--from", "Colin").exit_code == 0
    said = cli("who", str(library / "Colin_Powell_1.jpg"))
    assert said.exit_code == 0, said.output
    assert "unknown (nobody is named on it; the model alone says Colin at distance" in said.stdout


# -- 2: photos that share a stem ----------------------------------------------------------------

def summary_line(result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def test_different_photos_sharing_a_stem_each_keep_their_names(cli, folder):
    """facesort survives IMG_0001.jpg and IMG_0001.png with --sidecar-name stem: each photo's
    names go to its own full-name sidecar, it says so, and a second write has nothing to do."""
    from PIL import Image

    shutil.copy(lfw_photo("Colin_Powell", 1), folder / "IMG_0001.jpg")
    Image.open(lfw_photo("Tony_Blair", 1)).save(folder / "IMG_0001.png")
    assert cli("scan", str(folder)).exit_code == 0
    name_only_face(cli, "IMG_0001.jpg", "Colin")
    name_only_face(cli, "IMG_0001.png", "Tony")
    first = cli("write", "--sidecar-name", "stem")
    assert summary_line(first).startswith("2 sidecars created"), first.output
    assert "IMG_0001.jpg, IMG_0001.png share the name IMG_0001.xmp but are different photos" in first.stderr
    assert exiftool(folder / "IMG_0001.jpg.xmp")["PersonInImage"] == ["Colin"]
    assert exiftool(folder / "IMG_0001.png.xmp")["PersonInImage"] == ["Tony"]
    assert not (folder / "IMG_0001.xmp").exists()
    again = cli("write", "--sidecar-name", "stem")
    assert summary_line(again) == "0 sidecars created, 0 updated, 2 unchanged (nothing to change)"


def test_an_existing_stem_sidecar_is_not_fought_over_by_two_photos(cli, folder):
    """facesort survives IMG_0001.xmp beside IMG_0001.jpg and IMG_0001.png: it is left as it is,
    the names go to full-name sidecars, and the next write settles."""
    from PIL import Image

    shutil.copy(lfw_photo("Colin_Powell", 1), folder / "IMG_0001.jpg")
    Image.open(lfw_photo("Tony_Blair", 1)).save(folder / "IMG_0001.png")
    lightroom = folder / "IMG_0001.xmp"
    lightroom.write_text('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
                         'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
                         'rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4"/>'
                         '</rdf:RDF></x:xmpmeta>')
    before = lightroom.read_bytes()
    assert cli("scan", str(folder)).exit_code == 0
    name_only_face(cli, "IMG_0001.jpg", "Colin")
    name_only_face(cli, "IMG_0001.png", "Tony")
    assert summary_line(cli("write")).startswith("2 sidecars created")
    assert lightroom.read_bytes() == before
    assert exiftool(folder / "IMG_0001.jpg.xmp")["PersonInImage"] == ["Colin"]
    assert exiftool(folder / "IMG_0001.png.xmp")["PersonInImage"] == ["Tony"]
    assert summary_line(cli("write")) == "0 sidecars created, 0 updated, 2 unchanged (nothing to change)"


def test_one_shot_in_two_files_shares_one_sidecar(cli, folder):
    """facesort survives a RAW+JPEG-like pair (same stem, same capture time and shape) with
    --sidecar-name stem: their names merge into the one sidecar, each face once, and it settles."""
    shot = folder / "IMG_0002.jpg"
    shutil.copy(lfw_photo("Colin_Powell", 1), shot)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-DateTimeOriginal=2024:05:01 10:00:00",
                    str(shot)], check=True)
    shutil.copy(shot, folder / "IMG_0002.jpeg")
    assert cli("scan", str(folder)).exit_code == 0
    name_only_face(cli, "IMG_0002.jpg", "Colin")
    name_only_face(cli, "IMG_0002.jpeg", "Colin")
    assert summary_line(cli("write", "--sidecar-name", "stem")).startswith("1 sidecars created")
    written = exiftool(folder / "IMG_0002.xmp")
    assert written["PersonInImage"] == ["Colin"] and len(written["RegionInfo"]["RegionList"]) == 1
    assert sorted(p.name for p in folder.glob("*.xmp")) == ["IMG_0002.xmp"]
    assert summary_line(cli("write", "--sidecar-name", "stem")) == \
        "0 sidecars created, 0 updated, 1 unchanged (nothing to change)"


# -- 1: a root reached through a symbolic link ----------------------------------------------------

def test_a_root_reached_through_a_link_is_the_same_photos(cli, photos, tmp_path):
    """facesort survives 'scan ~/Pictures' then 'scan pics' (a link to it): every photo once,
    under the path given first, in status, find, export and write."""
    link = tmp_path / "pics"
    link.symlink_to(photos)
    assert cli("scan", str(photos)).exit_code == 0
    again = cli("scan", str(link), "--json")
    assert again.exit_code == 0, again.output
    assert (json.loads(again.stdout)["new"], json.loads(again.stdout)["unchanged"]) == (0, 6)
    assert json.loads(cli("status", "--json").stdout)["photos"] == 6
    paths = [json.loads(line)["path"] for line in cli("export").stdout.splitlines()]
    assert len(paths) == 6 and all(p.startswith(str(photos) + os.sep) for p in paths)
    colin = next(p for p in paths if "Colin_Powell_1" in p)
    name_only_face(cli, Path(colin).name, "Colin")
    assert cli("find", "Colin").stdout == colin + "\n"
    assert summary_line(cli("write", str(link))).startswith("1 sidecars created")
    assert summary_line(cli("write")) == "0 sidecars created, 0 updated, 1 unchanged (nothing to change)"
    through_link = str(link / Path(colin).relative_to(photos))
    assert "Colin (your decision)" in cli("who", through_link).stdout
    # A rescan through either path keeps the photos there.
    assert json.loads(cli("scan", str(link), "--json").stdout)["removed"] == 0
    assert json.loads(cli("status", "--json").stdout)["photos"] == 6


def test_a_link_first_then_the_real_folder_keeps_the_links_paths(cli, photos, tmp_path):
    """facesort survives 'scan pics' (a link) then 'scan' of the folder it points to."""
    link = tmp_path / "pics"
    link.symlink_to(photos)
    assert cli("scan", str(link)).exit_code == 0
    again = json.loads(cli("scan", str(photos), "--json").stdout)
    assert (again["new"], again["unchanged"]) == (0, 6)
    paths = [json.loads(line)["path"] for line in cli("export").stdout.splitlines()]
    assert len(paths) == 6 and all(p.startswith(str(link) + os.sep) for p in paths)


def test_a_library_from_before_resolved_paths_learns_them_on_the_next_scan(cli, photos, tmp_path, db_path):
    """facesort survives an older library (photos stored through a link, no resolved paths):
    a scan of the real folder finds them the same photos, not copies."""
    link = tmp_path / "pics"
    link.symlink_to(photos)
    assert cli("scan", str(link)).exit_code == 0
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE photos SET real_path = NULL")
    first = json.loads(cli("scan", str(photos), "--json").stdout)
    assert (first["new"], first["unchanged"]) == (0, 6)
    assert json.loads(cli("status", "--json").stdout)["photos"] == 6


# -- smaller things: library warnings reaching the user raw ------------------------------------

def test_a_corrupt_exif_block_is_one_line_naming_the_photo(folder, tmp_path):
    """facesort survives a photo whose EXIF block is cut short: Pillow's warning becomes one
    line naming the photo, and the photo is scanned."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010E] = "a description longer than what is left of the block " * 2
    Image.open(lfw_photo("Colin_Powell", 1)).save(folder / "cut.jpg", exif=exif.tobytes()[:-60])
    result = run_facesort("scan", str(folder), "--db", str(tmp_path / "library.db"),
                          env={"FACESORT_MODEL": str(DLIB_PACK)})
    assert result.returncode == 0, result.stderr.decode()
    assert b"Warning" not in result.stderr, result.stderr.decode()
    assert f"{folder / 'cut.jpg'}: Tag data larger than file".encode() in result.stderr
    assert b"1 new" in result.stdout


def test_a_home_that_cannot_be_written_gives_no_onnxruntime_notice(tmp_path):
    """facesort survives a HOME it cannot write: onnxruntime's telemetry notice is not shown."""
    not_a_folder = tmp_path / "home"
    not_a_folder.write_text("")
    result = run_facesort("verify", str(lfw_photo("Colin_Powell", 1)), str(lfw_photo("Colin_Powell", 2)),
                          env={"HOME": str(not_a_folder), "FACESORT_MODEL": str(DLIB_PACK)})
    assert result.returncode in (0, 1), result.stderr.decode()
    assert result.stderr == b""


def test_cluster_on_copies_gives_no_sklearn_warning():
    """facesort survives a library of many copies of few photos: fewer distinct faces than
    blocks gives no ConvergenceWarning."""
    import warnings

    import numpy as np

    from facesort.people.grouping import BLOCK_SIZE, Blocking

    rng = np.random.default_rng(0)
    two = rng.normal(size=(2, 128)).astype(np.float32)
    copies = np.repeat(two, 3 * BLOCK_SIZE // 2, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        blocking = Blocking.fit(copies)
    assert len(blocking.centres) == 3


# -- smaller things: verify with a bystander ---------------------------------------------------

def test_verify_takes_the_face_that_dominates_a_photo_with_a_small_bystander(cli, tmp_path):
    """facesort survives a portrait with a small face cut off at its edge: verify compares the
    portrait's face, and says which face it took."""
    from PIL import Image

    photo = tmp_path / "with_bystander.jpg"
    canvas = Image.new("RGB", (800, 500), (120, 120, 120))
    canvas.paste(Image.open(lfw_photo("Colin_Powell", 1)).resize((500, 500)), (20, 0))
    # Cut off by the right edge.
    canvas.paste(Image.open(lfw_photo("Tony_Blair", 1)).resize((150, 150)), (680, 350))
    canvas.save(photo)
    same = cli("verify", str(photo), str(lfw_photo("Colin_Powell", 2)))
    assert same.exit_code == 0, same.output
    assert "same person" in same.stdout
    assert f"{photo}: 2 faces found; using face 1" in same.stderr
    # Two faces of a size still need a number.
    two = cli("verify", str(GROUP / "two_people.jpg"), str(lfw_photo("Colin_Powell", 2)))
    assert two.exit_code == 2 and "choose one with --face-a N" in two.stderr
