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
  by k-means on a 32-d PCA projection and each block is clustered on its own.
- Merging and rescue. Groups of one person that HDBSCAN or the blocks kept
  apart are joined again, and unknown faces that clearly belong to a group
  join it, both at the pack's measured distances.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

BLOCK_SIZE = 2500
# Blocks up to this size may come out as one group (see _hdbscan_labels).
SMALL_BLOCK = 200
PCA_DIMENSIONS = 32
SELECTION_METHODS = ("eom", "leaf")


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


def _hdbscan_labels(points: np.ndarray, params: ClusterParams) -> np.ndarray:
    import hdbscan

    if len(points) < max(2, params.min_cluster_size):
        return np.full(len(points), -1)
    return hdbscan.HDBSCAN(
        min_cluster_size=params.min_cluster_size,
        min_samples=params.min_samples,
        cluster_selection_method=params.selection,
        # HDBSCAN never returns all its points as one group unless allowed,
        # so 13 photos of one person gave no group. In a small block the
        # refinement splits a single group into people again.
        allow_single_cluster=len(points) <= SMALL_BLOCK and params.refine_distance is not None,
        core_dist_n_jobs=1,
    ).fit_predict(points)


def _split(embeddings: np.ndarray, members: np.ndarray, distance: float, min_size: int) -> list[np.ndarray]:
    """Split one group by average linkage; parts smaller than ``min_size`` drop out."""
    if len(members) < 2:
        return []
    from sklearn.cluster import AgglomerativeClustering

    parts = AgglomerativeClustering(
        n_clusters=None, distance_threshold=distance, linkage="average"
    ).fit_predict(embeddings[members])
    return [members[parts == p] for p in np.unique(parts) if np.sum(parts == p) >= min_size]


def _blocks(embeddings: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The points HDBSCAN sees, and the blocks it sees them in."""
    if len(embeddings) <= BLOCK_SIZE:
        return embeddings, [np.arange(len(embeddings))]
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import PCA

    dims = min(PCA_DIMENSIONS, embeddings.shape[1])
    projected = PCA(n_components=dims, random_state=0).fit_transform(embeddings)
    n_blocks = math.ceil(len(embeddings) / BLOCK_SIZE)
    block_of = MiniBatchKMeans(n_clusters=n_blocks, random_state=0, n_init=3,
                               batch_size=4096).fit_predict(projected)
    return projected, [np.flatnonzero(block_of == b) for b in range(n_blocks)]


def cluster_embeddings(embeddings: np.ndarray, params: ClusterParams) -> np.ndarray:
    """Labels 0..k-1 for the groups and -1 for unknown faces; rows are
    L2-normalised embeddings of one pack. Labels are ordered by group size."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    points, blocks = _blocks(embeddings)
    groups: list[np.ndarray] = []
    for block in blocks:
        labels = _hdbscan_labels(points[block], params)
        for label in range(labels.max() + 1):
            members = block[labels == label]
            if params.refine_distance is None:
                groups.append(members)
            else:
                groups.extend(_split(embeddings, members, params.refine_distance,
                                     params.min_cluster_size))
    if params.refine_distance is not None and len(groups) > 1:
        groups = _merge_close_groups(embeddings, groups, params.refine_distance)
    groups.sort(key=len, reverse=True)
    result = np.full(len(embeddings), -1)
    for label, members in enumerate(groups):
        result[members] = label
    if params.rescue_distance is not None and groups:
        _rescue(embeddings, result, params.rescue_distance, params.rescue_margin)
    return result


def _merge_close_groups(embeddings: np.ndarray, groups: list[np.ndarray], distance: float) -> list[np.ndarray]:
    """Join groups of one person that HDBSCAN, or k-means blocks, kept apart.

    Two groups join when the root-mean-square distance between their members
    is within ``distance``: for unit vectors that is sqrt(2 - 2 a.b) of the
    groups' (unnormalised) mean vectors, so it is cheap; and as it is never
    below the mean distance, parts that the refinement split stay split.
    On LFW: recall 0.78 → 0.79 at the same precision.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    means = np.stack([embeddings[g].mean(axis=0) for g in groups])
    close_rows, close_cols = [], []
    for start in range(0, len(means), 2048):
        rms = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * (means[start:start + 2048] @ means.T)))
        rows, cols = np.nonzero(rms <= distance)
        close_rows.append(rows + start)
        close_cols.append(cols)
    rows, cols = np.concatenate(close_rows), np.concatenate(close_cols)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(groups),) * 2)
    _, component = connected_components(graph, directed=False)
    merged: dict[int, list[np.ndarray]] = {}
    for group, comp in zip(groups, component):
        merged.setdefault(comp, []).append(group)
    return [np.concatenate(parts) for parts in merged.values()]


def _rescue(embeddings: np.ndarray, labels: np.ndarray, distance: float, margin: float) -> None:
    """Give unknown faces to a group they clearly belong to, in place: one-to-K
    recognition against the groups' centroids, at the pack's strict distance.
    HDBSCAN leaves many real members as noise (on LFW: recall 0.79 → 0.83,
    precision 0.993 → 0.992)."""
    from facesort.recognize import UNKNOWN, Gallery, recognize

    groups = np.arange(labels.max() + 1)
    centroids = np.stack([embeddings[labels == g].mean(axis=0) for g in groups])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    unknown = np.flatnonzero(labels < 0)
    found = recognize(embeddings[unknown], Gallery(groups, centroids), distance, margin)
    chosen = found.person != UNKNOWN
    labels[unknown[chosen]] = found.person[chosen]


def match_groups(labels: np.ndarray, previous: list[int | None]) -> dict[int, int]:
    """Keep group ids stable: new label → the previous group id that most of
    its (previously grouped) faces had, when that is a majority; each previous
    id goes to one new group at most, the one that kept most of its faces."""
    votes: Counter[tuple[int, int]] = Counter()
    grouped_before: Counter[int] = Counter()
    for label, old in zip(labels, previous):
        if label >= 0 and old is not None:
            votes[(int(label), old)] += 1
            grouped_before[int(label)] += 1
    kept: dict[int, int] = {}
    taken: set[int] = set()
    for (label, old), count in votes.most_common():
        if label in kept or old in taken or 2 * count <= grouped_before[label]:
            continue
        kept[label] = old
        taken.add(old)
    return kept
