"""facesort tune: an adapter learned from the user's names with FaceNet's
triplet loss, kept only where it helps, and only for its own pack."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from conftest import group_of, lfw_photo
from facesort.people import suggestions
from facesort.people.identify import NamedGallery
from facesort.people.cluster_run import update_groups
from facesort.store import FaceRecord, PhotoMeta, Store
from facesort.store.migrations import MIGRATIONS, migrate
from facesort.engine.thresholds import thresholds_for
from facesort.people.tune import (
    Adapter, TrainParams, adapter_for, batch_hard, certain_negatives, learn,
    new_decisions, train, triplet_loss, tune_library,
)

DLIB = thresholds_for("sc_dlib")


def synthetic(people=10, per=16, noise=0.35, seed=0):
    """Faces whose identity lies in 8 dimensions and whose other 24 hold
    nuisance (light, pose) strong enough that the pack's distances miss many
    same-person pairs: what a learned projection can fix."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, 8))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rows = []
    for p in range(people):
        for _ in range(per):
            signal = centres[p] + rng.normal(scale=0.12 / np.sqrt(8), size=8)
            signal /= np.linalg.norm(signal)
            rows.append(np.concatenate([signal, rng.normal(scale=noise / np.sqrt(24), size=24)]))
    x = np.array(rows)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), np.repeat(np.arange(1, people + 1), per)


def synthetic_library(store: Store, pack: str, x: np.ndarray, ids: np.ndarray) -> int:
    """A library of one face a photo, each face named by the user as ``ids``."""
    pack_id = store.pack_id(pack, f"{pack}-test")
    for row, embedding in enumerate(x):
        store.save_photo(f"/photos/{pack}/{row}.jpg", 1, 1, f"{pack}{row}", PhotoMeta(100, 100, 1, None),
                         pack_id, [FaceRecord((10.0, 10.0, 50.0, 50.0), [[0.0, 0.0]] * 5, 0.9, embedding)])
    data = store.grouping_input(pack_id)
    people = {p: store.add_person(f"{pack} person {p}").id for p in np.unique(ids)}
    for p, person in people.items():
        store.set_person(data.face_ids[ids == p].tolist(), person)
    return pack_id


# -- the loss -------------------------------------------------------------------------


