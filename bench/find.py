"""How fast `facesort find` answers on a big library.

Builds a library of 100,000 photos (1 to 3 faces each, 500 people, two
thirds of the faces named by the user or automatically, capture times over
ten years), then times queries through facesort's own search, beside a naive
baseline that reads every face's person into Python and filters there.
Medians of repeated runs.

    python bench/find.py [--photos 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from facesort.search.find import PhotoQuery, find_photos
from facesort.store import Store


def build(store: Store, photos: int, people: int, seed: int = 1, dims: int = 1) -> list[str]:
    """Fill ``store``; each person's faces are one group and unnamed faces are
    unknown, as after 'facesort cluster'. Embeddings are ``dims`` zeros."""
    # Bulk SQL: building through the scanner would take hours of detection.
    rng = random.Random(seed)
    db = store.db
    names = [f"Person {i:03d}" for i in range(people)]
    with store.transaction():
        pack = db.execute("INSERT INTO packs (name, fingerprint) VALUES ('bench', '-')").lastrowid
        db.executemany("INSERT INTO people (name, key) VALUES (?, ?)",
                       [(n, n.casefold()) for n in names])
        db.executemany(
            "INSERT INTO photos (id, path, size, mtime_ns, content_hash, width, height, orientation,"
            " taken_at, status, scanned_at) VALUES (?, ?, 1, 1, ?, 4000, 3000, 1, ?, 'ok', '')",
            [(i, f"/photos/{i // 1000:03d}/{i:06d}.jpg", str(i),
              f"{2015 + rng.randrange(10)}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}T12:00:00")
             for i in range(1, photos + 1)])
        db.executemany("INSERT INTO photo_scans (photo_id, pack_id) VALUES (?, ?)",
                       [(i, pack) for i in range(1, photos + 1)])
        # Families: a few people are in most photos, as in a real library.
        weights = [1 / (rank + 1) for rank in range(people)]
        faces = []
        for photo in range(1, photos + 1):
            for person in set(rng.choices(range(1, people + 1), weights, k=rng.randint(1, 3))):
                named = rng.random()
                user = person if named < 0.4 else None
                auto = person if 0.4 <= named < 0.67 else None
                faces.append((photo, pack, user, "user" if user else None, auto))
        db.executemany(
            "INSERT INTO faces (photo_id, pack_id, x, y, w, h, landmarks, score, embedding,"
            " person_id, person_source, auto_person_id) VALUES (?, ?, 0, 0, 100, 100, '[]', 0.9,"
            f" zeroblob({4 * dims}), ?, ?, ?)", faces)
        db.execute("INSERT INTO clusters (id, pack_id) SELECT id, ? FROM people", (pack,))
        db.execute("UPDATE faces SET cluster_id = coalesce(person_id, auto_person_id)")
    return names


def naive(store: Store, wanted: set[int], without: set[int]) -> list[str]:
    people: dict[int, set[int]] = {}
    for photo, person in store.db.execute(
            "SELECT photo_id, coalesce(person_id, auto_person_id) FROM faces"):
        people.setdefault(photo, set()).add(person)
    hits = [p for p, found in people.items() if wanted <= found and not (found & without)]
    return sorted(store.db.execute("SELECT path FROM photos WHERE id = ?", (p,)).fetchone()[0]
                  for p in hits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "find.db") as store:
        started = time.perf_counter()
        names = build(store, args.photos, args.people)
        faces = store.db.execute("SELECT count(*) FROM faces").fetchone()[0]
        print(f"library: {args.photos} photos, {faces} faces, {args.people} people "
              f"(built in {time.perf_counter() - started:.0f} s)")
        common, second, rare = names[0], names[1], names[200]
        queries = {
            f"find '{common}'": PhotoQuery([common]),
            f"find '{common}' '{second}'": PhotoQuery([common, second]),
            f"find '{common}' '{second}' --any": PhotoQuery([common, second], any_of=True),
            f"find '{common}' --not '{second}'": PhotoQuery([common], without=(second,)),
            f"find '{common}' --only": PhotoQuery([common], only=True),
            f"find '{common}' --year 2020": PhotoQuery([common], year=2020),
            f"find '{rare}'": PhotoQuery([rare]),
        }
        print(f"{'query':<44}{'photos':>8}{'median ms':>11}")
        for label, query in queries.items():
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                hits = find_photos(store, 1, query)
                times.append(time.perf_counter() - t)
            print(f"{label:<44}{len(hits):>8}{statistics.median(times) * 1000:>11.1f}")
        ours, base = [], []
        query = PhotoQuery([common], without=(second,))
        for _ in range(args.repeats):
            t = time.perf_counter()
            expected = [h.photo.path for h in find_photos(store, 1, query)]
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            assert naive(store, {1}, {2}) == expected
            base.append(time.perf_counter() - t)
        print(f"\nside by side, find '{common}' --not '{second}': facesort "
              f"{statistics.median(ours) * 1000:.0f} ms, naive full read "
              f"{statistics.median(base) * 1000:.0f} ms: {statistics.median(base) / statistics.median(ours):.1f}x")


if __name__ == "__main__":
    main()
