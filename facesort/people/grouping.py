"""Faces → groups: pure functions over embeddings, no database.

HDBSCAN finds the dense groups and leaves the rest as noise ("unknown"). Two
measured additions make it usable on a real library:

- Refinement. HDBSCAN chains look-alikes into one group (on LFW with sc_dlib
  its BCubed precision is 0.91 at best). Each group is split again with
  average linkage at the pack's ``cluster`` distance, and members that end up
  alone go back to noise: precision 0.99.
- Blocks. HDBSCAN's time grows faster than linearly with the number of faces
  and with their dimension (10k faces at 128-d: ~15 s; 100k: over 7 minutes
  at 32-d). Large libraries are cut into blocks of about ``BLOCK_SIZE`` faces
  by k-means on a 32-d PCA projection and each block is clustered on its own,
  in parallel on every core.
- Merging and rescue. Groups of one person that HDBSCAN or the blocks kept
  apart are joined again, and unknown faces that clearly belong to a group
  join it, both at the pack's measured distances.

New faces need not cluster everything again (:func:`cluster_new_faces`): a
new face that clearly belongs to a group joins it, by the same measure as the
rescue, and only the blocks that received the other new faces are clustered
again.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass

import numpy as np

from facesort.people.gallery import group_means

BLOCK_SIZE = 2500
# Blocks up to this size may come out as one group (see _hdbscan_labels).
SMALL_BLOCK = 200
PCA_DIMENSIONS = 32
SELECTION_METHODS = ("eom", "leaf")
# Rows of embeddings handled at once where a whole pass would copy them all.
CHUNK_ROWS = 65536
PARALLEL_FROM_BLOCKS = 8
# Faces a block that k-means places the block centres with.
KMEANS_SAMPLE = 300
# Merging compares a group with the groups of the blocks nearest it, not all.
MERGE_BLOCKS = 5
# Close pairs of groups held before they are folded into a spanning forest.
MERGE_PAIRS_HELD = 1 << 22


@dataclass(frozen=True)
class ClusterParams:
    # Measured on the shared LFW data (bench/cluster_quality.py --sweep): with
    # refinement, min_samples=1 and "eom" give the best recall at precision
    # 0.99, and groups of two are worth naming.
    min_cluster_size: int = 2
    min_samples: int = 1
    selection: str = "eom"
    # Average-linkage distance that splits a group again; None skips it.
    refine_distance: float | None = None
    # Unknown faces join the group whose centroid is within this distance
    # (and ``rescue_margin`` nearer than the next group's); None skips it.
    rescue_distance: float | None = None
    rescue_margin: float = 0.0


@dataclass(frozen=True)
class Blocking:
    """How a large library is cut into blocks: a PCA projection and the
    k-means centres in it. Kept between runs, so that new faces go to the
    block they would have been in."""

    mean: np.ndarray  # (d,)
    components: np.ndarray  # (k, d)
    centres: np.ndarray  # (blocks, k)

    @classmethod
    def fit(cls, embeddings: np.ndarray) -> Blocking:
        from sklearn.cluster import KMeans
        from sklearn.exceptions import ConvergenceWarning

        # PCA from the covariance, summed chunk by chunk: no centred copy of
        # the embeddings is ever made.
        n, d = embeddings.shape
        mean = np.zeros(d)
        for start in range(0, n, CHUNK_ROWS):
            mean += embeddings[start:start + CHUNK_ROWS].sum(axis=0, dtype=np.float64)
        mean /= n
        covariance = np.zeros((d, d))
        for start in range(0, n, CHUNK_ROWS):
            part = embeddings[start:start + CHUNK_ROWS] - mean
            covariance += part.T @ part
        _, vectors = np.linalg.eigh(covariance)
        dims = min(PCA_DIMENSIONS, d)
        blocking = cls(mean.astype(np.float32), vectors[:, ::-1][:, :dims].T.astype(np.float32),
                       np.zeros((0, dims), np.float32))
        # k-means on a sample of KMEANS_SAMPLE faces a block: as even blocks as
        # MiniBatchKMeans over every face, in a third of its time at 300,000
        # faces; on LFW the same quality (BCubed P 0.998, F 0.971 full and
        # incremental; 100 faces a block gave F 0.969 full, 0.977 incremental).
        count = math.ceil(n / BLOCK_SIZE)
        sample = np.random.default_rng(0).choice(n, min(n, KMEANS_SAMPLE * count), replace=False)
        with warnings.catch_warnings():
            # Copies of photos give fewer distinct faces than blocks: fewer
            # blocks are fine, and sklearn's warning about it is noise to a user.
            warnings.simplefilter("ignore", ConvergenceWarning)
            kmeans = KMeans(n_clusters=count, random_state=0, n_init=1, max_iter=30).fit(
                blocking.project(embeddings[np.sort(sample)]))
        return cls(blocking.mean, blocking.components, kmeans.cluster_centers_.astype(np.float32))

    def project(self, embeddings: np.ndarray) -> np.ndarray:
        projected = np.empty((len(embeddings), len(self.components)), np.float32)
        for start in range(0, len(embeddings), CHUNK_ROWS):
            projected[start:start + CHUNK_ROWS] = (
                (embeddings[start:start + CHUNK_ROWS] - self.mean) @ self.components.T)
        return projected

    def assign(self, projected: np.ndarray) -> np.ndarray:
        """The block of each projected row: its nearest centre."""
        return self.nearest(projected, 1)[:, 0]

    def nearest(self, projected: np.ndarray, count: int) -> np.ndarray:
        """The ``count`` blocks whose centres are nearest each projected row, nearest first."""
        count = min(count, len(self.centres))
        found = np.empty((len(projected), count), np.int64)
        squared = (self.centres ** 2).sum(axis=1)
        for start in range(0, len(projected), CHUNK_ROWS):
            far = squared - 2 * projected[start:start + CHUNK_ROWS] @ self.centres.T
            if count == 1:
                found[start:start + CHUNK_ROWS, 0] = np.argmin(far, axis=1)
                continue
            some = np.argpartition(far, count - 1, axis=1)[:, :count]
            order = np.argsort(np.take_along_axis(far, some, axis=1), axis=1)
            found[start:start + CHUNK_ROWS] = np.take_along_axis(some, order, axis=1)
        return found

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, mean=self.mean, components=self.components, centres=self.centres)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Blocking:
        arrays = np.load(io.BytesIO(data))
        return cls(arrays["mean"], arrays["components"], arrays["centres"])


def members_of(labels: np.ndarray) -> list[np.ndarray]:
    """Row indices of each label 0..max, in one sort rather than one pass per label."""
    count = int(labels.max(initial=-1)) + 1
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    return [order[bounds[i]:bounds[i + 1]] for i in range(count)]


def _hdbscan_labels(points: np.ndarray, params: ClusterParams) -> np.ndarray:
    import hdbscan

    if len(points) < max(2, params.min_cluster_size):
        return np.full(len(points), -1)
    return hdbscan.HDBSCAN(
        min_cluster_size=params.min_cluster_size,
        min_samples=params.min_samples,
        cluster_selection_method=params.selection,
        # Prim's on a ball tree finds the same groups as the default Borůvka,
        # 3x faster on blocks of 2,500 faces at 32-d.
        algorithm="prims_balltree",
        # HDBSCAN never returns all its points as one group unless allowed,
        # so 13 photos of one person gave no group. In a small block the
        # refinement splits a single group into people again.
        allow_single_cluster=len(points) <= SMALL_BLOCK and params.refine_distance is not None,
        core_dist_n_jobs=1,
    ).fit_predict(points.astype(np.float64))


def _split(embeddings: np.ndarray, members: np.ndarray, distance: float, min_size: int) -> list[np.ndarray]:
    """Split one group by average linkage; parts smaller than ``min_size`` drop out."""
    if len(members) < 2:
        return []
    # scipy's linkage, not sklearn's AgglomerativeClustering: the same tree,
    # without a millisecond of checks per call (a million faces make 60,000 groups).
    from scipy.cluster.hierarchy import fcluster, linkage

    parts = fcluster(linkage(embeddings[members], method="average"), distance, criterion="distance")
    return [part for part in (members[p] for p in members_of(parts - 1)) if len(part) >= min_size]


def _cluster_block(points: np.ndarray, embeddings: np.ndarray, params: ClusterParams) -> list[np.ndarray]:
    """One block's groups, as row indices into the block."""
    labels = _hdbscan_labels(points, params)
    groups: list[np.ndarray] = []
    for members in members_of(labels):
        if params.refine_distance is None:
            groups.append(members)
        else:
            groups.extend(_split(embeddings, members, params.refine_distance, params.min_cluster_size))
    return groups


