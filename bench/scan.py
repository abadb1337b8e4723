"""Scan speed on large photos per model pack, and what the detector size costs
in faces.

Builds a folder of 3000x2000 JPEGs with LFW faces pasted in, scans it with each
pack (draft-mode decoding, what facesort does) and, for the first pack, with
full decoding (the baseline), in alternating rounds, and prints medians side by
side: photos/s, faces/s, seconds per stage, and the ratio of total time to pure
model time (detect + embed; 1.0 would mean the model is all that costs). Then
runs each pack's detector on the group photos at several detector sizes and
prints the faces found at each.

    python bench/scan.py [--photos 60] [--repeats 3]
                         [--packs yunet_sface,../shared/models/sc_dlib,../shared/models/sc_sface]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from facesort import imaging
from facesort.config import resolve_pack
from facesort.engine import load_engine
from facesort.scan import scan
from facesort.store import Store
from lfw import GROUP_EXPECTED, SHARED



def build_photos(folder: Path, count: int, faces_per_photo: int, seed: int = 7) -> int:
    """Write ``count`` 3000x2000 JPEGs, each with ``faces_per_photo`` LFW faces."""
    rng = random.Random(seed)
    portraits = sorted((SHARED / "data" / "lfw").glob("*/*_0001.jpg"))
    # Smooth random colour: a background with no face in it.
    noise = Image.frombytes("RGB", (30, 20), bytes(rng.randrange(256) for _ in range(30 * 20 * 3)))
    background = noise.resize((3000, 2000), Image.Resampling.BICUBIC)
    for index in range(count):
        canvas = background.copy()
        for slot in range(faces_per_photo):
            # LFW's face sits in the middle 50% of each 250x250 portrait.
            face = Image.open(rng.choice(portraits)).crop((45, 45, 205, 215))
            side = rng.randint(220, 420)
            face = face.resize((side, round(side * 170 / 160)))
            column_width = 3000 // faces_per_photo
            x = slot * column_width + rng.randint(0, max(0, column_width - side))
            y = rng.randint(100, 2000 - face.height - 100)
            canvas.paste(face, (x, y))
        canvas.save(folder / f"photo_{index:04d}.jpg", quality=90)
    return count


def run_scan(folder: Path, pack, full_decode: bool) -> dict:
    real_decode = imaging.decode
    if full_decode:
        imaging.decode = lambda path, data, long_side: real_decode(path, data, None)
    try:
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
            started = time.perf_counter()
            report = scan(store, [folder], pack)
            wall = time.perf_counter() - started
    finally:
        imaging.decode = real_decode
    stages = report.timings
    model = stages["detect"] + stages["embed"]
    return {
        "wall": wall,
        "photos": report.new,
        "faces": report.faces,
        "photos/s": report.new / wall,
        "faces/s": report.faces / wall,
        **{f"{k} s": v for k, v in stages.items()},
        "total/model": wall / model,
    }


def median_rows(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def det_size_sweep(pack, sizes: list[int]) -> None:
    print(f"\n{pack.name}: faces found on the group photos by detector size "
          "(expected in brackets), median ms:")
    names = sorted(GROUP_EXPECTED)
    print(f"{'det-size':>9} " + " ".join(f"{n[:14]:>16}" for n in names) + f" {'total':>7} {'ms/photo':>9}")
    photos = {n: imaging.read_and_decode(SHARED / "data" / "group" / n) for n in names}
    for size in sizes:
        engine = load_engine(pack, size)
        counts, times = [], []
        for name in names:
            pixels = photos[name].pixels
            engine.detect(pixels)  # build this size's session outside the timing
            samples = []
            for _ in range(3):
                started = time.perf_counter()
                found = engine.detect(pixels)
                samples.append(time.perf_counter() - started)
            counts.append(len(found))
            times.append(statistics.median(samples))
        cells = " ".join(f"{c:>12} [{GROUP_EXPECTED[n]:>2}]" for c, n in zip(counts, names))
        print(f"{size:>9} {cells} {sum(counts):>4}/{sum(GROUP_EXPECTED.values())} "
              f"{statistics.mean(times) * 1000:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--faces", type=int, default=5, help="faces pasted into each photo")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--packs", default=",".join(
        ["yunet_sface", str(SHARED / "models" / "sc_dlib"), str(SHARED / "models" / "sc_sface")]),
        help="comma-separated packs (names or folders); the first also gets the full-decode baseline")
    parser.add_argument("--det-sizes", default="320,416,480,640,960,1280")
    args = parser.parse_args()
    packs = [resolve_pack(spec) for spec in args.packs.split(",")]
    for pack in packs:
        load_engine(pack)  # model loading is not scanning

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        build_photos(folder, args.photos, args.faces)
        print(f"built {args.photos} photos of 3000x2000 with {args.faces} faces pasted in each "
              f"in {time.perf_counter() - started:.1f} s; {args.repeats} alternating rounds, medians")
        columns = [(pack.name, pack, False) for pack in packs] + [
            (f"{packs[0].name} full", packs[0], True)]
        runs: dict[str, list[dict]] = {label: [] for label, _, _ in columns}
        run_scan(folder, packs[0], full_decode=False)  # warm the file cache
        for _ in range(args.repeats):
            for label, pack, full in columns:
                runs[label].append(run_scan(folder, pack, full_decode=full))
    medians = {label: median_rows(r) for label, r in runs.items()}
    print("\n" + f"{'':<14}" + "".join(f"{label:>20}" for label in medians))
    for key in medians[packs[0].name]:
        print(f"{key:<14}" + "".join(f"{m[key]:>20.2f}" for m in medians.values()))
    first = packs[0].name
    print(f"\nfull-decode baseline wall / facesort wall ({first}): "
          f"{medians[first + ' full']['wall'] / medians[first]['wall']:.2f}x")
    for pack in packs:
        det_size_sweep(pack, [int(s) for s in args.det_sizes.split(",")])


if __name__ == "__main__":
    sys.exit(main())
