"""LFW verification with a model pack: the standard 10-fold protocol.

For each fold, the distance threshold that is best on the other nine folds is
applied to this one; the mean and standard deviation of the ten accuracies are
printed, with the thresholds facesort ships for the pack beside the measured
ones. A pair whose photo has no detected face counts as wrong.

    python bench/verify.py [--pack ../shared/models/sc_dlib]
"""

from __future__ import annotations

import argparse

import numpy as np

from lfw import SHARED, lfw_faces, pair_distances
from facesort.config import resolve_pack
from facesort.engine.thresholds import thresholds_for

PUBLISHED = {
    "sc_dlib": "dlib publishes 99.38% for its network; ../shared/models/README.md measured 99.02% on all 6,000 pairs",
    "sc_faceres": "../shared/models/README.md measured 97.77% on all 6,000 pairs",
    "buffalo_l": "InsightFace publishes 99.83%",
    "sc_sface": "../shared/models/README.md measured 99.57% ± 0.50 with this script",
    "yunet_sface": "the same SFace behind SCRFD (sc_sface) measured 99.57% ± 0.50 with this script",
    "sc_mfn_tf": "../shared/models/README.md measured 99.61% ± 0.35 with this script",
}


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    candidates = np.unique(distances)
    # Midpoints between neighbouring distances, so a threshold never sits on a pair.
    midpoints = (candidates[:-1] + candidates[1:]) / 2 if len(candidates) > 1 else candidates
    accuracy = [np.mean((distances <= t) == same) for t in midpoints]
    return float(midpoints[int(np.argmax(accuracy))])


def strict_threshold(faces, far: float = 1e-5) -> float:
    """The largest distance at which at most ``far`` of all different-identity
    pairs of LFW photos (about 20 million) fall: the recognition threshold."""
    people = np.array(faces.people)
    impostors = []
    for start in range(0, len(people), 512):
        block = faces.embeddings[start:start + 512] @ faces.embeddings.T
        distance = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * block))
        different = people[start:start + 512, None] != people[None, :]
        impostors.append(distance[different])
    impostors = np.concatenate(impostors)  # each pair twice: the quantile is the same
    return float(np.quantile(impostors, far))


def ten_fold(distances, same, folds, missing_per_fold):
    accuracies, thresholds = [], []
    for fold in range(1, 11):
        test = folds == fold
        threshold = best_threshold(distances[~test], same[~test])
        correct = np.sum((distances[test] <= threshold) == same[test])
        accuracies.append(correct / (test.sum() + missing_per_fold.get(fold, 0)))
        thresholds.append(threshold)
    return np.array(accuracies), np.array(thresholds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default=str(SHARED / "models" / "sc_dlib"))
    args = parser.parse_args()
    name = resolve_pack(args.pack).name
    faces = lfw_faces(args.pack)
    distances, same, folds, missing = pair_distances(faces)
    accuracies, thresholds = ten_fold(distances, same, folds, {})
    print(f"pack {name}: {len(distances)} LFW pairs ({same.sum()} same, {(~same).sum()} different), "
          f"{missing} without a face")
    print(f"10-fold accuracy: {accuracies.mean() * 100:.2f}% ± {accuracies.std() * 100:.2f}")
    print(f"best threshold (Euclidean distance, normalised embeddings): "
          f"{thresholds.mean():.4f} ± {thresholds.std():.4f}")
    print(f"published: {PUBLISHED.get(name, 'no published figure known')}")
    print(f"strict threshold (false accepts <= 0.001% of all different-identity pairs): "
          f"{strict_threshold(faces):.4f}")
    shipped = thresholds_for(name)
    if shipped:
        at = lambda t: np.mean((distances <= t) == same) * 100  # noqa: E731
        far = lambda t: np.mean(distances[~same] <= t) * 100  # noqa: E731
        print(f"facesort ships: verify {shipped.verify:.4f} (accuracy {at(shipped.verify):.2f}%, "
              f"false accepts {far(shipped.verify):.2f}%), recognize {shipped.recognize:.4f} "
              f"(accuracy {at(shipped.recognize):.2f}%, false accepts {far(shipped.recognize):.2f}%)")


if __name__ == "__main__":
    main()
