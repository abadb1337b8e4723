"""What chaining names through time costs `facesort cluster`: automatic
naming (cluster_run.auto_names) on a synthetic dated library, with names
chained through time (timeline.CHAIN_ROUNDS) side by side with
one round (as before chaining), medians of --repeats.

Each synthetic person is near a real face of the pack (the shared LFW faces,
as bench/cluster_quality.py --scale makes them) and drifts towards a second
face over ten years of photos, about 15 photos each, as a child grows up; the
user named one face of half the people, and every person is one group. These
people are crowded (thousands drawn near the same few thousand LFW faces,
each drifting towards someone else's), so the wrong names it prints say how
errors spread where people crowd, not how often an album gets them:
bench/family.py and bench/cluster_quality.py measure that.

Measured on a 2-core machine (medians of 3): one round 0.65 s, chained 1.53 s
(2.4x) at 10,000 faces; 11.8 s and 30.0 s (2.5x) at 100,000.

    python bench/chain_speed.py [--faces 10000,100000] [--repeats 3]
"""

from __future__ import annotations

import argparse

import numpy as np

from lfw import lfw_faces
from suggest_speed import timed
from facesort.engine.thresholds import thresholds_for
from facesort.people import timeline
from facesort.people.cluster_run import auto_names
from facesort.config import resolve_pack
from facesort.store import GroupingInput


def library(base: np.ndarray, n: int, seed: int = 0) -> tuple[GroupingInput, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = max(2, n // 15)
    young = base[rng.integers(0, len(base), k)]
    old = base[rng.integers(0, len(base), k)]
    person = rng.integers(0, k, n)
    age = rng.uniform(0, 1, n)  # share of the ten years
    # From one face to a blend half-way to another: a face that changes with age.
    faces = young[person] * (1 - 0.5 * age[:, None]) + old[person] * 0.5 * age[:, None]
    faces += rng.normal(scale=0.03, size=faces.shape)
    faces = (faces / np.linalg.norm(faces, axis=1, keepdims=True)).astype(np.float32)
    days = 2451544.5 + age * 3652.5
    person_ids = np.zeros(n, np.int64)
    first = np.unique(person, return_index=True)[1]
    named = first[rng.permutation(len(first))[: len(first) // 2]]
    person_ids[named] = person[named] + 1
    data = GroupingInput(face_ids=np.arange(1, n + 1), photo_ids=np.arange(1, n + 1), embeddings=faces,
                         cluster_ids=np.zeros(n, np.int64), person_ids=person_ids,
                         ignored=np.zeros(n, bool), days=days)
    return data, person


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="yunet_sface")
    parser.add_argument("--faces", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    thresholds = thresholds_for(resolve_pack(args.pack).name)
    base = lfw_faces(args.pack).embeddings
    chained = timeline.CHAIN_ROUNDS
    print(f"{'faces':>8}{'one round s':>13}{'chained s':>11}{'ratio':>7}"
          f"{'named (wrong): one round':>26}{'chained':>12}")
    for n in (int(v) for v in args.faces.split(",")):
        data, person = library(base, n)
        labels = person.astype(np.int64)
        seconds, named = {}, {}
        for label, rounds in (("one", 1), ("chained", chained)):
            timeline.CHAIN_ROUNDS = rounds
            seconds[label], named[label] = timed(
                lambda: auto_names(data, labels, thresholds, set(), np.zeros(n, bool)), args.repeats)
        timeline.CHAIN_ROUNDS = chained
        wrong = {label: sum(person[f - 1] + 1 != p for f, p, _ in given) for label, given in named.items()}
        print(f"{n:>8}{seconds['one']:>13.2f}{seconds['chained']:>11.2f}"
              f"{seconds['chained'] / seconds['one']:>7.1f}"
              f"{len(named['one']):>11} ({wrong['one']}){len(named['chained']):>11} ({wrong['chained']})",
              flush=True)


if __name__ == "__main__":
    main()
