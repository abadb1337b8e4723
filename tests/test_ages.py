"""Birthdays and ages: a person's birth date keeps their name off photos taken
before it, and gives their age in show, export and find."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import date

import pytest

from conftest import faces, group_of, person_of
from facesort.errors import FacesortError
from facesort.people import ages
from facesort.people.cluster_run import within_ages
from facesort.engine.thresholds import thresholds_for
from facesort.store import Store
from facesort.store.migrations import MIGRATIONS, migrate


def date_photos(db_path, year_of) -> None:
    """Give every photo of the library a capture time: June 1st of
    ``year_of(path)``, or none where it returns None."""
    with sqlite3.connect(db_path) as db:
        for photo_id, path in db.execute("SELECT id, path FROM photos").fetchall():
            year = year_of(path)
            db.execute("UPDATE photos SET taken_at = ? WHERE id = ?",
                       (f"{year}-06-01T10:00:00" if year else None, photo_id))


def number_of(path: str) -> int:
    return int(path.rsplit("_", 1)[1].split(".")[0])


@pytest.fixture
def dated(library, db_path):
    """The three people's library, photo N of each person taken in 2000 + N."""
    date_photos(db_path, lambda path: 2000 + number_of(path))
    return library


def by_path(cli) -> dict[str, dict]:
    return {f["path"].rsplit("/", 1)[1]: f for f in faces(cli)}


# -- the rules ----------------------------------------------------------------------


def test_a_birth_date_is_compared_at_the_precision_given():
    assert ages.before_birth("2015", "2014-12-31T23:00:00")
    assert not ages.before_birth("2015", "2015-01-01T00:00:00")
    assert ages.before_birth("2015-03", "2015-02-28T10:00:00")
    assert not ages.before_birth("2015-03", "2015-03-01T10:00:00")
    assert ages.before_birth("2015-03-02", "2015-03-01T10:00:00+02:00")
    assert not ages.before_birth("2015-03-02", "2015-03-02T00:00:00")
    assert not ages.before_birth(None, "2015-03-02T00:00:00")
    assert not ages.before_birth("2015", None)


def test_ages_are_months_under_two_and_years_after():
    assert ages.age_in_months("2015-03-02", "2015-03-01T10:00:00") == 0
    assert ages.age_in_months("2015-03-02", "2016-05-02T10:00:00") == 14
    assert ages.describe_age(14) == "14 months" and ages.describe_age(1) == "1 month"
    assert ages.describe_age(ages.age_in_months("2015-03-02", "2018-03-01T10:00:00")) == "2 years"
    assert ages.describe_age(ages.age_in_months("2015-03-02", "2018-03-02T10:00:00")) == "3 years"
    assert ages.describe_age(30, short=True) == "2 y" and ages.describe_age(5, short=True) == "5 mo"
    # A year alone counts from the middle of the year.
    assert ages.age_in_months("2015", "2018-09-01T10:00:00") == 38
    assert ages.is_child("2015", "2027-01-01T00:00:00") and not ages.is_child("2015", "2029-01-01T00:00:00")
    assert not ages.is_child("2015", None)


def test_birth_dates_and_age_ranges_are_checked():
    assert ages.parse_born("2015-3-2") == "2015-03-02"
    assert ages.parse_born("2015-03") == "2015-03" and ages.parse_born("1950") == "1950"
    for bad in ("2015-02-30", "15", "2015/03/02", "March 2015"):
        with pytest.raises(FacesortError):
            ages.parse_born(bad)
    with pytest.raises(FacesortError, match="future"):
        ages.parse_born("2031", today=date(2030, 1, 1))
    assert ages.parse_age_range("3-5") == (3, 5) and ages.parse_age_range("4") == (4, 4)
    with pytest.raises(FacesortError):
        ages.parse_age_range("5-3")


# -- the library ---------------------------------------------------------------------


def test_a_person_gets_a_birth_date_shows_it_and_loses_it(cli, library):
    cli("cluster")
    cli("name", str(group_of(cli, "Tony_Blair")), "Tony")
    said = cli("person", "tony", "--born", "1953-05-06")
    assert said.exit_code == 0, said.output
    assert "Tony: born 1953-05-06" in said.stdout
    listed = json.loads(cli("people", "--json").stdout)
    assert [p["born"] for p in listed if p["name"] == "Tony"] == ["1953-05-06"]
    assert json.loads(cli("person", "Tony", "--json").stdout)["born"] == "1953-05-06"
    assert cli("person", "Tony", "--born", "1953-13").exit_code != 0
    assert cli("person", "Tony", "--forget-born").exit_code == 0
    assert json.loads(cli("person", "Tony", "--json").stdout)["born"] is None
    assert "no person named 'Nobody'" in cli("person", "Nobody", "--born", "2000").output


