"""Clustering quality on the shared LFW photos, a simulated user, and scale.

1. Quality: pairwise and BCubed precision, recall and F of facesort's groups
   (HDBSCAN + refinement) beside plain HDBSCAN, over one face per LFW photo;
   unknown faces count as groups of one.
2. A simulated user: scans the first half of each person's photos, clusters,
   names the largest groups (leaving out, as on the contact sheet, the faces
   that are not the group's person), then scans the second half and clusters
   again. Prints how many new faces got the right name automatically, a wrong
   one, or none.
3. --scale: seconds and peak memory of `facesort cluster` on libraries of
   10k, 100k and 1M faces made from LFW's (new identities near real faces):
   the first run, a run with nothing new, and a run after 1% new faces, each
   in a process of its own.
4. --incremental: the LFW faces arriving in 10 batches, clustered after each,
   beside one full run over the same library.

    python bench/cluster_quality.py [--pack ../shared/models/sc_dlib] [--name 100] [--sweep]
    python bench/cluster_quality.py --incremental
    python bench/cluster_quality.py --scale [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from lfw import CACHE, SHARED, lfw_faces
from facesort.people.grouping import ClusterParams, cluster_embeddings
from facesort.config import resolve_pack
from facesort.people.cluster_run import auto_names, update_groups
from facesort.store import GroupingInput, Store, embedding_to_blob
from facesort.engine.thresholds import thresholds_for


def facesort_params(thresholds, **overrides) -> ClusterParams:
    """What `facesort cluster` uses for a pack with measured thresholds."""
    return ClusterParams(refine_distance=thresholds.cluster, rescue_distance=thresholds.recognize,
                         rescue_margin=thresholds.margin, **overrides)


def _as_singletons(labels: np.ndarray) -> np.ndarray:
    labels = labels.copy()
    noise = labels < 0
    labels[noise] = labels.max(initial=-1) + 1 + np.arange(noise.sum())
    return labels


def scores(labels: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    _, predicted = np.unique(_as_singletons(labels), return_inverse=True)
    _, actual = np.unique(truth, return_inverse=True)
    table = np.zeros((predicted.max() + 1, actual.max() + 1))
    np.add.at(table, (predicted, actual), 1)
    n = len(labels)
    group_sizes, true_sizes = table.sum(1), table.sum(0)
    b_precision = (table ** 2 / group_sizes[:, None]).sum() / n
    b_recall = (table ** 2 / true_sizes[None, :]).sum() / n
    same_both = (table * (table - 1)).sum() / 2
    same_group = (group_sizes * (group_sizes - 1)).sum() / 2
    same_person = (true_sizes * (true_sizes - 1)).sum() / 2
    p_precision = same_both / same_group if same_group else 1.0
    p_recall = same_both / same_person
    f = lambda p, r: 2 * p * r / (p + r) if p + r else 0.0  # noqa: E731
    return {
        "bcubed P": b_precision, "bcubed R": b_recall, "bcubed F": f(b_precision, b_recall),
        "pairwise P": p_precision, "pairwise R": p_recall, "pairwise F": f(p_precision, p_recall),
        "unknown": float(np.mean(labels < 0)), "groups": int(labels.max(initial=-1) + 1),
    }


def quality(embeddings, truth, thresholds, years: float = 0) -> None:
    import facesort.people.grouping as cluster_module

    runs = {
        "facesort": (facesort_params(thresholds), cluster_module.BLOCK_SIZE),
        "plain HDBSCAN": (ClusterParams(), len(truth)),  # one block: HDBSCAN as is
    }
    results = {}
    default_block = cluster_module.BLOCK_SIZE
    for label, (params, block) in runs.items():
        cluster_module.BLOCK_SIZE = block
        started = time.perf_counter()
        days = (2451544.5 + np.random.default_rng(0).uniform(0, years * 365.25, len(truth))
                if years else None)
        results[label] = scores(cluster_embeddings(embeddings, params, days=days), truth)
        results[label]["seconds"] = time.perf_counter() - started
    cluster_module.BLOCK_SIZE = default_block
    print(f"\n1. Quality over {len(truth)} LFW faces of {len(set(truth))} people "
          f"(refinement distance {thresholds.cluster}):")
    print(f"{'':<12}" + "".join(f"{k:>16}" for k in results))
    for key in results["facesort"]:
        print(f"{key:<12}" + "".join(f"{r[key]:>16.4f}" for r in results.values()))


def sweep(embeddings, truth, thresholds) -> None:
    """The measurement behind ClusterParams' defaults."""
    print("\n0. HDBSCAN parameters, with facesort's refinement (BCubed):")
    print(f"{'min_cluster_size':>17}{'min_samples':>12}{'selection':>10}{'P':>8}{'R':>8}{'F':>8}{'unknown':>9}")
    for size in (2, 3, 5):
        for samples in (1, 2, 3):
            for selection in ("eom", "leaf"):
                params = facesort_params(thresholds, min_cluster_size=size, min_samples=samples,
                                         selection=selection)
                r = scores(cluster_embeddings(embeddings, params), truth)
                print(f"{size:>17}{samples:>12}{selection:>10}{r['bcubed P']:>8.4f}"
                      f"{r['bcubed R']:>8.4f}{r['bcubed F']:>8.4f}{r['unknown']:>9.3f}", flush=True)


