"""Groups and people: clustering real LFW faces, naming, and keeping every decision."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from PIL import Image

from conftest import (
    BOTH_PACKS,
    FACERES_PACK,
    PEOPLE,
    copy_people,
    faces,
    group_of,
    lfw_photo,
    person_of,
)
from facesort.scanning.quality import best_first
from facesort.store import Store


@BOTH_PACKS
def test_cluster_puts_each_person_together_and_apart(cli, library):
    result = cli("cluster", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["groups"] >= len(PEOPLE)
    by_group: dict[int, Counter] = {}
    for face in faces(cli):
        if face["cluster"] is not None:
            by_group.setdefault(face["cluster"], Counter())[person_of(face["path"])] += 1
    for counts in by_group.values():
        assert len(counts) == 1, f"a group mixes people: {counts}"
    for person, count in PEOPLE.items():
        biggest = max(c[person] for c in by_group.values())
        assert biggest >= count // 2, f"{person} is scattered"


def test_group_ids_stay_the_same_between_runs(cli, library):
    cli("cluster")
    before = {f["id"]: f["cluster"] for f in faces(cli)}
    cli("cluster")
    assert {f["id"]: f["cluster"] for f in faces(cli)} == before


@BOTH_PACKS
def test_names_survive_new_scans_and_new_photos_get_them_automatically(cli, library, tmp_path):
    cli("cluster")
    group = group_of(cli, "Colin_Powell")
    assert cli("name", str(group), "Colin").exit_code == 0
    named_before = {f["id"] for f in faces(cli) if f["person"] == "Colin"}
    more = copy_people(tmp_path / "more", range(9, 15))
    assert cli("scan", str(library), str(more)).exit_code == 0
    report = json.loads(cli("cluster", "--json").stdout)
    assert report["kept_group_ids"] >= 1
    after = faces(cli)
    assert {f["id"] for f in after if f["person"] == "Colin" and f["person_source"] == "user"} == named_before
    new_colin = [f for f in after if "/more/" in f["path"] and person_of(f["path"]) == "Colin_Powell"]
    auto = [f for f in new_colin if f["person"] == "Colin"]
    assert auto and all(f["person_source"] == "auto" for f in auto)
    assert len(auto) >= len(new_colin) // 2
    wrong = [f for f in after if f["person"] == "Colin" and person_of(f["path"]) != "Colin_Powell"]
    assert wrong == []


@BOTH_PACKS
def test_one_named_face_is_enough_to_recognise_a_person(cli, library):
    cli("cluster")
    blair = [f for f in faces(cli) if f["path"].endswith("Tony_Blair_1.jpg")][0]
    assert cli("assign", str(blair["id"]), "Tony").exit_code == 0
    cli("cluster")
    recognised = [f for f in faces(cli) if f["person"] == "Tony" and f["person_source"] == "auto"]
    assert len(recognised) >= 3
    assert {person_of(f["path"]) for f in recognised} == {"Tony_Blair"}


def test_two_faces_in_one_photo_never_get_the_same_person_automatically(cli, library, tmp_path):
    pair = Image.new("RGB", (500, 250))
    pair.paste(Image.open(lfw_photo("Colin_Powell", 20)), (0, 0))
    pair.paste(Image.open(lfw_photo("Colin_Powell", 21)), (250, 0))
    folder = tmp_path / "twins"
    folder.mkdir()
    pair.save(folder / "two_colins.jpg")
    cli("scan", str(library), str(folder))
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Colin")
    cli("cluster")
    in_pair = [f for f in faces(cli) if f["path"].endswith("two_colins.jpg")]
    assert len(in_pair) == 2
    assert [f["person"] for f in in_pair].count("Colin") == 1


def test_a_rejected_face_is_never_given_back(cli, library, tmp_path):
    cli("cluster")
    cli("name", str(group_of(cli, "Tony_Blair")), "Tony")
    more = copy_people(tmp_path / "more", range(9, 15))
    cli("scan", str(library), str(more))
    cli("cluster")
    auto = [f for f in faces(cli) if f["person"] == "Tony" and f["person_source"] == "auto"]
    assert auto
    target = auto[0]["id"]
    assert cli("reject", str(target)).exit_code == 0
    for _ in range(2):
        cli("cluster")
        face = next(f for f in faces(cli) if f["id"] == target)
        assert face["person"] != "Tony"


def test_an_ignored_group_stays_ignored_and_is_not_offered(cli, library):
    cli("cluster")
    group = group_of(cli, "Jean_Chretien")
    assert cli("ignore", str(group)).exit_code == 0
    cli("cluster")
    unnamed = json.loads(cli("clusters", "--json").stdout)
    assert group not in [g["id"] for g in unnamed]
    listed = {g["id"]: g for g in json.loads(cli("clusters", "--all", "--json").stdout)}
    assert listed[group]["ignored"] is True
    session = cli("name", "--preview", "0", input="q\n")
    assert f"Group {group}:" not in session.stdout


def test_interactive_naming_saves_each_answer_as_it_goes(cli, library, isolated_home, db_path):
    cli("cluster")
    groups = json.loads(cli("clusters", "--json").stdout)
    first, second = groups[0]["id"], groups[1]["id"]
    with Store(db_path) as store:  # the sheet numbers the faces best first
        first_faces = [f.id for f in best_first(store.faces_in_cluster(first))]
    # x 2 leaves the second face out, then a name; the next group is ignored.
    session = cli("name", input="x 2\nalice\ni\nq\n")
    assert session.exit_code == 0, session.output
    assert f"Group {first}:" in session.stdout and "▀" in session.stdout
    sheet = db_path.parent / "library-sheets" / f"group-{first}.png"
    assert Image.open(sheet).size[0] > 0
    after = {f["id"]: f for f in faces(cli)}
    left_out = first_faces[1]
    assert after[left_out]["person"] is None and after[left_out]["cluster"] is None
    assert all(after[f]["person"] == "alice" for f in first_faces if f != left_out)
    listed = {g["id"]: g for g in json.loads(cli("clusters", "--all", "--json").stdout)}
    assert listed[second]["ignored"] is True
    # An existing name in another case joins that person instead of making a new one.
    third = json.loads(cli("clusters", "--json").stdout)[0]["id"]
    cli("name", str(third), "ALICE")
    names = [p["name"] for p in json.loads(cli("people", "--json").stdout)]
    assert names == ["alice"]


def test_interactive_naming_rejects_bad_face_numbers(cli, library):
    cli("cluster")
    session = cli("name", "--preview", "0", input="x 99\nq\n")
    assert "after x, give face numbers from 1 to" in session.stderr


def test_unknown_names_groups_and_faces_are_clear_errors(cli, library):
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Colin Powell")
    result = cli("rename", "Colin Pwell", "Colin")
    assert result.exit_code == 2 and "did you mean 'Colin Powell'" in result.stderr
    assert "no group 99999" in cli("ignore", "99999").stderr
    assert "no face 99999" in cli("reject", "99999", "--from", "Colin Powell").stderr
    unnamed = next(f for f in faces(cli) if f["person"] is None)
    assert "no person to reject it from" in cli("reject", str(unnamed["id"])).stderr
    cli("name", str(group_of(cli, "Tony_Blair")), "Tony")
    clash = cli("rename", "Tony", "colin powell")
    assert clash.exit_code == 2 and "facesort merge" in clash.stderr


def test_rename_and_merge_keep_every_face(cli, library):
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Colin")
    cli("name", str(group_of(cli, "Tony_Blair")), "Tony")
    colin = {f["id"] for f in faces(cli) if f["person"] == "Colin"}
    tony = {f["id"] for f in faces(cli) if f["person"] == "Tony"}
    assert cli("rename", "Colin", "Colin Powell").exit_code == 0
    assert cli("merge", "Colin Powell", "Tony").exit_code == 0
    assert {f["id"] for f in faces(cli) if f["person"] == "Colin Powell"} == colin | tony
    assert [p["name"] for p in json.loads(cli("people", "--json").stdout)] == ["Colin Powell"]


def test_show_writes_a_contact_sheet_labelled_with_face_ids(cli, library, tmp_path):
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Colin")
    out = tmp_path / "colin.png"
    result = cli("show", "colin", "-o", str(out))
    assert result.exit_code == 0 and result.stdout.strip() == str(out)
    assert Image.open(out).size[0] >= 128


def test_each_pack_clusters_only_its_own_faces(cli, library):
    assert cli("scan", str(library), "--model", str(FACERES_PACK)).exit_code == 0
    assert cli("cluster", "--model", str(FACERES_PACK)).exit_code == 0
    dlib = faces(cli)  # FACESORT_MODEL is sc_dlib
    assert all(f["cluster"] is None for f in dlib)
    faceres = json.loads(cli("export", "--model", str(FACERES_PACK)).stdout.splitlines()[0])
    assert any(f["cluster"] is not None for f in faceres["faces"]) or len(faceres["faces"]) == 1


def test_a_photo_edited_in_place_keeps_its_names_and_rejections(cli, library, db_path):
    cli("cluster")
    target = library / "Tony_Blair_3.jpg"
    face = next(f for f in faces(cli) if f["path"] == str(target))
    colin = next(f for f in faces(cli) if f["path"].endswith("Colin_Powell_1.jpg"))
    cli("assign", str(colin["id"]), "Colin")
    cli("assign", str(face["id"]), "Tony")
    cli("reject", str(face["id"]), "--from", "Colin")
    # The user re-saves the photo in an editor: new bytes, the same picture.
    Image.open(target).save(target, quality=80)
    result = json.loads(cli("scan", str(library), "--json").stdout)
    assert result["changed"] == 1
    edited = [f for f in faces(cli) if f["path"] == str(target)]
    assert face["id"] not in [f["id"] for f in edited]  # detected again: a new face
    same_place = [f for f in edited if f["box"] == pytest.approx(face["box"], abs=5)]
    assert [(f["person"], f["person_source"]) for f in same_place] == [("Tony", "user")]
    with Store(db_path) as store:
        colin_id = store.find_person("Colin").id
        assert (same_place[0]["id"], colin_id) in store.rejected_pairs(1)


def test_automatic_names_can_be_reviewed_confirmed_and_undone(cli, library, tmp_path):
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Colin")
    more = copy_people(tmp_path / "more", range(9, 15))
    cli("scan", str(library), str(more))
    cli("cluster")
    auto = [f["id"] for f in faces(cli) if f["person"] == "Colin" and f["person_source"] == "auto"]
    assert len(auto) >= 2
    status = json.loads(cli("status", "--json").stdout)
    assert status["auto_faces"] == len(auto) and status["people"] == 1
    assert cli("reject", str(auto[0])).exit_code == 0  # undo one
    assert cli("confirm", "colin", str(auto[1])).exit_code == 0  # accept one
    by_id = {f["id"]: f for f in faces(cli)}
    assert by_id[auto[0]]["person"] is None
    assert (by_id[auto[1]]["person"], by_id[auto[1]]["person_source"]) == ("Colin", "user")
    assert "is not automatically named" in cli("confirm", "Colin", str(auto[0])).stderr
    assert cli("confirm", "Colin").exit_code == 0  # the rest
    assert not [f for f in faces(cli) if f["person_source"] == "auto"]
