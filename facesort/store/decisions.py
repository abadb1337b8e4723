"""The user's decisions follow a photo's faces when they are detected again.

A decision (a person the user named or imported, an ignored face, the people
a face was rejected from) belongs to a face; but a face is only what one pack's
detector found in one version of a photo. When the photo is detected again
(edited in place, or scanned with another pack), each decision moves to the
new face at the same place. Places are compared normalised to the displayed
photo (0..1), so a resize keeps them, and in the stored pixel grid as well, so
a changed orientation tag keeps them where the face is still found.

A decision with no face to go to is never deleted: it is kept as an orphan of
its photo (``facesort status --orphans``) and goes back to a face whenever the
photo is detected again and a face is found at its place.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field

# Two boxes are the same face at this intersection over union or more: a
# resize or a re-save moves a box by a pixel or two, and two packs' detectors
# draw the same face's box a little differently (SCRFD against YuNet: 0.6-0.8).
SAME_FACE_IOU = 0.4

# Where a normalised point (u, v) of the displayed photo lies in the stored
# pixel grid, for each EXIF orientation.
_TO_STORED = {
    1: lambda u, v: (u, v), 2: lambda u, v: (1 - u, v), 3: lambda u, v: (1 - u, 1 - v),
    4: lambda u, v: (u, 1 - v), 5: lambda u, v: (v, u), 6: lambda u, v: (v, 1 - u),
    7: lambda u, v: (1 - v, 1 - u), 8: lambda u, v: (1 - v, u),
}


@dataclass(frozen=True)
class Place:
    """Where a face is: its box normalised to the displayed photo, and the
    photo's orientation then."""

    box: tuple[float, float, float, float]  # x, y, w, h in 0..1
    orientation: int

    @classmethod
    def of(cls, box, width: int, height: int, orientation: int) -> Place:
        x, y, w, h = box
        return cls((x / width, y / height, w / width, h / height), orientation or 1)

    def stored(self) -> tuple[float, float, float, float]:
        """The box normalised to the stored pixel grid (what an orientation tag turns)."""
        x, y, w, h = self.box
        turn = _TO_STORED.get(self.orientation, _TO_STORED[1])
        (a0, b0), (a1, b1) = turn(x, y), turn(x + w, y + h)
        return min(a0, a1), min(b0, b1), abs(a1 - a0), abs(b1 - b0)


def box_overlap(a: tuple, b: tuple) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    width = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    height = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    shared = width * height
    union = aw * ah + bw * bh - shared
    return shared / union if union > 0 else 0.0


def _nearness(a: Place, b: Place) -> float:
    same_view = box_overlap(a.box, b.box)
    if a.orientation == b.orientation:
        return same_view
    return max(same_view, box_overlap(a.stored(), b.stored()))


@dataclass(frozen=True)
class Decision:
    place: Place
    pack: str  # the pack whose face held it
    person_id: int | None
    source: str | None  # user, import
    ignored: bool
    rejected: frozenset[int]
    orphan_id: int | None = None

    def same_kind(self, other: Decision) -> bool:
        return (self.person_id, self.ignored) == (other.person_id, other.ignored)


@dataclass
class CarryReport:
    carried: int = 0  # decisions that went to a new face
    orphaned: int = 0  # decisions kept as orphans of their photo
    from_packs: Counter = field(default_factory=Counter)  # carried from another pack's faces

    def add(self, other: CarryReport) -> None:
        self.carried += other.carried
        self.orphaned += other.orphaned
        self.from_packs.update(other.from_packs)


