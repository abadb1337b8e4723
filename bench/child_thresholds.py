"""Distances between children's faces, per pack, on the shared FG-NET photos.

FG-NET file names give the identity and the age (``001A02.JPG``: person 001 at
2). The photos are scanned once per pack into bench/.cache/<pack>/fgnet.db (one
face per photo: the largest). Among children under 13 (CHILD_AGE) it prints:

- same-person and different-person pair distances (quartiles);
- the distance below which 0.1% of different-children pairs fall (FAR 0.1%),
  and how many same-child pairs it keeps (TAR);
- the same at the pack's LFW recognition distance, for comparison;
- face against the centroid of each child's other photos (what automatic
  naming compares): the 0.1% distance of faces to other children's centroids.

The recorded ``child_recognize`` in facesort/engine/thresholds.py is the lower of
the pack's LFW ``recognize`` and the face-to-centroid FAR 0.1% distance printed
here (automatic naming compares a face with a person's centroid).

    python bench/child_thresholds.py [--pack yunet_sface] [--pack sc_sface] [--pack ../shared/models/sc_dlib]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lfw import CACHE, SHARED  # noqa: E402

from facesort.config import resolve_pack  # noqa: E402
from facesort.engine.thresholds import thresholds_for  # noqa: E402
from facesort.scanning.scanner import scan  # noqa: E402
from facesort.store import Store, blob_to_embedding  # noqa: E402
from facesort.people.ages import CHILD_AGE  # noqa: E402

FGNET = SHARED / "data" / "fgnet"
NAME = re.compile(r"^(\d{3})A(\d{2})[a-z]?\.jpg$", re.IGNORECASE)
FAR = 0.001


def fgnet_faces(pack_spec: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(person, age, embedding) of the largest face of each FG-NET photo."""
    pack = resolve_pack(pack_spec)
    db = CACHE / pack.name / "fgnet.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    with Store(db) as store:
        report = scan(store, [FGNET], pack)
        if report.new or report.changed:
            print(f"scanned FG-NET with {pack.name}: {report.new} new photos in {report.seconds:.0f} s")
        rows = store.db.execute(
            "SELECT p.path, f.w * f.h, f.embedding FROM photos p JOIN faces f ON f.photo_id = p.id"
            " JOIN packs k ON k.id = f.pack_id AND k.name = ?", (pack.name,)).fetchall()
    best: dict[str, tuple[float, bytes]] = {}
    for path, area, blob in rows:
        if path not in best or area > best[path][0]:
            best[path] = (area, blob)
    people, ages, vectors = [], [], []
    for path in sorted(best):
        match = NAME.match(Path(path).name)
        if match:
            people.append(int(match[1]))
            ages.append(int(match[2]))
            vectors.append(blob_to_embedding(best[path][1]))
    vectors = np.stack(vectors)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.array(people), np.array(ages), vectors


def quartiles(values: np.ndarray) -> str:
    return " / ".join(f"{q:.3f}" for q in np.percentile(values, [25, 50, 75]))


def report(pack_spec: str) -> None:
    name = resolve_pack(pack_spec).name
    people, ages, vectors = fgnet_faces(pack_spec)
    lfw = thresholds_for(name)
    child = ages < CHILD_AGE
    p, v = people[child], vectors[child]
    d = np.linalg.norm(v[:, None] - v[None], axis=2)
    upper = np.triu(np.ones_like(d, bool), k=1)
    same = d[upper & (p[:, None] == p[None])]
    other = d[upper & (p[:, None] != p[None])]
    at_far = float(np.quantile(other, FAR))
    print(f"{name}: {child.sum()} photos of {len(np.unique(p))} children under {CHILD_AGE} "
          f"({len(people)} photos in all); {len(same)} same-child pairs, {len(other)} different")
    print(f"  distance quartiles, same child: {quartiles(same)}; different children: {quartiles(other)}")
    print(f"  pair FAR {FAR:.1%}: {at_far:.3f}, keeps {np.mean(same <= at_far):.1%} of same-child pairs")
    if lfw is not None:
        print(f"  at the LFW recognize distance {lfw.recognize}: different children "
              f"{np.mean(other <= lfw.recognize):.2%} accepted, same child {np.mean(same <= lfw.recognize):.1%}")
    # Face against the centroid of each child's other photos (leave one out).
    own, strange = [], []
    for row in range(len(p)):
        for person in np.unique(p):
            members = (p == person) & (np.arange(len(p)) != row)
            if not members.any():
                continue
            centroid = v[members].mean(axis=0)
            distance = float(np.linalg.norm(v[row] - centroid / np.linalg.norm(centroid)))
            (own if person == p[row] else strange).append(distance)
    own, strange = np.array(own), np.array(strange)
    at_far_centroid = float(np.quantile(strange, FAR))
    print(f"  face to centroid, own: {quartiles(own)}; other children: {quartiles(strange)}; "
          f"FAR {FAR:.1%} at {at_far_centroid:.3f}, keeps {np.mean(own <= at_far_centroid):.1%} of own")
    if lfw is not None:
        print(f"  face to centroid at the LFW recognize distance {lfw.recognize}: other children "
              f"{np.mean(strange <= lfw.recognize):.2%} accepted, own {np.mean(own <= lfw.recognize):.1%}")
        print(f"  child_recognize = min(recognize, face to centroid FAR {FAR:.1%}) = "
              f"{min(lfw.recognize, at_far_centroid):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", action="append", help="model pack (repeatable; default yunet_sface)")
    for pack in parser.parse_args().pack or ["yunet_sface"]:
        report(pack)


if __name__ == "__main__":
    main()
