"""The store's side of keeping the library safe: reading every decision as a
record for the copy beside the library, putting records back after a loss
(``restore``), and the invariants ``check`` looks at.

A record is a plain dict, keyed by what outlives the library: the photo's
content hash and the face's box normalised to the displayed photo (0..1),
with the photo's orientation then; people are named, not numbered.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from facesort.store import decisions
from facesort.store.decisions import Decision, Place

# What a person record holds that the library stores in its own columns;
# any other field is kept as it came (people.extra) and written back.
PERSON_FIELDS = ("name", "born")


@dataclass
class RestoreReport:
    people_added: int = 0
    placed: int = 0  # went to a face
    orphaned: int = 0  # kept as orphans of their photo: no face at their place
    already: int = 0  # the library had them already
    waiting: int = 0  # their photo is not in the library: kept until it is


class _Rollback(Exception):
    pass


class KeepingQueries:
    """Part of :class:`~facesort.store.library.Store`; ``self.db`` is its connection."""

    db: sqlite3.Connection
    path: Path

    # -- the copy ----------------------------------------------------------------

    def library_id(self) -> tuple[str, str | None]:
        """This library's id, and the id of the copy it was restored from."""
        return self.db.execute("SELECT uuid, restored_from FROM library").fetchone()

    def copy_pending(self) -> int | None:
        """The change count to record once the copy is written, or None when
        the copy holds every decision already."""
        changes, written = self.db.execute("SELECT changes, written FROM decision_copy").fetchone()
        return changes if changes != written else None

    def copy_written(self, changes: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE decision_copy SET written = ?", (changes,))

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One consistent view of the library for everything read inside."""
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    def people_records(self) -> list[dict]:
        return [{**json.loads(extra or "{}"), "name": name, **({"born": born} if born else {})}
                for name, born, extra in self.db.execute("SELECT name, born, extra FROM people ORDER BY key")]

    def decision_records(self) -> Iterator[dict]:
        """Every decision: on faces, kept as orphans, and restored ones still
        waiting for their photo."""
        names = dict(self.db.execute("SELECT id, name FROM people"))
        rejected: dict[int, list[str]] = defaultdict(list)
        for face_id, person_id in self.db.execute("SELECT face_id, person_id FROM rejections"):
            rejected[face_id].append(names[person_id])
        for (face_id, content_hash, path, orientation, pack, x, y, w, h,
             person_id, source, ignored) in self.db.execute(
                "WITH decided (id) AS (SELECT id FROM faces WHERE person_id IS NOT NULL"
                "   UNION SELECT id FROM faces WHERE ignored UNION SELECT face_id FROM rejections)"
                # Unary +: no declared type, so no path decoding for what is no path.
                " SELECT f.id, +p.content_hash, p.path, p.orientation, +k.name,"
                # The box normalised to the displayed photo, as Place.of has it.
                " round(f.x / p.width, 5), round(f.y / p.height, 5), round(f.w / p.width, 5),"
                " round(f.h / p.height, 5), f.person_id, +f.person_source, f.ignored"
                " FROM decided d JOIN faces f ON f.id = d.id JOIN photos p ON p.id = f.photo_id"
                " JOIN packs k ON k.id = f.pack_id ORDER BY f.id"):
            yield _record(content_hash, path, pack, [x, y, w, h], orientation or 1,
                          names.get(person_id), source, ignored, rejected.get(face_id, ()))
        orphan_rejected: dict[int, list[str]] = defaultdict(list)
        for orphan_id, person_id in self.db.execute("SELECT orphan_id, person_id FROM orphan_rejections"):
            orphan_rejected[orphan_id].append(names[person_id])
        for orphan_id, content_hash, path, pack, x, y, w, h, turn, person_id, source, ignored in self.db.execute(
                "SELECT o.id, p.content_hash, p.path, o.pack, o.x, o.y, o.w, o.h, o.orientation,"
                " o.person_id, o.person_source, o.ignored FROM orphans o JOIN photos p ON p.id = o.photo_id"
                " ORDER BY o.id"):
            yield {**_record(content_hash, path, pack, [round(v, 5) for v in (x, y, w, h)], turn,
                             names.get(person_id), source, ignored, orphan_rejected.get(orphan_id, ())),
                   "orphan": True}
        for (record,) in self.db.execute("SELECT record FROM waiting_decisions ORDER BY id"):
            yield json.loads(record)

    # -- restoring ---------------------------------------------------------------

    def restore_decisions(self, people: list[dict], records: Iterable[dict], copy_id: str | None,
                          dry_run: bool = False) -> RestoreReport:
        """Put ``records`` back on the faces at their place in the photos of
        their content, through the same carrying as a scan: a decision with no
        face at its place becomes an orphan of its photo, one whose photo is
        not in the library waits for it; none is dropped. A decision the
        library already has is not made twice, so restoring again is harmless."""
        report = RestoreReport()
        try:
            with self.transaction() as db:
                ids = _People(db, report)
                for person in people:
                    ids.add(person)
                by_photo: dict[str, list[dict]] = defaultdict(list)
                for record in records:
                    by_photo[record["photo"]].append(record)
                for content_hash, photo_records in by_photo.items():
                    self._restore_photo(db, content_hash, photo_records, ids, report)
                if copy_id and not dry_run:
                    db.execute("UPDATE library SET restored_from = ?", (copy_id,))
                if dry_run:
                    raise _Rollback
        except _Rollback:
            pass
        return report

    def _restore_photo(self, db: sqlite3.Connection, content_hash: str, records: list[dict],
                       ids: _People, report: RestoreReport) -> None:
        photos = db.execute(
            "SELECT id, path, width, height, orientation FROM photos"
            " WHERE content_hash = ? AND status = 'ok' ORDER BY id", (content_hash,)).fetchall()
        if not photos:
            for record in records:
                text = json.dumps(record, sort_keys=True, ensure_ascii=False)
                # A record already waiting is not added twice (record is UNIQUE); an
                # ignored insert fires no trigger, so the copy is not marked changed.
                db.execute("INSERT OR IGNORE INTO waiting_decisions (content_hash, record) VALUES (?, ?)",
                           (content_hash, text))
                report.waiting += 1
            return
        db.execute("DELETE FROM waiting_decisions WHERE content_hash = ?", (content_hash,))
        for photo_id, photo_records in _by_photo(photos, records):
            self._carry_records(db, photo_id, photo_records, ids, report)

    def _carry_records(self, db: sqlite3.Connection, photo_id: int, records: list[dict],
                       ids: _People, report: RestoreReport) -> None:
        width, height, orientation = db.execute(
            "SELECT width, height, orientation FROM photos WHERE id = ?", (photo_id,)).fetchone()
        frame = (width, height, orientation)
        packs = db.execute("SELECT k.id, k.name FROM photo_scans s JOIN packs k ON k.id = s.pack_id"
                           " WHERE s.photo_id = ? ORDER BY k.id", (photo_id,)).fetchall()
        restored = [ids.decision(record) for record in records]
        for pack_id, pack in packs:
            existing = decisions.collect(db, photo_id, pack_id, frame, other_packs=None)
            on_faces = sum(1 for d in existing if d.orphan_id is None)
            new_faces = [(face_id, Place.of((x, y, w, h), *frame)) for face_id, x, y, w, h in db.execute(
                "SELECT id, x, y, w, h FROM faces WHERE photo_id = ? AND pack_id = ? ORDER BY id",
                (photo_id, pack_id))]
            # The pack's own decisions first, as a scan prefers them.
            mine = sorted(restored, key=lambda d: d.pack != pack)
            carried = decisions.carry(db, photo_id, pack, existing + mine, new_faces)
            placed = max(0, carried.carried - on_faces)
            report.placed += placed
            report.orphaned += carried.orphaned
            report.already += max(0, len(mine) - placed - carried.orphaned)

    # -- checking ---------------------------------------------------------------

    def problems(self) -> Iterator[str]:
        """One line per problem: SQLite's own checks, then facesort's invariants."""
        for (line,) in self.db.execute("PRAGMA integrity_check"):
            if line != "ok":
                yield f"damaged: {line}"
        for table, rowid, parent, _ in self.db.execute("PRAGMA foreign_key_check"):
            yield f"{table} row {rowid} points at a missing row of {parent}"
        queries = [
            ("SELECT f.id, p.path, f.person_id FROM faces f JOIN photos p ON p.id = f.photo_id"
             " WHERE f.person_id IS NOT NULL AND f.person_id NOT IN (SELECT id FROM people)",
             "face {0} in {1}: named as person {2}, who is not in the library"),
            ("SELECT f.id, p.path FROM faces f JOIN photos p ON p.id = f.photo_id"
             " WHERE f.person_id IS NOT NULL AND f.person_source IS NULL",
             "face {0} in {1}: named with no source (neither yours nor imported)"),
            ("SELECT f.id, p.path FROM faces f JOIN photos p ON p.id = f.photo_id"
             " WHERE f.person_id IS NULL AND f.person_source IS NOT NULL",
             "face {0} in {1}: has a source but no person"),
            ("SELECT r.face_id, r.person_id FROM rejections r"
             " WHERE r.face_id NOT IN (SELECT id FROM faces)",
             "a rejection of person {1} points at face {0}, which is not in the library"),
            ("SELECT o.id, o.photo_id FROM orphans o WHERE o.photo_id NOT IN (SELECT id FROM photos)",
             "orphaned decision {0} belongs to photo {1}, which is not in the library"),
            ("SELECT o.id, p.path, o.person_id FROM orphans o JOIN photos p ON p.id = o.photo_id"
             " WHERE o.person_id IS NOT NULL AND o.person_id NOT IN (SELECT id FROM people)",
             "orphaned decision {0} of {1}: names person {2}, who is not in the library"),
            ("SELECT p.path, n.name, k.name, group_concat(f.id, ', ') FROM faces f"
             " JOIN photos p ON p.id = f.photo_id JOIN people n ON n.id = f.person_id"
             " JOIN packs k ON k.id = f.pack_id WHERE f.person_source IS NOT NULL"
             " GROUP BY f.photo_id, f.pack_id, f.person_id HAVING count(*) > 1",
             "{0}: {1} named on more than one face (faces {3}, pack {2})"),
            ("SELECT f.id, p.path, n.name FROM faces f JOIN photos p ON p.id = f.photo_id"
             " JOIN rejections r ON r.face_id = f.id AND r.person_id = f.person_id"
             " JOIN people n ON n.id = f.person_id",
             "face {0} in {1}: named {2} and rejected from {2}"),
            ("SELECT f.id, p.path, n.name FROM faces f JOIN photos p ON p.id = f.photo_id"
             " JOIN people n ON n.id = f.person_id WHERE f.ignored",
             "face {0} in {1}: named {2} and ignored"),
            ("SELECT f.id, p.path, k.name FROM faces f JOIN photos p ON p.id = f.photo_id"
             " JOIN packs k ON k.id = f.pack_id WHERE NOT EXISTS (SELECT 1 FROM photo_scans s"
             "   WHERE s.photo_id = f.photo_id AND s.pack_id = f.pack_id)",
             "face {0} in {1}: found by pack {2}, which the library says never scanned the photo"),
            ("SELECT k.name, group_concat(DISTINCT length(f.embedding)) FROM faces f"
             " JOIN packs k ON k.id = f.pack_id GROUP BY f.pack_id"
             " HAVING count(DISTINCT length(f.embedding)) > 1",
             "pack {0}: faces with embeddings of different sizes ({1} bytes)"),
        ]
        for query, line in queries:
            for row in self.db.execute(query):
                yield line.format(*row)
        for person_id, name, key in self.db.execute("SELECT id, name, key FROM people"):
            if key != name.strip().casefold():
                yield f"person {person_id} ({name}): looked up as {key!r}, not by the name"


def _record(content_hash: str, path: str, pack: str, box: list[float], orientation: int,
            person: str | None, source: str | None, ignored: int, rejected: Iterable[str]) -> dict:
    record = {"photo": content_hash, "path": path, "pack": pack, "box": box, "orientation": orientation}
    if person is not None:
        record["person"] = person
        record["source"] = source or "user"
    if ignored:
        record["ignored"] = True
    if rejected:
        record["rejected"] = sorted(rejected)
    return record


def _by_photo(photos: list[tuple], records: list[dict]) -> Iterator[tuple[int, list[dict]]]:
    """Which of a content's photos each record goes to: the photo at the
    record's path; records of a path the library no longer has (the photo
    was moved or renamed) to the photos with none of their own, or the first."""
    paths = {path for _, path, *_ in photos}
    mine: dict[str, list[dict]] = defaultdict(list)
    elsewhere = []
    for record in records:
        (mine[record["path"]] if record.get("path") in paths else elsewhere).append(record)
    homeless = [photo_id for photo_id, path, *_ in photos if path not in mine] or [photos[0][0]]
    for photo_id, path, *_ in photos:
        given = mine.get(path, []) + (elsewhere if photo_id in homeless else [])
        if given:
            yield photo_id, given


class _People:
    """People by name while restoring: found, or added with the fields they came with."""

    def __init__(self, db: sqlite3.Connection, report: RestoreReport):
        self.db = db
        self.report = report
        self.ids: dict[str, int] = {}

    def add(self, person: dict) -> int:
        name = str(person["name"]).strip()
        key = name.casefold()
        if key in self.ids:
            return self.ids[key]
        extra = {k: v for k, v in person.items() if k not in PERSON_FIELDS}
        born = person.get("born")
        row = self.db.execute("SELECT id, extra FROM people WHERE key = ?", (key,)).fetchone()
        if row is None:
            person_id = self.db.execute(
                "INSERT INTO people (name, key, born, extra) VALUES (?, ?, ?, ?)",
                (name, key, born, json.dumps(extra, ensure_ascii=False) if extra else None)).lastrowid
            self.report.people_added += 1
        else:
            person_id, known = row
            if born:  # a birth date the library already has wins over the copy's
                self.db.execute("UPDATE people SET born = ? WHERE id = ? AND born IS NULL", (born, person_id))
            # What the library knows already wins over the copy.
            merged = {**extra, **json.loads(known or "{}")}
            if merged and merged != json.loads(known or "{}"):
                self.db.execute("UPDATE people SET extra = ? WHERE id = ?",
                                (json.dumps(merged, ensure_ascii=False), person_id))
        self.ids[key] = person_id
        return person_id

    def id(self, name: str) -> int:
        return self.ids.get(name.strip().casefold()) or self.add({"name": name})

    def decision(self, record: dict) -> Decision:
        person = record.get("person")
        return Decision(
            place=Place(tuple(record["box"]), int(record.get("orientation") or 1)),
            pack=record["pack"],
            person_id=self.id(person) if person else None,
            source=(record.get("source") or "user") if person else None,
            ignored=bool(record.get("ignored")),
            rejected=frozenset(self.id(name) for name in record.get("rejected", ())),
        )
