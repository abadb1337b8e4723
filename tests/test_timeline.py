"""Capture time as evidence: a child is recognised through their photos of
that time, groups that mix look-alike children do not name them, and photos
without a date are named as before."""

from __future__ import annotations

import numpy as np

from facesort.engine.thresholds import thresholds_for
from facesort.people.cluster_run import auto_names
from facesort.store import FaceRecord, GroupingInput, PhotoMeta, Store

SFACE = thresholds_for("yunet_sface")  # recognize 1.0, margin 0.2
YEAR = 365.25
DAY_2000 = 2451544.5  # Julian day of 2000-01-01


def _unit(*parts: tuple[int, float]) -> np.ndarray:
    vector = np.zeros(128, np.float32)
    for axis, value in parts:
        vector[axis] = value
    return vector / np.linalg.norm(vector)


def _names(embeddings, person_ids, days, labels=None) -> dict[int, int]:
    n = len(embeddings)
    data = GroupingInput(
        face_ids=np.arange(1, n + 1), photo_ids=np.arange(1, n + 1),
        embeddings=np.stack(embeddings), cluster_ids=np.zeros(n, np.int64),
        person_ids=np.array(person_ids), ignored=np.zeros(n, bool), days=np.array(days, np.float64))
    labels = np.full(n, -1) if labels is None else np.array(labels)
    return {face: person for face, person, _ in auto_names(data, labels, SFACE, set(), np.zeros(n, bool))}


def test_a_child_is_named_through_their_photos_of_that_time():
    # Alice at 1 (2000) and five photos of her as an adult (2020): her
    # centroid is an adult's face, 1.29 from a new photo of her at 2.
    child, adult = _unit((0, 1.0)), _unit((1, 1.0))
    at_two = _unit((0, 0.875), (3, (1 - 0.875 ** 2) ** 0.5))  # 0.5 from her photo at 1
    faces = [child] + [adult] * 5 + [at_two]
    owners = [7] * 6 + [0]
    dated = [DAY_2000] + [DAY_2000 + 20 * YEAR] * 5 + [DAY_2000 + 1.2 * YEAR]
    assert _names(faces, owners, dated) == {7: 7}
    # Without dates, as before: the centroid is too far to name her.
    assert _names(faces, owners, [np.nan] * 7) == {}


def test_a_group_mixing_two_children_does_not_name_the_other_child():
    # Alice named at 1 (2000) and at 11 (2010); a face from 2010 grouped
    # with her baby photo, 1.05 from it but 1.41 from her photo of 2010:
    # another child, whom the group's anchor would name Alice without dates.
    baby, alice_2010 = _unit((0, 1.0)), _unit((1, 1.0))
    other = _unit((0, 0.449), (2, (1 - 0.449 ** 2) ** 0.5))
    faces, owners, labels = [baby, alice_2010, other], [7, 7, 0], [0, 1, 0]
    assert _names(faces, owners, [DAY_2000, DAY_2000 + 10 * YEAR, DAY_2000 + 10.1 * YEAR], labels) == {}
    assert _names(faces, owners, [np.nan] * 3, labels) == {3: 7}


def _at(alice: float, bob: float) -> np.ndarray:
    """A face at these distances from _unit((0, 1)) (Alice) and _unit((1, 1)) (Bob)."""
    a, b = 1 - alice ** 2 / 2, 1 - bob ** 2 / 2
    return _unit((0, a), (1, b), (2, (1 - a * a - b * b) ** 0.5))


def test_a_group_names_a_face_only_where_its_time_agrees():
    # Alice's group holds a face of this year; Bob (another child) is named
    # apart. Too far and too close to Bob for recognition alone, the face
    # takes the group's name only when Alice is also clearly the nearest of
    # that time (by 0.75 x the margin 0.2).
    alice, bob = _unit((0, 1.0)), _unit((1, 1.0))
    owners, labels, days = [7, 8, 0], [0, 1, 0], [DAY_2000, DAY_2000, DAY_2000 + 30]
    assert _names([alice, bob, _at(1.05, 1.25)], owners, days, labels) == {3: 7}
    assert _names([alice, bob, _at(1.05, 0.98)], owners, days, labels) == {}  # Bob is nearer
    assert _names([alice, bob, _at(1.0, 1.1)], owners, days, labels) == {}  # not clearly Alice
    # Without dates, as before: the group's anchor names it.
    assert _names([alice, bob, _at(1.0, 1.1)], owners, [np.nan] * 3, labels) == {3: 7}