def _cluster_blocks(points: np.ndarray, embeddings: np.ndarray, blocks: list[np.ndarray],
                    params: ClusterParams) -> list[np.ndarray]:
    """The groups of every block, in parallel processes when there are several."""
    # Worker processes take seconds to start and import hdbscan: for a few
    # blocks one process is quicker.
    jobs = min(len(blocks) // PARALLEL_FROM_BLOCKS, os.cpu_count() or 1)
    if jobs <= 1:
        found = [_cluster_block(points[b], embeddings[b], params) for b in blocks]
    else:
        from joblib import Parallel, delayed

        found = Parallel(n_jobs=jobs)(delayed(_cluster_block)(points[b], embeddings[b], params)
                                      for b in blocks)
    return [block[group] for block, groups in zip(blocks, found) for group in groups]


def _finish(embeddings: np.ndarray, groups: list[np.ndarray], params: ClusterParams,
            fresh: int, rescue_rows: np.ndarray | None, blocking: Blocking | None,
            days: np.ndarray | None = None) -> np.ndarray:
    """Merge, label by size and rescue. Groups from ``fresh`` on are new ones:
    only they are compared with the others for merging (the rest were compared
    before); ``rescue_rows`` are the unknown faces worth trying (None: all)."""
    if params.refine_distance is not None and len(groups) > 1 and fresh < len(groups):
        groups = _merge_close_groups(embeddings, groups, params.refine_distance, fresh, blocking)
    groups.sort(key=len, reverse=True)
    result = np.full(len(embeddings), -1)
    for label, members in enumerate(groups):
        result[members] = label
    if params.rescue_distance is not None and groups:
        _rescue(embeddings, result, params.rescue_distance, params.rescue_margin, rescue_rows, days)
    return result


def cluster_embeddings(embeddings: np.ndarray, params: ClusterParams,
                       blocking: Blocking | None = None, days: np.ndarray | None = None) -> np.ndarray:
    """Labels 0..k-1 for the groups and -1 for unknown faces; rows are
    L2-normalised embeddings of one pack. Labels are ordered by group size.
    ``blocking`` cuts the faces into blocks; by default :func:`blocking_for`
    makes it, when there are more than ``BLOCK_SIZE``. ``days``: each face's
    capture time (NaN for none), for the rescue (people.timeline)."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    blocking = blocking or blocking_for(embeddings)
    if blocking is None:
        points, blocks = embeddings, [np.arange(len(embeddings))]
    else:
        points = blocking.project(embeddings)
        blocks = [b for b in members_of(blocking.assign(points)) if len(b)]
    groups = _cluster_blocks(points, embeddings, blocks, params)
    return _finish(embeddings, groups, params, 0, None, blocking, days)


def blocking_for(embeddings: np.ndarray) -> Blocking | None:
    """The blocks for a library this large; None when it is one block."""
    return Blocking.fit(embeddings) if len(embeddings) > BLOCK_SIZE else None


def cluster_new_faces(embeddings: np.ndarray, labels: np.ndarray, new: np.ndarray,
                      params: ClusterParams, blocking: Blocking | None,
                      days: np.ndarray | None = None) -> np.ndarray:
    """Labels after faces were added, given the groups of the others.

    ``labels`` are the groups so far (-1 unknown; new faces' are ignored) and
    ``new`` marks the new rows. A new face joins the group it clearly belongs
    to, by the rescue's distance and margin; the blocks that received the
    other new faces are clustered again, and their groups merged with the
    rest and rescued as in a full run. Labels are ordered by group size.
    """
    embeddings = np.asarray(embeddings, dtype=np.float32)
    labels = np.where(new, -1, labels)
    count = int(labels.max(initial=-1)) + 1
    new_rows = np.flatnonzero(new)
    if count and params.rescue_distance is not None and len(new_rows):
        _rescue(embeddings, labels, params.rescue_distance, params.rescue_margin, new_rows, days)
    unplaced = new_rows[labels[new_rows] < 0]
    touched = np.zeros(len(embeddings), bool)
    blocks: list[np.ndarray] = []
    if len(unplaced):
        if blocking is None:
            points, block_of = embeddings, np.zeros(len(embeddings), np.int64)
        else:
            points = blocking.project(embeddings)
            block_of = blocking.assign(points)
        touched = np.isin(block_of, np.unique(block_of[unplaced]))
        labels[touched] = -1
        blocks = [b for b in members_of(np.where(touched, block_of, -1)) if len(b)]
    kept = [members for members in members_of(labels) if len(members)]
    groups = kept + (_cluster_blocks(points, embeddings, blocks, params) if blocks else [])
    return _finish(embeddings, groups, params, len(kept), np.flatnonzero(touched | new), blocking, days)


def _merge_close_groups(embeddings: np.ndarray, groups: list[np.ndarray], distance: float,
                        fresh: int = 0, blocking: Blocking | None = None) -> list[np.ndarray]:
    """Join groups of one person that HDBSCAN, or k-means blocks, kept apart.

    Two groups join when the root-mean-square distance between their members
    is within ``distance``: for unit vectors that is sqrt(2 - 2 a.b) of the
    groups' (unnormalised) mean vectors, so it is cheap; and as it is never
    below the mean distance, parts that the refinement split stay split.
    On LFW: recall 0.78 → 0.79 at the same precision. Only pairs with a group
    from ``fresh`` on are compared. With ``blocking``, a group is compared
    only with the groups whose own block is among the MERGE_BLOCKS nearest
    it: all pairs grow with the square of the groups (4.4 s against 1.8 s
    at 300,000 faces), and two groups of one person sit near each other.
    """
    labels = np.full(len(embeddings), -1)
    for label, members in enumerate(groups):
        labels[members] = label
    means = group_means(embeddings, labels, len(groups)).astype(np.float32)
    # a.b >= 1 - distance²/2 is rms <= distance, without a square root per pair.
    least = 1.0 - distance ** 2 / 2
    count = len(groups)
    # Close pairs may be tens of millions (a block of look-alikes), so they
    # are kept as a spanning forest, at most one pair a group, once too many
    # pile up.
    close_rows, close_cols, held = [np.arange(count)], [np.arange(count)], count
    for rows, cols in _merge_candidates(means, fresh, blocking):
        found_rows, found_cols = np.nonzero(means[rows] @ means[cols].T >= least)
        close_rows.append(rows[found_rows])
        close_cols.append(cols[found_cols])
        held += len(found_rows)
        if held > MERGE_PAIRS_HELD:
            component = _components(count, close_rows, close_cols)
            close_rows, close_cols, held = [np.arange(count)], [_first_of_each(component)[component]], count
    component = _components(count, close_rows, close_cols)
    merged: dict[int, list[np.ndarray]] = {}
    for group, comp in zip(groups, component):
        merged.setdefault(comp, []).append(group)
    return [np.concatenate(parts) for parts in merged.values()]


def _components(count: int, rows: list[np.ndarray], cols: list[np.ndarray]) -> np.ndarray:
    """The connected component of each of ``count`` nodes, given pairs of them."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(count, count))
    return connected_components(graph, directed=False)[1]


def _first_of_each(component: np.ndarray) -> np.ndarray:
    """For each component, its first node."""
    return np.unique(component, return_index=True)[1]


def _merge_candidates(means: np.ndarray, fresh: int, blocking: Blocking | None):
    """(rows, columns) of group means to compare, in pieces of bounded size."""
    everyone = np.arange(len(means))
    if blocking is None or len(blocking.centres) <= MERGE_BLOCKS:
        step = max(1, (1 << 24) // len(means))
        for start in range(fresh, len(means), step):
            yield everyone[start:start + step], everyone
        return
    near = blocking.nearest(blocking.project(means), MERGE_BLOCKS)
    homes = members_of(near[:, 0])
    visits = members_of(near.ravel())
    for block, home in enumerate(homes):
        guests = visits[block] // MERGE_BLOCKS if block < len(visits) else everyone[:0]
        if len(home) == 0 or len(guests) == 0 or max(home.max(), guests.max()) < fresh:
            continue
        yield home, guests


def _rescue(embeddings: np.ndarray, labels: np.ndarray, distance: float, margin: float,
            rows: np.ndarray | None = None, days: np.ndarray | None = None) -> None:
    """Give unknown faces (of ``rows``, else all) to a group they clearly
    belong to, in place: one-to-K recognition against the groups' centroids,
    at the pack's strict distance. HDBSCAN leaves many real members as noise
    (on LFW: recall 0.79 → 0.83, precision 0.993 → 0.992). With capture
    dates, a group is seen through its faces nearest in time to the face's
    (people.timeline): a group may chain through a child's years."""
    from facesort.people import timeline
    from facesort.people.gallery import UNKNOWN, Gallery, recognize

    count = int(labels.max(initial=-1)) + 1
    candidates = np.arange(len(labels)) if rows is None else rows
    unknown = candidates[labels[candidates] < 0]
    if timeline.in_use(days):
        found = timeline.Timeline.of(embeddings, labels + 1, days, or_centroid=True).recognize(
            embeddings[unknown], days[unknown], distance, margin)
        chosen = found.person != UNKNOWN
        labels[unknown[chosen]] = found.person[chosen] - 1
        return
    centroids = group_means(embeddings, labels, count)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    found = recognize(embeddings[unknown], Gallery(np.arange(count), centroids.astype(np.float32)),
                      distance, margin)
    chosen = found.person != UNKNOWN
    labels[unknown[chosen]] = found.person[chosen]


def match_groups(labels: np.ndarray, previous: np.ndarray) -> dict[int, int]:
    """Keep group ids stable: new label → the previous group id that most of
    its (previously grouped) faces had, when that is a majority; each previous
    id goes to one new group at most, the one that kept most of its faces.
    ``previous`` holds each face's group id before, 0 for none."""
    previous = np.asarray(previous, dtype=np.int64)
    both = np.flatnonzero((labels >= 0) & (previous > 0))
    if len(both) == 0:
        return {}
    pairs, first, counts = np.unique(np.stack([labels[both], previous[both]], axis=1), axis=0,
                                     return_index=True, return_counts=True)
    grouped_before = np.bincount(labels[both])
    # Most votes first; among equal votes the pair met first, as Counter.most_common.
    order = np.lexsort((first, -counts))
    kept: dict[int, int] = {}
    taken: set[int] = set()
    for (label, old), count in zip(pairs[order].tolist(), counts[order].tolist()):
        if label in kept or old in taken or 2 * count <= grouped_before[label]:
            continue
        kept[label] = old
        taken.add(old)
    return kept
