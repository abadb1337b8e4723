"""Capture time as evidence: a person is compared through their faces
nearest in time (a child at 9 against their photos at 7-11), not one
centroid of every age. Pure functions over embeddings and days.

Measured on dated family albums built from FG-NET (bench/family.py): with
every earlier face named right, the centroid names 20% of the later photos at
<= 1% wrong, the single nearest face 14%, the faces within two years 34%.
A face with no date, or a person with no dated face, is compared as before
(the person's centroid): libraries without dates see no change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facesort.people.gallery import CHUNK_CELLS, UNKNOWN, Gallery, Recognition, _distance

# False: time is ignored, as before (bench/family.py measures both ways).
TIME_AWARE = True
# A person's faces taken within this many days of a face stand for them.
WINDOW_DAYS = 2 * 365.25
# Where a person has no face within the window, their faces nearest in time
# do, and each year beyond the window adds this to the distance: two faces
# years apart need more evidence than two from the same month.
GAP_PENALTY = 0.03
# A group's anchor (cluster_run.auto_names) names a dated face only within
# this multiple of the recognition distance of the person's faces of its time
# (no gap penalty: the group is the evidence across time). Family albums,
# three batches: wrong automatic names 4 of 124 -> 3 of 108 (seed 1) and 6 of
# 123 -> 3 of 104 (seed 2). With the gap penalty in this check too: 1 of 67
# (1.0: 0 of 54), but a photo decades from the only named one (LFW's Colin
# Powell dated 1941 and 2008, tests/test_ages.py) was never named.
ANCHOR_REACH = 1.1
# ... and only when the anchor is also the person nearest the face in time,
# by at least this multiple of the pack's recognition margin (thresholds.margin,
# 0.2 for SFace) more than the next one: the group and the time-local evidence
# must agree. Family albums (bench/family.py --sweep-anchor-margin), three
# batches: wrong automatic names 3 of 108 -> 0 of 97 (seed 1), 3 of 104 ->
# 0 of 91 (seed 2); month by month with birth dates 4 of 243 -> 1 of 175.
ANCHOR_MARGIN = 0.75
# The gap counts up to this many years beyond the window: a photo decades
# from the only named ones is still named when it is close enough (0.24 more).
GAP_YEARS_COUNTED = 8
# Names chain through time (cluster_run.auto_names): the faces named in one
# round stand for their person in the next, up to this many rounds. Family
# albums (bench/family.py), new photos named automatically right / wrong,
# album 1 and 2: three batches 97/0 and 91/0 in one round, 131/0 and 122/0
# chained; month by month 196/6, 181/3 -> 262/8, 263/3. Taking the nearest
# faces first (the distance allowed growing in steps from 0.8 x) named fewer
# and no fewer wrongly.
CHAIN_ROUNDS = 10
# ... and a face named through the chain must be clearly nearest by this
# multiple of the pack's margin: LFW dated over ten years (bench/cluster_quality.py
# --years 10, sc_dlib), strangers given a name 1 in one round, 7 chained at
# the plain margin, 1 at 1.25x (887 named right against 838 in one round);
# family albums, three batches, 132 and 131 at the plain margin.
CHAIN_MARGIN = 1.25
# People each face is compared with in time: those whose centroid is nearest.
CANDIDATES = 16
CHUNK = 4096
# Julian days are below 1e7 (the year 22,000), so people 1e8 days apart never meet.
_PERSON_SPAN = 1e8


@dataclass(frozen=True)
class Timeline:
    """The faces standing for each person, sorted by person then day."""

    gallery: Gallery  # centroids of all the person's faces, for faces without a date
    starts: np.ndarray  # for gallery.person_ids[i]: their dated faces' rows starts[i]:ends[i]
    ends: np.ndarray
    days: np.ndarray  # (n,) Julian days + person index * _PERSON_SPAN: sorted
    faces: np.ndarray  # (n + 1, d) their embeddings in that order, and a zero row
    # Compare with the faces nearest in time or the centroid, whichever is
    # nearer (grouping's rescue: see grouping._rescue).
    or_centroid: bool = False

    @classmethod
    def of(cls, embeddings: np.ndarray, owners: np.ndarray, days: np.ndarray | None,
           or_centroid: bool = False) -> Timeline:
        """From faces (rows) and their owners (person or group id, <= 0 for none)."""
        gallery = Gallery.from_named(embeddings, owners)
        if days is None:
            days = np.full(len(owners), np.nan)
        dated = np.flatnonzero((owners > 0) & np.isfinite(days))
        order = dated[np.lexsort((days[dated], owners[dated]))]
        index = np.searchsorted(gallery.person_ids, owners[order])
        counts = np.bincount(index, minlength=len(gallery.person_ids))
        ends = np.cumsum(counts)
        starts = ends - counts
        # No running sums: at a million named faces they would cost twice the
        # embeddings' memory (float64); windows are summed when asked.
        faces = np.zeros((len(order) + 1, embeddings.shape[1]), np.float32)
        faces[:-1] = embeddings[order]
        # Each person's days lifted into a range of their own, so that one
        # sorted array answers every person's searches.
        keyed = days[order] + index * _PERSON_SPAN
        return cls(gallery, starts, ends, keyed, faces, or_centroid)

    def distances(self, queries: np.ndarray, days: np.ndarray, people: np.ndarray,
                  penalty: bool = True) -> np.ndarray:
        """Distance of each query row to each of its candidate people (indexes
        into gallery.person_ids, shape (n, c)) through their faces nearest in
        time, plus the gap penalty; the centroid where either side has no date."""
        result = distances_to(queries, self.gallery.centroids, people)
        flat_q, flat_c = np.nonzero(np.isfinite(days)[:, None] & (self.ends[people] > self.starts[people]))
        if not len(flat_q):
            return result
        person = people[flat_q, flat_c]
        t = days[flat_q]
        start, end = self.starts[person], self.ends[person]
        t = t + person * _PERSON_SPAN
        lo = np.searchsorted(self.days, t - WINDOW_DAYS, "left")
        hi = np.searchsorted(self.days, t + WINDOW_DAYS, "right")
        gap = np.zeros(len(t))
        empty = lo == hi
        if empty.any():
            # The faces nearest in time: within the gap to the nearest one and half a window.
            near = np.clip(lo[empty], start[empty], end[empty] - 1)
            before = np.clip(lo[empty] - 1, start[empty], end[empty] - 1)
            gap[empty] = np.minimum(np.abs(self.days[near] - t[empty]), np.abs(self.days[before] - t[empty]))
            reach = gap[empty] + WINDOW_DAYS / 2
            lo[empty] = np.searchsorted(self.days, t[empty] - reach, "left")
            hi[empty] = np.searchsorted(self.days, t[empty] + reach, "right")
        local = _window_sums(self.faces, lo, hi)
        local /= np.linalg.norm(local, axis=1, keepdims=True)
        d = np.linalg.norm(queries[flat_q] - local, axis=1)
        years_beyond = np.clip(gap - WINDOW_DAYS, 0, GAP_YEARS_COUNTED * 365.25) / 365.25
        local_d = d + GAP_PENALTY * years_beyond if penalty else d
        if self.or_centroid:
            local_d = np.minimum(local_d, result[flat_q, flat_c])
        result[flat_q, flat_c] = local_d
        return result

    def recognize(self, queries: np.ndarray, days: np.ndarray | None, distance: float,
                  margin: float) -> Recognition:
        """One-to-K recognition as gallery.recognize, each person seen
        through their faces nearest in time to the query's."""
        n, k = len(queries), len(self.gallery.person_ids)
        person = np.full(n, UNKNOWN, np.int64)
        nearest = np.full(n, UNKNOWN, np.int64)
        found = np.full(n, np.inf)
        runner_up = np.full(n, np.inf)
        second_person = np.full(n, UNKNOWN, np.int64)
        if days is None:
            days = np.full(n, np.nan)
        # At most CHUNK_CELLS query x person similarities at once (nearest_people):
        # grouping._rescue passes some 60,000 groups as people.
        chunk = min(CHUNK, max(1, CHUNK_CELLS // max(k, 1)))
        for start in range(0, n if k else 0, chunk):
            part = slice(start, min(start + chunk, n))
            candidates = nearest_people(queries[part], self.gallery.centroids, CANDIDATES)
            d = self.distances(queries[part], days[part], candidates)
            order = np.argsort(d, axis=1)
            rows = np.arange(len(d))
            first = d[rows, order[:, 0]]
            second = d[rows, order[:, 1]] if d.shape[1] > 1 else np.full(len(d), np.inf)
            if d.shape[1] > 1:
                second_person[part] = self.gallery.person_ids[candidates[rows, order[:, 1]]]
            best = self.gallery.person_ids[candidates[rows, order[:, 0]]]
            nearest[part] = best
            person[part] = np.where((first <= distance) & (second - first >= margin), best, UNKNOWN)
            found[part] = first
            runner_up[part] = second
        return Recognition(person, nearest, found, runner_up, second_person)


def _window_sums(faces: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The sum of rows lo:hi of ``faces`` for each window (lo < hi), in one
    reduceat over the windows ordered by start: the stretches between
    windows it also sums add up to one pass over ``faces`` at most."""
    order = np.argsort(lo, kind="stable")
    bounds = np.empty(2 * len(lo), np.int64)
    bounds[0::2], bounds[1::2] = lo[order], hi[order]
    sums = np.empty((len(lo), faces.shape[1]), np.float64)
    sums[order] = np.add.reduceat(faces, bounds, axis=0, dtype=np.float64)[0::2]
    return sums


def nearest_people(queries: np.ndarray, centroids: np.ndarray, count: int) -> np.ndarray:
    """For each query row, the indexes of its ``count`` nearest centroids."""
    if len(centroids) <= count:
        return np.tile(np.arange(len(centroids)), (len(queries), 1))
    return np.argpartition(-(queries @ centroids.T), count - 1, axis=1)[:, :count]


def distances_to(queries: np.ndarray, centroids: np.ndarray, people: np.ndarray) -> np.ndarray:
    """Distance of each query row to each of its candidate centroids (n, c)."""
    return _distance(np.einsum("nd,ncd->nc", queries, centroids[people]))


def in_use(days: np.ndarray | None) -> bool:
    """Whether time counts: switched on and some face has a date."""
    return TIME_AWARE and days is not None and bool(np.isfinite(days).any())

