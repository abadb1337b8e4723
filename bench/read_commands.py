"""How fast the read commands answer, each a whole process, start included.

Builds a library once (bench/find.py's: 100,000 photos, 1 to 3 faces each,
500 people, every face in a group or unknown, 128-d embeddings) and caches
it in bench/.cache/; then times each command as its own process, median of
repeated runs, beside a bare `python -c pass`. `export` is timed to its
first line: how soon a script reading it gets going.

    python bench/read_commands.py [--photos 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from find import build
from lfw import CACHE
from facesort.store import Store

REPO = Path(__file__).resolve().parents[1]


def library(photos: int) -> Path:
    db = CACHE / f"read-{photos}.db"
    if not db.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        partial = db.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        with Store(partial) as store:
            build(store, photos, 500, dims=128)
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        partial.rename(db)
        print(f"built {db} in {time.perf_counter() - started:.0f} s", flush=True)
    return db


def timed(command: list[str], env: dict, first_line_only: bool = False) -> float:
    started = time.perf_counter()
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        if first_line_only:
            child.stdout.readline()
            elapsed = time.perf_counter() - started
            child.kill()
            return elapsed
        out, err = child.communicate()
    elapsed = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {err.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    db = library(args.photos)
    env = {**os.environ, "FACESORT_DB": str(db), "PYTHONPATH": str(REPO)}
    env.pop("FACESORT_MODEL", None)
    with Store(db) as store:
        faces = store.db.execute("SELECT count(*) FROM faces").fetchone()[0]
    facesort = [sys.executable, "-m", "facesort"]
    commands = {
        "python -c pass": ([sys.executable, "-c", "pass"], False),
        "facesort --help": (facesort + ["--help"], False),
        "facesort status": (facesort + ["status"], False),
        "facesort people": (facesort + ["people"], False),
        "facesort clusters --all": (facesort + ["clusters", "--all"], False),
        "facesort find 'Person 200'": (facesort + ["find", "Person 200"], False),
        "facesort find 'Person 000' 'Person 001'": (facesort + ["find", "Person 000", "Person 001"], False),
        "facesort show 'Person 200' --json": (facesort + ["show", "Person 200", "--json"], False),
        "facesort export (first line)": (facesort + ["export"], True),
    }
    load = os.getloadavg()[0]
    print(f"library: {args.photos} photos, {faces} faces, 500 people; load average {load:.1f} "
          f"on {os.cpu_count()} cores")
    print(f"{'command':<44}{'median s':>9}{'min s':>8}")
    for label, (command, first_line) in commands.items():
        times = [timed(command, env, first_line) for _ in range(args.repeats)]
        print(f"{label:<44}{statistics.median(times):>9.3f}{min(times):>8.3f}", flush=True)


if __name__ == "__main__":
    main()