def test_the_triplet_loss_gradient_matches_finite_differences():
    """The loss's analytic gradient in the matrix is what finite differences measure."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 5))
    labels = np.array([1, 1, 1, 2, 2, 2, 3, 3, 3, 3])
    positive = (labels[:, None] == labels[None, :]) & ~np.eye(10, dtype=bool)
    negative = labels[:, None] != labels[None, :]
    matrix = np.eye(5) + 0.3 * rng.normal(size=(5, 5))
    loss, grad = triplet_loss(matrix, x, positive, negative, alpha=1.0)
    assert loss > 0
    numeric = np.zeros_like(matrix)
    eps = 1e-6
    for i in range(5):
        for j in range(5):
            step = np.zeros_like(matrix)
            step[i, j] = eps
            numeric[i, j] = (triplet_loss(matrix + step, x, positive, negative, alpha=1.0)[0]
                             - triplet_loss(matrix - step, x, positive, negative, alpha=1.0)[0]) / (2 * eps)
    assert np.allclose(grad, numeric, atol=1e-6)


def test_batch_hard_mining_picks_the_farthest_positive_and_the_nearest_negative():
    """Each anchor trains on its farthest same-person face and nearest other face."""
    #              a0   a1   a2   b0   b1
    d2 = np.array([[0.0, 0.4, 0.9, 0.5, 1.5],   # anchor a0: positive a2, negative b0
                   [0.4, 0.0, 0.2, 1.1, 0.3]])  # anchor a1: positive a0, negative b1
    same = np.array([True, True, True, False, False])
    positive = same[None, :] & ~np.eye(2, 5, dtype=bool)
    negative = ~same[None, :].repeat(2, axis=0)
    pos, neg, valid = batch_hard(d2, positive, negative)
    assert pos.tolist() == [2, 0] and neg.tolist() == [3, 4] and valid.all()
    # Semi-hard (FaceNet): the nearest negative still farther than the positive.
    _, neg, _ = batch_hard(d2, positive, negative, semi_hard=True)
    assert neg.tolist() == [4, 3]


def test_an_untrained_adapter_changes_nothing():
    """Training starts from the identity, which leaves every embedding as it is."""
    x, ids = synthetic(people=2, per=3)
    untrained = Adapter(train(x, ids, {}, TrainParams(steps=0)), DLIB.recognize, DLIB.margin)
    assert np.allclose(untrained.apply(x), x, atol=1e-6)


def test_training_is_deterministic_with_a_seed():
    """The same decisions and seed give the same adapter."""
    x, ids = synthetic(people=4, per=6, noise=1.5)
    first = train(x, ids, {}, TrainParams(steps=20, seed=3))
    assert np.array_equal(first, train(x, ids, {}, TrainParams(steps=20, seed=3)))
    assert not np.array_equal(first, np.eye(x.shape[1]))


def test_rejections_and_faces_sharing_a_photo_are_certain_negatives():
    """A rejected face, and another face in a photo where a person is named, are not that person."""
    person_ids = np.array([1, 0, 2, 0, 0])
    photo_ids = np.array([10, 10, 11, 12, 13])
    found = certain_negatives(person_ids, photo_ids, [(3, 2)])
    assert found[1].tolist() == [1] and found[2].tolist() == [3]


# -- keeping it only where it helps ------------------------------------------------------


def test_an_adapter_that_does_not_help_is_not_kept():
    """Where the pack already names every held-out face right, nothing is kept."""
    x, ids = synthetic(noise=0.0)
    result = learn(x, ids, np.arange(len(x)), [], DLIB, TrainParams(steps=100))
    assert not result.kept
    assert result.with_adapter.right <= result.without.right


def test_an_adapter_that_helps_is_kept_with_its_own_thresholds(db_path):
    """Where nuisance hides identity, tune keeps the adapter and automatic names use it."""
    x, ids = synthetic()
    with Store(db_path) as store:
        pack_id = synthetic_library(store, "sc_dlib", x, ids)
        result = tune_library(store, "sc_dlib", TrainParams(steps=300))
        assert result.kept
        assert result.with_adapter.right > result.without.right
        assert result.with_adapter.wrong <= result.without.wrong
        stored = store.adapter(pack_id)
        assert stored.faces == result.faces and stored.recognize == result.adapter.recognize
        assert np.allclose(adapter_for(store, pack_id).matrix, result.adapter.matrix)


def test_tune_on_a_small_family_library_says_it_does_not_help_and_changes_nothing(cli, library):
    """tune shows both tallies side by side and, when it does not help, keeps nothing."""
    assert cli("cluster").exit_code == 0
    for person in ("Colin_Powell", "Tony_Blair", "Jean_Chretien"):
        assert cli("name", str(group_of(cli, person)), person.replace("_", " ")).exit_code == 0
    before = cli("export").stdout
    result = cli("tune")
    assert result.exit_code == 0, result.output
    assert "without adapter" in result.stdout and "with adapter" in result.stdout
    assert "not kept" in result.stdout
    assert cli("export").stdout == before
    assert "Adapter   off" in cli("status").stdout


def test_tune_with_too_few_names_says_what_to_do(cli, library):
    """With nothing named, tune says how many names it needs, exit 2."""
    result = cli("tune")
    assert result.exit_code == 2
    assert "too few named faces" in result.output


# -- where it is used --------------------------------------------------------------------


def _nobody_is_near(store: Store, pack_id: int) -> None:
    """Keep an adapter under which no face is near anyone: a visible effect."""
    d = store.grouping_input(pack_id).embeddings.shape[1]
    store.save_adapter(pack_id, np.eye(d, dtype=np.float32), 0.0, 0.0, faces=20, decisions=0, seed=0)


def test_a_kept_adapter_survives_a_rescan_is_used_by_who_and_is_dropped_by_off(cli, library, db_path):
    """A kept adapter stays through a rescan, changes 'who', and --off removes it cleanly."""
    assert cli("cluster").exit_code == 0
    assert cli("name", str(group_of(cli, "Colin_Powell")), "Colin Powell").exit_code == 0
    photo = str(lfw_photo("Colin_Powell", 9))
    assert "Colin Powell (distance" in cli("who", photo).stdout
    with Store(db_path) as store:
        _nobody_is_near(store, store.find_pack("sc_dlib"))
    assert cli("scan", str(library)).exit_code == 0
    status = cli("status")
    assert "Adapter   sc_dlib: on, trained" in status.stdout and "20 named faces" in status.stdout
    assert json.loads(cli("status", "--json").stdout)["adapters"][0]["faces"] == 20
    assert "unknown (nearest Colin Powell" in cli("who", photo).stdout
    result = cli("tune", "--off")
    assert result.exit_code == 0 and "removed adapter for sc_dlib" in result.stdout
    assert "Colin Powell (distance" in cli("who", photo).stdout
    assert "Adapter   off" in cli("status").stdout


def test_a_different_packs_faces_never_see_the_adapter(db_path):
    """An adapter belongs to one pack: another pack's names and gallery ignore it."""
    x, ids = synthetic(people=3, per=4, noise=0.0)
    with Store(db_path) as store:
        tuned = synthetic_library(store, "sc_dlib", x, ids)
        other = synthetic_library(store, "sc_faceres", x, ids)
        unnamed = store.grouping_input(other).face_ids[::4].tolist()
        for face in unnamed:
            store.db.execute("UPDATE faces SET person_id = NULL, person_source = NULL WHERE id = ?", (face,))
        before = update_groups(store, "sc_faceres").auto_named_faces
        _nobody_is_near(store, tuned)
        assert adapter_for(store, other) is None
        assert NamedGallery.of_library(store, other).adapter is None
        assert NamedGallery.of_library(store, tuned).adapter is not None
        assert update_groups(store, "sc_faceres").auto_named_faces == before > 0


