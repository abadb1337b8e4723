"""`facesort tune` on the shared LFW photos: does learning from the user's names help?

The simulated user names every person with many photos (--min-photos) from
the first half of their photos, and rejects the faces of other people that
were in the group they named (look-alikes the pack confused). `tune` learns from that
(FaceNet's triplet loss, batch-hard mining, an adapter on the frozen
embeddings); then the second half arrives: the named people's later photos,
and every later photo of the people not named (strangers). Side by side, the
automatic names (one-to-K recognition) of the new faces:

- without an adapter (the pack's embeddings and thresholds);
- with the triplet adapter (its own thresholds, as `tune` measured them);
- with a per-person linear SVM ("template adaptation": sklearn LinearSVC,
  one classifier per named person against all others, a name where the best
  score is positive).

Also the confusion between the 20 closest pairs of named people, and the
time `tune` takes with over 10,000 named faces.

    python bench/tune.py [--pack yunet_sface] [--min-photos 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np

from cluster_quality import facesort_params
from lfw import lfw_faces
from facesort.people.grouping import cluster_embeddings
from facesort.config import resolve_pack
from facesort.people.gallery import UNKNOWN, Gallery
from facesort.engine.thresholds import thresholds_for
from facesort.people.tune import TrainParams, learn, name_faces, tally


def svm_names(train_x, train_labels, queries) -> np.ndarray:
    from sklearn.svm import LinearSVC

    people = np.unique(train_labels)
    scores = np.empty((len(queries), len(people)))
    for column, person in enumerate(people):
        model = LinearSVC(C=1.0, class_weight="balanced").fit(train_x, train_labels == person)
        scores[:, column] = model.decision_function(queries)
    best = np.argmax(scores, axis=1)
    return np.where(scores[np.arange(len(queries)), best] > 0, people[best], UNKNOWN)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="yunet_sface")
    parser.add_argument("--min-photos", type=int, default=10, help="people with this many photos are named")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    name = resolve_pack(args.pack).name
    pack = thresholds_for(name)
    faces = lfw_faces(args.pack)
    x = faces.embeddings
    people = np.array(faces.people)
    number = np.array([int(f.rsplit("_", 1)[1].split(".")[0]) for f in faces.files])
    counts = Counter(faces.people)
    later = np.array([number[i] > (counts[p] + 1) // 2 for i, p in enumerate(faces.people)])
    named_people = sorted(p for p, c in counts.items() if c >= args.min_photos)
    ids = {p: i + 1 for i, p in enumerate(named_people)}
    truth = np.array([ids.get(p, 0) for p in people])
    first, new = np.flatnonzero(~later), np.flatnonzero(later)
    person_ids = np.where(~later, truth, 0)
    named = np.flatnonzero(person_ids > 0)

    # The user's rejections, as when naming groups: of the group holding most
    # of a person's first-half faces, the faces of anyone else ("x 3 7").
    groups = cluster_embeddings(x[first], facesort_params(pack))
    rejected = []
    for person in ids.values():
        theirs = groups[(truth[first] == person) & (groups >= 0)]
        if len(theirs):
            group = Counter(theirs.tolist()).most_common(1)[0][0]
            rejected += [(int(r), person) for r in first[(groups == group) & (truth[first] != person)]]

    started = time.perf_counter()
    result = learn(x, person_ids, np.arange(len(x)), rejected, pack, TrainParams(seed=args.seed))
    tune_seconds = time.perf_counter() - started
    adapter = result.adapter

    runs = {
        "none": name_faces(x[named], person_ids[named], x[new], pack.recognize, pack.margin),
        "triplet adapter": name_faces(adapter.apply(x[named]), person_ids[named], adapter.apply(x[new]),
                                      adapter.recognize, adapter.margin),
    }
    started = time.perf_counter()
    runs["linear SVM"] = svm_names(x[named], person_ids[named], x[new])
    svm_seconds = time.perf_counter() - started

    known = truth[new] > 0
    print(f"pack {name}: named {len(named_people)} people with >= {args.min_photos} photos from "
          f"{len(named)} first-half faces; {len(rejected)} rejections; then {len(new)} new faces "
          f"({int(known.sum())} of named people, {int((~known).sum())} strangers)")
    print(f"tune: learned from {result.faces} faces, held out {result.held_known} + "
          f"{result.held_strangers} strangers; held-out right/wrong/unknown without "
          f"{result.without.right}/{result.without.wrong}/{result.without.unknown}, with "
          f"{result.with_adapter.right}/{result.with_adapter.wrong}/{result.with_adapter.unknown}: "
          f"{'kept' if result.kept else 'not kept'}; thresholds {adapter.recognize}/{adapter.margin} "
          f"({tune_seconds:.1f} s); SVM {svm_seconds:.1f} s")
    print(f"\n{'new faces':<18}{'named right':>12}{'wrong':>7}{'unknown':>9}"
          f"{'strangers named':>17}{'look-alike errors':>19}")
    centroids = Gallery.from_named(x[named], person_ids[named])
    d = np.sqrt(np.maximum(0, 2 - 2 * centroids.centroids @ centroids.centroids.T))
    i, j = np.triu_indices(len(d), 1)
    closest = np.argsort(d[i, j])[:20]
    pairs = [(int(centroids.person_ids[i[c]]), int(centroids.person_ids[j[c]])) for c in closest]
    for label, given_new in runs.items():
        t = tally(given_new[known], truth[new][known])
        strangers = int(np.sum(given_new[~known] != UNKNOWN))
        confused = sum(int(np.sum((truth[new] == a) & (given_new == b)) + np.sum((truth[new] == b) & (given_new == a)))
                       for a, b in pairs)
        print(f"{label:<18}{t.right:>12}{t.wrong:>7}{t.unknown:>9}{strangers:>17}{confused:>19}")

    # The whole of 'tune' (split, training, thresholds, comparison) on over
    # 10,000 named faces: every LFW face, and each again with a little noise as
    # another person's.
    rng = np.random.default_rng(args.seed)
    many = np.vstack([x, x + rng.normal(scale=0.02, size=x.shape)])
    many = (many / np.linalg.norm(many, axis=1, keepdims=True)).astype(np.float32)
    everyone = np.unique(people, return_inverse=True)[1] + 1
    everyone = np.concatenate([everyone, everyone + everyone.max()])
    started = time.perf_counter()
    learn(many, everyone, np.arange(len(many)), [], pack, TrainParams(seed=args.seed))
    print(f"\ntune with {len(many)} named faces of {everyone.max()} people: "
          f"{time.perf_counter() - started:.1f} s")

if __name__ == "__main__":
    main()