def test_the_store_gives_each_face_its_capture_time(tmp_path):
    with Store(tmp_path / "library.db") as store:
        pack_id = store.pack_id("yunet_sface", "-")
        for number, taken in enumerate(("2000-01-01T00:00:00", "2010-07-02T12:00:00+02:00", None)):
            face = FaceRecord((0, 0, 10, 10), [[0, 0]] * 5, 0.9, _unit((number, 1.0)), quality=1.0)
            store.save_photo(f"/photos/{number}.jpg", 1, 1, f"hash{number}", PhotoMeta(10, 10, 1, taken),
                             pack_id, [face])
        days = store.grouping_input(pack_id).days
    assert days[0] == DAY_2000
    assert abs(days[1] - (DAY_2000 + 3835.4167)) < 1e-3  # 2010-07-02 10:00 UTC
    assert np.isnan(days[2])



def _growing_up(steps: int) -> list[np.ndarray]:
    """Photos of one child every 2.5 years, each 0.54 from the one before and
    drifting away: the third is 1.05 from the first."""
    return [_unit((0, np.cos(0.55 * k)), (1, np.sin(0.55 * k))) for k in range(steps)]


def test_names_chain_through_time_from_one_named_photo():
    faces = _growing_up(6)
    days = [DAY_2000 + 2.5 * YEAR * k for k in range(6)]
    # Named once, as a baby: each later photo is near the one before it.
    assert _names(faces, [7, 0, 0, 0, 0, 0], days) == {2: 7, 3: 7, 4: 7, 5: 7, 6: 7}
    # Without dates there is no chain: only the photo near the named one.
    assert _names(faces, [7, 0, 0, 0, 0, 0], [np.nan] * 6) == {2: 7}


def test_a_name_the_birth_date_drops_is_never_a_link_of_the_chain():
    faces = _growing_up(3)
    data = GroupingInput(
        face_ids=np.arange(1, 4), photo_ids=np.arange(1, 4), embeddings=np.stack(faces),
        cluster_ids=np.zeros(3, np.int64), person_ids=np.array([7, 0, 0]), ignored=np.zeros(3, bool),
        days=np.array([DAY_2000 + 2.5 * YEAR * k for k in range(3)]))
    without_face_2 = lambda names: [name for name in names if name[0] != 2]  # noqa: E731
    assert auto_names(data, np.full(3, -1), SFACE, set(), np.zeros(3, bool), allowed=without_face_2) == []


def test_a_face_whose_time_says_someone_else_leaves_the_named_group():
    # Alice (named in 2000) and a face of 2010 are grouped; Bob is named in
    # 2010, apart. The face leaves Alice's group when Bob is nearer to it
    # than Alice is even with her ten-year gap waived; otherwise it stays.
    from facesort.people.cluster_run import apart_from_others

    alice, bob = _unit((0, 1.0)), _unit((1, 1.0))

    def labels_after(face, days):
        data = GroupingInput(
            face_ids=np.arange(1, 4), photo_ids=np.arange(1, 4), embeddings=np.stack([alice, bob, face]),
            cluster_ids=np.zeros(3, np.int64), person_ids=np.array([7, 8, 0]), ignored=np.zeros(3, bool),
            days=np.array(days, np.float64))
        return apart_from_others(np.array([0, 1, 0]), data).tolist()

    dated = [DAY_2000, DAY_2000 + 10 * YEAR, DAY_2000 + 10 * YEAR]
    assert labels_after(_at(1.05, 0.98), dated) == [0, 1, -1]
    assert labels_after(_at(0.95, 0.98), dated) == [0, 1, 0]  # Alice is nearer, gap aside
    assert labels_after(_at(1.05, 0.98), [np.nan] * 3) == [0, 1, 0]  # no dates: as before


