"""`facesort split NAME` without --parts: how many parts one person falls into,
and whether two people named as one come apart, per rule and pack.

LFW people with 14-29 photos in the shared half (up to 22 photos each) are
scanned once per pack into bench/.cache/<pack>/split.db. For each rule it
prints, over the people alone: the median and worst part count, and how many
stay in 1-2 parts; over mixed pairs (each person with the person whose centroid
is nearest: the look-alikes), how many come out as exactly 2 main parts
(each holding 3+ faces) and the BCubed precision of the parts.

    python bench/split_default.py [--pack ../shared/models/sc_dlib] [--pack yunet_sface]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lfw import CACHE, LFW  # noqa: E402

from facesort.config import resolve_pack  # noqa: E402
from facesort.engine.thresholds import thresholds_for  # noqa: E402
from facesort.people.suggestions import split_labels  # noqa: E402
from facesort.scanning.scanner import scan  # noqa: E402
from facesort.store import Store, blob_to_embedding  # noqa: E402

PER_PERSON = 22


def people_faces(pack_spec: str) -> dict[str, np.ndarray]:
    pack = resolve_pack(pack_spec)
    chosen = sorted(p for p in LFW.iterdir() if 14 <= len(list(p.iterdir())) <= 29)
    files = [f for person in chosen for f in sorted(person.iterdir())[:PER_PERSON]]
    db = CACHE / pack.name / "split.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    with Store(db) as store:
        report = scan(store, files, pack)
        if report.new:
            print(f"scanned {report.new} photos with {pack.name} in {report.seconds:.0f} s")
        rows = store.db.execute(
            "SELECT p.path, p.width, f.x + f.w / 2 - p.width / 2, f.y + f.h / 2 - p.height / 2,"
            " f.embedding FROM photos p JOIN faces f ON f.photo_id = p.id").fetchall()
    best: dict[str, tuple[float, bytes]] = {}
    for path, _, dx, dy, blob in rows:
        if path not in best or dx * dx + dy * dy < best[path][0]:
            best[path] = (dx * dx + dy * dy, blob)
    by_person: dict[str, list[np.ndarray]] = {}
    for path in sorted(best):
        by_person.setdefault(Path(path).parent.name, []).append(blob_to_embedding(best[path][1]))
    return {person: np.stack(v) for person, v in by_person.items()}


def parts(labels: np.ndarray, least: int = 1) -> int:
    return int(sum(np.bincount(labels) >= least))


def bcubed_precision(labels: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([np.mean(truth[labels == labels[i]] == truth[i]) for i in range(len(labels))]))


def report(pack_spec: str) -> None:
    name = resolve_pack(pack_spec).name
    thresholds = thresholds_for(name)
    faces = people_faces(pack_spec)
    names = sorted(faces)
    centroids = np.stack([faces[n].mean(0) / np.linalg.norm(faces[n].mean(0)) for n in names])
    d = np.linalg.norm(centroids[:, None] - centroids[None], axis=2)
    np.fill_diagonal(d, np.inf)
    print(f"{name}: {len(names)} people, {sum(len(v) for v in faces.values())} faces")
    for rule in ("fraction", "cluster", "midway", "verify"):
        counts = [parts(split_labels(faces[n], thresholds, rule)) for n in names]
        mixed, pure = [], []
        for i, n in enumerate(names):
            other = names[int(np.argmin(d[i]))]
            half = PER_PERSON // 2
            points = np.concatenate([faces[n][:half], faces[other][:half]])
            truth = np.repeat([0, 1], [len(faces[n][:half]), len(faces[other][:half])])
            labels = split_labels(points, thresholds, rule)
            mixed.append(parts(labels, 3) == 2)
            pure.append(bcubed_precision(labels, truth))
        print(f"  {rule:>9}: one person: median {np.median(counts):.0f} parts, worst {max(counts)}, "
              f"{sum(c <= 2 for c in counts)}/{len(counts)} in 1-2 parts; two mixed: "
              f"{sum(mixed)}/{len(mixed)} in 2 main parts, BCubed precision {np.mean(pure):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", action="append", help="model pack (repeatable; default sc_dlib)")
    for pack in parser.parse_args().pack or ["../shared/models/sc_dlib"]:
        report(pack)


if __name__ == "__main__":
    main()
