"""Family albums: children growing up, look-alike siblings, old scans.

Builds dated family albums from ../shared/data/fgnet (identity and age in each
file name): families of 3-4 people whose children are born 2-4 years apart,
a random (seeded) birth date each, EXIF DateTimeOriginal = birth + age + a
random day, photos in year/month folders under bench/.cache/family/ (never
committed). The album is scanned by facesort's own scan (cached: a second run
rescans nothing), one face a photo kept (the one nearest the centre), and then
measured through the functions the commands call, twice in one process: as
on main ("baseline": time ignored) and with capture time as evidence ("new"),
and with the user giving each person they name their true birth date
(`facesort person NAME --born`: "new+born"); "new-chain" names in one round,
as before automatic names chained through time.

- Chronological protocol: the photos arrive in three batches by date; after
  each, `facesort cluster`, then a simulated user names every group holding
  no name of theirs after its majority person (x the faces that are not),
  unless every face of it already carries that name automatically.
- Streaming: the photos arrive month by month, named the same way as they come.
- Suggestions: the whole album, the largest half of the groups named, then
  the "Also Alice?" offers, right when the group's majority is that person.
- Ceiling: the best any simple linkage reaches on the same embeddings, and
  the most new faces an oracle gallery (every earlier face named right) can
  name at <= 1% wrong: by centroid, by nearest face, by faces nearest in time;
  and by faces nearest in time chained as facesort chains its names, at the
  pack's own distance and margin.

    python bench/family.py [--pack yunet_sface] [--seed 1] [--no-stream] [--modes baseline,new,new+born]
    python bench/family.py --modes new,new+born --sweep-anchor-margin 0,0.25,0.5,0.75,1,1.25
    python bench/family.py --seeds 1-8 --modes new,new+born   # eight albums, a line each and totals
"""

from __future__ import annotations

import argparse
import contextlib
import random
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from cluster_quality import scores
from lfw import CACHE, SHARED
from facesort.config import resolve_pack
from facesort.engine.thresholds import thresholds_for
from facesort.people.ages import parse_born
from facesort.people import decisions, suggestions, timeline
from facesort.people.cluster_run import update_groups
from facesort.scanning.scanner import scan
from facesort.store import Store, blob_to_embedding

FGNET = SHARED / "data" / "fgnet"
CHILD = 13  # "children": faces under this age
NAME = re.compile(r"(\d{3})A(\d{2})([a-z]?)\.JPG$", re.IGNORECASE)


@dataclass(frozen=True)
class Face:
    person: str
    age: int
    taken: date
    born: date


def build_album(seed: int) -> tuple[Path, dict[str, Face]]:
    """The dated album of this seed (made once, cached) and each photo's truth by file name."""
    rng = random.Random(seed)
    files = sorted(p for p in FGNET.iterdir() if NAME.match(p.name))
    people = sorted({NAME.match(p.name).group(1) for p in files})
    rng.shuffle(people)
    born: dict[str, date] = {}
    start = 0
    while start < len(people):
        size = 4 if len(people) - start in (4, 8) or (len(people) - start > 4 and rng.random() < 0.5) else 3
        size = min(size, len(people) - start)
        day = date(1960, 1, 1) + timedelta(days=rng.randrange(25 * 365))
        for person in people[start:start + size]:
            born[person] = day
            day += timedelta(days=rng.randrange(2 * 365, 4 * 365 + 1))
        start += size
    album = CACHE / "family" / f"album-{seed}"
    truth: dict[str, Face] = {}
    todo = []
    for path in files:
        person, age, _ = NAME.match(path.name).groups()
        birth = born[person]
        taken = birth.replace(year=birth.year + int(age)) if not (birth.month == 2 and birth.day == 29) \
            else date(birth.year + int(age), 3, 1)
        taken += timedelta(days=rng.randrange(365))
        name = f"{taken:%Y%m%d}_{path.name.lower()}"
        target = album / f"{taken:%Y}" / f"{taken:%m}" / name
        truth[name] = Face(person, int(age), taken, birth)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
            todo += [f"-DateTimeOriginal={taken:%Y:%m:%d} 12:00:00", "-overwrite_original",
                     str(target), "-execute"]
    if todo:
        with tempfile.NamedTemporaryFile("w", suffix=".args") as args:
            args.write("\n".join(todo) + "\n")
            args.flush()
            subprocess.run(["exiftool", "-q", "-@", args.name], check=True, capture_output=True)
    return album, truth