def collect(db: sqlite3.Connection, photo_id: int, pack_id: int, frame: tuple[int, int, int],
            other_packs: str | None) -> list[Decision]:
    """The decisions to carry to ``pack_id``'s new faces of a photo, best
    source first: that pack's own faces, the photo's orphans, then other
    packs' faces (``other_packs``: None, "copy" while their faces stay, or
    "move" when they are about to be deleted). ``frame`` is the photo's
    (width, height, orientation) when these faces were found."""
    width, height, orientation = frame
    own, others = [], []
    for face_pack, pack_name, x, y, w, h, person, source, ignored, rejected in db.execute(
        "SELECT f.pack_id, k.name, f.x, f.y, f.w, f.h, f.person_id, f.person_source, f.ignored,"
        " (SELECT group_concat(r.person_id) FROM rejections r WHERE r.face_id = f.id)"
        " FROM faces f JOIN packs k ON k.id = f.pack_id"
        " WHERE f.photo_id = ? AND (f.person_id IS NOT NULL OR f.ignored"
        "   OR EXISTS (SELECT 1 FROM rejections r WHERE r.face_id = f.id))"
        " ORDER BY f.id",
        (photo_id,),
    ):
        if face_pack != pack_id and other_packs is None:
            continue
        decision = Decision(Place.of((x, y, w, h), width, height, orientation), pack_name, person,
                            source, bool(ignored), _ids(rejected))
        own.append(decision) if face_pack == pack_id else others.append(decision)
    orphans = [
        Decision(Place((x, y, w, h), turn), pack_name, person, source, bool(ignored),
                 _ids(rejected), orphan_id=orphan_id)
        for orphan_id, pack_name, x, y, w, h, turn, person, source, ignored, rejected in db.execute(
            "SELECT o.id, o.pack, o.x, o.y, o.w, o.h, o.orientation, o.person_id, o.person_source,"
            " o.ignored, (SELECT group_concat(r.person_id) FROM orphan_rejections r"
            "   WHERE r.orphan_id = o.id)"
            " FROM orphans o WHERE o.photo_id = ? ORDER BY o.id", (photo_id,))
    ]
    return own + orphans + others


def _ids(joined: str | None) -> frozenset[int]:
    return frozenset(int(i) for i in joined.split(",")) if joined else frozenset()


def carry(db: sqlite3.Connection, photo_id: int, pack: str, decisions: list[Decision],
          new_faces: list[tuple[int, Place]]) -> CarryReport:
    """Give each decision to the new face at its place, in order; keep the
    ones that find none as orphans. A face takes one person; a decision of
    the same kind for a face already taken is the same decision seen twice
    (an orphan whose face is back, another pack's copy)."""
    report = CarryReport()
    given: dict[int, Decision] = {}
    orphans = [d for d in decisions if d.orphan_id is not None]
    for decision in decisions:
        target = next(
            (face_id for score, face_id in sorted(
                ((_nearness(decision.place, place), face_id) for face_id, place in new_faces),
                reverse=True)
             if score >= SAME_FACE_IOU
             and (face_id not in given or given[face_id].same_kind(decision))),
            None)
        if target is None:
            already_kept = any(o.same_kind(decision) and _nearness(o.place, decision.place) >= SAME_FACE_IOU
                               for o in orphans)
            if not already_kept:
                _keep_orphan(db, photo_id, decision)
                report.orphaned += 1
            continue
        if decision.orphan_id is not None:
            db.execute("DELETE FROM orphans WHERE id = ?", (decision.orphan_id,))
        if target not in given:
            given[target] = decision
            db.execute("UPDATE faces SET person_id = ?, person_source = ?, ignored = ? WHERE id = ?",
                       (decision.person_id, decision.source, int(decision.ignored), target))
            report.carried += 1
            if decision.pack != pack and decision.orphan_id is None:
                report.from_packs[decision.pack] += 1
        db.executemany("INSERT OR IGNORE INTO rejections (face_id, person_id) VALUES (?, ?)",
                       [(target, person) for person in decision.rejected])
    return report


def _keep_orphan(db: sqlite3.Connection, photo_id: int, decision: Decision) -> None:
    orphan_id = db.execute(
        "INSERT INTO orphans (photo_id, pack, x, y, w, h, orientation, person_id, person_source,"
        " ignored) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (photo_id, decision.pack, *decision.place.box, decision.place.orientation,
         decision.person_id, decision.source, int(decision.ignored)),
    ).lastrowid
    db.executemany("INSERT INTO orphan_rejections (orphan_id, person_id) VALUES (?, ?)",
                   [(orphan_id, person) for person in decision.rejected])
