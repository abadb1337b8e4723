"""How many decisions it takes to name a whole library: today's flow against
suggestions and review, with a simulated user who answers every prompt
truthfully from the LFW labels.

Both users work in sessions: `facesort cluster`, then about SESSION answers
in `facesort name`, then cluster again, until no unnamed group is left.
- Today's flow: group by group, largest first. A group whose majority (on the
  contact sheet) is a person with 3 or more photos gets "x" for the faces that
  are not that person, then the name; any other group is ignored ("i").
- The new flow: the same, but small groups (3 faces or fewer) come six to a
  page, where the user names the ones that are people with 3 or more photos
  and ignores the rest with one answer ("i page"); and "Also Alice? [y/n]"
  offers at the start of each session and after each name (y when every face shown is that person, n when
  none is, Enter otherwise); at the end `facesort review`, least certain first
  ("x" the wrong faces, else Enter), until three pages in a row are all right.

A decision is one answer, plus one per face number typed after x. Everything
goes through the functions the commands call (decisions.name_group, suggestions.*,
update_groups), on a copy of the cached LFW library with one face per photo
(the one nearest the centre, whose identity is the folder's).

    python bench/naming_effort.py [--pack ../shared/models/sc_sface] [--session 40]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lfw import lfw_library
from facesort.people import suggestions
from facesort.people import decisions
from facesort.engine.thresholds import thresholds_for
from facesort.config import resolve_pack
from facesort.people.cluster_run import update_groups
from facesort.store import Store

SHEET_FACES = 48  # what `facesort name` shows of a group
REVIEW_PAGE = 12
TARGET = 0.95

def album(source: Path, kind: str, target: Path) -> dict[int, str]:
    """A copy of the LFW library with one face a photo; ``family``: the 20
    people with most photos, and everyone with one or two photos as strangers.
    Returns face id → person."""
    shutil.copy(source, target)
    db = sqlite3.connect(target)
    rows = db.execute(
        "SELECT f.id, p.id, p.path, p.width, p.height, f.x, f.y, f.w, f.h FROM faces f"
        " JOIN photos p ON p.id = f.photo_id").fetchall()
    central: dict[int, tuple[float, int]] = {}
    person_of_photo: dict[int, str] = {}
    for face_id, photo_id, path, width, height, x, y, w, h in rows:
        off = (x + w / 2 - width / 2) ** 2 + (y + h / 2 - height / 2) ** 2
        person_of_photo[photo_id] = Path(path).parent.name
        if photo_id not in central or off < central[photo_id][0]:
            central[photo_id] = (off, face_id)
    keep = {face_id for _, face_id in central.values()}
    db.executemany("DELETE FROM faces WHERE id = ?", [(r[0],) for r in rows if r[0] not in keep])
    if kind == "family":
        photos = Counter(person_of_photo.values())
        top = {p for p, _ in photos.most_common(20)}
        wanted = {p for p, n in photos.items() if p in top or n <= 2}
        gone = [photo for photo, p in person_of_photo.items() if p not in wanted]
        db.executemany("DELETE FROM faces WHERE photo_id = ?", [(g,) for g in gone])
        db.executemany("DELETE FROM photo_scans WHERE photo_id = ?", [(g,) for g in gone])
        db.executemany("DELETE FROM photos WHERE id = ?", [(g,) for g in gone])
    db.commit()
    truth = {face_id: person_of_photo[photo_id]
             for face_id, photo_id in db.execute("SELECT id, photo_id FROM faces")}
    db.execute("VACUUM")
    db.close()
    return truth


@dataclass
class User:
    store: Store
    truth: dict[int, str]
    targets: set[str]  # people with 3 or more photos
    decisions: int = 0
    reached_at: int | None = None  # decisions when TARGET of the targets' faces were right
    kinds: Counter = field(default_factory=Counter)  # decisions by answer
    kinds_at_target: Counter | None = None

    def decide(self, kind: str, count: int = 1) -> None:
        self.decisions += count
        self.kinds[kind] += count
        if self.reached_at is None and self.coverage() >= TARGET:
            self.reached_at = self.decisions
            self.kinds_at_target = Counter(self.kinds)

    def names(self) -> dict[int, str | None]:
        return dict(self.store.db.execute(
            "SELECT f.id, p.name FROM faces f LEFT JOIN people p"
            " ON p.id = coalesce(f.person_id, f.auto_person_id)"))

    def coverage(self) -> float:
        names = self.names()
        wanted = [f for f, person in self.truth.items() if person in self.targets]
        return sum(names.get(f) == self.truth[f] for f in wanted) / len(wanted)

    def is_target(self, person: str) -> bool:
        return person in self.targets


def shown(store: Store, group: int):
    return suggestions.best_first(store.faces_in_cluster(group))[:SHEET_FACES]


def name_group_as_user(user: User, group: int) -> decisions.Person | None:
    """One group in `facesort name`: x the faces that are not the majority, then the name; or i."""
    store = user.store
    faces = shown(store, group)
    majority, _ = Counter(user.truth[f.id] for f in faces).most_common(1)[0]
    if not user.is_target(majority):
        try:
            decisions.ignore(store, group)
        except decisions.FacesortError:
            pass  # (a named group: the user would skip it with Enter)
        user.decide("i")
        return None
    wrong = [f.id for f in faces if user.truth[f.id] != majority]
    if wrong:
        store.detach_from_cluster(wrong)
        user.decide("x", 1 + len(wrong))
    named = decisions.name_group(store, group, majority, exclude=wrong)
    user.decide("name")
    return named.person


def page_as_user(user: User, pack: str, page: list[int], named: set[int], skipped: set) -> None:
    """A page of small groups in `facesort name`: "b Alice" for each group that is
    a person with 3 or more photos (after "x b2" for faces that are not), then
    one "i" for the groups left."""
    store = user.store
    left = []
    for group in page:
        if group in named:  # joined a person through an offer on this page
            continue
        faces = shown(store, group)
        majority, _ = Counter(user.truth[f.id] for f in faces).most_common(1)[0]
        if not user.is_target(majority):
            left.append(group)
            continue
        wrong = [f.id for f in faces if user.truth[f.id] != majority]
        if wrong:
            store.detach_from_cluster(wrong)
            user.decide("x", 1 + len(wrong))
        person = decisions.name_group(store, group, majority, exclude=wrong).person
        user.decide("name")
        named.add(group)
        offers_as_user(user, pack, person, named, skipped)
    left = [g for g in left if g not in named]
    if left:
        for group in left:
            try:
                decisions.ignore(store, group)
            except decisions.FacesortError:
                pass  # (a group with named faces: `facesort name` says so and leaves it)
            named.add(group)
        user.decide("i page")


def offers_as_user(user: User, pack: str, person, named: set[int], skipped: set) -> set[int]:
    """The "Also Alice?" loop of `facesort name` (cli._Offers.run); returns
    the groups the next cluster run names anyway, as its last look found."""
    store = user.store
    while True:
        look = suggestions.outlook(store, pack, person, skip=skipped)
        if not look.offers:
            return look.later
        offer = look.offers[0]
        truths = [user.truth[f.id] for f in shown(store, offer.group)]
        if all(t == offer.person.name for t in truths):
            suggestions.accept_suggestion(store, offer)
            named.add(offer.group)
            user.decide("y")
        elif offer.person.name not in truths:
            suggestions.refuse_suggestion(store, offer)
            user.decide("n")
        else:
            skipped.add((offer.group, offer.person.id))
            user.decide("skip")


def review_as_user(user: User, pack: str) -> None:
    queue = suggestions.review_queue(user.store, pack)
    clean = 0
    for start in range(0, len(queue), REVIEW_PAGE):
        page = queue[start:start + REVIEW_PAGE]
        wrong = [f.id for f in page if user.truth[f.id] != f.person]
        suggestions.settle_page(user.store, page, wrong)
        user.decide("review", 1 + len(wrong) if wrong else 1)
        clean = 0 if wrong else clean + 1
        if clean == 3:
            return


def run_flow(db: Path, truth: dict[int, str], pack: str, new: bool, session: int) -> dict:
    started = time.perf_counter()
    photos = Counter(truth.values())
    targets = {p for p, n in photos.items() if n >= 3}
    with Store(db) as store:
        user = User(store, truth, targets)
        named: set[int] = set()
        skipped: set = set()
        rounds = 0
        while True:
            update_groups(store, pack)
            rounds += 1
            pack_id = store.find_pack(pack)
            before = user.decisions
            # As `facesort name` does: groups the next cluster run names anyway
            # come last, and small groups come a page at a time.
            later = offers_as_user(user, pack, None, named, skipped) if new else set()
            todo = [c for c in store.clusters_summary(pack_id)
                    if not c.ignored and c.person is None and c.id not in named]
            while todo and user.decisions - before < session:
                page = suggestions.next_to_name(todo, later) if new else todo[:1]
                for group in page:
                    todo.remove(group)
                page = [g.id for g in page if g.id not in named]
                if len(page) > 1:
                    page_as_user(user, pack, page, named, skipped)
                    later = suggestions.outlook(store, pack).later
                    continue
                for group in page:
                    person = name_group_as_user(user, group)
                    named.add(group)
                    if new and person is not None:
                        later = offers_as_user(user, pack, person, named, skipped)
            if user.decisions == before:
                break
        if new:
            review_as_user(user, pack)
        names = user.names()
        wanted = [f for f, p in truth.items() if p in targets]
        given = [f for f, n in names.items() if n is not None]
        wrong = sum(names[f] != truth[f] for f in given)
        people_named = len({n for n in names.values() if n})
        user_named = store.db.execute("SELECT count(*) FROM faces WHERE person_id IS NOT NULL").fetchone()[0]
        return {
            "faces": len(truth), "target faces": len(wanted), "target people": len(targets),
            "decisions to 95%": user.reached_at, "decisions": user.decisions,
            "named people": people_named,
            "decisions / person": user.decisions / max(people_named, 1),
            "names given": len(given), "named by user": user_named, "wrong names": wrong,
            "wrong per 100": 100 * wrong / max(len(given), 1),
            "target faces unnamed": sum(names.get(f) is None for f in wanted),
            "coverage": user.coverage(), "cluster runs": rounds,
            "answers to 95%": _kinds(user.kinds_at_target), "answers": _kinds(user.kinds),
            "seconds": time.perf_counter() - started,
        }


def fewest_names(truth: dict[int, str]) -> int:
    """The floor of "decisions to 95%": every person needs one name at least."""
    counts = sorted((n for n in Counter(truth.values()).values() if n >= 3), reverse=True)
    needed, covered = 0, 0
    while covered < TARGET * sum(counts):
        covered += counts[needed]
        needed += 1
    return needed


def _kinds(kinds: Counter | None) -> str:
    return " ".join(f"{k}:{n}" for k, n in sorted(kinds.items())) if kinds is not None else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="yunet_sface")
    parser.add_argument("--session", type=int, default=40, help="answers between cluster runs")
    parser.add_argument("--albums", default="family,lfw")
    args = parser.parse_args()
    name = resolve_pack(args.pack).name
    thresholds = thresholds_for(name)
    if thresholds is None:
        raise SystemExit(f"no thresholds for pack {name!r}")
    source = lfw_library(args.pack)
    print(f"pack {name}: {thresholds.source}; session {args.session} answers")
    work = Path(tempfile.mkdtemp(prefix="naming_effort_"))
    for kind in args.albums.split(","):
        results = {}
        for flow in ("today", "new"):
            db = work / f"{kind}-{flow}.db"
            truth = album(source, kind, db)
            results[flow] = run_flow(db, truth, name, flow == "new", args.session)
            print(f"  {kind} {flow}: done in {results[flow]['seconds']:.0f} s", flush=True)
        today, ours = results["today"], results["new"]
        print(f"\n{kind} album: {today['faces']} faces, {today['target people']} people with 3+ photos "
              f"({today['target faces']} faces); no flow can reach 95% with fewer than "
              f"{fewest_names(truth)} decisions (one name per person, most photographed first)")
        print(f"{'':<24}{'today':>12}{'new':>12}")
        for key in today:
            if key in ("faces", "target faces", "target people"):
                continue
            a, b = today[key], ours[key]
            show = (lambda v: "not reached" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v))
            if key.startswith("answers"):
                print(f"{key:<24}today {show(a)}; new {show(b)}")
            else:
                print(f"{key:<24}{show(a):>12}{show(b):>12}")
        if today["decisions to 95%"] and ours["decisions to 95%"]:
            print(f"ratio (decisions to 95%, today / new): "
                  f"{today['decisions to 95%'] / ours['decisions to 95%']:.2f}x")
        print(f"ratio (all decisions, today / new): {today['decisions'] / ours['decisions']:.2f}x", flush=True)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