def test_a_face_that_the_automatic_names_of_its_time_say_is_someone_else_leaves_the_group():
    # Alice and Bob named as babies (2000). In 2010 Bob's group gains a photo
    # named Bob automatically, and Alice's group holds a face 0.7 from that
    # photo, 1.05 from Alice's: Bob's younger self looks like her, his photo
    # of 2010 says it is him. It is named nobody, and leaves Alice's group.
    from facesort.people.cluster_run import apart_from_others

    alice, bob = _unit((0, 1.0)), _unit((1, 1.0))
    bob_2010 = _at(1.3, 0.8)
    a, b = 1 - 1.05 ** 2 / 2, 1 - 1.15 ** 2 / 2
    c = (1 - 0.7 ** 2 / 2 - a * bob_2010[0] - b * bob_2010[1]) / bob_2010[2]
    face = _unit((0, a), (1, b), (2, c), (3, (1 - a * a - b * b - c * c) ** 0.5))
    assert np.isclose(np.linalg.norm(face - bob_2010), 0.7)
    labels = np.array([0, 1, 1, 0])
    data = GroupingInput(
        face_ids=np.arange(1, 5), photo_ids=np.arange(1, 5), embeddings=np.stack([alice, bob, bob_2010, face]),
        cluster_ids=np.zeros(4, np.int64), person_ids=np.array([7, 8, 0, 0]), ignored=np.zeros(4, bool),
        days=np.array([DAY_2000, DAY_2000, DAY_2000 + 10 * YEAR, DAY_2000 + 10 * YEAR]))
    names = auto_names(data, labels, SFACE, set(), np.zeros(4, bool))
    assert {face: person for face, person, _ in names} == {3: 8}
    assert apart_from_others(labels, data).tolist() == [0, 1, 1, 0]  # the user's photos alone: Alice's
    assert apart_from_others(labels, data, names).tolist() == [0, 1, 1, -1]


def test_a_group_named_as_two_people_becomes_one_group_each():
    # Siblings share a group: Alice named at 2 (2000), Bob at 2 (2003). An
    # undecided face of 2003 goes with Bob (his photo of that year), though
    # Alice's baby photo is as near: time tells them apart.
    from facesort.people.cluster_run import apart_by_names

    alice, bob = _unit((0, 1.0)), _unit((1, 1.0))
    face = _at(0.9, 0.9)
    data = GroupingInput(
        face_ids=np.arange(1, 6), photo_ids=np.arange(1, 6),
        embeddings=np.stack([alice, alice, bob, face, alice]), cluster_ids=np.zeros(5, np.int64),
        person_ids=np.array([7, 7, 8, 0, 0]), ignored=np.zeros(5, bool),
        days=np.array([DAY_2000, DAY_2000 + 0.1 * YEAR, DAY_2000 + 3 * YEAR, DAY_2000 + 3.1 * YEAR,
                       DAY_2000 + 0.2 * YEAR]))
    labels = apart_by_names(np.array([0, 0, 0, 0, 0]), data).tolist()
    assert labels[0] == labels[1] == labels[4] == 0  # Alice's part, the larger, keeps the group
    assert labels[2] == labels[3] != 0
    # Not clearly nearer one of them by the margin asked: neither's.
    assert apart_by_names(np.array([0, 0, 0, 0, 0]), data, margin=0.2).tolist()[3] == -1
    near_bob = GroupingInput(**{**data.__dict__, "embeddings": np.stack([alice, alice, bob, _at(1.2, 0.5), alice])})
    labels = apart_by_names(np.array([0, 0, 0, 0, 0]), near_bob, margin=0.2).tolist()
    assert labels[2] == labels[3] != 0
    # A group the user named as one person is left as it is.
    one = GroupingInput(**{**data.__dict__, "person_ids": np.array([7, 7, 0, 0, 0])})
    assert apart_by_names(np.array([0, 0, 0, 0, 0]), one).tolist() == [0] * 5


def _away(face: np.ndarray, distance: float, axis: int) -> np.ndarray:
    """A unit face at ``distance`` from ``face``, turned towards ``axis``."""
    cos = 1 - distance ** 2 / 2
    turned = cos * face + (1 - cos ** 2) ** 0.5 * _unit((axis, 1.0))
    return turned / np.linalg.norm(turned)


def test_a_face_as_near_a_group_nobody_named_is_not_named_after_someone_else():
    # Alice named once; a new face (with one more of the same child in its
    # own group) 0.9 from her, but only 0.95 from a group nobody has named
    # yet: a baby of a child not named yet, not Alice. Farther from that
    # group than from Alice by the margin, it is hers.
    alice = _unit((0, 1.0))
    new = _away(alice, 0.9, 1)
    labels = [0, 2, 2, 1, 1]
    for rival_distance, expected in ((0.95, {}), (1.2, {2: 7, 3: 7})):
        rival = _away(new, rival_distance, 2)
        assert np.linalg.norm(rival - alice) > SFACE.recognize  # never Alice's itself
        faces, owners = [alice, new, new, rival, rival], [7, 0, 0, 0, 0]
        for days in ([DAY_2000] * 5, [np.nan] * 5):
            assert _names(faces, owners, days, labels) == expected, (rival_distance, days)
