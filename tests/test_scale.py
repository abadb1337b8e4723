"""Scale: cluster runs that redo only what changed, clustering pieces that
must stay exact when made fast, and read commands that start light."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import facesort.people.grouping as cluster_module
from conftest import copy_people, faces, group_of, person_of
from facesort.people.grouping import ClusterParams, blocking_for, cluster_embeddings, cluster_new_faces, match_groups
from facesort.people.gallery import UNKNOWN, Gallery, recognize
from facesort.store import Store
from facesort.store.migrations import MIGRATIONS, migrate

REPO = Path(__file__).resolve().parents[1]


def cluster_report(cli, *options: str) -> dict:
    result = cli("cluster", "--json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def people_like(rng, people: int, per_person: int, dims: int = 32, spread: float = 0.05) -> np.ndarray:
    """Faces of well separated people, ``per_person`` each, person by person."""
    centres = rng.normal(size=(people, dims))
    points = np.repeat(centres / np.linalg.norm(centres, axis=1, keepdims=True), per_person, axis=0)
    points = points + rng.normal(scale=spread, size=points.shape)
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


PARAMS = ClusterParams(refine_distance=0.4, rescue_distance=0.35, rescue_margin=0.05)


# -- cluster redoes only what changed -------------------------------------------------

def test_a_run_with_nothing_new_says_so_and_changes_nothing(cli, library):
    """facesort survives being run again and again: with nothing new it is done at once."""
    first = cluster_report(cli)
    before = faces(cli)
    result = cli("cluster")
    assert result.exit_code == 0, result.output
    assert "Nothing changed since the last run" in result.stdout
    again = cluster_report(cli)
    assert again["run"] == "unchanged" and again["groups"] == first["groups"]
    assert faces(cli) == before


def test_new_faces_join_their_groups_and_keep_the_group_ids(cli, library, tmp_path):
    """facesort survives new photos arriving: they join their people's groups without a full run."""
    cluster_report(cli)
    colin = group_of(cli, "Colin_Powell")
    assert cli("name", str(colin), "Colin").exit_code == 0
    before = {f["id"]: f["cluster"] for f in faces(cli)}
    cli("scan", str(library), str(copy_people(tmp_path / "more", range(9, 12))))
    report = cluster_report(cli)
    assert report["run"] == "incremental" and report["new_faces"] >= 8
    after = faces(cli)
    now = {f["id"]: f["cluster"] for f in after}
    assert all(now[face] == colin for face, group in before.items() if group == colin)
    grouped = [face for face, group in before.items() if group is not None]
    assert sum(now[face] == before[face] for face in grouped) >= 0.8 * len(grouped)
    new_colin = [f for f in after if "/more/" in f["path"] and person_of(f["path"]) == "Colin_Powell"]
    assert sum(f["cluster"] == colin for f in new_colin) >= 2
    assert sum(f["person"] == "Colin" and f["person_source"] == "auto" for f in new_colin) >= 2


def test_a_decision_is_seen_by_the_next_run(cli, library):
    """facesort survives a name given between runs: the next run names the person's other faces."""
    cluster_report(cli)
    tony = [f for f in faces(cli) if f["path"].endswith("Tony_Blair_1.jpg")][0]
    assert cli("assign", str(tony["id"]), "Tony").exit_code == 0
    report = cluster_report(cli)
    assert report["run"] == "incremental" and report["auto_named_faces"] >= 3
    assert cluster_report(cli)["run"] == "unchanged"


def test_a_rejection_and_an_ignore_are_changes_too(cli, library):
    """facesort survives rejections and ignores between runs: each makes the next run look again."""
    cluster_report(cli)
    cli("name", str(group_of(cli, "Tony_Blair")), "Tony")
    cluster_report(cli)
    face = next(f for f in faces(cli) if f["person"] == "Tony")
    assert cli("reject", str(face["id"])).exit_code == 0
    assert cluster_report(cli)["run"] == "incremental"
    assert cli("ignore", str(group_of(cli, "Jean_Chretien"))).exit_code == 0
    assert cluster_report(cli)["run"] == "incremental"


def test_a_decision_made_during_a_run_is_seen_by_the_next(cli, library, db_path, monkeypatch):
    """facesort survives a name given while cluster works: the next run is not 'unchanged'."""
    from facesort.people.cluster_run import update_groups

    cluster_report(cli)
    tony = [f for f in faces(cli) if f["path"].endswith("Tony_Blair_1.jpg")][0]
    with Store(db_path) as store:
        read = store.grouping_input

        def named_meanwhile(pack_id):
            data = read(pack_id)
            store.set_person([tony["id"]], store.add_person("Tony").id)
            return data

        monkeypatch.setattr(store, "grouping_input", named_meanwhile)
        assert update_groups(store, "sc_dlib", full=True).run == "full"
    assert cluster_report(cli)["run"] == "incremental"