def scanned_library(album: Path, pack_spec: str) -> Path:
    """The album scanned by facesort (bench/.cache/family/<album>-<pack>.db);
    unchanged photos are not scanned again. The walk visits year/month
    folders in order, so face ids follow capture time."""
    pack = resolve_pack(pack_spec)
    db = album.parent / f"{album.name}-{pack.name}.db"
    with Store(db) as store:
        report = scan(store, [album], pack)
    if report.new or report.changed:
        print(f"scanned {album.name} with {pack.name}: {report.new} new photos in {report.seconds:.0f} s",
              flush=True)
    return db


class Arrivals:
    """A working copy of the scanned library from which the photos are taken
    out, to come back batch by batch with their ids (SQL here is the
    benchmark's, standing in for scans of the batches: the scan itself is cached)."""

    TABLES = ("photos", "photo_scans", "faces")

    def __init__(self, source: Path, target: Path, truth: dict[str, Face]):
        shutil.copy(source, target)
        db = sqlite3.connect(target)
        rows = db.execute("SELECT f.id, p.id, p.path, p.width, p.height, f.x, f.y, f.w, f.h"
                          " FROM faces f JOIN photos p ON p.id = f.photo_id").fetchall()
        central: dict[int, tuple[float, int]] = {}
        self.photo_path: dict[int, str] = {}
        for face_id, photo_id, path, width, height, x, y, w, h in rows:
            off = (x + w / 2 - width / 2) ** 2 + (y + h / 2 - height / 2) ** 2
            self.photo_path[photo_id] = Path(path).name
            if photo_id not in central or off < central[photo_id][0]:
                central[photo_id] = (off, face_id)
        keep = {face_id for _, face_id in central.values()}
        db.executemany("DELETE FROM faces WHERE id = ?", [(r[0],) for r in rows if r[0] not in keep])
        db.execute("DELETE FROM photos WHERE id NOT IN (SELECT photo_id FROM faces)")
        self.truth = {face_id: truth[Path(path).name] for face_id, path in db.execute(
            "SELECT f.id, p.path FROM faces f JOIN photos p ON p.id = f.photo_id")}
        self.photo_of = dict(db.execute("SELECT id, photo_id FROM faces"))
        for table in self.TABLES:
            db.execute(f"CREATE TABLE hold_{table} AS SELECT * FROM {table}")
        for table in reversed(self.TABLES):
            db.execute(f"DELETE FROM {table}")
        db.commit()
        db.close()
        self.path = target

    def arrive(self, store: Store, face_ids: list[int]) -> None:
        photos = sorted({self.photo_of[f] for f in face_ids})
        marks = ",".join("?" * len(photos))
        with store.transaction() as db:
            for table, key in (("photos", "id"), ("photo_scans", "photo_id"), ("faces", "photo_id")):
                db.execute(f"INSERT INTO {table} SELECT * FROM hold_{table} WHERE {key} IN ({marks})",
                           photos)


