"""Clustering quality on the shared LFW photos, a simulated user, and scale.

1. Quality: pairwise and BCubed precision, recall and F of facesort's groups
   (HDBSCAN + refinement) beside plain HDBSCAN, over one face per LFW photo;
   unknown faces count as groups of one.
2. A simulated user: scans the first half of each person's photos, clusters,
   names the largest groups (leaving out, as on the contact sheet, the faces
   that are not the group's person), then scans the second half and clusters
   again. Prints how many new faces got the right name automatically, a wrong
   one, or none.
3. Scale: seconds and peak memory to cluster 10k and 100k embeddings made from
   LFW's (new identities near real faces), each in a child process, beside
   plain HDBSCAN where that finishes in reasonable time.

    python bench/cluster_quality.py [--pack ../shared/models/sc_dlib] [--name 100] [--sweep]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from collections import Counter

import numpy as np

from lfw import SHARED, lfw_faces
from facesort.cluster import ClusterParams, cluster_embeddings
from facesort.config import resolve_pack
from facesort.people import auto_names
from facesort.store import GroupingInput
from facesort.thresholds import thresholds_for


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


def quality(embeddings, truth, thresholds) -> None:
    import facesort.cluster as cluster_module

    runs = {
        "facesort": (facesort_params(thresholds), cluster_module.BLOCK_SIZE),
        "plain HDBSCAN": (ClusterParams(), len(truth)),  # one block: HDBSCAN as is
    }
    results = {}
    default_block = cluster_module.BLOCK_SIZE
    for label, (params, block) in runs.items():
        cluster_module.BLOCK_SIZE = block
        started = time.perf_counter()
        results[label] = scores(cluster_embeddings(embeddings, params), truth)
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


def simulated_user(embeddings, people, files, thresholds, to_name: int) -> None:
    number = np.array([int(f.rsplit("_", 1)[1].split(".")[0]) for f in files])
    counts = Counter(people)
    later = np.array([number[i] > (counts[p] + 1) // 2 for i, p in enumerate(people)])
    first = np.flatnonzero(~later)
    truth = np.array(people)
    labels = cluster_embeddings(embeddings[first], facesort_params(thresholds))
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
        cluster_ids=[None] * len(people), person_ids=person_ids, ignored=np.zeros(len(people), bool),
    )
    all_labels = cluster_embeddings(embeddings, facesort_params(thresholds))
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


def _synthetic(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = max(1, n // 15)  # about 15 photos a person, as in a family library
    ids = base[rng.integers(0, len(base), k)] + rng.normal(scale=0.03, size=(k, base.shape[1]))
    ids /= np.linalg.norm(ids, axis=1, keepdims=True)
    points = ids[rng.integers(0, k, n)] + rng.normal(scale=0.019, size=(n, base.shape[1]))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def _timed_child(base, n, params, one_block, queue) -> None:
    import facesort.cluster as cluster_module

    points = _synthetic(base, n)
    if one_block:
        cluster_module.BLOCK_SIZE = n  # HDBSCAN over everything at once, as is
    started = time.perf_counter()
    labels = cluster_embeddings(points, params)
    queue.put((time.perf_counter() - started, int(labels.max() + 1),
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def _measure(base, n, params, one_block=False) -> tuple[float, int, float]:
    # A fresh process for each run, so peak memory is this run's alone; spawned,
    # not forked, since forking a process whose BLAS threads run can hang.
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_timed_child, args=(base, n, params, one_block, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def scale(base: np.ndarray, thresholds, sizes: list[int], baseline_limit: int) -> None:
    print("\n3. Scale (synthetic identities near LFW faces, ~15 photos each):")
    print(f"{'faces':>8} {'facesort s':>11} {'peak MB':>8} {'groups':>7} "
          f"{'plain HDBSCAN s':>16} {'peak MB':>8} {'ratio':>6}")
    for n in sizes:
        ours = _measure(base, n, facesort_params(thresholds))
        line = f"{n:>8} {ours[0]:>11.1f} {ours[2]:>8.0f} {ours[1]:>7}"
        if n <= baseline_limit:
            plain = _measure(base, n, ClusterParams(), one_block=True)
            line += f" {plain[0]:>16.1f} {plain[2]:>8.0f} {plain[0] / ours[0]:>5.1f}x"
        else:
            line += "   (plain HDBSCAN not run: over 7 minutes at 100k in a trial)"
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default=str(SHARED / "models" / "sc_dlib"))
    parser.add_argument("--name", type=int, default=100, help="groups the simulated user names")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--baseline-limit", type=int, default=10000)
    parser.add_argument("--sweep", action="store_true", help="also try HDBSCAN's parameters")
    args = parser.parse_args()
    name = resolve_pack(args.pack).name
    thresholds = thresholds_for(name)
    if thresholds is None:
        raise SystemExit(f"no thresholds for pack {name!r} in facesort/thresholds.py")
    faces = lfw_faces(args.pack)
    print(f"pack {name}: {thresholds.source}")
    if args.sweep:
        sweep(faces.embeddings, np.array(faces.people), thresholds)
    quality(faces.embeddings, np.array(faces.people), thresholds)
    simulated_user(faces.embeddings, faces.people, faces.files, thresholds, args.name)
    scale(faces.embeddings, thresholds, [int(s) for s in args.sizes.split(",")], args.baseline_limit)


if __name__ == "__main__":
    main()
