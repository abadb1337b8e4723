"""How long keeping the copy of the decisions takes, and how big it is.

Builds a library as bench/find.py does (by default 100,000 photos, about
200,000 faces, two fifths of them named by the user), makes every face with
a decision's copy pending, and times writing the copy (what facesort does
after each command that changed a decision) and reading it back for a
restore (a dry run). Medians of repeated runs.

    python bench/decision_copy.py [--photos 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from find import build
from facesort.safety.decision_copy import keep_copy, read_copy
from facesort.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        build(store, args.photos, people=500)
        with store.transaction() as db:  # content hashes as a scan makes them: 40 hex digits
            db.execute("UPDATE photos SET content_hash = lower(hex(randomblob(20)))")
        faces = store.db.execute("SELECT count(*) FROM faces").fetchone()[0]
        writes, reads = [], []
        for _ in range(args.repeats):
            with store.transaction() as db:
                db.execute("UPDATE decision_copy SET changes = changes + 1")
            started = time.perf_counter()
            kept = keep_copy(store)
            writes.append(time.perf_counter() - started)
            started = time.perf_counter()
            sum(1 for _ in read_copy(kept.path).records)
            reads.append(time.perf_counter() - started)
        size = kept.path.stat().st_size
        print(f"{faces:,} faces, {kept.decisions:,} decisions: copy {size / 1e6:.1f} MB "
              f"({size / kept.decisions:.0f} bytes a decision)")
        print(f"write: median {statistics.median(writes):.2f} s "
              f"({', '.join(f'{s:.2f}' for s in writes)}); "
              f"read back: median {statistics.median(reads):.2f} s")


if __name__ == "__main__":
    main()