def test_cluster_suggests_tuning_again_after_many_new_decisions(cli, db_path):
    """After 20% more decisions (and at least 50) since training, cluster says to tune again."""
    x, ids = synthetic(people=6, per=12, noise=0.0)
    with Store(db_path) as store:
        pack_id = synthetic_library(store, "sc_dlib", x, ids)
        store.save_adapter(pack_id, np.eye(x.shape[1], dtype=np.float32), 0.3, 0.06,
                           faces=10, decisions=10, seed=0)
        assert new_decisions(store, pack_id) == 62
    result = cli("cluster")
    assert result.exit_code == 0, result.output
    assert "62 decisions of yours since 'facesort tune'" in result.stdout
    with Store(db_path) as store:
        store.save_adapter(pack_id, np.eye(x.shape[1], dtype=np.float32), 0.3, 0.06,
                           faces=72, decisions=72, seed=0)
    assert "facesort tune" not in cli("cluster").stdout


def test_the_adapter_table_comes_with_an_upgrade(db_path):
    """A library made before adapters upgrades to one with no adapter and its data intact."""
    db = sqlite3.connect(db_path, isolation_level=None)
    migrate(db, MIGRATIONS[:4])
    db.close()
    with Store(db_path) as store:
        pack_id = store.pack_id("sc_dlib", "fp")
        assert store.adapter(pack_id) is None and store.adapters() == []
        store.save_adapter(pack_id, np.eye(3, dtype=np.float32) * 2, 0.5, 0.1, faces=5, decisions=7, seed=1)
        stored = store.adapter(pack_id)
        assert stored.matrix.shape == (3, 3) and stored.matrix[0, 0] == 2 and stored.seed == 1
        assert store.drop_adapter(pack_id) and store.adapter(pack_id) is None


def test_an_adapter_is_applied_with_its_own_thresholds():
    """Distances change scale under an adapter, so its own distance and margin replace the pack's."""
    adapter = Adapter(np.eye(2, dtype=np.float32), 0.42, 0.07)
    used = adapter.thresholds(DLIB)
    assert (used.recognize, used.margin, used.verify) == (0.42, 0.07, DLIB.verify)
    assert np.allclose(adapter.apply(np.array([[3.0, 4.0]])), [[0.6, 0.8]])



def test_tune_keeps_a_helpful_adapter_only_without_dry_run(cli, db_path):
    """--dry-run compares and keeps nothing; tune then keeps the adapter and says how to remove it."""
    x, ids = synthetic()
    with Store(db_path) as store:
        pack_id = synthetic_library(store, "sc_dlib", x, ids)
    result = cli("tune", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "It would be kept (--dry-run: nothing changed)" in result.stdout
    with Store(db_path) as store:
        assert store.adapter(pack_id) is None
    result = cli("tune")
    assert "Kept: automatic names now use it" in result.stdout and "facesort tune --off" in result.stdout
    assert "Adapter   sc_dlib: on" in cli("status").stdout


def test_cluster_after_a_new_adapter_names_again(cli, library, db_path):
    """Keeping or dropping an adapter changes automatic names: the next cluster run redoes them."""
    cli("cluster")
    cli("name", str(group_of(cli, "Colin_Powell")), "Colin Powell")
    named = json.loads(cli("cluster", "--json").stdout)["auto_named_faces"]
    assert json.loads(cli("cluster", "--json").stdout)["run"] == "unchanged"
    with Store(db_path) as store:
        _nobody_is_near(store, store.find_pack("sc_dlib"))
    again = json.loads(cli("cluster", "--json").stdout)
    assert again["run"] != "unchanged"
    cli("tune", "--off")
    assert json.loads(cli("cluster", "--json").stdout)["auto_named_faces"] == named


def test_suggestions_see_faces_through_the_adapter(cli, library, db_path):
    """Suggestions compare faces through the kept adapter, with distances on its scale, as
    automatic names do; without one, as the pack made them."""
    cli("cluster")
    with Store(db_path) as store:
        pack_id = store.find_pack("sc_dlib")
        pack = thresholds_for("sc_dlib")
        faces = store.grouping_input(pack_id).embeddings[:5]
        space, seen = suggestions._recognition_space(store, pack_id, pack)
        assert np.array_equal(space(faces), faces) and seen == pack
        turn = np.roll(np.eye(faces.shape[1], dtype=np.float32), 1, axis=1)
        store.save_adapter(pack_id, turn, pack.recognize * 2, pack.margin * 2, faces=20,
                           decisions=0, seed=0)
        space, seen = suggestions._recognition_space(store, pack_id, pack)
        assert np.allclose(space(faces), np.roll(faces, 1, axis=1), atol=1e-6)
        assert (seen.recognize, seen.margin) == (pack.recognize * 2, pack.margin * 2)
        assert seen.cluster == pytest.approx(pack.cluster * 2)
