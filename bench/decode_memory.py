"""How much memory decoding one huge PNG takes.

Builds a photo-like PNG of about 100 megapixels (the Solvay group photo,
enlarged) in a temporary folder, then decodes it in a fresh process each way
and prints that process's peak resident memory (ru_maxrss):

- facesort: facesort's decoder as the scan calls it (detector size 640);
- facesort 0.x: the same decoder with the shrinking switched off, as it was;
- Pillow: a plain Image.open().convert("RGB"), the baseline.

    python bench/decode_memory.py [--megapixels 100] [--det-size 640]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "group" / "solvay_conference_1927.png"

# Each runs in a fresh process (ru_maxrss never goes down): the imports, then
# the decoding, which the scan does from the file's bytes already read.
DECODERS = {
    "facesort": "photo = decoding.decode(path, data, det_size); shape = photo.pixels.shape",
    "facesort, no shrinking": "decoding.REDUCE_ABOVE_PIXELS = float('inf')\n"
                              "photo = decoding.decode(path, data, det_size); shape = photo.pixels.shape",
    "Pillow open+convert": "image = Image.open(path).convert('RGB')\n"
                           "shape = (image.height, image.width, 3)",
}

PROBE = """
import resource, sys, time
from pathlib import Path
import numpy
from PIL import Image
from facesort.scanning import decoding
path, det_size = Path(sys.argv[1]), int(sys.argv[2])
data = path.read_bytes()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
{decoder}
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, peak, "x".join(map(str, shape)), seconds)
"""

BUILD = """
import math, sys
from PIL import Image
source = Image.open(sys.argv[1]).convert("RGB")
factor = math.sqrt(float(sys.argv[2]) * 1e6 / (source.width * source.height))
big = source.resize((round(source.width * factor), round(source.height * factor)),
                    Image.Resampling.BILINEAR)
big.save(sys.argv[3], compress_level=1)
"""


def build(folder: Path, megapixels: float) -> Path:
    """In a process of its own: a child inherits its parent's peak memory."""
    path = folder / "huge.png"
    subprocess.run([sys.executable, "-c", BUILD, str(SOURCE), str(megapixels), str(path)], check=True)
    return path


def peak_rss(decoder: str, path: Path, det_size: int) -> tuple[float, float, str, float]:
    """Peak resident memory in MB of a process that decodes ``path``, and of
    the same process before decoding (Python, the imports and the file's bytes)."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(decoder=decoder), str(path), str(det_size)],
                          capture_output=True, text=True, check=True)
    before, peak, shape, seconds = done.stdout.split()
    return int(before) / 1024, int(peak) / 1024, shape, float(seconds)  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=100)
    parser.add_argument("--det-size", type=int, default=640)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = build(Path(folder), args.megapixels)
        print(f"{path.stat().st_size / 1e6:.0f} MB PNG, {args.megapixels:.0f} megapixels")
        results = {name: peak_rss(code, path, args.det_size) for name, code in DECODERS.items()}
    baseline = results["Pillow open+convert"][1]  # the whole process's peak
    print(f"{'decoder':<24}{'decoded to':>14}{'seconds':>9}{'peak RSS':>11}{'decoding':>11}{'vs Pillow':>11}")
    for name, (before, peak, shape, seconds) in results.items():
        print(f"{name:<24}{shape:>14}{seconds:>9.1f}{peak:>8.0f} MB{peak - before:>8.0f} MB"
              f"{peak / baseline:>10.2f}x")


if __name__ == "__main__":
    main()