def test_full_and_other_settings_cluster_everything_again(cli, library):
    """facesort survives a change of settings: --full, or other HDBSCAN options, redo every group."""
    cluster_report(cli)
    assert cluster_report(cli, "--full")["run"] == "full"
    assert cluster_report(cli, "--min-cluster-size", "3")["run"] == "full"
    assert cluster_report(cli, "--min-cluster-size", "3")["run"] == "unchanged"


def test_removed_photos_leave_their_groups(cli, library):
    """facesort survives photos deleted between runs: their faces leave the groups."""
    cluster_report(cli)
    (library / "Colin_Powell_1.jpg").unlink()
    cli("scan", str(library))
    report = cluster_report(cli)
    assert report["run"] == "incremental"
    assert not [f for f in faces(cli) if f["path"].endswith("Colin_Powell_1.jpg")]
    assert sum(report["group_sizes"]) == report["grouped_faces"]


def test_an_old_library_counts_decisions_after_its_upgrade(db_path):
    """facesort survives opening a library from before incremental runs: it migrates and counts."""
    db = sqlite3.connect(db_path, isolation_level=None)
    migrate(db, MIGRATIONS[:4])
    db.close()
    with Store(db_path) as store:
        before = store.decision_changes()
        person = store.add_person("Ann")
        store.db.execute("INSERT INTO packs (name, fingerprint) VALUES ('p', '-')")
        store.db.execute("INSERT INTO photos (path, size, mtime_ns, status, scanned_at)"
                         " VALUES ('/a.jpg', 1, 1, 'ok', '')")
        store.db.execute("INSERT INTO faces (photo_id, pack_id, x, y, w, h, landmarks, score, embedding)"
                         " VALUES (1, 1, 0, 0, 1, 1, '[]', 1, x'00000000')")
        store.set_person([1], person.id)
        assert store.decision_changes() > before
        assert store.face_state(1) == (1, 1)


# -- the pieces made fast stay exact -------------------------------------------------------

def test_new_faces_recluster_only_the_blocks_they_went_to(monkeypatch):
    """facesort survives a large library growing: blocks without new faces keep their groups as they were."""
    monkeypatch.setattr(cluster_module, "BLOCK_SIZE", 60)
    rng = np.random.default_rng(0)
    old = people_like(rng, 40, 6)
    blocking = blocking_for(old)
    assert blocking is not None and len(blocking.centres) >= 3
    labels = cluster_embeddings(old, PARAMS, blocking)
    stranger = people_like(rng, 1, 4)  # someone new: no group can take these faces
    everyone = np.concatenate([old, stranger])
    new = np.arange(len(everyone)) >= len(old)
    after = cluster_new_faces(everyone, np.concatenate([labels, -np.ones(4, int)]), new, PARAMS, blocking)
    assert len(set(after[new])) == 1 and after[new][0] >= 0  # the stranger is a group of their own
    touched = np.isin(blocking.assign(blocking.project(everyone)),
                      blocking.assign(blocking.project(stranger)))
    untouched = np.flatnonzero(~touched[:len(old)])
    assert len(untouched) >= len(old) // 4  # at least one whole block had no new face
    pairs = Counter(zip(labels[untouched].tolist(), after[untouched].tolist()))
    assert len(pairs) == len(set(labels[untouched].tolist()))  # the same groups, maybe renumbered


def test_merging_by_nearest_blocks_joins_what_comparing_every_pair_joins(monkeypatch):
    """facesort survives a person split over groups in a library of many blocks: they are joined as before."""
    monkeypatch.setattr(cluster_module, "BLOCK_SIZE", 60)
    rng = np.random.default_rng(3)
    faces = people_like(rng, 120, 6, spread=0.03)
    blocking = blocking_for(faces)
    assert len(blocking.centres) > cluster_module.MERGE_BLOCKS
    halves = [np.arange(start, start + 3) for start in range(0, len(faces), 3)]  # each person in two groups
    by_blocks = cluster_module._merge_close_groups(faces, list(halves), PARAMS.refine_distance, 0, blocking)
    every_pair = cluster_module._merge_close_groups(faces, list(halves), PARAMS.refine_distance, 0, None)
    as_sets = lambda groups: sorted(sorted(g.tolist()) for g in groups)  # noqa: E731
    assert as_sets(by_blocks) == as_sets(every_pair)
    assert len(by_blocks) == 120


def test_a_new_face_of_a_known_person_joins_without_clustering(monkeypatch):
    """facesort survives one more photo of someone known: it is placed, and nothing is clustered again."""
    rng = np.random.default_rng(1)
    old = people_like(rng, 10, 6)
    labels = cluster_embeddings(old, PARAMS)
    one_more = old[:1] + 0.01
    one_more /= np.linalg.norm(one_more)
    monkeypatch.setattr(cluster_module, "_cluster_blocks", lambda *a: pytest.fail("clustered again"))
    after = cluster_new_faces(np.concatenate([old, one_more]), np.append(labels, -1),
                              np.arange(len(old) + 1) == len(old), PARAMS, None)
    assert after[-1] == after[0] >= 0
    assert len(Counter(zip(labels.tolist(), after[:-1].tolist()))) == len(set(labels.tolist()))