@dataclass
class Tally:
    new_faces: int = 0
    right: int = 0
    wrong: int = 0
    wrong_children: int = 0  # of the wrong ones, faces under CHILD
    # New faces of people the user had named when the faces arrived: the
    # most any recognizer can name. Of those left unnamed, how far each is
    # from its person's named faces of its time (Timeline.distances, no gap
    # penalty): "near" within the pack's recognition distance (the margin or
    # the group refused), "edge" within 1.1 x, "far" beyond.
    reachable: int = 0
    reachable_right: int = 0
    unnamed_near: int = 0
    unnamed_edge: int = 0
    unnamed_far: int = 0
    # Wrong automatic names the pack cannot tell from right ones: the face's
    # person had no name of the user's yet (nothing could name it right), or
    # the person it was given is nearer to it than its own, both seen through
    # the faces the user named of its time.
    wrong_unnamed_person: int = 0
    wrong_nearer: int = 0
    decisions: int = 0  # names typed
    exclusions: int = 0  # faces x-ed out of a group before naming it

    def add_new(self, store: Store, pack: str, faces: list[int], truth: dict[int, Face]) -> None:
        names = auto_given(store)
        known = user_named(store)
        missed, mistaken = [], []
        for face in faces:
            self.new_faces += 1
            name = names.get(face)
            if name is not None:
                wrong = name != truth[face].person
                self.right += not wrong
                self.wrong += wrong
                self.wrong_children += wrong and truth[face].age < CHILD
                if wrong and truth[face].person in known:
                    mistaken.append(face)
                elif wrong:
                    self.wrong_unnamed_person += 1
            if truth[face].person in known:
                self.reachable += 1
                self.reachable_right += name == truth[face].person
                missed += [face] if name is None else []
        if missed:
            d = distance_to(store, pack, missed, [truth[f].person for f in missed])
            limit = thresholds_for(pack).recognize
            self.unnamed_near += int(np.sum(d <= limit))
            self.unnamed_edge += int(np.sum((d > limit) & (d <= 1.1 * limit)))
            self.unnamed_far += int(np.sum(d > 1.1 * limit))
        if mistaken:
            own = distance_to(store, pack, mistaken, [truth[f].person for f in mistaken], automatic=False)
            given = distance_to(store, pack, mistaken, [names[f] for f in mistaken], automatic=False)
            self.wrong_nearer += int(np.sum(given <= own))


def user_named(store: Store) -> set[str]:
    return {name for (name,) in store.db.execute(
        "SELECT DISTINCT p.name FROM faces f JOIN people p ON p.id = f.person_id")}


def distance_to(store: Store, pack: str, faces: list[int], people: list[str],
                automatic: bool = True) -> np.ndarray:
    """Distance of each face to that person's other named faces (the
    user's, and with ``automatic`` the automatic names) nearest its time, as
    automatic naming sees them (Timeline.distances, no gap penalty);
    infinite for a face too poor to be named at all."""
    data = store.grouping_input(store.find_pack(pack))
    evidence = np.where(data.person_ids > 0, data.person_ids, data.auto_person_ids if automatic else 0)
    judged = np.isin(faces, data.face_ids)
    rows = np.searchsorted(data.face_ids, [f for f, ok in zip(faces, judged) if ok])
    evidence[rows] = 0  # a face's own name is no evidence for it
    named = timeline.Timeline.of(data.embeddings, evidence, data.days)
    ids = dict((name, person) for person, name in store.db.execute("SELECT id, name FROM people"))
    owner = np.searchsorted(named.gallery.person_ids, [ids[p] for p, ok in zip(people, judged) if ok])
    d = np.full(len(judged), np.inf)
    d[judged] = named.distances(data.embeddings[rows], data.days[rows], owner[:, None], penalty=False)[:, 0]
    return d


def final_names(store: Store) -> dict[int, str | None]:
    return dict(store.db.execute(
        "SELECT f.id, p.name FROM faces f LEFT JOIN people p ON p.id = coalesce(f.person_id, f.auto_person_id)"))


def auto_given(store: Store) -> dict[int, str]:
    return dict(store.db.execute(
        "SELECT f.id, p.name FROM faces f JOIN people p ON p.id = f.auto_person_id WHERE f.person_id IS NULL"))


def name_groups(store: Store, pack: str, truth: dict[int, Face], tally: Tally, share: float = 1.0,
                born: bool = False, careless: bool = False) -> None:
    """The user names every group (or the largest ``share`` of them) holding no
    name of theirs, after its majority, x-ing the faces that are not (unless
    ``careless``: the whole group, as one who cannot tell babies apart); with
    ``born``, a person named for the first time also gets their true birth
    date (`facesort person NAME --born`), as a family user knows it."""
    pack_id = store.find_pack(pack)
    groups = [c for c in store.clusters_summary(pack_id) if not c.ignored and c.named_faces == 0]
    for group in groups[:round(share * len(groups))]:
        faces = store.faces_in_cluster(group.id)
        majority, _ = Counter(truth[f.id].person for f in faces).most_common(1)[0]
        if all(f.person == majority for f in faces):
            continue  # named automatically, and right: nothing to do
        wrong = [] if careless else [f.id for f in faces if truth[f.id].person != majority]
        decisions.name_group(store, group.id, majority, exclude=wrong)
        tally.decisions += 1
        tally.exclusions += len(wrong)
        if born and majority not in store.birth_dates_by_name():
            birth = next(truth[f.id].born for f in faces if truth[f.id].person == majority)
            decisions.set_born(store, majority, parse_born(birth.isoformat()))