def simulated_user(embeddings, people, files, thresholds, to_name: int, years: float = 0) -> None:
    """``years``: each photo dated at random over that many years (0: no
    dates, as LFW's photos are): adults across years, for people.timeline."""
    days = None
    if years:
        days = 2451544.5 + np.random.default_rng(0).uniform(0, years * 365.25, len(people))
    number = np.array([int(f.rsplit("_", 1)[1].split(".")[0]) for f in files])
    counts = Counter(people)
    later = np.array([number[i] > (counts[p] + 1) // 2 for i, p in enumerate(people)])
    first = np.flatnonzero(~later)
    truth = np.array(people)
    labels = cluster_embeddings(embeddings[first], facesort_params(thresholds),
                                days=None if days is None else days[first])
    person_ids = np.zeros(len(people), dtype=np.int64)
    ids: dict[str, int] = {}
    named_groups = 0
    for label in range(labels.max() + 1):
        if named_groups == to_name:
            break
        members = first[labels == label]
        majority, _ = Counter(truth[members]).most_common(1)[0]
        person = ids.setdefault(majority, len(ids) + 1)
        # The user leaves out the faces that are not this person ("x 3 7").
        person_ids[members[truth[members] == majority]] = person
        named_groups += 1
    data = GroupingInput(
        face_ids=np.arange(len(people)), photo_ids=np.arange(len(people)), embeddings=embeddings,
        cluster_ids=np.zeros(len(people), np.int64), person_ids=person_ids, ignored=np.zeros(len(people), bool),
        days=days,
    )
    all_labels = cluster_embeddings(embeddings, facesort_params(thresholds), days=days)
    given = {face: person for face, person, _ in
             auto_names(data, all_labels, thresholds, set(), np.zeros(len(people), bool))}
    name_of = {v: k for k, v in ids.items()}
    new = np.flatnonzero(later)
    known = [i for i in new if truth[i] in ids]
    strangers = [i for i in new if truth[i] not in ids]
    right = sum(1 for i in known if name_of.get(given.get(i)) == truth[i])
    wrong_known = sum(1 for i in known if i in given and name_of[given[i]] != truth[i])
    wrong_strangers = sum(1 for i in strangers if i in given)
    auto_total = sum(1 for i in new if i in given)
    print(f"\n2. Simulated user: named the {named_groups} largest groups ({len(ids)} people, "
          f"{int((person_ids > 0).sum())} faces) from the first half of each person's photos, "
          f"then scanned the second half ({len(new)} new faces: {len(known)} of named people, "
          f"{len(strangers)} of others)")
    print(f"   new faces of named people: right {right} ({right / len(known):.1%}), "
          f"wrong {wrong_known} ({wrong_known / len(known):.1%}), "
          f"unknown {len(known) - right - wrong_known} ({(len(known) - right - wrong_known) / len(known):.1%})")
    print(f"   new faces of other people given a name: {wrong_strangers} ({wrong_strangers / len(strangers):.2%})")
    wrong = wrong_known + wrong_strangers
    print(f"   automatic names: {auto_total}, wrong: {wrong} "
          f"({wrong / max(auto_total, 1):.2%}, i.e. 1 in {auto_total / max(wrong, 1):.0f})")


def _synthetic(base: np.ndarray, n: int, seed: int = 0, chunk: int = 100_000) -> np.ndarray:
    """``n`` faces of new identities near real ones, about 15 photos each, as
    in a family library; made in chunks, so a million cost their own memory."""
    rng = np.random.default_rng(seed)
    k = max(1, n // 15)
    ids = base[rng.integers(0, len(base), k)] + rng.normal(scale=0.03, size=(k, base.shape[1]))
    ids /= np.linalg.norm(ids, axis=1, keepdims=True)
    points = np.empty((n, base.shape[1]), np.float32)
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        part = ids[rng.integers(0, k, size)] + rng.normal(scale=0.019, size=(size, base.shape[1]))
        points[start:start + size] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return points


def add_faces(store: Store, pack: str, embeddings: np.ndarray, names: list[str] | None = None) -> None:
    """Faces as a scan would store them, one photo each, in bulk."""
    # Bulk SQL: scanning a million photos would take days of detection.
    db = store.db
    with store.transaction():
        db.execute("INSERT OR IGNORE INTO packs (name, fingerprint) VALUES (?, '-')", (pack,))
        pack_id = store.find_pack(pack)
        first = db.execute("SELECT coalesce(max(id), 0) + 1 FROM photos").fetchone()[0]
        for start in range(0, len(embeddings), 50_000):
            part = range(first + start, first + min(start + 50_000, len(embeddings)))
            db.executemany(
                "INSERT INTO photos (id, path, size, mtime_ns, width, height, orientation, status,"
                " scanned_at) VALUES (?, ?, 1, 1, 250, 250, 1, 'ok', '')",
                [(i, f"/photos/{names[i - first] if names else i}.jpg") for i in part])
            db.executemany("INSERT INTO photo_scans (photo_id, pack_id) VALUES (?, ?)",
                           [(i, pack_id) for i in part])
            db.executemany(
                "INSERT INTO faces (photo_id, pack_id, x, y, w, h, landmarks, score, embedding)"
                " VALUES (?, ?, 60, 60, 120, 120, '[]', 0.99, ?)",
                [(i, pack_id, embedding_to_blob(embeddings[i - first])) for i in part])


def _labels_of(store: Store) -> np.ndarray:
    """Each face's group, in the order the faces were added; -1 for unknown."""
    ids = np.array([c or 0 for (c,) in store.db.execute("SELECT cluster_id FROM faces ORDER BY id")])
    _, labels = np.unique(ids, return_inverse=True)
    return labels - (1 if (ids == 0).any() else 0)


def incremental(embeddings, truth, pack: str, batches: int) -> None:
    """The photos arrive in batches, each followed by `facesort cluster`;
    then one full run over the same library. Twice: as facesort runs (a full
    run whenever the library doubled since the last), and never doubling
    back (incremental whenever it can be), the worst case for quality."""
    import facesort.people.decisions as people_module

    order = np.random.default_rng(0).permutation(len(truth))
    print(f"\n4. Incremental: {len(truth)} LFW faces arriving in {batches} batches, "
          "'facesort cluster' after each, then 'cluster --full':")
    results = {}
    default_growth = people_module.FULL_RUN_GROWTH
    for label, growth in (("as facesort", default_growth), ("least full", float("inf"))):
        people_module.FULL_RUN_GROWTH = growth
        runs = []
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "incremental.db") as store:
            for rows in np.array_split(order, batches):
                add_faces(store, pack, embeddings[rows])
                report = update_groups(store, pack)
                runs.append(f"{report.run[0]}{report.seconds:.1f}s")
            results[label] = scores(_labels_of(store), truth[order])
            if label == "as facesort":
                full = update_groups(store, pack, full=True)
                results["full"] = scores(_labels_of(store), truth[order])
                runs.append(f"then --full {full.seconds:.1f}s")
        print(f"   {label}: " + " ".join(runs) + "  (f full, i incremental)", flush=True)
    people_module.FULL_RUN_GROWTH = default_growth
    print(f"{'':<12}" + "".join(f"{k:>14}" for k in results))
    for key in results["full"]:
        print(f"{key:<12}" + "".join(f"{r[key]:>14.4f}" for r in results.values()))


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children (workers included)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo += [int(c) for c in children.read().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def _run_step(args: list[str]) -> tuple[dict, float]:
    """One step in a process of its own: its result, with the process's
    seconds from start to end, and its peak memory."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    peak = 0.0
    while child.poll() is None:
        peak = max(peak, _tree_rss_mb(child.pid))
        time.sleep(0.1)
    out = child.stdout.read()
    if child.returncode != 0:
        raise SystemExit(f"step {args} failed ({child.returncode})")
    return {**json.loads(out.splitlines()[-1]), "process": time.perf_counter() - started}, peak


def _step(step: str, db: Path, pack_spec: str, n: int) -> None:
    """The steps of --scale, each run by _run_step in a child process."""
    pack = resolve_pack(pack_spec).name
    with Store(db) as store:
        if step in ("build", "add"):
            faces = _synthetic(lfw_faces(pack_spec).embeddings, n + n // 100)
            add_faces(store, pack, faces[:n] if step == "build" else faces[n:])
            print(json.dumps({}))
            return
        started = time.perf_counter()
        report = update_groups(store, pack)
        print(json.dumps({"seconds": time.perf_counter() - started, "run": report.run,
                          "groups": report.groups}))


def scale(pack_spec: str, sizes: list[int]) -> None:
    print(f"\n3. Scale: synthetic libraries (identities near LFW faces, ~15 photos each), "
          f"'facesort cluster' through the store, each step in its own process; "
          f"peak memory of the process and its workers; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at the start:")
    print("(seconds of the cluster step; in brackets, of its whole process, start included)")
    print(f"{'faces':>8}{'groups':>8} {'first run s':>16}{'MB':>6} {'nothing new s':>16}{'MB':>6}"
          f" {'1% new s':>16}{'MB':>6}")
    for n in sizes:
        db = CACHE / f"scale-{n}.db"
        for stale in CACHE.glob(f"scale-{n}.db*"):
            stale.unlink()
        common = ["--db", str(db), "--pack", pack_spec, "--faces", str(n)]
        _run_step(["--step", "build", *common])
        first, first_mb = _run_step(["--step", "cluster", *common])
        again, again_mb = _run_step(["--step", "cluster", *common])
        _run_step(["--step", "add", *common])
        more, more_mb = _run_step(["--step", "cluster", *common])
        assert (first["run"], again["run"], more["run"]) == ("full", "unchanged", "incremental")
        timed = lambda r: f"{r['seconds']:.2f} ({r['process']:.2f})"  # noqa: E731
        print(f"{n:>8}{first['groups']:>8} {timed(first):>16}{first_mb:>6.0f}"
              f" {timed(again):>16}{again_mb:>6.0f} {timed(more):>16}{more_mb:>6.0f}"
              f"   (load {os.getloadavg()[0]:.1f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default=str(SHARED / "models" / "sc_dlib"))
    parser.add_argument("--name", type=int, default=100, help="groups the simulated user names")
    parser.add_argument("--sweep", action="store_true", help="also try HDBSCAN's parameters")
    parser.add_argument("--years", type=float, default=0,
                        help="date the photos at random over this many years (time-aware paths)")
    parser.add_argument("--scale", action="store_true", help="time and memory at --sizes faces")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--incremental", action="store_true",
                        help="photos arriving in --batches, beside one full run")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--step", choices=("build", "add", "cluster"), help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--faces", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    name = resolve_pack(args.pack).name
    if args.step:
        _step(args.step, args.db, args.pack, args.faces)
        return
    thresholds = thresholds_for(name)
    if thresholds is None:
        raise SystemExit(f"no thresholds for pack {name!r} in facesort/engine/thresholds.py")
    print(f"pack {name}: {thresholds.source}")
    if args.scale:
        scale(args.pack, [int(s) for s in args.sizes.split(",")])
        return
    faces = lfw_faces(args.pack)
    if args.incremental:
        incremental(faces.embeddings, np.array(faces.people), name, args.batches)
        return
    if args.sweep:
        sweep(faces.embeddings, np.array(faces.people), thresholds)
    quality(faces.embeddings, np.array(faces.people), thresholds, args.years)
    simulated_user(faces.embeddings, faces.people, faces.files, thresholds, args.name, args.years)


if __name__ == "__main__":
    main()