def test_a_photo_taken_before_birth_is_never_named_automatically(cli, library, db_path):
    """Colin named on one photo of 2008, born 1950: his photos of 1941-1944 get no name."""
    date_photos(db_path, lambda path: (1940 if number_of(path) <= 4 else 2000) + number_of(path))
    cli("cluster")
    face = by_path(cli)["Colin_Powell_8.jpg"]["id"]
    cli("assign", str(face), "Colin")
    cli("cluster")
    before = {name: f["person"] for name, f in by_path(cli).items() if person_of(name) == "Colin_Powell"}
    assert all(person == "Colin" for person in before.values()), before  # the test can fail
    assert cli("person", "Colin", "--born", "1950").exit_code == 0
    cli("cluster")
    after = {name: f["person"] for name, f in by_path(cli).items() if person_of(name) == "Colin_Powell"}
    assert {name for name, person in after.items() if person == "Colin"} == {
        f"Colin_Powell_{n}.jpg" for n in range(5, 9)}


def test_naming_a_group_leaves_out_the_photos_taken_before_birth(cli, dated):
    cli("cluster")
    group = group_of(cli, "Colin_Powell")
    face = by_path(cli)["Colin_Powell_8.jpg"]["id"]
    cli("assign", str(face), "Colin")
    cli("person", "Colin", "--born", "2005-01")
    said = cli("name", str(group), "Colin")
    assert said.exit_code == 0, said.output
    assert "taken before Colin was born (2005-01)" in said.stdout
    named = {name for name, f in by_path(cli).items() if f["person"] == "Colin"}
    assert named and all(number_of(name) >= 5 for name in named)


def test_a_name_typed_with_a_starred_date_gives_the_birth_date_too(cli, dated):
    """"Colin *2005-01" at the naming prompt names Colin, born January 2005:
    his photos of 2001-2004 are left out of the group's name."""
    cli("cluster")
    group = group_of(cli, "Colin_Powell")
    session = cli("name", "--preview", "0", input="Colin *2005-13\nColin *2005-01\nq\n")
    assert session.exit_code == 0, session.output
    assert "birth date '2005-13': no such date" in session.output  # asked again, nothing named
    assert f"group {group} is Colin (born 2005-01)" in session.stdout
    assert "taken before Colin was born (2005-01)" in session.stdout
    named = {name for name, f in by_path(cli).items() if f["person"] == "Colin"}
    assert named and all(number_of(name) >= 5 for name in named)
    assert json.loads(cli("person", "Colin", "--json").stdout)["born"] == "2005-01"
    # At once; a star with no date after it is a slip, not part of a name.
    tony = group_of(cli, "Tony_Blair")
    slip = cli("name", str(tony), "Tony *")
    assert slip.exit_code != 0 and "give the birth date after the star" in slip.output
    assert "is Tony (born 1953-05-06)" in cli("name", str(tony), "Tony *1953-05-06").stdout


def test_a_group_with_photos_before_birth_is_not_offered(cli, dated, db_path):
    """Tony's second group, photographed in 1990, is not offered as Tony born 1995."""
    cli("cluster")
    main = group_of(cli, "Tony_Blair")
    other = {f["cluster"] for f in faces(cli)
             if person_of(f["path"]) == "Tony_Blair" and f["cluster"] not in (None, main)}.pop()
    in_other = {f["path"] for f in faces(cli) if f["cluster"] == other}
    date_photos(db_path, lambda path: 1990 if path in in_other else 2010)
    cli("name", str(main), "Tony")
    assert [g["group"] for g in json.loads(cli("suggest", "--json").stdout)["groups"]] == [other]
    cli("person", "Tony", "--born", "1995")
    assert json.loads(cli("suggest", "--json").stdout)["groups"] == []


def test_assigning_a_face_before_birth_keeps_it_and_warns(cli, dated):
    cli("cluster")
    early = by_path(cli)["Colin_Powell_2.jpg"]["id"]
    cli("assign", str(by_path(cli)["Colin_Powell_8.jpg"]["id"]), "Colin")
    cli("person", "Colin", "--born", "2005-03-02")
    said = cli("assign", str(early), "Colin")
    assert said.exit_code == 0
    assert f"face {early} is in a photo taken before Colin was born" in said.output
    assert (by_path(cli)["Colin_Powell_2.jpg"]["person"], by_path(cli)["Colin_Powell_2.jpg"]["person_source"]) == (
        "Colin", "user")


def test_show_export_and_find_give_ages(cli, dated):
    """Colin born 2003-06-01: photo N taken 2000 + N is age N - 3 years."""
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Colin")
    cli("person", "Colin", "--born", "2003-06-01")
    exported = by_path(cli)
    assert (exported["Colin_Powell_4.jpg"]["age"], exported["Colin_Powell_4.jpg"]["age_months"]) == (1, 12)
    assert exported["Colin_Powell_7.jpg"]["age"] == 4
    assert exported["Tony_Blair_7.jpg"]["age"] is None  # no birth date
    shown = {f["path"].rsplit("/", 1)[1]: f for f in json.loads(cli("show", "Colin", "--json").stdout)}
    assert shown["Colin_Powell_4.jpg"]["age_text"] == "12 months"
    assert shown["Colin_Powell_8.jpg"]["age_text"] == "5 years"
    found = cli("find", "Colin", "--age", "2-3")
    assert found.exit_code == 0, found.output
    assert sorted(p.rsplit("/", 1)[1] for p in found.stdout.split()) == [
        "Colin_Powell_5.jpg", "Colin_Powell_6.jpg"]
    listed = json.loads(cli("find", "Colin", "--age", "5", "--json").stdout)
    assert [hit["ages"]["Colin"]["age"] for hit in listed] == [5]
    cli("name", str(group_of(cli, "Tony_Blair")), "Tony")
    refused = cli("find", "Colin", "Tony", "--any", "--age", "2-3")
    assert refused.exit_code != 0 and "--age needs a birth date for Tony" in refused.output


