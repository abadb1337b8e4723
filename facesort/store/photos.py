"""The store's photos: what the scanner reads and writes, orphaned decisions,
the summary, export, and finding photos by person and date."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import replace
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path

from facesort.scanning.quality import POOR as POOR_QUALITY
from facesort.scanning.quality import face_quality
from facesort.store import decisions
from facesort.store.decisions import CarryReport, Place
from facesort.store.sql import embedding_to_blob, blob_to_embedding, UNDER, under, chunks, now
from facesort.store.records import (
    PhotoState,
    PhotoMeta,
    FaceRecord,
    PackSummary,
    LibrarySummary,
    Orphan,
    FailedPhoto,
    ExportFace,
    ExportPhoto,
    PhotoRecord,
    TrackFace,
)


class PhotoQueries:
    """Part of :class:`~facesort.store.library.Store`; ``self.db`` is its connection."""

    db: sqlite3.Connection
    path: Path

    # -- photos, as the scanner sees them ------------------------------------

    def photo_state(self, path: str, pack_id: int, real_path: str = "") -> PhotoState | None:
        """The photo at ``path``, or else the one its ``real_path`` (links
        resolved) reaches, stored under another path."""
        query = ("SELECT id, path, size, mtime_ns, content_hash, status,"
                 " EXISTS (SELECT 1 FROM photo_scans s WHERE s.photo_id = photos.id AND s.pack_id = ?)"
                 " FROM photos WHERE ")
        row = self.db.execute(query + "path = ?", (pack_id, path)).fetchone()
        if row is None and real_path and real_path != path:
            row = self.db.execute(query + "path = ?2 OR real_path = ?2 LIMIT 1",
                                  (pack_id, real_path)).fetchone()
        return PhotoState(*row[:6], bool(row[6])) if row else None

    def set_real_path(self, photo_id: int, real_path: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE photos SET real_path = nullif(?, path) WHERE id = ?",
                       (real_path, photo_id))

    def photos_with_hash(self, content_hash: str, pack_id: int, after_id: int = 0,
                         limit: int = -1) -> list[PhotoState]:
        """The photos holding this content, in id order: those after
        ``after_id``, at most ``limit`` of them (-1: all)."""
        rows = self.db.execute(
            "SELECT id, path, size, mtime_ns, content_hash, status,"
            " EXISTS (SELECT 1 FROM photo_scans s WHERE s.photo_id = photos.id AND s.pack_id = ?)"
            " FROM photos WHERE content_hash = ? AND status = 'ok' AND id > ? ORDER BY id LIMIT ?",
            (pack_id, content_hash, after_id, limit),
        ).fetchall()
        return [PhotoState(*row[:6], bool(row[6])) for row in rows]

    def photo_meta(self, photo_id: int) -> PhotoMeta:
        row = self.db.execute(
            "SELECT width, height, orientation, taken_at, media, duration FROM photos WHERE id = ?",
            (photo_id,)
        ).fetchone()
        return PhotoMeta(*row)

    def faces_of(self, photo_id: int, pack_id: int) -> list[FaceRecord]:
        rows = self.db.execute(
            "SELECT id, x, y, w, h, landmarks, score, embedding, quality, clip_time FROM faces"
            " WHERE photo_id = ? AND pack_id = ? ORDER BY id",
            (photo_id, pack_id),
        ).fetchall()
        # Only a clip's faces (with a clip_time) have tracks: photos ask nothing more.
        tracks = self.track_faces([row[0] for row in rows if row[9] is not None])
        return [
            FaceRecord((x, y, w, h), json.loads(marks), score, blob_to_embedding(blob), quality,
                       time, tracks.get(face_id, ()))
            for face_id, x, y, w, h, marks, score, blob, quality, time in rows
        ]

    def track_faces(self, face_ids: list[int]) -> dict[int, tuple[TrackFace, ...]]:
        """face id → its track's best faces, best first, for the faces of clips."""
        found: dict[int, list[TrackFace]] = {}
        for chunk, marks in chunks(face_ids):
            for face_id, time, x, y, w, h, quality in self.db.execute(
                    "SELECT face_id, clip_time, x, y, w, h, quality FROM track_faces"
                    f" WHERE face_id IN ({marks}) ORDER BY face_id, quality DESC, clip_time",
                    chunk):
                found.setdefault(face_id, []).append(TrackFace(time, (x, y, w, h), quality))
        return {face_id: tuple(faces) for face_id, faces in found.items()}

    def save_photo(
        self,
        path: str,
        size: int,
        mtime_ns: int,
        content_hash: str,
        meta: PhotoMeta,
        pack_id: int,
        faces: Iterable[FaceRecord],
        real_path: str | None = None,
    ) -> CarryReport:
        """Store a scanned photo and the faces ``pack_id`` found in it, in one
        transaction. If the file's content changed, every pack's old faces go.
        The user's decisions on the photo's faces go to the new faces at the
        same place, or are kept as orphans of the photo (see
        :mod:`facesort.store.decisions`); what happened to them is returned."""
        faces = list(faces)
        with self.transaction() as db:
            row = db.execute(
                "SELECT id, content_hash, width, height, orientation,"
                " EXISTS (SELECT 1 FROM photo_scans s WHERE s.photo_id = photos.id AND s.pack_id = ?)"
                " FROM photos WHERE path = ?", (pack_id, path),
            ).fetchone()
            real_path = real_path if real_path != path else None
            values = (size, mtime_ns, content_hash, meta.width, meta.height,
                      meta.orientation, meta.taken_at, meta.media, meta.duration, now(), real_path)
            pending: list[decisions.Decision] = []
            if row is None:
                photo_id = db.execute(
                    "INSERT INTO photos (size, mtime_ns, content_hash, width, height,"
                    " orientation, taken_at, media, duration, scanned_at, real_path, path, status)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok')",
                    (*values, path),
                ).lastrowid
            else:
                photo_id, old_hash, old_width, old_height, old_orientation, scanned = row
                changed = old_hash != content_hash
                if old_width and old_height:
                    pending = decisions.collect(
                        db, photo_id, pack_id, (old_width, old_height, old_orientation),
                        other_packs="move" if changed else (None if scanned else "copy"))
                if changed:
                    db.execute("DELETE FROM faces WHERE photo_id = ? AND pack_id != ?",
                               (photo_id, pack_id))
                    db.execute("DELETE FROM photo_scans WHERE photo_id = ?", (photo_id,))
                db.execute(
                    "UPDATE photos SET size = ?, mtime_ns = ?, content_hash = ?, width = ?,"
                    " height = ?, orientation = ?, taken_at = ?, media = ?, duration = ?,"
                    " scanned_at = ?, real_path = coalesce(?, real_path), status = 'ok', error = NULL"
                    " WHERE id = ?",
                    (*values, photo_id),
                )
            db.execute("DELETE FROM faces WHERE photo_id = ? AND pack_id = ?", (photo_id, pack_id))
            new_faces = [
                (db.execute(
                    "INSERT INTO faces (photo_id, pack_id, x, y, w, h, landmarks, score, embedding,"
                    " quality, clip_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (photo_id, pack_id, *face.box, json.dumps(face.landmarks), face.score,
                     embedding_to_blob(face.embedding),
                     face.quality if face.quality is not None
                     else face_quality(face.box, face.landmarks, face.score), face.time),
                ).lastrowid, Place.of(face.box, meta.width, meta.height, meta.orientation))
                for face in faces
            ]
            db.executemany(
                "INSERT OR IGNORE INTO track_faces (face_id, clip_time, x, y, w, h, quality)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(face_id, kept.time, *kept.box, kept.quality)
                 for (face_id, _), face in zip(new_faces, faces) for kept in face.track])
            pack = db.execute("SELECT name FROM packs WHERE id = ?", (pack_id,)).fetchone()[0]
            carried = decisions.carry(db, photo_id, pack, pending, new_faces)
            db.execute(
                "INSERT OR IGNORE INTO photo_scans (photo_id, pack_id) VALUES (?, ?)",
                (photo_id, pack_id),
            )
        return carried

    def record_failure(self, path: str, size: int, mtime_ns: int, error: str,
                       media: str = "photo", real_path: str | None = None) -> None:
        """Mark ``path`` as failed. A photo that was fine before keeps its faces
        and its old size and time, so the next scan tries it again; ``media``
        ('photo' or 'video') is what a new one is counted as."""
        with self.transaction() as db:
            updated = db.execute(
                "UPDATE photos SET status = 'failed', error = ?, scanned_at = ? WHERE path = ?",
                (error, now(), path),
            ).rowcount
            if not updated:
                db.execute(
                    "INSERT INTO photos (path, size, mtime_ns, status, error, scanned_at, media,"
                    " real_path) VALUES (?, ?, ?, 'failed', ?, ?, ?, ?)",
                    (path, size, mtime_ns, error, now(), media,
                     real_path if real_path != path else None),
                )

    def move_photo(self, photo_id: int, new_path: str, size: int, mtime_ns: int,
                   real_path: str | None = None) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE photos SET path = ?, size = ?, mtime_ns = ?, real_path = ? WHERE id = ?",
                (new_path, size, mtime_ns, real_path if real_path != new_path else None, photo_id),
            )

    def undated_clips(self) -> set[int]:
        """The clips stored before their capture time was read (0015_undated_clips)."""
        return {row[0] for row in self.db.execute("SELECT photo_id FROM undated_clips")}

    def date_clip(self, photo_id: int, taken_at: str | None) -> None:
        """The capture time read for one of the undated clips; None: it has
        none, and it is not looked for again."""
        with self.transaction() as db:
            db.execute("UPDATE photos SET taken_at = coalesce(taken_at, ?) WHERE id = ?",
                       (taken_at, photo_id))
            db.execute("DELETE FROM undated_clips WHERE photo_id = ?", (photo_id,))

    def update_file_stat(self, photo_id: int, size: int, mtime_ns: int) -> None:
        """The file was touched but its content is what was scanned."""
        with self.transaction() as db:
            db.execute(
                "UPDATE photos SET size = ?, mtime_ns = ?, status = 'ok', error = NULL WHERE id = ?",
                (size, mtime_ns, photo_id),
            )

    def photos_under(self, folder: str) -> list[tuple[int, str]]:
        return self.db.execute(
            "SELECT id, path FROM photos WHERE " + UNDER, under(folder)
        ).fetchall()

    def delete_photos(self, photo_ids: list[int]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM photos WHERE id = ?", [(i,) for i in photo_ids])

    def face_count(self, photo_ids: list[int]) -> int:
        return sum(self.db.execute(f"SELECT count(*) FROM faces WHERE photo_id IN ({marks})",
                                   chunk).fetchone()[0] for chunk, marks in chunks(photo_ids))

    def decisions_on_photos(self, photo_ids: list[int]) -> int:
        """How many user decisions (faces named, imported, ignored or
        rejected, and orphans) the photos hold."""
        count = 0
        for chunk, marks in chunks(photo_ids):
            count += self.db.execute(
                f"SELECT (SELECT count(*) FROM faces f WHERE f.photo_id IN ({marks}) AND"
                "   (f.person_id IS NOT NULL OR f.ignored"
                "    OR EXISTS (SELECT 1 FROM rejections r WHERE r.face_id = f.id)))"
                f" + (SELECT count(*) FROM orphans o WHERE o.photo_id IN ({marks}))",
                (*chunk, *chunk)).fetchone()[0]
        return count

    # -- orphaned decisions --------------------------------------------------

    def orphans(self) -> list[Orphan]:
        rows = self.db.execute(
            "SELECT o.id, p.path, o.pack, o.x, o.y, o.w, o.h, u.name, o.person_source, o.ignored,"
            " (SELECT group_concat(r.name, ', ') FROM orphan_rejections j"
            "   JOIN people r ON r.id = j.person_id WHERE j.orphan_id = o.id),"
            " o.created_at"
            " FROM orphans o JOIN photos p ON p.id = o.photo_id"
            " LEFT JOIN people u ON u.id = o.person_id ORDER BY p.path, o.id")
        return [Orphan(orphan_id, path, pack, (x, y, w, h), person, source, bool(ignored),
                       rejected.split(", ") if rejected else [], created)
                for orphan_id, path, pack, x, y, w, h, person, source, ignored, rejected, created
                in rows]

    def drop_orphans(self, orphan_ids: Iterable[int]) -> int:
        with self.transaction() as db:
            return sum(db.execute("DELETE FROM orphans WHERE id = ?", (int(i),)).rowcount
                       for i in orphan_ids)

    # -- reading -------------------------------------------------------------

    def summary(self) -> LibrarySummary:
        # Each count on its own, so that each reads an index (the failed photos'
        # is partial) rather than one pass over every photo or face.
        photos, failed = self.db.execute(
            "SELECT (SELECT count(*) FROM photos),"
            " (SELECT count(*) FROM photos WHERE status = 'failed')").fetchone()
        # Clips are few beside photos; a clip's faces are its tracks, each
        # with its best faces in track_faces (and only a clip's face has any).
        clips, failed_clips, clip_faces = self.db.execute(
            "SELECT (SELECT count(*) FROM photos WHERE media = 'video'),"
            " (SELECT count(*) FROM photos WHERE status = 'failed' AND media = 'video'),"
            " (SELECT count(DISTINCT face_id) FROM track_faces)").fetchone()
        packs = [
            PackSummary(name, n_photos, n_faces, dim)
            for name, n_photos, n_faces, dim in self.db.execute(
                "SELECT p.name,"
                " (SELECT count(*) FROM photo_scans s WHERE s.pack_id = p.id),"
                " (SELECT count(*) FROM faces f WHERE f.pack_id = p.id),"
                " (SELECT length(embedding) / 4 FROM faces f WHERE f.pack_id = p.id LIMIT 1)"
                " FROM packs p ORDER BY p.id"
            )
        ]
        db_bytes = sum(
            os.path.getsize(p)
            for p in (self.path, Path(f"{self.path}-wal"))
            if os.path.exists(p)
        )
        people, groups = self.db.execute(
            "SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM clusters)").fetchone()
        grouped, named, auto = self.db.execute(
            "SELECT (SELECT count(*) FROM faces WHERE cluster_id IS NOT NULL),"
            " (SELECT count(*) FROM faces WHERE person_id IS NOT NULL),"
            # The unary + keeps SQLite off the person index, where "person_id IS
            # NULL" is most of the faces; the automatic names' index is short.
            " (SELECT count(*) FROM faces WHERE auto_person_id IS NOT NULL AND +person_id IS NULL)"
        ).fetchone()
        return LibrarySummary(
            db_path=str(self.path),
            db_bytes=db_bytes,
            photos=photos - clips,
            failed=failed - failed_clips,
            clips=clips,
            failed_clips=failed_clips,
            clip_faces=clip_faces,
            faces=sum(p.faces for p in packs),
            packs=packs,
            people=people,
            groups=groups,
            grouped_faces=grouped,
            named_faces=named,
            orphans=self.db.execute("SELECT count(*) FROM orphans").fetchone()[0],
            auto_faces=auto,
            poor_faces=self.db.execute("SELECT count(*) FROM faces WHERE quality < ?",
                                       (POOR_QUALITY,)).fetchone()[0],
        )

    def failed_photos(self) -> list[FailedPhoto]:
        return [
            FailedPhoto(*row)
            for row in self.db.execute(
                "SELECT path, error, scanned_at FROM photos WHERE status = 'failed' ORDER BY path"
            )
        ]

    def export_photos(self, pack_id: int) -> Iterator[ExportPhoto]:
        """Every photo ``pack_id`` scanned, with the faces it found, by path."""
        rows = self.db.execute(
            "SELECT p.path, p.width, p.height, p.taken_at, p.media, p.duration,"
            " f.id, f.x, f.y, f.w, f.h, f.score, f.cluster_id, coalesce(u.name, a.name),"
            " CASE WHEN u.id IS NOT NULL THEN f.person_source WHEN a.id IS NOT NULL THEN 'auto' END,"
            " f.clip_time"
            " FROM photos p"
            " JOIN photo_scans s ON s.photo_id = p.id AND s.pack_id = ?1"
            " LEFT JOIN faces f ON f.photo_id = p.id AND f.pack_id = ?1"
            " LEFT JOIN people u ON u.id = f.person_id"
            " LEFT JOIN people a ON a.id = f.auto_person_id"
            " WHERE p.status = 'ok' ORDER BY p.path, f.id",
            (pack_id,),
        )
        for (path, width, height, taken_at, media, duration), group in groupby(
                rows, key=lambda r: r[:6]):
            faces = [
                ExportFace(face_id, (x, y, w, h), score, cluster, person, source, time)
                for *_, face_id, x, y, w, h, score, cluster, person, source, time in group
                if face_id is not None
            ]
            if media == "video":
                tracks = self.track_faces([face.id for face in faces])
                faces = [replace(face, track=tracks.get(face.id, ())) for face in faces]
            yield ExportPhoto(path, width, height, taken_at, faces, media, duration)

    def photos_in(self, folders: list[str] | None, failed_too: bool = False) -> list[PhotoRecord]:
        """Readable photos under ``folders`` (or exactly those paths), or all;
        with ``failed_too`` also the ones that could not be read."""
        query = ("SELECT id, path, width, height, orientation, taken_at, media FROM photos"
                 " WHERE " + ("1" if failed_too else "status = 'ok'"))
        if folders is None:
            rows = self.db.execute(query + " ORDER BY path").fetchall()
        else:
            rows = []
            for folder in folders:
                # Also the photos stored under another path to the same place.
                real = os.path.realpath(folder)
                rows += self.db.execute(
                    query + " AND (path = ? OR " + UNDER + " OR path = ? OR " + UNDER
                    + " OR real_path = ? OR " + UNDER.replace("path", "real_path") + ")"
                    " ORDER BY path",
                    (folder, *under(folder), real, *under(real), real, *under(real)),
                ).fetchall()
        return [PhotoRecord(*row) for row in dict.fromkeys(rows)]

    def named_faces(self, pack_id: int, include_auto: bool) -> dict[int, list[tuple[tuple, str]]]:
        """photo id → [(box, person name)] for every face with a person."""
        person = "coalesce(f.person_id, f.auto_person_id)" if include_auto else "f.person_id"
        named: dict[int, list[tuple[tuple, str]]] = {}
        for photo_id, x, y, w, h, name in self.db.execute(
            f"SELECT f.photo_id, f.x, f.y, f.w, f.h, p.name FROM faces f"
            f" JOIN people p ON p.id = {person} WHERE f.pack_id = ? ORDER BY f.id",
            (pack_id,),
        ):
            named.setdefault(photo_id, []).append(((x, y, w, h), name))
        return named

    def search_photos(self, pack_id: int, wanted: list[int], *, any_of: bool = False,
                      without: Iterable[int] = (), only: bool = False, year: int | None = None,
                      since: str | None = None, until: str | None = None) -> list[PhotoRecord]:
        """Photos with all (or any) of ``wanted``, none of ``without``, with
        nobody else named when ``only``; dates filter the capture day, else the
        file's modification day. A face's person is the user's decision, else
        the automatic one. One query, on the person indexes."""
        # The photos where a face is person ?N: a union of two index lookups,
        # since coalesce(person_id, auto_person_id) could use no index.
        has = ("(SELECT photo_id FROM faces WHERE pack_id = :pack AND person_id = {p}"
               " UNION SELECT photo_id FROM faces WHERE pack_id = :pack AND person_id IS NULL"
               " AND auto_person_id = {p})")
        params: dict[str, object] = {"pack": pack_id}
        for index, person in enumerate([*wanted, *without]):
            params[f"p{index}"] = person
        wanted_sets = [has.format(p=f":p{i}") for i in range(len(wanted))]
        clauses = (["(" + " OR ".join(f"p.id IN {w}" for w in wanted_sets) + ")"] if any_of
                   else [f"p.id IN {w}" for w in wanted_sets])
        clauses += [f"p.id NOT IN {has.format(p=f':p{len(wanted) + i}')}"
                    for i in range(len(list(without)))]
        if only:
            marks = ", ".join(f":p{i}" for i in range(len(wanted)))
            clauses.append(
                "NOT EXISTS (SELECT 1 FROM faces o WHERE o.photo_id = p.id AND o.pack_id = :pack"
                f" AND coalesce(o.person_id, o.auto_person_id) NOT IN ({marks}))")
        # A photo without a capture time goes by its file's modification day,
        # in local time as the camera's clock would have said.
        day = ("coalesce(substr(p.taken_at, 1, 10),"
               " date(p.mtime_ns / 1000000000, 'unixepoch', 'localtime'))")
        if year is not None:
            clauses.append(f"substr({day}, 1, 5) = :year")
            params["year"] = f"{year:04d}-"
        if since is not None:
            clauses.append(f"{day} >= :since")
            params["since"] = since
        if until is not None:
            clauses.append(f"{day} <= :until")
            params["until"] = until
        rows = self.db.execute(
            "SELECT p.id, p.path, p.width, p.height, p.orientation, p.taken_at, p.media"
            " FROM photos p WHERE p.status = 'ok' AND " + " AND ".join(clauses) + " ORDER BY p.path",
            params,
        )
        return [PhotoRecord(*row) for row in rows]

    def photos_of_person(self, person_id: int, pack_id: int) -> set[int]:
        """Photos where the user, an import or facesort named a face ``person_id``."""
        return {row[0] for row in self.db.execute(
            "SELECT photo_id FROM faces WHERE pack_id = ?1 AND person_id = ?2"
            " UNION SELECT photo_id FROM faces WHERE pack_id = ?1 AND person_id IS NULL"
            " AND auto_person_id = ?2",
            (pack_id, person_id),
        )}

    def people_in_photos(self, photo_ids: Iterable[int], pack_id: int) -> dict[int, list[str]]:
        """photo id → the names of the people on its faces."""
        found: dict[int, list[str]] = {}
        for chunk, marks in chunks(list(photo_ids)):
            for photo_id, name in self.db.execute(
                f"SELECT DISTINCT f.photo_id, p.name FROM faces f"
                f" JOIN people p ON p.id = coalesce(f.person_id, f.auto_person_id)"
                f" WHERE f.pack_id = ? AND f.photo_id IN ({marks})",
                (pack_id, *chunk),
            ):
                found.setdefault(photo_id, []).append(name)
        return found