def labels_of(store: Store, faces: list[int]) -> np.ndarray:
    cluster = dict(store.db.execute("SELECT id, coalesce(cluster_id, 0) FROM faces"))
    ids = np.array([cluster[f] for f in faces])
    _, labels = np.unique(ids, return_inverse=True)
    labels = labels - (1 if (ids == 0).any() else 0)
    # Unknown faces are groups of one.
    unknown = np.flatnonzero(labels < 0)
    labels[unknown] = labels.max(initial=-1) + 1 + np.arange(len(unknown))
    return labels


def run(arrivals: Arrivals, work: Path, label: str, pack: str, steps: list[list[int]],
        tune: bool = False, born: bool = False, careless: bool = False) -> dict:
    """Photos arriving in ``steps`` (face ids), each followed by a cluster run
    and the user's naming (and `facesort tune` with ``tune``, birth dates
    with ``born``); the figures at the end."""
    from facesort.errors import FacesortError
    from facesort.people.tune import tune_library

    started = time.perf_counter()
    db = work / f"{label}.db"
    shutil.copy(arrivals.path, db)
    truth = arrivals.truth
    tally = Tally()
    kept = 0
    with Store(db) as store:
        for number, faces in enumerate(steps):
            arrivals.arrive(store, faces)
            update_groups(store, pack)
            if number:
                tally.add_new(store, pack, faces, truth)
            name_groups(store, pack, truth, tally, born=born, careless=careless)
            if tune:
                with contextlib.suppress(FacesortError):  # too few names yet
                    kept += tune_library(store, pack).kept
        update_groups(store, pack)
        names = final_names(store)
        faces = sorted(truth)
        people = np.array([truth[f].person for f in faces])
        labels = labels_of(store, faces)
        child = np.array([truth[f].age < CHILD for f in faces])
    given = [f for f in faces if names.get(f)]
    wrong_end = sum(names[f] != truth[f].person for f in given)
    everyone, children = scores(labels, people), scores(labels[child], people[child])
    return {
        "BCubed P all": everyone["bcubed P"], "BCubed R all": everyone["bcubed R"],
        "BCubed P children": children["bcubed P"], "BCubed R children": children["bcubed R"],
        "new faces": tally.new_faces,
        "auto right": tally.right, "auto wrong": tally.wrong, "auto wrong children": tally.wrong_children,
        "auto unnamed": tally.new_faces - tally.right - tally.wrong,
        "auto right %": 100 * tally.right / max(tally.new_faces, 1),
        "auto wrong % of auto": 100 * tally.wrong / max(tally.right + tally.wrong, 1),
        "person named before": tally.reachable,
        "  right of those %": 100 * tally.reachable_right / max(tally.reachable, 1),
        "  unnamed, d <= dist": tally.unnamed_near,
        "  unnamed, <= 1.1 dist": tally.unnamed_edge,
        "  unnamed, farther": tally.unnamed_far,
        "wrong: person unnamed": tally.wrong_unnamed_person,
        "wrong: given is nearer": tally.wrong_nearer,
        "wrong at end": wrong_end, "named at end": len(given),
        "wrong at end %": 100 * wrong_end / max(len(given), 1),
        "decisions": tally.decisions, "x faces": tally.exclusions,
        "floor (people)": len(set(people)),
        "decisions / floor": tally.decisions / len(set(people)),
        "adapters kept": kept,
        "seconds": time.perf_counter() - started,
    }


