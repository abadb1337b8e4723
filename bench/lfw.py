"""Shared by the benchmarks: the shared LFW photos, scanned once per pack.

The library is cached in bench/.cache/<pack>/lfw.db; facesort's own scan keeps
it up to date, so a second run costs seconds.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facesort.config import resolve_pack
from facesort.scanning.scanner import scan
from facesort.store import Store, blob_to_embedding

SHARED = Path(__file__).resolve().parents[2] / "shared"
LFW = SHARED / "data" / "lfw"
PAIRS = SHARED / "data" / "lfw-pairs.tsv"
CACHE = Path(__file__).resolve().parent / ".cache"
GROUP = SHARED / "data" / "group"
# From ../shared/data/README.md: faces a good detector should find.
GROUP_EXPECTED = {
    "solvay_conference_1927.png": 29,
    "insightface_t1.jpg": 6,
    "obama_and_biden.jpg": 3,
    "two_people.jpg": 2,
    "kit_with_rose.jpg": 2,
}


@dataclass
class LfwFaces:
    """One face per LFW photo: the detected face nearest the image centre."""

    people: list[str]  # identity of each row
    files: list[str]  # file name of each row
    embeddings: np.ndarray  # (n, d), L2-normalised

    def index(self) -> dict[str, int]:
        return {name: row for row, name in enumerate(self.files)}


def lfw_library(pack_spec: str) -> Path:
    pack = resolve_pack(pack_spec)
    db = CACHE / pack.name / "lfw.db"
    with Store(db) as store:
        report = scan(store, [LFW], pack)
    if report.new or report.changed:
        print(f"scanned LFW with {pack.name}: {report.new} new photos in {report.seconds:.0f} s")
    return db


def lfw_faces(pack_spec: str) -> LfwFaces:
    db = lfw_library(pack_spec)
    name = resolve_pack(pack_spec).name
    with Store(db) as store:
        rows = store.db.execute(
            "SELECT p.path, p.width, p.height, f.x, f.y, f.w, f.h, f.embedding FROM photos p"
            " JOIN faces f ON f.photo_id = p.id JOIN packs k ON k.id = f.pack_id AND k.name = ?",
            (name,),
        ).fetchall()
    best: dict[str, tuple[float, bytes]] = {}
    for path, width, height, x, y, w, h, blob in rows:
        off_centre = (x + w / 2 - width / 2) ** 2 + (y + h / 2 - height / 2) ** 2
        if path not in best or off_centre < best[path][0]:
            best[path] = (off_centre, blob)
    paths = sorted(best)
    return LfwFaces(
        people=[Path(p).parent.name for p in paths],
        files=[Path(p).name for p in paths],
        embeddings=np.stack([blob_to_embedding(best[p][1]) for p in paths]),
    )


def pair_distances(faces: LfwFaces) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Distances of the LFW pairs: (distance, same, fold, pairs with no face)."""
    index = faces.index()
    distances, same, folds, missing = [], [], [], 0
    with open(PAIRS, newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            a, b = index.get(row["image_a"]), index.get(row["image_b"])
            if a is None or b is None:
                missing += 1
                continue
            distances.append(float(np.linalg.norm(faces.embeddings[a] - faces.embeddings[b])))
            same.append(row["same"] == "1")
            folds.append(int(row["fold"]))
    return np.array(distances), np.array(same), np.array(folds), missing
