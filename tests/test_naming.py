"""Naming a whole library with few decisions: suggestions, review, split,
small libraries, and the best faces first."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections import Counter

from PIL import Image, ImageFilter

from conftest import copy_people, faces, group_of, lfw_photo, person_of
from facesort.store import Store
from facesort.store.migrations import MIGRATIONS, migrate


def _second_tony_group(cli) -> tuple[int, int]:
    """Tony Blair's two groups in the three people's library: (largest, other)."""
    cli("cluster")
    main = group_of(cli, "Tony_Blair")
    others = {f["cluster"] for f in faces(cli)
              if person_of(f["path"]) == "Tony_Blair" and f["cluster"] not in (None, main)}
    assert len(others) == 1, "the library should hold a second group of Tony Blair"
    return main, others.pop()


def test_a_suggestion_answered_yes_names_the_group(cli, library):
    """After naming one of a person's groups, naming offers the other and y names it."""
    main, other = _second_tony_group(cli)
    assert cli("name", str(main), "Tony").exit_code == 0
    session = cli("name", "--preview", "0", input="y\nq\n")
    assert session.exit_code == 0, session.output
    assert f"Group {other}:" in session.stdout and "Also Tony? [y/n/q]" in session.stdout
    assert f"group {other} is Tony" in session.stdout
    joined = [f for f in faces(cli) if f["cluster"] == other]
    assert joined and all((f["person"], f["person_source"]) == ("Tony", "user") for f in joined)


def test_a_suggestion_answered_no_is_never_offered_again(cli, library):
    """A refused suggestion is remembered, also across cluster runs."""
    main, other = _second_tony_group(cli)
    cli("name", str(main), "Tony")
    assert [g["group"] for g in json.loads(cli("suggest", "--json").stdout)["groups"]] == [other]
    session = cli("name", "--preview", "0", input="n\nq\n")
    assert "Also Tony?" in session.stdout and "will not be offered" in session.stdout
    assert all(f["person"] is None for f in faces(cli) if f["cluster"] == other)
    cli("cluster")
    assert json.loads(cli("suggest", "--json").stdout)["groups"] == []
    again = cli("name", "--preview", "0", input="q\n")
    assert "Also Tony?" not in again.stdout


def test_suggest_lists_groups_and_people_who_may_be_one(cli, library):
    """suggest --json gives scripts the groups near a person and the people near each other."""
    main, other = _second_tony_group(cli)
    cli("name", str(main), "Tony")
    groups = json.loads(cli("suggest", "--json").stdout)["groups"]
    assert groups[0]["group"] == other and groups[0]["person"] == "Tony"
    assert 0 < groups[0]["distance"] < 1
    cli("name", str(other), "Blair")
    pairs = json.loads(cli("suggest", "--json").stdout)["people"]
    assert [(p["person"], p["other"]) for p in pairs] in ([("Tony", "Blair")], [("Blair", "Tony")])
    text = cli("suggest").stdout
    assert "may be one person" in text and "facesort merge" in text


def test_a_group_sharing_a_photo_with_the_person_is_never_offered(cli, library):
    """A person is in a photo once: a group with a face in a photo where Tony
    is is not offered as Tony, and two people named in one photo are not
    offered as one person."""
    main, other = _second_tony_group(cli)
    beside = next(f for f in faces(cli) if f["cluster"] == main)
    together = Image.new("RGB", (500, 250))
    together.paste(Image.open(library / "Tony_Blair_5.jpg"), (0, 0))
    together.paste(Image.open(beside["path"]), (250, 0))
    together.save(library / "together.jpg")
    cli("scan", str(library))
    cli("cluster")
    clusters = {f["cluster"] for f in faces(cli) if f["path"].endswith("together.jpg")}
    assert {main, other} <= clusters, "each face of the new photo should join its Tony group"
    cli("name", str(main), "Tony")
    assert json.loads(cli("suggest", "--json").stdout)["groups"] == []
    assert "Also Tony?" not in cli("name", "--preview", "0", input="q\n").stdout
    cli("name", str(other), "Blair")
    assert json.loads(cli("suggest", "--json").stdout)["people"] == []


