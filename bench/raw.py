"""Camera RAW at a camera's size: decode speed and a scan's peak memory.

Builds (once, under bench/.cache/raw/) 6000x4000 Bayer DNGs of a real group
photo, 14-bit uncompressed as many cameras store them (48 MB of sensor data):
one with a full-size JPEG preview embedded, as cameras embed theirs, and one
without (tests/bayer_dng.py makes them), and the preview as a JPEG.

- speed: facesort's decoding of each (detector size 640), median of
  --repeats runs: the preview path, the half-size develop path, the JPEG;
- memory (--copies N): a scan of N distinct copies of the DNG with the
  preview, in a fresh process, and of N copies of the JPEG for comparison;
  the process's peak resident memory (ru_maxrss) and what the scan added
  to it beyond the imports and the model.

    python bench/raw.py [--repeats 3] [--copies 24] [--no-preview-copies]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from bayer_dng import bayer_dng  # noqa: E402

from facesort.scanning import decoding  # noqa: E402

SOURCE = ROOT.parent / "shared" / "data" / "group" / "obama_and_biden.jpg"
CACHE = ROOT / "bench" / ".cache" / "raw"
SIZE = (6000, 4000)
TAKEN = b"2021:07:14 10:30:00"


def build() -> dict[str, Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    paths = {"preview": CACHE / "preview.dng", "bare": CACHE / "bare.dng", "jpeg": CACHE / "photo.jpg"}
    if all(path.exists() for path in paths.values()):
        return paths
    source = Image.open(SOURCE).convert("RGB")
    aspect = SIZE[0] / SIZE[1]
    height = round(source.width / aspect)
    top = (source.height - height) // 2
    photo = source.crop((0, top, source.width, top + height)).resize(SIZE, Image.Resampling.BICUBIC)
    photo.save(paths["jpeg"], quality=90)
    bayer_dng(photo, paths["bare"])
    bayer_dng(photo, paths["preview"], preview=photo)
    return paths


def speed(paths: dict[str, Path], repeats: int) -> None:
    print(f"decoding at detector size 640, median of {repeats} (seconds)")
    times = {}
    for name, label in (("preview", "DNG, preview path"), ("bare", "DNG, develop (half size)"),
                        ("jpeg", "same photo as JPEG")):
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            photo = decoding.read_and_decode(paths[name], 640)
            runs.append(time.perf_counter() - started)
        times[name] = statistics.median(runs)
        print(f"  {label:<26}{paths[name].stat().st_size / 1e6:>6.0f} MB  {times[name]:>6.2f} s"
              f"  decoded to {photo.pixels.shape[1]}x{photo.pixels.shape[0]}")
    print(f"  develop / preview: {times['bare'] / times['preview']:.1f}x")


PROBE = """
import resource, sys, tempfile
from pathlib import Path
from facesort.config import resolve_pack
from facesort.scanning.scanner import ScanOptions, Scanner
from facesort.store import Store
with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
    scanner = Scanner(store, resolve_pack("yunet_sface"), ScanOptions())
    scanner.engine  # the model, loaded before the baseline is taken
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = scanner.run([Path(sys.argv[1])])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, peak, report.new, report.failed, report.faces, report.seconds)
"""


def scan_peak(folder: Path) -> tuple[float, float, str]:
    done = subprocess.run([sys.executable, "-c", PROBE, str(folder)],
                          capture_output=True, text=True, check=True)
    before, peak, new, failed, faces, seconds = done.stdout.split()
    return int(before) / 1024, int(peak) / 1024, f"{new} new, {failed} failed, {faces} faces, {float(seconds):.0f} s"


def copies(source: Path, folder: Path, count: int) -> None:
    """``count`` copies of ``source`` that differ (in the capture time), so
    that the scan reads and decodes each rather than taking it as a copy."""
    data = source.read_bytes()
    for index in range(count):
        changed = data.replace(TAKEN, TAKEN[:-2] + b"%02d" % index, 1) if TAKEN in data else data + bytes([index])
        (folder / f"IMG_{index:04d}{source.suffix}").write_bytes(changed)


def memory(paths: dict[str, Path], count: int, kinds: list[str]) -> None:
    print(f"scan of {count} distinct copies: peak resident memory (MB)")
    print(f"  {'files':<26}{'size':>8}{'peak':>8}{'scan':>8}  result")
    for name in kinds:
        folder = Path(tempfile.mkdtemp(dir=CACHE))
        try:
            copies(paths[name], folder, count)
            before, peak, result = scan_peak(folder)
        finally:
            shutil.rmtree(folder)
        size = paths[name].stat().st_size / 1e6
        print(f"  {name + ' x' + str(count):<26}{size:>5.0f} MB{peak:>8.0f}{peak - before:>8.0f}  {result}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--copies", type=int, default=24, help="RAWs in the scan (0: no memory figures)")
    parser.add_argument("--no-preview-copies", action="store_true",
                        help="also scan copies of the DNG without a preview (developed: slow)")
    args = parser.parse_args()
    paths = build()
    speed(paths, args.repeats)
    if args.copies:
        memory(paths, args.copies, ["preview", "jpeg"] + (["bare"] if args.no_preview_copies else []))


if __name__ == "__main__":
    main()
