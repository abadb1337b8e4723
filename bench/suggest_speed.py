"""How long "Also Alice?" takes to find its offers in a big library: the
suggestions against each group's nearest people (suggestions.CANDIDATES) side by
side with every group against every named person, and whether both give the
same offers. (The "every person" column runs today's code with every named
person as a candidate, group by group; the code before candidates compared
all groups at once and took, at 100,000 faces, 6.7 s, 4.3 s and 4.5 s for
the three calls, measured on this 2-core machine.)

Builds a synthetic library (identities near the shared LFW faces of the
pack, ~15 photos each, as bench/cluster_quality.py --scale does), clusters
it, names half of its groups, and caches it in bench/.cache/. Then times,
median of --repeats: the offers near anyone named (start of `facesort name`)
and what `facesort name` looks up after each name: the offers for that
person and the groups the next cluster run names anyway (suggestions.outlook).

At a million faces (1,492 people, half the groups named), before unnamed
groups were read group first and the same-photo check asked only about
groups within reach, the offers took 9.8 s and a name's lookups 16.8 s
(offers 9.7, groups named anyway 7.1); after, 2.9 and 5.8 s; with one look
for both, 3.0 and 2.8 s. At 100,000 faces: 0.54 s and 0.54 s (0.9 s as two
looks). The offers are the same throughout.

    python bench/suggest_speed.py [--faces 10000,100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from cluster_quality import _synthetic, add_faces
from lfw import CACHE, lfw_faces
from facesort.people import suggestions
from facesort.people import decisions
from facesort.config import resolve_pack
from facesort.people.cluster_run import update_groups
from facesort.store import Store


def library(pack_spec: str, n: int):
    pack = resolve_pack(pack_spec).name
    db = CACHE / pack / f"suggest-{n}.db"
    if not db.exists():
        partial = db.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        with Store(partial) as store:
            add_faces(store, pack, _synthetic(lfw_faces(pack_spec).embeddings, n))
            update_groups(store, pack)
            groups = store.clusters_summary(store.find_pack(pack))
            for index, group in enumerate(groups[: len(groups) // 2]):
                decisions.name_group(store, group.id, f"Person {index}")
            update_groups(store, pack)
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        partial.rename(db)
    return db, pack


def timed(call, repeats: int):
    seconds, answer = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        answer = call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="yunet_sface")
    parser.add_argument("--faces", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    nearest = suggestions.CANDIDATES
    print(f"{'faces':>8}{'people':>8}{'groups':>8}  {'call':<28}{'every person s':>16}"
          f"{'nearest ' + str(nearest) + ' s':>14}{'ratio':>8}  same offers")
    for n in (int(x) for x in args.faces.split(",")):
        db, pack = library(args.pack, n)
        with Store(db) as store:
            pack_id = store.find_pack(pack)
            someone = max(store.people_summary(pack_id), key=lambda p: p.faces)
            person = next(p for p in store.people() if p.name == someone.name)
            unnamed = len(store.unnamed_groups(pack_id))
            calls = {
                "offers near anyone named": lambda: suggestions.group_suggestions(store, pack),
                "after a name (offers, later)": lambda: suggestions.outlook(store, pack, person),
            }
            for label, call in calls.items():
                suggestions.CANDIDATES = 1 << 30  # every named person is a candidate
                every, expected = timed(call, args.repeats)
                suggestions.CANDIDATES = nearest
                ours, found = timed(call, args.repeats)
                print(f"{n:>8}{len(store.people()):>8}{unnamed:>8}  {label:<28}{every:>16.3f}{ours:>14.3f}"
                      f"{every / ours:>7.1f}x  {'yes' if found == expected else 'NO'}", flush=True)


if __name__ == "__main__":
    main()