def test_find_age_with_several_people_needs_each_in_range(cli, dated, db_path):
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Colin")
    cli("name", str(group_of(cli, "Tony_Blair")), "Tony")
    # Tony in Colin's photos 5 and 6 (a test of the rule, not of recognition).
    with sqlite3.connect(db_path) as db:
        for n in (5, 6):
            db.execute("INSERT INTO faces (photo_id, pack_id, x, y, w, h, score, landmarks, embedding,"
                       " person_id, person_source) SELECT photo_id, pack_id, 0, 0, 1, 1, score, landmarks,"
                       " embedding, (SELECT id FROM people WHERE name = 'Tony'), 'user' FROM faces"
                       " WHERE photo_id = (SELECT id FROM photos WHERE path LIKE ?)", (f"%Colin_Powell_{n}.jpg",))
    cli("person", "Colin", "--born", "2003-01")  # 2 in photo 5, 3 in photo 6
    cli("person", "Tony", "--born", "2002-01")  # 3 in photo 5, 4 in photo 6
    both = sorted(p.rsplit("/", 1)[1] for p in cli("find", "Colin", "Tony", "--age", "2-3").stdout.split())
    assert both == ["Colin_Powell_5.jpg"]
    either = sorted(p.rsplit("/", 1)[1] for p in cli("find", "Colin", "Tony", "--any", "--age", "4").stdout.split())
    assert "Colin_Powell_6.jpg" in either and "Colin_Powell_5.jpg" not in either


def test_children_are_named_at_the_distance_measured_for_children(library, db_path):
    """A name at a distance that suits adults but not children is kept for
    an adult and dropped for a child, where the pack measured children."""
    with Store(db_path) as store:
        colin = store.add_person("Colin")
        face, taken = store.db.execute(
            "SELECT f.id, p.taken_at FROM faces f JOIN photos p ON p.id = f.photo_id LIMIT 1").fetchone()
        store.db.execute("UPDATE photos SET taken_at = '2010-06-01T10:00:00'")
        thresholds = replace(thresholds_for("sc_dlib"), child_recognize=0.2)
        names = [(face, colin.id, 0.25)]
        assert within_ages(store, names, thresholds, store.birth_dates()) == names  # no birth date: no age
        store.set_born(colin.id, "1950")
        assert within_ages(store, names, thresholds, store.birth_dates()) == names
        store.set_born(colin.id, "2005-02")
        assert within_ages(store, names, thresholds, store.birth_dates()) == []
        assert within_ages(store, [(face, colin.id, 0.15)], thresholds, store.birth_dates()) \
            == [(face, colin.id, 0.15)]
        store.set_born(colin.id, "2011")
        assert within_ages(store, [(face, colin.id, 0.15)], thresholds, store.birth_dates()) == []


def test_measured_packs_have_a_distance_for_children():
    for pack in ("yunet_sface", "sc_sface", "sc_dlib"):
        measured = thresholds_for(pack)
        assert measured.child_recognize is not None and measured.child_recognize <= measured.recognize


def test_an_upgraded_library_keeps_its_people_without_birth_dates(db_path):
    before = [name for name, _ in MIGRATIONS].index("0012_birth_dates")
    db = sqlite3.connect(db_path, isolation_level=None)
    migrate(db, MIGRATIONS[:before])
    db.execute("INSERT INTO people (name, key) VALUES ('Ann', 'ann')")
    db.close()
    with Store(db_path) as store:
        ann = store.find_person("Ann")
        assert store.birth_dates() == {}
        store.set_born(ann.id, "2015")
        assert store.birth_dates() == {ann.id: "2015"}
    with Store(db_path) as fresh_again:
        assert fresh_again.birth_dates_by_name() == {"Ann": "2015"}


def test_the_naming_prompt_shows_the_years_a_group_spans(cli, library, db_path):
    cli("cluster")
    group = group_of(cli, "Colin_Powell")
    undated = cli("name", "--preview", "0", input="q\n")
    assert f"Group {group}:" in undated.stdout and " · 20" not in undated.stdout
    date_photos(db_path, lambda path: 2000 + number_of(path) if "Colin" in path else None)
    dated = cli("name", "--preview", "0", input="q\n")
    years = sorted({2000 + number_of(f["path"]) for f in faces(cli) if f["cluster"] == group})
    assert f"Group {group}: " in dated.stdout
    assert f"photos · {years[0]}–{years[-1]}" in dated.stdout
