"""The store's people and groups: grouping input and results, people and
their decisions, suggestions and review, and the adapter 'facesort tune' keeps."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from facesort.scanning.quality import POOR as POOR_QUALITY
from facesort.store.sql import (
    EMBEDDING_DTYPE,
    embedding_to_blob,
    blob_to_embedding,
    equal_runs,
    chunks,
    now,
)
from facesort.store.records import (
    GroupingInput,
    NewCluster,
    ClusterRun,
    Person,
    PersonSummary,
    ClusterSummary,
    FaceInfo,
    ScoredGroup,
    StoredAdapter,
)

# numpy is imported where embeddings are handled, not here: the commands that
# only list and find start without it.
if TYPE_CHECKING:
    import numpy as np


# Faces read at once into the grouping arrays.
_GROUPING_CHUNK = 50_000

# Faces grouping and suggestions may use: good enough to judge (or scanned
# before faces had a quality), or named by the user whatever their quality.
_JUDGEABLE = " (quality IS NULL OR quality >= ? OR person_id IS NOT NULL)"


class PeopleQueries:
    """Part of :class:`~facesort.store.library.Store`; ``self.db`` is its connection."""

    db: sqlite3.Connection
    path: Path

    # -- groups and people -------------------------------------------------------

    def grouping_input(self, pack_id: int) -> GroupingInput:
        """The pack's faces by id, read in chunks straight into preallocated
        arrays: a million faces cost their embeddings' memory and little more.
        Faces too poor to judge stay out, unless the user named them."""
        import numpy as np

        count, dims = self.db.execute(
            "SELECT count(*), (SELECT length(embedding) / 4 FROM faces WHERE pack_id = ?1 LIMIT 1)"
            " FROM faces WHERE pack_id = ?1 AND" + _JUDGEABLE.replace("?", "?2"),
            (pack_id, POOR_QUALITY)).fetchone()
        columns = np.zeros((count, 6), np.int64)
        days = np.empty(count, np.float64)
        embeddings = np.empty((count, dims or 0), np.float32)
        # The capture time ('find --year' reads the same column) as a Julian
        # day: NULL, hence NaN, for a photo without a date.
        rows = self.db.execute(
            "SELECT f.id, f.photo_id, coalesce(f.cluster_id, 0), coalesce(f.person_id, 0), f.ignored,"
            " coalesce(f.auto_person_id, 0), julianday(p.taken_at), f.embedding"
            " FROM faces f JOIN photos p ON p.id = f.photo_id"
            " WHERE f.pack_id = ? AND" + _JUDGEABLE.replace("quality", "f.quality")
            .replace("person_id", "f.person_id") + " ORDER BY f.id",
            (pack_id, POOR_QUALITY))
        start = 0
        while chunk := rows.fetchmany(_GROUPING_CHUNK):
            end = start + len(chunk)
            columns[start:end] = [row[:6] for row in chunk]
            days[start:end] = [np.nan if row[6] is None else row[6] for row in chunk]
            embeddings[start:end] = np.frombuffer(b"".join(row[7] for row in chunk),
                                                  EMBEDDING_DTYPE).reshape(len(chunk), -1)
            start = end
        return GroupingInput(
            face_ids=columns[:, 0].copy(), photo_ids=columns[:, 1].copy(), embeddings=embeddings,
            cluster_ids=columns[:, 2].copy(), person_ids=columns[:, 3].copy(),
            ignored=columns[:, 4].astype(bool), days=days, auto_person_ids=columns[:, 5].copy())

    def ignored_clusters(self, pack_id: int) -> set[int]:
        return {row[0] for row in self.db.execute(
            "SELECT id FROM clusters WHERE pack_id = ? AND ignored", (pack_id,))}

    def save_clusters(self, pack_id: int, groups: list[NewCluster], face_ids: np.ndarray,
                      before: np.ndarray) -> list[int]:
        """Replace the pack's groups; a group with a ``previous_id`` keeps it.
        ``before`` is each of ``face_ids``' group id so far (0 for none):
        only faces whose group changes are written."""
        import numpy as np

        ids = []
        with self.transaction() as db:
            for group in groups:
                if group.previous_id is None:
                    ids.append(db.execute("INSERT INTO clusters (pack_id, ignored) VALUES (?, ?)",
                                          (pack_id, int(group.ignored))).lastrowid)
                else:
                    ids.append(group.previous_id)
            db.executemany("UPDATE clusters SET ignored = ?1 WHERE id = ?2 AND ignored != ?1",
                           [(int(g.ignored), g.previous_id) for g in groups if g.previous_id is not None])
            after = np.zeros(len(face_ids), np.int64)
            if groups:
                members = np.concatenate([g.face_ids for g in groups])
                row_of = np.argsort(face_ids)
                after[row_of[np.searchsorted(face_ids, members, sorter=row_of)]] = np.repeat(
                    ids, [len(g.face_ids) for g in groups])
            changed = np.flatnonzero(after != before)
            db.executemany("UPDATE faces SET cluster_id = ? WHERE id = ?",
                           [(cluster or None, face) for cluster, face
                            in zip(after[changed].tolist(), face_ids[changed].tolist())])
            db.execute(
                "DELETE FROM clusters WHERE pack_id = ? AND id NOT IN"
                " (SELECT cluster_id FROM faces WHERE cluster_id IS NOT NULL)",
                (pack_id,),
            )
        return ids

    def decision_changes(self) -> int:
        """A counter that every change to a decision moves on."""
        return self.db.execute("SELECT count FROM decision_changes").fetchone()[0]

    def face_state(self, pack_id: int) -> tuple[int, int]:
        """The pack's face count and highest face id: together they change
        whenever a face comes or goes, as face ids are never reused."""
        return self.db.execute("SELECT count(*), coalesce(max(id), 0) FROM faces WHERE pack_id = ?",
                               (pack_id,)).fetchone()

    def cluster_run(self, pack_id: int) -> ClusterRun | None:
        row = self.db.execute(
            "SELECT faces, max_face_id, decisions, settings, full_run_faces, blocking, report"
            " FROM cluster_runs WHERE pack_id = ?", (pack_id,)).fetchone()
        return ClusterRun(*row) if row else None

    def save_cluster_run(self, pack_id: int, run: ClusterRun) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO cluster_runs (pack_id, faces, max_face_id, decisions, settings,"
                " full_run_faces, blocking, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (pack_id, run.faces, run.max_face_id, run.decisions, run.settings,
                 run.full_run_faces, run.blocking, run.report))

    def rejected_pairs(self, pack_id: int) -> set[tuple[int, int]]:
        return set(self.db.execute(
            "SELECT r.face_id, r.person_id FROM rejections r JOIN faces f ON f.id = r.face_id"
            " WHERE f.pack_id = ?", (pack_id,)))

    def rejected_pairs_for(self, person_id: int) -> set[int]:
        """The faces the user rejected from ``person_id``."""
        return {row[0] for row in self.db.execute(
            "SELECT face_id FROM rejections WHERE person_id = ?", (person_id,))}

    def save_auto_names(self, pack_id: int, names: list[tuple[int, int, float]]) -> None:
        """Replace the pack's automatic names with ``(face, person, distance)``."""
        with self.transaction() as db:
            # On the index: only the faces named automatically are touched.
            db.execute("UPDATE faces SET auto_person_id = NULL, auto_distance = NULL"
                       " WHERE auto_person_id IS NOT NULL AND pack_id = ?", (pack_id,))
            # Names were computed from the decisions at the start of the run;
            # a face the user named or rejected meanwhile keeps that decision.
            db.executemany(
                "UPDATE faces SET auto_person_id = ?1, auto_distance = ?2 WHERE id = ?3"
                " AND person_id IS NULL AND NOT EXISTS"
                " (SELECT 1 FROM rejections r WHERE r.face_id = ?3 AND r.person_id = ?1)",
                [(person, round(distance, 4), face) for face, person, distance in names],
            )

    def find_person(self, name: str) -> Person | None:
        row = self.db.execute("SELECT id, name FROM people WHERE key = ?",
                              (name.strip().casefold(),)).fetchone()
        return Person(*row) if row else None

    def person_by_id(self, person_id: int) -> Person:
        return Person(*self.db.execute("SELECT id, name FROM people WHERE id = ?",
                                       (person_id,)).fetchone())

    def add_person(self, name: str) -> Person:
        name = name.strip()
        with self.transaction() as db:
            person_id = db.execute("INSERT INTO people (name, key) VALUES (?, ?)",
                                   (name, name.casefold())).lastrowid
        return Person(person_id, name)

    def people(self) -> list[Person]:
        return [Person(*row) for row in self.db.execute("SELECT id, name FROM people ORDER BY key")]

    def people_summary(self, pack_id: int) -> list[PersonSummary]:
        rows = self.db.execute(
            "SELECT p.id, p.name,"
            " (SELECT count(*) FROM faces f WHERE f.person_id = p.id AND f.pack_id = ?1),"
            " (SELECT count(*) FROM faces f WHERE f.auto_person_id = p.id AND f.person_id IS NULL"
            "   AND f.pack_id = ?1),"
            # Two lookups on the person indexes: with an OR between them no
            # index could serve, and each person read the whole pack.
            " (SELECT count(DISTINCT photo_id) FROM"
            "   (SELECT photo_id FROM faces WHERE person_id = p.id AND pack_id = ?1"
            "    UNION ALL SELECT photo_id FROM faces WHERE auto_person_id = p.id AND pack_id = ?1"
            "    AND person_id IS NULL)), p.born"
            " FROM people p ORDER BY p.key",
            (pack_id,),
        )
        return [PersonSummary(*row) for row in rows]

    def set_born(self, person_id: int, born: str | None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE people SET born = ? WHERE id = ?", (born, person_id))

    def birth_dates(self) -> dict[int, str]:
        """person id → birth date (facesort.people.ages), for the people who have one."""
        return dict(self.db.execute("SELECT id, born FROM people WHERE born IS NOT NULL"))

    def birth_dates_by_name(self) -> dict[str, str]:
        """person name → birth date, for the people who have one."""
        return dict(self.db.execute("SELECT name, born FROM people WHERE born IS NOT NULL"))

    def capture_times(self, face_ids: Iterable[int]) -> dict[int, str]:
        """face id → when its photo was taken, for the faces whose photo says."""
        found: dict[int, str] = {}
        for chunk, marks in chunks([int(face_id) for face_id in face_ids]):
            found.update(self.db.execute(
                "SELECT f.id, p.taken_at FROM faces f JOIN photos p ON p.id = f.photo_id"
                f" WHERE f.id IN ({marks}) AND p.taken_at IS NOT NULL", chunk))
        return found

    def capture_span(self, cluster_id: int) -> tuple[str, str] | None:
        """The first and last capture years of a group's photos; None when none says."""
        first, last = self.db.execute(
            "SELECT min(substr(p.taken_at, 1, 4)), max(substr(p.taken_at, 1, 4)) FROM faces f"
            " JOIN photos p ON p.id = f.photo_id WHERE f.cluster_id = ? AND p.taken_at IS NOT NULL",
            (cluster_id,)).fetchone()
        return (first, last) if first else None

    def rename_person(self, person_id: int, new_name: str) -> None:
        new_name = new_name.strip()
        with self.transaction() as db:
            db.execute("UPDATE people SET name = ?, key = ? WHERE id = ?",
                       (new_name, new_name.casefold(), person_id))

    def merge_people(self, keep_id: int, other_id: int) -> None:
        """Every face and decision of ``other_id`` moves to ``keep_id``."""
        with self.transaction() as db:
            db.execute("UPDATE faces SET person_id = ? WHERE person_id = ?", (keep_id, other_id))
            db.execute("UPDATE faces SET auto_person_id = ? WHERE auto_person_id = ?",
                       (keep_id, other_id))
            db.execute("INSERT OR IGNORE INTO rejections (face_id, person_id)"
                       " SELECT face_id, ? FROM rejections WHERE person_id = ?", (keep_id, other_id))
            db.execute("UPDATE orphans SET person_id = ? WHERE person_id = ?", (keep_id, other_id))
            db.execute("INSERT OR IGNORE INTO orphan_rejections (orphan_id, person_id)"
                       " SELECT orphan_id, ? FROM orphan_rejections WHERE person_id = ?",
                       (keep_id, other_id))
            db.execute("DELETE FROM orphan_rejections WHERE person_id = ?", (other_id,))
            db.execute("INSERT OR IGNORE INTO refusals (cluster_id, person_id)"
                       " SELECT cluster_id, ? FROM refusals WHERE person_id = ?", (keep_id, other_id))
            db.execute("UPDATE people SET born = coalesce(born, (SELECT born FROM people WHERE id = ?2))"
                       " WHERE id = ?1", (keep_id, other_id))
            db.execute("DELETE FROM people WHERE id = ?", (other_id,))

    def set_person(self, face_ids: Iterable[int], person_id: int, source: str = "user") -> None:
        """Record the user's decision that these faces are ``person_id``. An
        explicit decision also lifts an earlier rejection of that person."""
        pairs = [(int(face_id), person_id) for face_id in face_ids]
        with self.transaction() as db:
            db.executemany(
                "UPDATE faces SET person_id = ?2, person_source = ?3, auto_person_id = NULL,"
                " auto_distance = NULL, ignored = 0 WHERE id = ?1",
                [(face, person, source) for face, person in pairs],
            )
            db.executemany("DELETE FROM rejections WHERE face_id = ? AND person_id = ?", pairs)

    def reject(self, face_ids: Iterable[int], person_id: int) -> None:
        pairs = [(int(face_id), person_id) for face_id in face_ids]
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO rejections (face_id, person_id) VALUES (?, ?)",
                           pairs)
            db.executemany("UPDATE faces SET person_id = NULL, person_source = NULL"
                           " WHERE id = ? AND person_id = ?", pairs)
            db.executemany("UPDATE faces SET auto_person_id = NULL, auto_distance = NULL"
                           " WHERE id = ? AND auto_person_id = ?", pairs)

    def ignore_cluster(self, cluster_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE clusters SET ignored = 1 WHERE id = ?", (cluster_id,))
            db.execute("UPDATE faces SET ignored = 1 WHERE cluster_id = ? AND person_id IS NULL",
                       (cluster_id,))

    def unignore_cluster(self, cluster_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE clusters SET ignored = 0 WHERE id = ?", (cluster_id,))
            db.execute("UPDATE faces SET ignored = 0 WHERE cluster_id = ?", (cluster_id,))

    def ignore_faces(self, face_ids: Iterable[int]) -> int:
        with self.transaction() as db:
            return sum(db.execute("UPDATE faces SET ignored = 1 WHERE id = ? AND NOT ignored",
                                  (int(face_id),)).rowcount for face_id in face_ids)

    def cluster_pack(self, cluster_id: int) -> int:
        return self.db.execute("SELECT pack_id FROM clusters WHERE id = ?", (cluster_id,)).fetchone()[0]

    def photos_named_by_user(self, person_id: int, pack_id: int) -> set[int]:
        """Photos where the user (or an import) put ``person_id`` on a face."""
        return {row[0] for row in self.db.execute(
            "SELECT photo_id FROM faces WHERE pack_id = ? AND person_id = ?", (pack_id, person_id))}

    def embeddings_of(self, face_ids: Iterable[int]) -> dict[int, np.ndarray]:
        found: dict[int, np.ndarray] = {}
        for chunk, marks in chunks([int(face_id) for face_id in face_ids]):
            for face_id, blob in self.db.execute(
                    f"SELECT id, embedding FROM faces WHERE id IN ({marks})", chunk):
                found[face_id] = blob_to_embedding(blob)
        return found

    def detach_from_cluster(self, face_ids: Iterable[int]) -> None:
        with self.transaction() as db:
            db.executemany("UPDATE faces SET cluster_id = NULL WHERE id = ?",
                           [(int(face_id),) for face_id in face_ids])

    def cluster_exists(self, cluster_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM clusters WHERE id = ?",
                               (cluster_id,)).fetchone() is not None

    def clusters_summary(self, pack_id: int) -> list[ClusterSummary]:
        """Every group of the pack, largest first, with the person most of its
        named faces have (the user's decisions first, else automatic ones;
        on a tie the person named first)."""
        in_pack = "cluster_id IN (SELECT id FROM clusters WHERE pack_id = ?)"
        # Two ordered passes over the group index, each a few rows a group:
        # one correlated subquery a group took twice as long at a million faces.
        photos = dict(self.db.execute(
            f"SELECT cluster_id, count(DISTINCT photo_id) FROM faces WHERE {in_pack}"
            " GROUP BY cluster_id", (pack_id,)))
        ignored = dict(self.db.execute("SELECT id, ignored FROM clusters WHERE pack_id = ?", (pack_id,)))
        names = dict(self.db.execute("SELECT id, name FROM people"))
        counts: dict[int, list[int]] = {}  # group → [faces, named by the user, named automatically]
        votes: dict[int, dict[int, tuple[int, int]]] = {}  # group → person → (the user's, all)
        for cluster_id, person_id, auto_person_id, faces in self.db.execute(
                f"SELECT cluster_id, person_id, auto_person_id, count(*) FROM faces WHERE {in_pack}"
                " GROUP BY cluster_id, person_id, auto_person_id", (pack_id,)):
            tally = counts.setdefault(cluster_id, [0, 0, 0])
            tally[0] += faces
            who = person_id if person_id is not None else auto_person_id
            if who is None:
                continue
            tally[1 if person_id is not None else 2] += faces
            users, everyone = votes.setdefault(cluster_id, {}).get(who, (0, 0))
            votes[cluster_id][who] = (users + (faces if person_id is not None else 0), everyone + faces)
        summaries = []
        for cluster_id, (faces, named, auto) in counts.items():
            chosen = votes.get(cluster_id, {})
            top = min(chosen, key=lambda who: (-chosen[who][0], -chosen[who][1], who), default=None)
            summaries.append(ClusterSummary(cluster_id, faces, photos[cluster_id],
                                            bool(ignored[cluster_id]), named, auto,
                                            names[top] if top is not None else None))
        return sorted(summaries, key=lambda c: (-c.faces, c.id))

    def faces_in_cluster(self, cluster_id: int) -> list[FaceInfo]:
        return self._faces_where("f.cluster_id = ?", (cluster_id,))

    def faces_of_person(self, person_id: int, pack_id: int) -> list[FaceInfo]:
        # Two lookups on the person indexes: an OR between them would read the pack.
        return self._faces_where(
            "f.id IN (SELECT id FROM faces WHERE person_id = ?2 AND pack_id = ?1 UNION ALL"
            " SELECT id FROM faces WHERE auto_person_id = ?2 AND pack_id = ?1 AND person_id IS NULL)",
            (pack_id, person_id),
        )

    def faces_by_id(self, face_ids: Iterable[int]) -> dict[int, FaceInfo]:
        found: dict[int, FaceInfo] = {}
        for chunk, marks in chunks([int(face_id) for face_id in face_ids]):
            for face in self._faces_where(f"f.id IN ({marks})", chunk):
                found[face.id] = face
        return found

    def faces_of_photo(self, photo_id: int, pack_id: int) -> list[FaceInfo]:
        return self._faces_where("f.photo_id = ? AND f.pack_id = ?", (photo_id, pack_id))

    # -- suggestions and review --------------------------------------------------

    def unnamed_groups(self, pack_id: int) -> list[ScoredGroup]:
        """The pack's groups that are not ignored and hold no named face (by
        the user or automatically), each with its judgeable faces, best first."""
        import numpy as np

        # Groups first, then their faces: CROSS JOIN keeps SQLite from
        # walking every face of the pack and asking "is its group named?"
        # once a face (4.2 s against 0.6 s at a million faces).
        rows = self.db.execute(
            "SELECT f.cluster_id, f.id, f.embedding,"
            " (SELECT julianday(p.taken_at) FROM photos p WHERE p.id = f.photo_id)"
            " FROM clusters c CROSS JOIN faces f ON f.cluster_id = c.id"
            " WHERE c.pack_id = ?1 AND NOT c.ignored AND (f.quality IS NULL OR f.quality >= ?2)"
            " AND NOT EXISTS (SELECT 1 FROM faces g WHERE g.cluster_id = c.id"
            "   AND (g.person_id IS NOT NULL OR g.auto_person_id IS NOT NULL))"
            " ORDER BY f.cluster_id, coalesce(f.quality, 0.5) DESC, f.id",
            (pack_id, POOR_QUALITY),
        ).fetchall()
        if not rows:
            return []
        cluster_ids = np.array([row[0] for row in rows], dtype=np.int64)
        face_ids = np.array([row[1] for row in rows], dtype=np.int64)
        embeddings = np.frombuffer(b"".join(row[2] for row in rows),
                                   EMBEDDING_DTYPE).reshape(len(rows), -1)
        days = np.array([np.nan if row[3] is None else row[3] for row in rows], np.float64)
        return [ScoredGroup(int(cluster_ids[start]), face_ids[start:end], embeddings[start:end],
                            days[start:end])
                for start, end in zip(*equal_runs(cluster_ids))]

    def named_faces_by_time(self, pack_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The faces the user (or an import) gave a person, as four arrays:
        person id, face id, quality (NaN when never scored) and capture time
        (Julian day, NaN without a date); each person's
        faces together, oldest capture first. Arrays, not one object a face:
        a library may have a million named faces, of which suggestions read
        a few embeddings a person."""
        import numpy as np

        rows = self.db.execute(
            "SELECT f.person_id, f.id, f.quality, julianday(p.taken_at) FROM faces f"
            " JOIN photos p ON p.id = f.photo_id WHERE f.pack_id = ? AND f.person_id IS NOT NULL"
            " ORDER BY f.person_id, p.taken_at IS NULL, p.taken_at, f.id",
            (pack_id,),
        ).fetchall()
        # None becomes NaN in a float array; ids stay exact below 2**53.
        table = np.array(rows, dtype=np.float64).reshape(len(rows), 4)
        return (table[:, 0].astype(np.int64), table[:, 1].astype(np.int64), table[:, 2].copy(),
                table[:, 3].copy())

    def people_beside_group(self, cluster_id: int, pack_id: int) -> set[int]:
        """The people (the user's decision, else the automatic one) on faces
        that share a photo with a face of group ``cluster_id``."""
        return {row[0] for row in self.db.execute(
            # The group's faces first, then their photos' (CROSS JOIN fixes the
            # order): the other way round walks the whole pack (0.4 s against 1 ms).
            "SELECT DISTINCT coalesce(o.person_id, o.auto_person_id) FROM faces g"
            " CROSS JOIN faces o ON o.photo_id = g.photo_id AND o.pack_id = ?2"
            " WHERE g.cluster_id = ?1 AND coalesce(o.person_id, o.auto_person_id) IS NOT NULL",
            (cluster_id, pack_id),
        )}

    def refusals(self) -> set[tuple[int, int]]:
        """(group, person) pairs the user said no to."""
        return set(self.db.execute("SELECT cluster_id, person_id FROM refusals"))

    def refuse(self, cluster_id: int, person_id: int) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO refusals (cluster_id, person_id) VALUES (?, ?)",
                       (cluster_id, person_id))

    def auto_named(self, pack_id: int, person_id: int | None = None) -> list[FaceInfo]:
        """Faces named automatically (and not decided by the user), the least
        certain (farthest from their person) first."""
        condition = "f.pack_id = ? AND f.person_id IS NULL AND f.auto_person_id IS NOT NULL"
        params: tuple = (pack_id,)
        if person_id is not None:
            condition += " AND f.auto_person_id = ?"
            params += (person_id,)
        faces = self._faces_where(condition, params)
        return sorted(faces, key=lambda f: (-(f.auto_distance or 0.0), f.id))

    def capture_years(self, face_ids: Iterable[int]) -> dict[int, str]:
        """face id → the year its photo was taken (else the file's modification year)."""
        found: dict[int, str] = {}
        for chunk, marks in chunks([int(face_id) for face_id in face_ids]):
            found.update(self.db.execute(
                "SELECT f.id, coalesce(substr(p.taken_at, 1, 4),"
                " strftime('%Y', p.mtime_ns / 1000000000, 'unixepoch', 'localtime'))"
                f" FROM faces f JOIN photos p ON p.id = f.photo_id WHERE f.id IN ({marks})", chunk))
        return found

    def poor_faces(self, pack_id: int | None = None) -> list[FaceInfo]:
        """Faces too small or too blurred to judge, kept out of grouping."""
        if pack_id is None:
            return self._faces_where("f.quality < ?", (POOR_QUALITY,))
        return self._faces_where("f.pack_id = ? AND f.quality < ?", (pack_id, POOR_QUALITY))

    # -- adapters ------------------------------------------------------------

    def save_adapter(self, pack_id: int, matrix: np.ndarray, recognize: float, margin: float,
                     faces: int, decisions: int, seed: int) -> None:
        """Keep ``matrix`` as the pack's adapter, replacing any before it."""
        rows, cols = matrix.shape
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO adapters (pack_id, rows, cols, matrix, recognize, margin,"
                " trained_at, faces, decisions, seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (pack_id, rows, cols, embedding_to_blob(matrix), float(recognize), float(margin),
                 now(), int(faces), int(decisions), int(seed)))

    def adapter(self, pack_id: int) -> StoredAdapter | None:
        row = self.db.execute(
            "SELECT k.name, a.rows, a.cols, a.matrix, a.recognize, a.margin, a.trained_at, a.faces,"
            " a.decisions, a.seed FROM adapters a JOIN packs k ON k.id = a.pack_id"
            " WHERE a.pack_id = ?", (pack_id,)).fetchone()
        if row is None:
            return None
        pack, rows, cols, blob, *rest = row
        return StoredAdapter(pack, blob_to_embedding(blob).reshape(rows, cols), *rest)

    def adapters(self) -> list[StoredAdapter]:
        return [self.adapter(pack_id) for (pack_id,) in
                self.db.execute("SELECT pack_id FROM adapters ORDER BY pack_id")]

    def drop_adapter(self, pack_id: int) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM adapters WHERE pack_id = ?", (pack_id,)).rowcount > 0

    def decision_count(self, pack_id: int) -> int:
        """The user's names and rejections on the pack's faces."""
        return self.db.execute(
            "SELECT (SELECT count(*) FROM faces WHERE pack_id = ?1 AND person_id IS NOT NULL)"
            " + (SELECT count(*) FROM rejections r JOIN faces f ON f.id = r.face_id"
            " WHERE f.pack_id = ?1)", (pack_id,)).fetchone()[0]

    def _faces_where(self, condition: str, params) -> list[FaceInfo]:
        rows = self.db.execute(
            "SELECT f.id, p.path, f.x, f.y, f.w, f.h, f.cluster_id, f.person_id, u.name,"
            " f.person_source, a.name, f.auto_distance, f.photo_id, f.quality, f.clip_time"
            " FROM faces f JOIN photos p ON p.id = f.photo_id"
            " LEFT JOIN people u ON u.id = f.person_id LEFT JOIN people a ON a.id = f.auto_person_id"
            f" WHERE {condition} ORDER BY f.id",
            params,
        )
        return [
            FaceInfo(face_id, path, (x, y, w, h), cluster, person_id, user_name or auto_name,
                     source if user_name else ("auto" if auto_name else None), distance, photo_id,
                     quality, time)
            for face_id, path, x, y, w, h, cluster, person_id, user_name, source, auto_name,
            distance, photo_id, quality, time in rows
        ]