@pytest.mark.parametrize("people", [1, 2, 7, 300])
def test_recognition_by_two_passes_matches_a_full_sort(people):
    """facesort survives any number of people: the two nearest found in two passes are the nearest."""
    rng = np.random.default_rng(people)
    centroids = people_like(rng, people, 1)
    queries = people_like(rng, 50, 1)
    found = recognize(queries, Gallery(np.arange(10, 10 + people), centroids), 1.2, 0.02)
    d = np.linalg.norm(queries[:, None] - centroids[None], axis=2)
    order = np.argsort(d, axis=1)
    first = d[np.arange(50), order[:, 0]]
    second = d[np.arange(50), order[:, 1]] if people > 1 else np.full(50, np.inf)
    expected = np.where((first <= 1.2) & (second - first >= 0.02), order[:, 0] + 10, UNKNOWN)
    assert np.array_equal(found.nearest, order[:, 0] + 10)
    assert np.array_equal(found.person, expected)
    assert np.allclose(found.distance, first, atol=1e-5)


def _match_groups_one_by_one(labels, previous):
    """match_groups as it was written before it was vectorised."""
    votes, grouped_before = Counter(), Counter()
    for label, old in zip(labels, previous):
        if label >= 0 and old:
            votes[(int(label), int(old))] += 1
            grouped_before[int(label)] += 1
    kept, taken = {}, set()
    for (label, old), count in votes.most_common():
        if label in kept or old in taken or 2 * count <= grouped_before[label]:
            continue
        kept[label] = old
        taken.add(old)
    return kept


def test_group_ids_are_kept_as_they_were_face_by_face():
    """facesort survives ties between groups: ids go where they went before, ties included."""
    rng = np.random.default_rng(2)
    for _ in range(50):
        labels = rng.integers(-1, 6, 40)
        previous = rng.integers(0, 5, 40)
        assert match_groups(labels, previous) == _match_groups_one_by_one(labels, previous)


def test_grouping_input_reads_in_chunks(store, monkeypatch):
    """facesort survives libraries larger than one read: chunks fill one array in order."""
    import facesort.store.people as people_module

    monkeypatch.setattr(people_module, "_GROUPING_CHUNK", 2)
    store.db.execute("INSERT INTO packs (name, fingerprint) VALUES ('p', '-')")
    store.db.execute("INSERT INTO photos (path, size, mtime_ns, status, scanned_at) VALUES ('/a', 1, 1, 'ok', '')")
    vectors = np.arange(15, dtype=np.float32).reshape(5, 3)
    for vector in vectors:
        store.db.execute("INSERT INTO faces (photo_id, pack_id, x, y, w, h, landmarks, score, embedding)"
                         " VALUES (1, 1, 0, 0, 1, 1, '[]', 1, ?)", (vector.tobytes(),))
    data = store.grouping_input(1)
    assert np.array_equal(data.embeddings, vectors)
    assert data.face_ids.tolist() == [1, 2, 3, 4, 5] and data.cluster_ids.tolist() == [0] * 5


# -- read commands ------------------------------------------------------------------------

def test_people_reads_the_person_indexes_not_the_pack(cli, library, db_path):
    """facesort survives a library of 100k photos: listing people looks faces up by person."""
    cluster_report(cli)
    cli("name", str(group_of(cli, "Tony_Blair")), "Tony")
    statements: list[str] = []
    with Store(db_path) as store:
        store.db.set_trace_callback(statements.append)
        rows = store.people_summary(1)
        store.db.set_trace_callback(None)
        plan = " ".join(str(row) for row in store.db.execute("EXPLAIN QUERY PLAN " + statements[-1]))
    assert rows[0].name == "Tony" and rows[0].photos >= rows[0].faces
    assert "faces_by_pack" not in plan and "SCAN f" not in plan


@pytest.mark.parametrize("command", [["people"], ["clusters", "--all"], ["status"],
                                     ["find", "Tony"], ["show", "Tony", "--json"], ["export"],
                                     ["person", "Tony"], ["check"]])
def test_read_commands_start_without_numpy(cli, library, db_path, command):
    """facesort survives being asked often: the read commands never load numpy or the models."""
    cluster_report(cli)
    cli("name", str(group_of(cli, "Tony_Blair")), "Tony")
    probe = ("import atexit, sys; atexit.register(lambda: print(sorted(m for m in ('numpy', 'sklearn',"
             " 'hdbscan', 'onnxruntime', 'cv2', 'rawpy', 'av') if m in sys.modules), file=sys.stderr));"
             f" sys.argv = ['facesort', *{command!r}]; from facesort.cli import main; main()")
    env = {**os.environ, "FACESORT_DB": str(db_path), "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_show_json_lists_the_faces_without_drawing(cli, library, tmp_path):
    """facesort survives scripts asking what a group holds: show --json lists it, no sheet."""
    cluster_report(cli)
    group = group_of(cli, "Colin_Powell")
    result = cli("show", str(group), "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert listed and all(f["group"] == group for f in listed)
    assert {person_of(f["path"]) for f in listed} == {"Colin_Powell"}
    assert not list(tmp_path.rglob("*.png"))
