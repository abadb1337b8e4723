"""Scanning many copies of one photo against as many different photos.

A copy of a photo the library holds gets its twin's faces without running the
model; the scan looks at each earlier twin once (is it still there, or was it
moved?), so copies should cost less than different photos, whatever their
number. Builds, under bench/.cache/scan_copies/, --copies copies of one LFW
photo and --different different LFW photos, scans each folder into a fresh
library (the default pack) in alternating rounds and prints the medians side
by side, with the ratio copies/different (the target: at most 2).

    python bench/scan_copies.py [--copies 10000] [--different 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from facesort.config import DEFAULT_MODEL, resolve_pack
from facesort.scanning.scanner import scan
from facesort.store import Store
from lfw import CACHE, LFW


def build(folder: Path, sources: list[Path], count: int) -> Path:
    """``count`` photos in ``folder``, cycling through ``sources``; kept for the next run."""
    done = folder / f".built-{count}"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for index in range(count):
            # Real copies, not links: each is read and hashed as a user's copy is.
            shutil.copyfile(sources[index % len(sources)], folder / f"photo_{index:05d}.jpg")
        done.touch()
    return folder


def timed_scan(folder: Path, pack) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        started = time.perf_counter()
        report = scan(store, [folder], pack)
        return time.perf_counter() - started, report.new, report.faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10_000)
    parser.add_argument("--different", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    portraits = sorted(LFW.glob("*/*_0001.jpg"))[: args.different]
    root = CACHE / "scan_copies"
    folders = {
        "copies": build(root / "copies", portraits[:1], args.copies),
        "different": build(root / "different", portraits, args.different),
    }
    pack = resolve_pack(DEFAULT_MODEL)
    timed_scan(folders["copies"] / "photo_00000.jpg", pack)  # loads the model, outside the timing
    runs: dict[str, list[tuple[float, int, int]]] = {name: [] for name in folders}
    for _ in range(args.repeats):
        for name, folder in folders.items():
            runs[name].append(timed_scan(folder, pack))
    medians = {name: statistics.median(r[0] for r in results) for name, results in runs.items()}
    print(f"{'folder':<10} {'photos':>7} {'faces':>7} {'median s':>9} {'photos/s':>9}")
    for name, results in runs.items():
        _, photos, faces = results[-1]
        print(f"{name:<10} {photos:>7} {faces:>7} {medians[name]:>9.2f} {photos / medians[name]:>9.0f}")
    print(f"copies / different: {medians['copies'] / medians['different']:.2f}x "
          f"(each of {args.repeats} rounds: "
          + ", ".join(f"{c[0]:.1f}/{d[0]:.1f} s" for c, d in zip(runs["copies"], runs["different"]))
          + ")")


if __name__ == "__main__":
    main()
