"""Levers for family albums, measured on both benches before any is kept.

Each lever changes the embeddings; the family album (bench/family.py, seed 1)
reports the pack's ceilings on them (oracle naming at <= 1% wrong, average
linkage at BCubed precision >= 0.98, all and children), LFW its 10-fold
verification accuracy on the shared pairs (bench/verify.py's protocol).

- mirror: each face's embedding averaged with its mirror image's;
- grey: every crop made greyscale before embedding (old scans are);
- gate: faces of greyscale photos left out of naming (a quality gate).

The faces are the ones facesort's scan found (landmarks from the library);
only the recognizer runs again.

    python bench/levers.py [--pack yunet_sface] [--lfw-photos 1500]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

import family
from lfw import PAIRS, lfw_library
from verify import ten_fold
from facesort.config import resolve_pack
from facesort.engine.face_engine import load_engine
from facesort.scanning.decoding import read_and_decode
from facesort.store import Store


def crops_of(engine, rows) -> tuple[list[np.ndarray], np.ndarray]:
    """Aligned crops (BGR, as the recognizer takes them) of (path, landmarks)
    rows, and whether each photo is greyscale."""
    crops, grey = [], []
    for path, landmarks in rows:
        photo = read_and_decode(Path(path), engine.det_size)
        points = np.array(landmarks, np.float32) / photo.scale
        crops.append(engine.align(photo.pixels, points))
        channels = photo.pixels.reshape(-1, 3).astype(np.int16)
        grey.append(bool(np.abs(channels - channels.mean(axis=1, keepdims=True)).max() <= 8))
    return crops, np.array(grey)


def embeddings(engine, crops: list[np.ndarray]) -> dict[str, np.ndarray]:
    plain = engine.embed(crops)
    mirrored = engine.embed([np.ascontiguousarray(c[:, ::-1]) for c in crops])
    both = plain + mirrored
    grey = [np.repeat(c.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8) for c in crops]
    return {"plain": plain, "mirror": both / np.linalg.norm(both, axis=1, keepdims=True),
            "grey": engine.embed(grey)}


def family_levers(engine, pack_spec: str) -> None:
    import json

    album, truth = family.build_album(1)
    source = family.scanned_library(album, pack_spec)
    arrivals = family.Arrivals(source, Path(tempfile.mkdtemp()) / "arrivals.db", truth)
    faces, stored = family.album_embeddings(arrivals)
    with Store(arrivals.path) as store:
        where = dict((f, (p, json.loads(l))) for f, p, l in store.db.execute(
            "SELECT f.id, p.path, f.landmarks FROM hold_faces f JOIN hold_photos p ON p.id = f.photo_id"))
    crops, grey = crops_of(engine, [where[f] for f in faces])
    found = embeddings(engine, crops)
    print(f"family album: {len(faces)} faces, {grey.sum()} from greyscale photos; plain embeddings "
          f"agree with the stored ones to cosine {float(np.mean(np.sum(found['plain'] * stored, axis=1))):.4f}")
    truth = arrivals.truth  # by face id
    people = np.array([truth[f].person for f in faces])
    child = np.array([truth[f].age < family.CHILD for f in faces])
    days = np.array([truth[f].taken.toordinal() for f in faces], np.float64)
    index = {f: i for i, f in enumerate(faces)}
    steps = [np.array([index[f] for f in step]) for step in family.three_batches(arrivals)]
    gated = [step[~grey[step]] if number else step for number, step in enumerate(steps)]
    print(f"{'lever':<8}{'centroid':>12}{'in time':>12}{'avg R all':>11}{'children':>10}")
    for lever, x in (*found.items(), ("gate", found["plain"])):
        use = gated if lever == "gate" else steps
        cells = []
        for how in ("centroid", "nearest in time"):
            right, total, _, _ = family.naming_ceiling(x, people, days, use, how)
            cells.append(f"{right}/{total}")
        (r_all, _), (r_child, _) = family.linkage_ceiling(x, people, child, 0.98, "average")
        print(f"{lever:<8}{cells[0]:>12}{cells[1]:>12}{r_all:>11.3f}{r_child:>10.3f}", flush=True)


def lfw_levers(engine, pack_spec: str, photos: int) -> None:
    """10-fold accuracy on a share of the LFW pairs (about ``photos`` photos)."""
    import csv
    import json

    every = list(csv.DictReader(open(PAIRS, newline=""), delimiter="\t"))
    # Every n-th pair, so that all ten folds keep pairs, about ``photos`` photos in all.
    pairs = every[::max(1, round(2 * len(every) / photos))]
    wanted = {row[key] for row in pairs for key in ("image_a", "image_b")}
    pack = resolve_pack(pack_spec).name
    with Store(lfw_library(pack_spec)) as store:
        rows = store.db.execute(
            "SELECT p.path, p.width, p.height, f.x, f.y, f.w, f.h, f.landmarks FROM photos p"
            " JOIN faces f ON f.photo_id = p.id JOIN packs k ON k.id = f.pack_id AND k.name = ?",
            (pack,)).fetchall()
    central: dict[str, tuple[float, str, list]] = {}
    for path, width, height, x, y, w, h, landmarks in rows:
        name = Path(path).name
        off = (x + w / 2 - width / 2) ** 2 + (y + h / 2 - height / 2) ** 2
        if name in wanted and (name not in central or off < central[name][0]):
            central[name] = (off, path, json.loads(landmarks))
    names = sorted(central)
    crops, grey = crops_of(engine, [(central[n][1], central[n][2]) for n in names])
    found = embeddings(engine, crops)
    index = {n: i for i, n in enumerate(names)}
    kept = [r for r in pairs if r["image_a"] in index and r["image_b"] in index]
    same = np.array([r["same"] == "1" for r in kept])
    folds = np.array([int(r["fold"]) for r in kept])
    print(f"LFW: {len(kept)} pairs among {len(names)} photos ({grey.sum()} greyscale)")
    for lever, x in found.items():
        d = np.array([np.linalg.norm(x[index[r["image_a"]]] - x[index[r["image_b"]]]) for r in kept])
        accuracies, _ = ten_fold(d, same, folds, defaultdict(int))
        print(f"   {lever:<8} 10-fold {accuracies.mean() * 100:.2f}% ± {accuracies.std() * 100:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="yunet_sface")
    parser.add_argument("--lfw-photos", type=int, default=1500)
    args = parser.parse_args()
    engine = load_engine(resolve_pack(args.pack))
    family_levers(engine, args.pack)
    lfw_levers(engine, args.pack, args.lfw_photos)


if __name__ == "__main__":
    main()