def test_review_accepts_a_page_and_rejects_the_faces_x_names(cli, library, tmp_path, db_path):
    """review turns a page of automatic names into decisions, and x takes faces away for good."""
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Colin")
    cli("scan", str(library), str(copy_people(tmp_path / "more", range(9, 15))))
    cli("cluster")
    with Store(db_path) as store:
        queue = [f.id for f in store.auto_named(store.find_pack("sc_dlib"))]
    assert len(queue) >= 2
    session = cli("review", "--preview", "0", "--page", "48", input="x 1\n")
    assert session.exit_code == 0, session.output
    assert f"accepted {len(queue) - 1} faces, rejected 1" in session.stdout
    after = {f["id"]: f for f in faces(cli)}
    assert after[queue[0]]["person"] is None  # the least certain, face 1 on the page
    assert all(after[f]["person_source"] == "user" for f in queue[1:])
    cli("cluster")
    assert {f["id"]: f for f in faces(cli)}[queue[0]]["person"] != "Colin"
    assert "No automatic names to review" in cli("review", input="\n").stdout


def test_review_exits_130_on_ctrl_c(cli, library, tmp_path, monkeypatch):
    """Ctrl-C in review ends on a fresh line with exit 130, the answers before it kept."""
    import typer

    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Colin")
    cli("scan", str(library), str(copy_people(tmp_path / "more", range(9, 15))))
    cli("cluster")

    def interrupted(*_args, **_kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise typer.Abort() from None

    monkeypatch.setattr(typer, "prompt", interrupted)
    result = cli("review", "--preview", "0")
    assert result.exit_code == 130 and "interrupted" in result.stderr


def test_split_gives_a_part_to_a_new_person(cli, library):
    """Two people named as one are pulled apart with one answer per part (a
    one-letter slip, "y", is asked again rather than made a person)."""
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Pat")
    cli("name", str(group_of(cli, "Tony_Blair")), "Pat")
    session = cli("split", "Pat", "--parts", "2", "--preview", "0", input="\ny\nTony\n")
    assert session.exit_code == 0, session.output
    assert "Pat, part 1 of 2" in session.stdout and "part 2 of 2" in session.stdout
    assert "'y' is not an answer here" in session.stderr
    named = {}
    for face in faces(cli):
        if face["person"] in ("Pat", "Tony"):
            named.setdefault(face["person"], set()).add(person_of(face["path"]))
    assert named == {"Pat": {"Colin_Powell"}, "Tony": {"Tony_Blair"}}


def test_thirteen_photos_of_one_person_give_one_group(cli, tmp_path):
    """A tiny library of one person still gets its group, and naming offers it."""
    folder = tmp_path / "renee"
    folder.mkdir()
    for n in range(1, 14):
        shutil.copy(lfw_photo("Renee_Zellweger", n), folder)
    cli("scan", str(folder))
    report = json.loads(cli("cluster", "--json").stdout)
    assert report["groups"] == 1 and report["grouped_faces"] >= 10
    session = cli("name", "--preview", "0", input="Renee\n")
    assert "No unnamed groups" not in session.stdout and "is Renee" in session.stdout


def test_name_says_when_the_faces_need_grouping_first(cli, tmp_path):
    """Before any cluster run, and after new photos, `facesort name` says to
    run cluster instead of "No unnamed groups"."""
    folder = tmp_path / "colin"
    folder.mkdir()
    for n in range(1, 5):
        shutil.copy(lfw_photo("Colin_Powell", n), folder)
    cli("scan", str(folder))
    assert "No groups yet: run 'facesort cluster'" in cli("name", input="q\n").stdout
    cli("cluster")
    assert "is Colin" in cli("name", "--preview", "0", input="Colin\n").stdout
    assert "No unnamed groups. Run 'facesort cluster' after" in cli("name", input="q\n").stdout
    for n in range(5, 7):
        shutil.copy(lfw_photo("Colin_Powell", n), folder)
    cli("scan", str(folder))
    stale = cli("name", input="q\n").stdout
    assert "faces came or went since the last 'facesort cluster': run it" in stale


STRANGERS = ["Aaron_Sorkin", "Abdullatif_Sener", "Adam_Scott", "Adolfo_Rodriguez_Saa",
             "Adrian_McPherson", "Adrian_Nastase", "Al_Davis"]


def _small_groups(cli, tmp_path) -> dict[str, tuple[int, str]]:
    """Seven people with two photos each, scanned and clustered: their pairs
    on one page of `facesort name`, as letter → (group, person)."""
    folder = tmp_path / "strangers"
    folder.mkdir()
    for person in STRANGERS:
        for n in (1, 2):
            shutil.copy(lfw_photo(person, n), folder)
    cli("scan", str(folder))
    cli("cluster")
    page = cli("name", "--preview", "0", input="q\n").stdout
    letters = dict(re.findall(r"([a-f]) is group (\d+)", page))
    assert len(letters) >= 2, page
    people_of = {f["cluster"]: person_of(f["path"]) for f in faces(cli)}
    return {letter: (int(group), people_of[int(group)]) for letter, group in letters.items()}


def test_small_groups_come_a_page_at_a_time(cli, tmp_path):
    """One answer names a small group on the page, and one more ignores the strangers left."""
    groups = _small_groups(cli, tmp_path)
    group, person = groups["b"]
    session = cli("name", "--preview", "0", input=f"b {person}\ni\n")
    assert session.exit_code == 0, session.output
    assert f"group {group} is {person}" in session.stdout and "ignored: a (group" in session.stdout
    listed = {c["id"]: c for c in json.loads(cli("clusters", "--all", "--json").stdout)}
    assert listed[group]["person"] == person and not listed[group]["ignored"]
    assert all(listed[g]["ignored"] for letter, (g, _) in groups.items() if letter != "b")
    assert "No unnamed groups" in cli("name", input="q\n").stdout


def test_a_page_leaves_out_faces_by_their_label_and_asks_again_for_a_bad_answer(cli, tmp_path):
    """x a2 keeps a face out of group a's name; an answer without a letter,
    or with a one-letter slip for a name ("a y"), is asked again."""
    groups = _small_groups(cli, tmp_path)
    group, person = groups["a"]
    session = cli("name", "--preview", "0", input=f"{person}\nx a2\na y\na {person}\n\n")
    assert session.exit_code == 0, session.output
    assert "start with a group's letter" in session.output and "left out: a2" in session.stdout
    assert "'y' is not an answer here" in session.stderr
    named = [f for f in faces(cli) if f["person"] == person]
    assert len(named) == 1 and named[0]["person_source"] == "user"
    listed = {c["id"]: c for c in json.loads(cli("clusters", "--all", "--json").stdout)}
    assert not any(listed[g]["ignored"] for g, _ in groups.values())  # Enter skipped the rest


def test_contact_sheets_show_the_best_faces_first(cli, library, db_path):
    """show draws a group's sharpest, largest, most frontal faces first."""
    cli("cluster")
    group = group_of(cli, "Colin_Powell")
    result = cli("show", str(group), "--preview", "12")
    captions = result.stdout.splitlines()[-2].split()
    with Store(db_path) as store:
        quality = {f.id: f.quality for f in store.faces_in_cluster(group)}
    shown = [quality[int(c)] for c in captions]
    assert len(shown) == len(quality) and shown == sorted(shown, reverse=True)
    assert len(set(shown)) > 1


def test_faces_too_blurred_to_judge_are_listed_and_kept_out_of_groups(cli, tmp_path):
    """A blurred face is listed by status --poor, never grouped, never deleted."""
    folder = copy_people(tmp_path / "photos", range(1, 5))
    blurred = folder / "Colin_Powell_blurred.jpg"
    Image.open(lfw_photo("Colin_Powell", 5)).filter(ImageFilter.GaussianBlur(4)).save(blurred)
    cli("scan", str(folder))
    status = cli("status")
    assert "1 face too small or too blurred to judge" in status.stdout
    listed = json.loads(cli("status", "--poor", "--json").stdout)
    assert [f["path"] for f in listed["poor_list"]] == [str(blurred)]
    cli("cluster")
    kept_out = [f for f in faces(cli) if f["path"] == str(blurred)]
    assert len(kept_out) == 1 and kept_out[0]["cluster"] is None


def test_an_old_library_gets_quality_scores_and_refusals_on_upgrade(db_path):
    """Upgrading scores the faces already stored from their boxes and landmarks alone."""
    db = sqlite3.connect(db_path, isolation_level=None)
    migrate(db, MIGRATIONS[:4])
    db.execute("INSERT INTO packs (name, fingerprint) VALUES ('sc_dlib', 'x')")
    db.execute("INSERT INTO photos (path, size, mtime_ns, status, scanned_at) VALUES ('/a.jpg', 1, 1, 'ok', 'now')")
    frontal = [[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]]
    for box, marks in (((0, 0, 100, 100), frontal), ((0, 0, 20, 20), frontal)):
        db.execute("INSERT INTO faces (photo_id, pack_id, x, y, w, h, landmarks, score, embedding)"
                   " VALUES (1, 1, ?, ?, ?, ?, ?, 0.9, x'00')", (*box, json.dumps(marks)))
    db.close()
    with Store(db_path) as store:
        big, small = [q for (q,) in store.db.execute("SELECT quality FROM faces ORDER BY id")]
        assert big > 0.5 and small == 0.0
        assert [f.id for f in store.poor_faces()] == [2]
        assert store.refusals() == set()


def test_split_keeps_one_adult_whole_and_pulls_two_look_alikes_apart(cli, tmp_path):
    """By default split leaves one person with 20 photos in one or two parts
    (it once cut 22 faces into 14), and separates two people named as one:
    Angelina Jolie and Jennifer Lopez, the nearest two in the shared LFW."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for person, count in (("Angelina_Jolie", 20), ("Jennifer_Lopez", 8)):
        for n in range(1, count + 1):
            shutil.copy(lfw_photo(person, n), folder / f"{person}_{n}.jpg")
    assert cli("scan", str(folder), "--quiet").exit_code == 0
    face_of = {f["path"].rsplit("/", 1)[1]: str(f["id"]) for f in faces(cli)}
    angelina = [face_of[f"Angelina_Jolie_{n}.jpg"] for n in range(1, 21)]
    cli("assign", *angelina, "Angelina")
    alone = cli("split", "Angelina", "--preview", "0", input="q\n")
    assert alone.exit_code == 0, alone.output
    parts = re.search(r"part 1 of (\d+)", alone.stdout)
    assert parts is None or int(parts[1]) <= 2, alone.stdout
    jennifer = [face_of[f"Jennifer_Lopez_{n}.jpg"] for n in range(1, 9)]
    cli("assign", *angelina[:8], *jennifer, "Pat")
    # Two main parts, and at most a stray face of its own.
    mixed = cli("split", "Pat", "--preview", "0", input="First\nSecond\nq\n")
    assert re.search(r"Pat, part 1 of [23]: ", mixed.stdout), mixed.stdout
    named = Counter((face["person"], person_of(face["path"])) for face in faces(cli)
                    if face["person"] in ("Pat", "First", "Second"))
    first = {who for name, who in named if name == "First"}
    second = {who for name, who in named if name == "Second"}
    assert len(first) == len(second) == 1 and first != second, named
    assert sum(count for (name, _), count in named.items() if name == "Pat") <= 1
