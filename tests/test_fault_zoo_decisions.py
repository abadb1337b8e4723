"""The fault zoo, decisions: what facesort survives without dropping, changing
or hiding a user's decision (a name, a rejection, an ignore, an import).

Each test is one case a tester reproduced; its docstring says what survives.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess

from PIL import Image

from conftest import DLIB_PACK, copy_people, faces, group_of, lfw_photo
from facesort.store import Store
from facesort.store.migrations import MIGRATIONS, migrate


def scan_json(cli, *args: str) -> dict:
    result = cli("scan", *args, "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def face_at(cli, path) -> dict:
    [face] = [f for f in faces(cli) if f["path"] == str(path)]
    return face


def status(cli) -> dict:
    return json.loads(cli("status", "--json", "--orphans").stdout)


# -- photos edited in place -----------------------------------------------------------

def test_a_photo_resized_to_half_keeps_the_users_name(cli, library):
    """A resize moves every box in pixels; the name follows the face by its place."""
    photo = library / "Tony_Blair_2.jpg"
    cli("assign", str(face_at(cli, photo)["id"]), "Tony Blair")
    with Image.open(photo) as image:
        image.resize((image.width // 2, image.height // 2)).save(photo)
    report = scan_json(cli, str(library))
    assert report["changed"] == 1
    assert (report["decisions_carried"], report["decisions_orphaned"]) == (1, 0)
    face = face_at(cli, photo)
    assert (face["person"], face["person_source"]) == ("Tony Blair", "user")


def test_a_face_that_is_not_found_again_keeps_its_decision_as_an_orphan(cli, library):
    """An edit that loses the face keeps the name, lists it, and gives it back when the face returns."""
    photo = library / "Colin_Powell_3.jpg"
    original = photo.read_bytes()
    cli("assign", str(face_at(cli, photo)["id"]), "Colin Powell")
    Image.new("RGB", (250, 250), "gray").save(photo, "JPEG")  # the face is gone
    scanned = cli("scan", str(library))
    assert "0 decisions carried over" in scanned.stdout and "1 could not be" in scanned.stdout
    assert "facesort status --orphans" in scanned.stdout
    [orphan] = status(cli)["orphan_list"]
    assert orphan["person"] == "Colin Powell" and orphan["path"] == str(photo)
    listed = cli("status", "--orphans").stdout
    assert f"orphan {orphan['id']}: {photo}: Colin Powell (your name)" in listed
    photo.write_bytes(original)  # the user undoes the edit
    assert scan_json(cli, str(library))["decisions_carried"] == 1
    assert face_at(cli, photo)["person"] == "Colin Powell"
    assert status(cli)["orphans"] == 0


def test_an_orphan_the_user_does_not_want_can_be_dropped(cli, library):
    """Orphans are dropped only when the user says so, with a dry run first."""
    photo = library / "Colin_Powell_4.jpg"
    cli("assign", str(face_at(cli, photo)["id"]), "Colin Powell")
    Image.new("RGB", (250, 250), "gray").save(photo, "JPEG")
    cli("scan", str(library))
    [orphan] = status(cli)["orphan_list"]
    assert "would forget 1 orphaned decision" in cli("forget", "--orphan", str(orphan["id"]), "-n").stdout
    assert status(cli)["orphans"] == 1
    assert cli("forget", "--orphan", str(orphan["id"])).exit_code == 0
    assert status(cli)["orphans"] == 0
    assert "no orphan 999" in cli("forget", "--orphan", "999").stderr


def test_a_changed_orientation_tag_never_loses_decisions(cli, library, tmp_path):
    """exiftool -Orientation=1 turns the photo sideways; its decisions move or are kept, never dropped."""
    photo = library / "Jean_Chretien_2.jpg"
    # A phone photo: pixels stored sideways, upright through EXIF orientation 6.
    with Image.open(photo) as image:
        exif = Image.Exif()
        exif[0x0112] = 6
        image.transpose(Image.Transpose.ROTATE_90).save(photo, exif=exif)
    cli("scan", str(library))
    face = face_at(cli, photo)
    cli("assign", str(face["id"]), "Jean Chretien")
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-Orientation=1", "-n", str(photo)],
                   check=True)
    report = scan_json(cli, str(library))
    assert report["changed"] == 1
    assert report["decisions_carried"] + report["decisions_orphaned"] == 1
    named = [f for f in faces(cli) if f["person"] == "Jean Chretien" and f["path"] == str(photo)]
    kept = [o for o in status(cli)["orphan_list"] if o["person"] == "Jean Chretien"]
    assert len(named) + len(kept) == 1


def test_an_edited_photo_keeps_rejections_and_ignores_too(cli, library, db_path):
    """Not only names: a rejection and an ignored face follow the face as well."""
    photo = library / "Tony_Blair_5.jpg"
    cli("cluster")
    face = face_at(cli, photo)
    cli("assign", str(face_at(cli, library / "Colin_Powell_1.jpg")["id"]), "Colin Powell")
    cli("reject", str(face["id"]), "--from", "Colin Powell")
    with Image.open(photo) as image:
        image.resize((image.width * 3 // 4, image.height * 3 // 4)).save(photo, quality=85)
    assert scan_json(cli, str(library))["decisions_carried"] == 1
    with Store(db_path) as store:
        colin = store.find_person("Colin Powell").id
        assert (face_at(cli, photo)["id"], colin) in store.rejected_pairs(1)


# -- a new model pack ---------------------------------------------------------------

def test_names_survive_a_change_of_model_pack(cli, library, db_path, monkeypatch):
    """Named with sc_dlib, scanned again with the built-in default: every decision is there,
    and find and write give the same answers."""
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Colin Powell")
    cli("name", str(group_of(cli, "Tony_Blair")), "Tony Blair")
    cli("reject", str(face_at(cli, library / "Jean_Chretien_1.jpg")["id"]), "--from", "Colin Powell")
    with Store(db_path) as store:
        decided = store.summary().named_faces + 1
    old = ("--model", str(DLIB_PACK))
    before_find = cli("find", "Colin Powell", *old).stdout
    before_write = json.loads(cli("write", "--dry-run", "--json", *old).stdout)["created"]
    monkeypatch.delenv("FACESORT_MODEL")  # from now on, the default pack
    scanned = cli("scan", str(library))
    assert f"{decided} decisions carried over to faces detected again, {decided} from pack sc_dlib; " \
        "0 could not be" in scanned.stdout
    assert cli("find", "Colin Powell").stdout == before_find != ""
    assert json.loads(cli("write", "--dry-run", "--json").stdout)["created"] == before_write
    new = [f for f in faces(cli) if f["person_source"] == "user"]
    assert len(new) == decided - 1
    with Store(db_path) as store:
        colin = store.find_person("Colin Powell").id
        chretien = face_at(cli, library / "Jean_Chretien_1.jpg")["id"]
        assert (chretien, colin) in store.rejected_pairs(store.find_pack("yunet_sface"))


# -- ignoring and naming groups -------------------------------------------------------

def test_ignoring_a_named_group_is_refused_and_naming_goes_on(cli, library, tmp_path):
    """Ignoring a group named Colin would stop naming him in new photos: refused, with the way out."""
    cli("cluster")
    group = group_of(cli, "Colin_Powell")
    cli("name", str(group), "Colin Powell")
    refused = cli("ignore", str(group))
    assert refused.exit_code == 2
    assert "named Colin Powell" in refused.stderr and f"facesort ignore {group} --unnamed" in refused.stderr
    more = copy_people(tmp_path / "more", range(9, 12))
    cli("scan", str(library), str(more))
    cli("cluster")
    new = [f for f in faces(cli) if f["path"].startswith(str(more)) and "Colin_Powell" in f["path"]]
    assert sum(f["person"] == "Colin Powell" for f in new) >= 2


def test_an_ignored_group_can_be_taken_back_and_naming_takes_it_back(cli, library):
    """unignore undoes ignore; naming an ignored group makes it a person again."""
    cli("cluster")
    group = group_of(cli, "Jean_Chretien")
    assert cli("ignore", str(group)).exit_code == 0
    listed = json.loads(cli("clusters", "--all", "--json").stdout)
    assert next(c for c in listed if c["id"] == group)["ignored"]
    assert cli("unignore", str(group)).exit_code == 0
    assert not next(c for c in json.loads(cli("clusters", "--all", "--json").stdout)
                    if c["id"] == group)["ignored"]
    cli("ignore", str(group))
    cli("name", str(group), "Jean Chretien")
    cli("cluster")
    row = next(c for c in json.loads(cli("clusters", "--all", "--json").stdout) if c["id"] == group)
    assert not row["ignored"] and row["person"] == "Jean Chretien"


def test_an_old_library_with_an_ignored_named_group_is_repaired(db_path):
    """A library from before the fix: the ignored group that holds named faces is a person again."""
    db = sqlite3.connect(db_path, isolation_level=None)
    migrate(db, MIGRATIONS[:2])
    db.execute("INSERT INTO packs (name, fingerprint) VALUES ('p', 'f')")
    db.execute("INSERT INTO photos (path, size, mtime_ns, status, scanned_at) VALUES ('/a', 1, 1, 'ok', 'now')")
    db.execute("INSERT INTO people (name, key) VALUES ('Dick', 'dick')")
    db.execute("INSERT INTO clusters (pack_id, ignored) VALUES (1, 1)")
    db.execute("INSERT INTO faces (photo_id, pack_id, x, y, w, h, landmarks, score, embedding,"
               " cluster_id, person_id, person_source) VALUES (1, 1, 0, 0, 1, 1, '[]', 1, x'00', 1, 1, 'user')")
    db.close()
    with Store(db_path) as store:
        assert store.ignored_clusters(1) == set()


def test_naming_a_group_says_which_faces_were_left_out_and_keeps_the_best(cli, tmp_path):
    """Two faces of one person in one photo: the better one is named, and the other is reported."""
    folder = copy_people(tmp_path / "photos", range(1, 7))
    pair = Image.new("RGB", (500, 250))
    pair.paste(Image.open(lfw_photo("Colin_Powell", 7)), (0, 0))
    pair.paste(Image.open(lfw_photo("Colin_Powell", 8)), (250, 0))
    pair.save(folder / "two_colins.jpg")
    cli("scan", str(folder))
    cli("cluster")
    group = group_of(cli, "Colin_Powell")
    pair_faces = [f for f in faces(cli) if f["path"].endswith("two_colins.jpg")]
    assert [f["cluster"] for f in pair_faces] == [group, group], "the test needs both in one group"
    said = cli("name", str(group), "Colin Powell").stdout
    assert "1 face left out:" in said and "another face in the same photo fits Colin Powell better" in said
    assert f"review with 'facesort show {group}'" in said
    named = [f for f in faces(cli) if f["path"].endswith("two_colins.jpg") and f["person"]]
    assert len(named) == 1


def test_a_face_rejected_from_a_person_never_goes_back_into_their_group(cli, library):
    """A face taken from Colin Powell's group leaves it, and grouping everything
    again (cluster --full) does not put it back: it stayed there before,
    shown among his faces, and a full run regrouped it with them."""
    cli("cluster")
    group = group_of(cli, "Colin_Powell")
    cli("name", str(group), "Colin Powell")
    face = next(f for f in faces(cli) if f["cluster"] == group)
    assert cli("reject", str(face["id"])).exit_code == 0
    for run in (("cluster",), ("cluster", "--full")):
        assert cli(*run).exit_code == 0
        after = next(f for f in faces(cli) if f["id"] == face["id"])
        assert after["cluster"] != group and after["person"] is None, run
    assert sum(f["cluster"] == group for f in faces(cli)) > 1, "the rest of the group stays"


def test_a_face_assigned_to_someone_else_leaves_the_named_group(cli, library):
    """A face of Colin Powell's group that the user says is someone else no
    longer shows in his group: before, the group kept it, so `show` and
    `clusters` listed a face named Bob among Colin's, and naming the group
    again would have offered it as his."""
    cli("cluster")
    group = group_of(cli, "Colin_Powell")
    cli("name", str(group), "Colin Powell")
    face = next(f for f in faces(cli) if f["cluster"] == group)
    assert cli("assign", str(face["id"]), "Bob").exit_code == 0
    assert cli("cluster").exit_code == 0
    after = {f["id"]: f for f in faces(cli)}
    assert after[face["id"]]["cluster"] != group and after[face["id"]]["person"] == "Bob"
    assert sum(f["cluster"] == group for f in after.values()) > 1, "Colin keeps his group"


# -- names --------------------------------------------------------------------------

def test_a_name_with_tabs_and_newlines_is_one_clean_name(cli, library):
    """Control characters never reach the library or a sidecar; find works with the clean name."""
    cli("cluster")
    said = cli("name", str(group_of(cli, "Tony_Blair")), "Tony\tBlair\n ")
    assert "is Tony Blair:" in said.stdout
    assert [p["name"] for p in json.loads(cli("people", "--json").stdout)] == ["Tony Blair"]
    assert cli("find", "tony  blair").stdout


def test_a_name_with_a_tag_separator_is_refused_with_the_reason(cli, library):
    """'Parent/Child' would become a nested tag in digiKam and Lightroom."""
    cli("cluster")
    for name in ("Parent/Child", "A|B"):
        result = cli("name", str(group_of(cli, "Tony_Blair")), name)
        assert result.exit_code == 2 and "cannot hold '/' or '|'" in result.stderr
    assert json.loads(cli("people", "--json").stdout) == []


def test_a_y_typed_at_the_name_prompt_does_not_make_a_person_called_y(cli, library):
    """A "y" meant for "Also Alice?" but typed at the name prompt (or after a
    page letter, "b y") is refused and asked again, not made a person called
    y who takes the group; a one-letter name can still be given on purpose."""
    cli("cluster")
    session = cli("name", "--preview", "0", input="y\nTony Blair\nq\n")
    assert session.exit_code == 0, session.output
    assert "'y' is not an answer here" in session.stderr
    assert [p["name"] for p in json.loads(cli("people", "--json").stdout)] == ["Tony Blair"]
    assert cli("name", str(group_of(cli, "Colin_Powell")), "J").exit_code == 0
    assert {p["name"] for p in json.loads(cli("people", "--json").stdout)} == {"Tony Blair", "J"}


def test_a_surname_or_a_prefix_in_any_case_finds_the_person(cli, library):
    """find putin finds Vladimir Putin; an ambiguous prefix lists the choices."""
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Colin Powell")
    cli("name", str(group_of(cli, "Tony_Blair")), "Tony Blair")
    assert cli("find", "powell").stdout == cli("find", "Colin Powell").stdout != ""
    assert cli("show", "BLAIR").exit_code == 0
    cli("name", str(group_of(cli, "Jean_Chretien")), "Colin Chretien")
    ambiguous = cli("find", "colin")
    assert ambiguous.exit_code == 2 and "'Colin Chretien', 'Colin Powell'" in ambiguous.stderr
    unknown = cli("find", "Pwell")
    assert unknown.exit_code == 2 and "did you mean 'Colin Powell'" in unknown.stderr


# -- the command line around decisions ----------------------------------------------

def test_ctrl_c_while_naming_exits_130_on_a_fresh_line(cli, library, monkeypatch):
    """Ctrl-C is an interruption (130), not success; what was answered is saved."""
    import typer

    def interrupted(*_args, **_kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise typer.Abort() from None

    cli("cluster")
    monkeypatch.setattr(typer, "prompt", interrupted)
    result = cli("name", "--preview", "0")
    assert result.exit_code == 130
    assert "interrupted" in result.stderr


def test_show_open_without_a_viewer_says_where_the_sheet_is(cli, library, monkeypatch):
    """No viewer to open the contact sheet: the user is told where it is."""
    import typer

    cli("cluster")
    monkeypatch.setattr(typer, "launch", lambda *_a, **_k: 1)
    result = cli("show", str(group_of(cli, "Tony_Blair")), "--open")
    assert result.exit_code == 0
    assert "no viewer could open the contact sheet; it is at" in result.stderr


def test_counts_read_as_english(cli, library):
    """1 face, not 1 faces; the largest groups come largest first."""
    report = cli("cluster").stdout
    sizes = [int(n) for n in report.split("largest: ")[1].split(")")[0].split(", ")]
    assert sizes == sorted(sizes, reverse=True)
    face = face_at(cli, library / "Tony_Blair_1.jpg")
    assert cli("assign", str(face["id"]), "Tony").stdout.strip() == "1 face is Tony"
    assert cli("reject", str(face["id"])).stdout.strip() == "rejected 1 face"


def test_forget_drops_a_gone_folder_but_keeps_every_person(cli, library, tmp_path):
    """A folder gone for good can be forgotten; people and their other faces stay."""
    old = copy_people(tmp_path / "old", range(9, 11))
    cli("scan", str(library), str(old))
    cli("assign", str(face_at(cli, old / "Tony_Blair_9.jpg")["id"]), "Tony Blair")
    cli("assign", str(face_at(cli, library / "Tony_Blair_1.jpg")["id"]), "Tony Blair")
    dry = cli("forget", str(old), "--dry-run")
    assert "would forget 6 photos" in dry.stdout and "1 decision of yours" in dry.stdout
    assert status(cli)["photos"] == 28
    assert cli("forget", str(old)).exit_code == 0
    assert status(cli)["photos"] == 22
    assert [p["name"] for p in json.loads(cli("people", "--json").stdout)] == ["Tony Blair"]
    assert "no photos in the library under" in cli("forget", str(old)).stderr


def test_names_stored_with_tabs_by_an_older_facesort_are_cleaned(db_path):
    """An old library's 'Tab<TAB>New<LF>Line' becomes 'Tab New Line'; a clash keeps both people apart."""
    db = sqlite3.connect(db_path, isolation_level=None)
    migrate(db, MIGRATIONS[:3])
    for name in ("Tab\tNew\nLine", "Ann  Lee", "ann lee"):
        db.execute("INSERT INTO people (name, key) VALUES (?, ?)", (name, name.casefold()))
    db.close()
    with Store(db_path) as store:
        names = sorted(p.name for p in store.people())
    assert "Tab New Line" in names and len(names) == 3
    assert sum(n.casefold() == "ann lee" for n in names) == 1  # the clash kept its old spelling


def test_a_rejection_made_while_cluster_runs_is_not_undone(library, db_path, monkeypatch):
    """cluster computes names from the decisions at its start; a reject made meanwhile stands."""
    from facesort.people import cluster_run
    from facesort.config import resolve_pack

    pack = resolve_pack(str(DLIB_PACK)).name
    with Store(db_path) as store:
        cluster_run.update_groups(store, pack)
        group = max(store.clusters_summary(1), key=lambda c: c.faces).id
        someone = store.add_person("Someone").id
        store.set_person([store.faces_in_cluster(group)[0].id], someone)
        cluster_run.update_groups(store, pack)
        auto = next(f for f in store.faces_of_person(someone, 1) if f.person_source == "auto")
        real_save = store.save_auto_names

        def reject_meanwhile(pack_id, names):
            store.reject([auto.id], someone)  # the user, in another terminal
            real_save(pack_id, names)

        monkeypatch.setattr(store, "save_auto_names", reject_meanwhile)
        cluster_run.update_groups(store, pack, full=True)
        assert auto.id not in {f.id for f in store.faces_of_person(someone, 1)}