def suggestion_run(arrivals: Arrivals, work: Path, label: str, pack: str, born: bool = False) -> dict:
    db = work / f"{label}-suggest.db"
    shutil.copy(arrivals.path, db)
    truth = arrivals.truth
    with Store(db) as store:
        arrivals.arrive(store, sorted(truth))
        update_groups(store, pack)
        name_groups(store, pack, truth, Tally(), share=0.5, born=born)
        update_groups(store, pack)
        offers = suggestions.group_suggestions(store, pack)
        right = 0
        for offer in offers:
            majority, _ = Counter(truth[f.id].person for f in store.faces_in_cluster(offer.group)).most_common(1)[0]
            right += majority == offer.person.name
    return {"offers": len(offers), "offers right": right, "offers wrong": len(offers) - right}


def linkage_ceiling(x: np.ndarray, people: np.ndarray, child: np.ndarray, floor: float,
                    method: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """Best (recall, precision) of one linkage at BCubed precision >= ``floor``,
    over all faces and over children, the threshold swept 0.4-1.4."""
    from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(x, method=method, metric="euclidean")
    best_all, best_child = (0.0, 0.0), (0.0, 0.0)
    for t in np.arange(0.4, 1.41, 0.025):
        labels = fcluster(tree, t, criterion="distance")
        a = scores(labels, people)
        c = scores(labels[child], people[child])
        if a["bcubed P"] >= floor and a["bcubed R"] > best_all[0]:
            best_all = (a["bcubed R"], a["bcubed P"])
        if c["bcubed P"] >= floor and c["bcubed R"] > best_child[0]:
            best_child = (c["bcubed R"], c["bcubed P"])
    return best_all, best_child


def naming_ceiling(x: np.ndarray, people: np.ndarray, days: np.ndarray, steps: list[np.ndarray],
                   how: str) -> tuple[int, int, float, float]:
    """An oracle gallery (every face of the earlier steps named right) names
    the faces of each later step by the nearest person (``how``: centroid,
    nearest face, nearest in time): (right, faces, distance, rank-1 right)
    at the threshold where <= 1% of the names given are wrong."""
    best = []
    for number in range(1, len(steps)):
        before, now = np.concatenate(steps[:number]), steps[number]
        d, named = _person_distances(x, days, before, people[before], now, how)
        best.append((d, named, people[now]))
    dist = np.concatenate([np.min(d, axis=1) for d, _, _ in best])
    right = np.concatenate([n[np.argmin(d, axis=1)] == p for d, n, p in best])
    order = np.argsort(dist)
    named = np.arange(1, len(order) + 1)
    ok = np.cumsum(~right[order]) <= 0.01 * named
    top = int(np.flatnonzero(ok).max()) + 1 if ok.any() else 0
    return (int(right[order][:top].sum()), len(dist), float(dist[order][top - 1]) if top else 0.0,
            float(right.mean()))


def chained_ceiling(x: np.ndarray, people: np.ndarray, days: np.ndarray, steps: list[np.ndarray],
                    distance: float, margin: float) -> tuple[int, int]:
    """The oracle gallery naming by faces nearest in time, at the pack's
    recognition distance and margin, its names chained as facesort's are
    (timeline.CHAIN_ROUNDS, CHAIN_MARGIN): the faces named in one round stand
    for their person in the next. (right, wrong) over the later steps."""
    right = wrong = 0
    for number in range(1, len(steps)):
        gallery = np.concatenate(steps[:number])
        owners, left = people[gallery], steps[number]
        for chained in range(timeline.CHAIN_ROUNDS):
            needed = margin * (timeline.CHAIN_MARGIN if chained else 1.0)
            d, named = _person_distances(x, days, gallery, owners, left, "nearest in time")
            ranked = np.sort(d, axis=1)
            second = ranked[:, 1] if d.shape[1] > 1 else np.full(len(left), np.inf)
            ok = (ranked[:, 0] <= distance) & (second - ranked[:, 0] >= needed)
            if not ok.any():
                break
            given = named[np.argmin(d[ok], axis=1)]
            right += int((given == people[left[ok]]).sum())
            wrong += int((given != people[left[ok]]).sum())
            gallery, owners, left = np.concatenate([gallery, left[ok]]), np.concatenate([owners, given]), left[~ok]
    return right, wrong


def _person_distances(x: np.ndarray, days: np.ndarray, gallery: np.ndarray, owners: np.ndarray,
                      now: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each face of ``now`` to each person of the ``gallery``
    faces (their ``owners``), and those people."""
    named = sorted(set(owners))
    d = np.full((len(now), len(named)), np.inf)
    for j, person in enumerate(named):
        mine = gallery[owners == person]
        if how == "centroid":
            c = x[mine].mean(axis=0)
            d[:, j] = np.linalg.norm(x[now] - c / np.linalg.norm(c), axis=1)
        elif how == "nearest face":
            d[:, j] = np.linalg.norm(x[now][:, None] - x[mine][None], axis=2).min(axis=1)
        else:
            gap = np.abs(days[now][:, None] - days[mine][None]) / 365.25
            near = gap <= np.maximum(2.0, gap.min(axis=1, keepdims=True))
            for i in range(len(now)):
                c = x[mine[near[i]]].mean(axis=0)
                d[i, j] = np.linalg.norm(x[now[i]] - c / np.linalg.norm(c))
    return d, np.array(named)


def album_embeddings(arrivals: Arrivals) -> tuple[list[int], np.ndarray]:
    """The album's faces (one a photo) by id, and their stored embeddings."""
    with Store(arrivals.path) as store:
        rows = store.db.execute("SELECT id, embedding FROM hold_faces ORDER BY id").fetchall()
    return [r[0] for r in rows], np.stack([blob_to_embedding(r[1]) for r in rows])


def ceiling(arrivals: Arrivals, steps: list[list[int]], pack: str, x: np.ndarray | None = None) -> None:
    """What the pack allows on these embeddings, whatever facesort does."""
    faces, stored = album_embeddings(arrivals)
    x = stored if x is None else x
    truth = arrivals.truth
    people = np.array([truth[f].person for f in faces])
    child = np.array([truth[f].age < CHILD for f in faces])
    print("\nCeiling: simple linkage on the same embeddings, best recall at a precision"
          " (threshold swept 0.4-1.4):")
    print(f"{'linkage':<10}{'P>=':>6}{'all R':>8}{'(P)':>7}{'children R':>12}{'(P)':>7}")
    for method in ("single", "average", "complete"):
        for floor in (0.98, 0.95):
            best_all, best_child = linkage_ceiling(x, people, child, floor, method)
            print(f"{method:<10}{floor:>6.2f}{best_all[0]:>8.3f}{best_all[1]:>7.3f}"
                  f"{best_child[0]:>12.3f}{best_child[1]:>7.3f}")
    index = {f: i for i, f in enumerate(faces)}
    days = np.array([truth[f].taken.toordinal() for f in faces], np.float64)
    rows = [np.array([index[f] for f in step]) for step in steps]
    print("\nCeiling: an oracle gallery (every earlier face named right), new faces of later"
          " batches named at the threshold where <= 1% of names are wrong:")
    for how in ("centroid", "nearest face", "nearest in time"):
        right, total, at, rank1 = naming_ceiling(x, people, days, rows, how)
        print(f"   {how:<16} {right} of {total} right ({right / total:.1%}) at distance <= "
              f"{at:.3f}; rank-1 right {rank1:.1%}")
    limits = thresholds_for(pack)
    right, wrong = chained_ceiling(x, people, days, rows, limits.recognize, limits.margin)
    print(f"   nearest in time, chained ({timeline.CHAIN_ROUNDS} rounds) at the pack's distance"
          f" {limits.recognize} and margin {limits.margin} (x{timeline.CHAIN_MARGIN} once chained):"
          f" {right} right, {wrong} wrong of {len(np.concatenate(rows[1:]))}")


def three_batches(arrivals: Arrivals) -> list[list[int]]:
    faces = sorted(arrivals.truth, key=lambda f: (arrivals.truth[f].taken, f))
    return [list(part) for part in np.array_split(np.array(faces), 3)]


def flags(label: str) -> dict[str, bool]:
    """run()'s switches that a mode's label carries (+tune, +born, +careless)."""
    return {"tune": "+tune" in label, "born": "+born" in label, "careless": "+careless" in label}


@contextlib.contextmanager
def mode(label: str):
    """The code path a mode names: "baseline" ignores capture time, as before
    it counted; "-chain" names in one round, as before names chained."""
    before = timeline.TIME_AWARE, timeline.CHAIN_ROUNDS
    timeline.TIME_AWARE = not label.startswith("baseline")
    if "-chain" in label:
        timeline.CHAIN_ROUNDS = 1
    try:
        yield
    finally:
        timeline.TIME_AWARE, timeline.CHAIN_ROUNDS = before


def month_by_month(arrivals: Arrivals) -> list[list[int]]:
    """The faces in the order they were taken, a step per month with photos."""
    months: dict[str, list[int]] = {}
    for f in sorted(arrivals.truth, key=lambda f: (arrivals.truth[f].taken, f)):
        months.setdefault(f"{arrivals.truth[f].taken:%Y-%m}", []).append(f)
    return list(months.values())


def albums(seeds: list[int], pack_arg: str, labels: list[str], stream: bool) -> None:
    """Instead of one album's tables: the headline figures of each album
    (--seed N for each N), then their totals, for every protocol and mode.
    "as good as right": wrong automatic names the pack's embeddings cannot
    tell from right ones (Tally.wrong_unnamed_person + wrong_nearer)."""
    pack = resolve_pack(pack_arg).name
    print(f"{'album':>5}  {'arriving':<15}{'mode':<12}{'right':>6}{'wrong':>6}{'wrong %':>8}"
          f"{'as good as right':>17}{'children P':>11}{'names/floor':>12}{'wrong at end':>13}")
    measured: dict[tuple[str, str], list[dict]] = {}
    for seed in seeds:
        album, truth = build_album(seed)
        source = scanned_library(album, pack_arg)
        work = Path(tempfile.mkdtemp(prefix="family_"))
        arrivals = Arrivals(source, work / "arrivals.db", truth)
        protocols = {"three batches": three_batches(arrivals),
                     **({"month by month": month_by_month(arrivals)} if stream else {})}
        for protocol, steps in protocols.items():
            for label in labels:
                if flags(label)["tune"] and protocol != "three batches":
                    continue
                with mode(label):
                    r = run(arrivals, work, f"{label}-{len(steps)}", pack, steps, **flags(label))
                r["as good as right"] = r["wrong: person unnamed"] + r["wrong: given is nearer"]
                measured.setdefault((protocol, label), []).append(r)
                print(f"{seed:>5}  {protocol:<15}{label:<12}{r['auto right']:>6}{r['auto wrong']:>6}"
                      f"{r['auto wrong % of auto']:>8.1f}{r['as good as right']:>17}"
                      f"{r['BCubed P children']:>11.3f}{r['decisions / floor']:>12.2f}{r['wrong at end']:>13}",
                      flush=True)
        shutil.rmtree(work)
    print(f"\n{len(seeds)} albums (children's precision and names per person at worst):")
    for (protocol, label), rs in measured.items():
        right, wrong = sum(r["auto right"] for r in rs), sum(r["auto wrong"] for r in rs)
        print(f"{'all':>5}  {protocol:<15}{label:<12}{right:>6}{wrong:>6}{100 * wrong / max(right + wrong, 1):>8.1f}"
              f"{sum(r['as good as right'] for r in rs):>17}{min(r['BCubed P children'] for r in rs):>11.3f}"
              f"{max(r['decisions / floor'] for r in rs):>12.2f}{sum(r['wrong at end'] for r in rs):>13}")


def sweep(arrivals: Arrivals, work: Path, pack: str, labels: list[str], margins: list[float],
          protocols: dict[str, list[list[int]]]) -> None:
    """The trade-off of the anchor's margin: new faces named right against wrong."""
    labels = [label for label in labels if not label.startswith("baseline")]
    print("\nAutomatic names of new faces, right / wrong (wrong % of those given), by the margin"
          " the anchor needs over the next person in time (timeline.ANCHOR_MARGIN, x the pack's"
          " recognition margin):")
    columns = [f"{protocol}, {label}" for protocol in protocols for label in labels]
    print(f"{'margin':<8}" + "".join(f"{c:>28}" for c in columns))
    before = timeline.ANCHOR_MARGIN
    try:
        for margin in margins:
            timeline.ANCHOR_MARGIN = margin
            cells = []
            for protocol, steps in protocols.items():
                for label in labels:
                    with mode(label):
                        r = run(arrivals, work, f"{label}-{margin}", pack, steps, born=flags(label)["born"])
                    cells.append(f"{r['auto right']} / {r['auto wrong']} ({r['auto wrong % of auto']:.1f}%)")
            print(f"{margin:<8}" + "".join(f"{c:>28}" for c in cells), flush=True)
    finally:
        timeline.ANCHOR_MARGIN = before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="yunet_sface")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", metavar="N-M|N,M,...",
                        help="instead of the tables: each album's headline figures and their totals, e.g. 1-8")
    parser.add_argument("--no-stream", action="store_true", help="skip the month-by-month variant")
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--modes", default="baseline,new,new+born",
                        help="baseline (time ignored), new; -chain: names in one round, not chained"
                             " through time; +tune: `facesort tune` after each batch; +careless: the user"
                             " names whole groups, never x-ing a face;"
                             " +born: the user gives each person they name their birth date")
    parser.add_argument("--sweep-anchor-margin", metavar="M,M,...",
                        help="instead of the tables: automatic names right / wrong of the modes"
                             " (not baseline) at each timeline.ANCHOR_MARGIN (x the pack's margin), e.g. 0,0.25,0.5,0.75,1")
    args = parser.parse_args()
    if args.seeds:
        first, _, last = args.seeds.partition("-")
        seeds = list(range(int(first), int(last) + 1)) if last else [int(n) for n in args.seeds.split(",")]
        albums(seeds, args.pack, args.modes.split(","), not args.no_stream)
        return
    pack = resolve_pack(args.pack).name
    album, truth = build_album(args.seed)
    source = scanned_library(album, args.pack)
    work = Path(tempfile.mkdtemp(prefix="family_"))
    arrivals = Arrivals(source, work / "arrivals.db", truth)
    faces = sorted(arrivals.truth, key=lambda f: (arrivals.truth[f].taken, f))
    three = three_batches(arrivals)
    months = month_by_month(arrivals)
    people = Counter(arrivals.truth[f].person for f in faces)
    print(f"album seed {args.seed}, pack {pack}: {len(faces)} faces of {len(people)} people "
          f"({sum(arrivals.truth[f].age < CHILD for f in faces)} under {CHILD}), "
          f"{len(truth) - len(faces)} photos without a face; {len(months)} months with photos")
    if args.sweep_anchor_margin:
        sweep(arrivals, work, pack, args.modes.split(","), [float(m) for m in args.sweep_anchor_margin.split(",")],
              {"three batches": three, **({} if args.no_stream else {"month by month": months})})
        shutil.rmtree(work)
        return
    results: dict[str, dict[str, dict]] = {}
    for label in args.modes.split(","):
        switches = flags(label)
        with mode(label):
            results.setdefault("three batches", {})[label] = {
                **run(arrivals, work, f"{label}-batches", pack, three, **switches),
                **suggestion_run(arrivals, work, label, pack, born=switches["born"])}
            if not args.no_stream and not switches["tune"]:
                results.setdefault("month by month", {})[label] = run(
                    arrivals, work, f"{label}-months", pack, months, **switches)
        print(f"  {label}: done", flush=True)
    for protocol, by_mode in results.items():
        print(f"\n{protocol}:")
        print(f"{'':<24}" + "".join(f"{m:>12}" for m in by_mode))
        for key in next(iter(by_mode.values())):
            cells = [by_mode[m][key] for m in by_mode]
            print(f"{key:<24}" + "".join(f"{v:>12.3f}" if isinstance(v, float) else f"{v:>12}"
                                         for v in cells))
    if not args.no_ceiling:
        ceiling(arrivals, three, pack)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
