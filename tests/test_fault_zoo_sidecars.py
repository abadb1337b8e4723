"""Faults from issue 7 in sidecars, import, find and verify: each test says
in its docstring what facesort survives."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from conftest import GROUP, lfw_photo
from facesort.files import atomic_write
from facesort.store import Store
from test_sidecars import exiftool, export

KNOWN = GROUP.parent / "known"


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    return folder


def keywords_xmp(*, person_in_image=(), tags_list=(), hierarchical=(), subject=()) -> str:
    """A sidecar holding only keywords, as digiKam, Lightroom or a flat tagger write them."""

    def bag(prefix: str, name: str, items, kind: str = "Bag") -> str:
        if not items:
            return ""
        lis = "".join(f"<rdf:li>{item}</rdf:li>" for item in items)
        return f"<{prefix}:{name}><rdf:{kind}>{lis}</rdf:{kind}></{prefix}:{name}>"

    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:digiKam="http://www.digikam.org/ns/1.0/" xmlns:lr="http://ns.adobe.com/lightroom/1.0/"'
        ' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        + bag("Iptc4xmpExt", "PersonInImage", person_in_image)
        + bag("digiKam", "TagsList", tags_list, "Seq")
        + bag("lr", "hierarchicalSubject", hierarchical)
        + bag("dc", "subject", subject)
        + "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )


def portraits(folder: Path, *names: str) -> None:
    """One-face photos, NAME.jpg each, of different people from LFW."""
    people = ["Colin_Powell", "Tony_Blair", "Laura_Bush", "Jean_Chretien", "Junichiro_Koizumi",
              "Gerhard_Schroeder"]
    for name, person in zip(names, people):
        shutil.copy(lfw_photo(person), folder / f"{name}.jpg")


def named(cli) -> dict[str, tuple[str | None, str | None]]:
    """photo file name → (person, source) of its one face."""
    return {name: (r["faces"][0]["person"], r["faces"][0]["person_source"])
            for name, r in export(cli).items() if len(r["faces"]) == 1}


# -- 1: facesort's own keywords ----------------------------------------------------------

def test_import_never_turns_facesorts_own_automatic_names_into_decisions(cli, folder):
    """facesort survives write then import: its own automatic names stay automatic."""
    for n in range(1, 5):
        shutil.copy(lfw_photo("Colin_Powell", n), folder / f"colin_{n}.jpg")
    cli("scan", str(folder))
    first = export(cli)["colin_1.jpg"]["faces"][0]["id"]
    assert cli("assign", str(first), "Colin").exit_code == 0
    assert cli("cluster").exit_code == 0
    auto = {name for name, (person, source) in named(cli).items() if source == "auto"}
    assert auto and all(named(cli)[name][0] == "Colin" for name in auto)
    assert cli("write").exit_code == 0
    # Every sidecar carries the name in all four keyword properties, no region of another app.
    assert exiftool(folder / f"{sorted(auto)[0]}.xmp")["PersonInImage"] == ["Colin"]
    result = cli("import", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["faces_named"] == 0
    assert {named(cli)[name] for name in auto} == {("Colin", "auto")}
    # So --confirmed-only still leaves them out.
    assert cli("write", "--confirmed-only").exit_code == 0
    for name in auto:
        assert "PersonInImage" not in exiftool(folder / f"{name}.xmp")
    assert exiftool(folder / "colin_1.jpg.xmp")["PersonInImage"] == ["Colin"]


# -- 2: keyword-only sidecars ------------------------------------------------------------

def test_a_lightroom_keyword_only_sidecar_names_the_one_face(cli, folder):
    """facesort survives a Lightroom sidecar with only lr:hierarchicalSubject People|NAME."""
    portraits(folder, "angela")
    (folder / "angela.xmp").write_text(keywords_xmp(hierarchical=["People|Angela Bassett"]))
    cli("scan", str(folder))
    result = cli("import")
    assert result.exit_code == 0, result.output
    assert "1 faces named from 1 photos with tags (1 people)" in result.stdout
    assert named(cli)["angela.jpg"] == ("Angela Bassett", "import")


def test_a_digikam_tags_only_sidecar_names_the_one_face_also_in_a_nested_people_tree(cli, folder):
    """facesort survives digiKam TagsList-only sidecars, flat (People/NAME) and nested (People/Family/NAME)."""
    portraits(folder, "flat", "nested")
    (folder / "flat.jpg.xmp").write_text(keywords_xmp(tags_list=["People/Angela Bassett"]))
    # digiKam files the ancestors too when the user tagged them; they are no people.
    (folder / "nested.jpg.xmp").write_text(
        keywords_xmp(tags_list=["People", "People/Family", "People/Family/Ann Lee", "Places/Beach"],
                     subject=["People", "Family", "Ann Lee", "Beach"]))
    cli("scan", str(folder))
    assert cli("import").exit_code == 0
    faces = named(cli)
    assert faces["flat.jpg"] == ("Angela Bassett", "import")
    assert faces["nested.jpg"] == ("Ann Lee", "import")


def test_a_dc_subject_only_sidecar_names_the_one_face_when_its_only_keyword_is_the_name(cli, folder):
    """facesort survives a flat dc:subject-only sidecar whose one keyword is the person."""
    portraits(folder, "angela")
    (folder / "angela.jpg.xmp").write_text(keywords_xmp(subject=["Angela Bassett"]))
    cli("scan", str(folder))
    assert cli("import").exit_code == 0
    assert named(cli)["angela.jpg"] == ("Angela Bassett", "import")


def test_dc_subject_keywords_name_a_person_only_when_that_is_unambiguous(cli, folder):
    """facesort survives dc:subject lists with keywords like "beach": it makes no person of them."""
    portraits(folder, "known", "two_keywords", "in_a_tree", "person_too", "ours")
    (folder / "known.jpg.xmp").write_text(keywords_xmp(subject=["beach", "Angela Bassett"]))
    (folder / "two_keywords.jpg.xmp").write_text(keywords_xmp(subject=["beach", "holiday"]))
    (folder / "in_a_tree.jpg.xmp").write_text(keywords_xmp(hierarchical=["Places|Beach"], subject=["Beach"]))
    (folder / "person_too.jpg.xmp").write_text(
        keywords_xmp(person_in_image=["Ben Okri"], subject=["Ben Okri", "sunset"]))
    cli("scan", str(folder))
    ours = export(cli)["ours.jpg"]["faces"][0]["id"]
    assert cli("assign", str(ours), "Angela Bassett").exit_code == 0  # in the library now
    assert cli("import").exit_code == 0
    faces = named(cli)
    assert faces["known.jpg"] == ("Angela Bassett", "import")  # a person of the library
    assert faces["two_keywords.jpg"] == (None, None)
    assert faces["in_a_tree.jpg"] == (None, None)  # the tree says Beach is a place
    assert faces["person_too.jpg"] == ("Ben Okri", "import")  # "sunset" is no second person
    assert "beach" not in {n.casefold() for n in json.loads(cli("import", "--json").stdout)["people"]}


def test_import_reads_people_under_another_tag_with_people_tag(cli, folder):
    """facesort survives digiKam and Lightroom libraries that file people under another tag."""
    portraits(folder, "dk", "lr")
    (folder / "dk.jpg.xmp").write_text(keywords_xmp(tags_list=["Persons/Ann Lee"]))
    (folder / "lr.xmp").write_text(keywords_xmp(hierarchical=["Persons|Ben Okri"]))
    cli("scan", str(folder))
    assert json.loads(cli("import", "--json").stdout)["faces_named"] == 0
    result = cli("import", "--people-tag", "Persons", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["faces_named"] == 2
    assert named(cli) == {"dk.jpg": ("Ann Lee", "import"), "lr.jpg": ("Ben Okri", "import")}
    bad = cli("import", "--people-tag", "Tags//")
    assert bad.exit_code == 2 and "--people-tag" in bad.stderr


# -- 3: names holding a tree's separator ------------------------------------------------------

def test_names_with_slash_or_bar_stay_one_flat_name_in_digikam_and_lightroom(cli, folder, db_path):
    """facesort survives names with '/' and '|' already in the library: no nested tags are written."""
    shutil.copy(GROUP / "two_people.jpg", folder / "two.jpg")
    cli("scan", str(folder))
    left, right = sorted(export(cli)["two.jpg"]["faces"], key=lambda f: f["box"][0])
    # Names typed before facesort refused these characters, or imported from another app.
    with Store(db_path) as store:
        store.set_person([left["id"]], store.add_person("AC/DC").id)
        store.set_person([right["id"]], store.add_person("Simon | Garfunkel").id)
    result = cli("write")
    assert result.exit_code == 0, result.output
    data = exiftool(folder / "two.jpg.xmp")
    # digiKam splits TagsList at '/', Lightroom splits hierarchicalSubject at
    # '|', and digiKam reads Lightroom's tree when there is no TagsList.
    assert "TagsList" not in data and "HierarchicalSubject" not in data
    assert sorted(data["Subject"]) == sorted(data["PersonInImage"]) == ["AC/DC", "Simon | Garfunkel"]
    assert sorted(r["Name"] for r in data["RegionInfo"]["RegionList"]) == ["AC/DC", "Simon | Garfunkel"]
    assert "'AC/DC' is left out of digiKam's and Lightroom's keyword trees" in result.stderr
    # A rename takes the old keywords away; nothing nested is left behind.
    with Store(db_path) as store:
        store.rename_person(store.find_person("AC/DC").id, "ACDC")
    assert cli("write").exit_code == 0
    data = exiftool(folder / "two.jpg.xmp")
    assert data["TagsList"] == ["People/ACDC"]
    assert data["HierarchicalSubject"] == ["People|ACDC"]


# -- 4: failures are counted ------------------------------------------------------------------

def test_write_counts_files_it_could_not_write_and_exits_1(cli, folder, monkeypatch):
    """facesort survives a full disk while writing sidecars: the summary says how many failed."""
    portraits(folder, "a", "b")
    cli("scan", str(folder))
    for face in (r["faces"][0] for r in export(cli).values()):
        cli("assign", str(face["id"]), "Somebody")
    real_replace = os.replace

    def full_disk(src, dst, *args, **kwargs):
        if str(dst).endswith(".xmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full_disk)
    result = cli("write")
    assert result.exit_code == 1
    assert "0 sidecars created, 0 updated, 0 unchanged, 2 failed" in result.stdout
    assert "nothing to change" not in result.stdout
    assert result.stderr.count("No space left on device") == 2
    assert not list(folder.glob("*.xmp")) and not list(folder.glob(".*"))  # no temporary files left
    assert json.loads(cli("write", "--json").stdout)["failed"] == 2


def test_import_counts_sidecars_it_could_not_read(cli, folder):
    """facesort survives unreadable sidecars on import: the summary says how many failed."""
    portraits(folder, "a", "b")
    (folder / "a.jpg.xmp").write_text("<x:xmpmeta><rdf:RDF>not closed")
    cli("scan", str(folder))
    result = cli("import")
    assert result.exit_code == 1
    assert "regions matched no face; 1 failed" in result.stdout


# -- 5: file modes -------------------------------------------------------------------------

def test_an_updated_sidecar_keeps_its_mode_and_owner_and_a_new_one_follows_the_umask(cli, folder):
    """facesort survives sidecars shared with other users: it keeps their mode and owner."""
    portraits(folder, "old", "new")
    (folder / "old.xmp").write_text(keywords_xmp(subject=["holiday"]))
    os.chmod(folder / "old.xmp", 0o664)
    if os.geteuid() == 0:
        os.chown(folder / "old.xmp", 1234, 2345)
    cli("scan", str(folder))
    for face in (r["faces"][0] for r in export(cli).values()):
        cli("assign", str(face["id"]), "Somebody")
    previous = os.umask(0o022)
    try:
        assert cli("write").exit_code == 0
        assert cli("show", "Somebody", "--output", str(folder / "sheet.png")).exit_code == 0
        assert cli("export", "--output", str(folder / "faces.jsonl")).exit_code == 0
    finally:
        os.umask(previous)
    old = os.stat(folder / "old.xmp")
    assert stat.S_IMODE(old.st_mode) == 0o664
    if os.geteuid() == 0:
        assert (old.st_uid, old.st_gid) == (1234, 2345)
    for new in ("new.jpg.xmp", "sheet.png", "faces.jsonl"):
        assert stat.S_IMODE(os.stat(folder / new).st_mode) == 0o644, new


def test_atomic_write_gives_new_files_the_umask_mode_and_keeps_a_replaced_files_mode(tmp_path):
    """facesort survives writing exports under any umask: no file is made private by accident."""
    previous = os.umask(0o027)
    try:
        with atomic_write(tmp_path / "new.csv", "w") as out:
            out.write("a\n")
        (tmp_path / "shared.csv").write_text("old\n")
        os.chmod(tmp_path / "shared.csv", 0o666)
        with atomic_write(tmp_path / "shared.csv", "w") as out:
            out.write("new\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "new.csv").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "shared.csv").st_mode) == 0o666
    assert (tmp_path / "shared.csv").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv", "shared.csv"]


# -- 6: verify with a group photo -------------------------------------------------------------

def test_verify_picks_a_face_on_each_side(cli):
    """facesort survives checking face N of a group photo against a portrait."""
    group, biden, obama = GROUP / "obama_and_biden.jpg", KNOWN / "biden" / "biden.jpg", KNOWN / "obama" / "obama.jpg"
    # Faces from the left: Biden, Obama, the girl.
    assert cli("verify", str(group), str(obama), "--face-a", "2").exit_code == 0
    assert cli("verify", str(biden), str(group), "--face-b", "1").exit_code == 0
    assert cli("verify", str(group), str(biden), "--face-a", "2").exit_code == 1
    # --face picks in whichever photo has several faces; the portrait keeps its only one.
    assert cli("verify", str(group), str(obama), "--face", "2").exit_code == 0
    too_far = cli("verify", str(obama), str(group), "--face-a", "2", "--face-b", "2")
    assert too_far.exit_code == 2 and f"{obama}: --face-a 2: the photo has 1 faces" in too_far.stderr
    assert "--face-a 4" in cli("verify", "--help").stdout


# -- 7: find by date without EXIF --------------------------------------------------------------

def test_find_by_date_falls_back_to_the_files_date_for_photos_without_exif(cli, folder):
    """facesort survives photos without a capture date: --year, --since and --until use the file's date."""
    portraits(folder, "old", "new")
    os.utime(folder / "old.jpg", (1552046400, 1552046400))  # 2019-03-08 12:00 UTC
    os.utime(folder / "new.jpg", (1686225600, 1686225600))  # 2023-06-08 12:00 UTC
    cli("scan", str(folder))
    for face in (r["faces"][0] for r in export(cli).values()):
        cli("assign", str(face["id"]), "Somebody")

    def found(*args: str) -> list[str]:
        result = cli("find", "Somebody", *args)
        assert result.exit_code == (0 if result.stdout else 1), result.output  # nothing found: 1, as grep
        return sorted(Path(p).name for p in result.stdout.splitlines())

    assert found("--year", "2019") == ["old.jpg"]
    assert found("--since", "2020-01-01") == ["new.jpg"]
    assert found("--until", "2019-03-08") == ["old.jpg"]
    assert found("--since", "2019-03-09", "--until", "2023-06-07") == []
    assert "modification date" in cli("find", "--help").stdout


def test_a_name_with_a_slash_tagged_in_another_app_is_imported_as_it_is(cli, folder):
    """facesort survives importing 'AC/DC' from another app: the user's tag is kept, not refused."""
    portraits(folder, "a")
    (folder / "a.jpg.xmp").write_text(keywords_xmp(person_in_image=["AC/DC \t"]))
    cli("scan", str(folder))
    result = cli("import")
    assert result.exit_code == 0, result.output
    assert named(cli)["a.jpg"] == ("AC/DC", "import")
