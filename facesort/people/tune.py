"""Learning from the user's own decisions: a small adapter on the pack's frozen
embeddings, trained with FaceNet's triplet loss.

The adapter is one linear map ``W`` (d x d) applied to an embedding, followed
by L2 normalisation. It starts from the identity, so untrained it changes
nothing. It is trained on the faces the user named, with batch-hard mining
(FaceNet section 3.2, Hermans et al. 2017): in each mini-batch every named
face is an anchor with its hardest positive (the farthest face of the same
person) and its hardest negative (the nearest face of anyone else), never over
the whole set, where a mislabelled face would dominate. Faces the user
rejected from a person and faces sharing a photo with a named face (certainly
someone else) are always in the negative pool of that person.

It is kept only where it helps: part of the named faces (by photo) and some
named people (as strangers) are held out, and the adapter must give more right
names on them at no more wrong ones than the pack's embeddings alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from facesort.errors import FacesortError
from facesort.people.gallery import UNKNOWN, Gallery, recognize
from facesort.store import Store
from facesort.engine.thresholds import PackThresholds, thresholds_for

ALPHA = 0.2  # FaceNet's margin, on squared distances of unit vectors
# After this many new decisions (and 20% more than at training) 'cluster'
# suggests running 'tune' again.
RETUNE_GROWTH, RETUNE_MIN = 0.2, 50


@dataclass(frozen=True)
class Adapter:
    """A trained projection and the recognition thresholds measured with it:
    distances change scale, so the pack's own thresholds do not apply."""

    matrix: np.ndarray  # (d, d), float32
    recognize: float
    margin: float

    def apply(self, embeddings: np.ndarray) -> np.ndarray:
        if len(embeddings) == 0:
            return embeddings
        projected = embeddings.astype(np.float32) @ self.matrix
        norms = np.linalg.norm(projected, axis=1, keepdims=True)
        return (projected / np.maximum(norms, 1e-12)).astype(np.float32)

    def thresholds(self, pack: PackThresholds) -> PackThresholds:
        # Children's distance scaled as the recognition distance was.
        child = (pack.child_recognize * self.recognize / pack.recognize
                 if pack.child_recognize is not None and pack.recognize else pack.child_recognize)
        return replace(pack, recognize=self.recognize, margin=self.margin, child_recognize=child,
                       source=f"{pack.source}; adapter from 'facesort tune'")


# -- the loss ---------------------------------------------------------------------


def batch_hard(d2: np.ndarray, positive: np.ndarray, negative: np.ndarray,
               semi_hard: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each anchor row of ``d2`` (squared distances to every batch face):
    the hardest positive (farthest) and the hardest negative (nearest), or with
    ``semi_hard`` the nearest negative still farther than that positive
    (FaceNet's choice), falling back to the hardest. Returns (positive column,
    negative column, whether the anchor has both)."""
    far = np.where(positive, d2, -np.inf)
    pos = np.argmax(far, axis=1)
    near = np.where(negative, d2, np.inf)
    neg = np.argmin(near, axis=1)
    if semi_hard:
        d_ap = d2[np.arange(len(d2)), pos][:, None]
        semi = np.where(negative & (d2 > d_ap), d2, np.inf)
        has_semi = np.isfinite(semi).any(axis=1)
        neg = np.where(has_semi, np.argmin(semi, axis=1), neg)
    valid = positive.any(axis=1) & negative.any(axis=1)
    return pos, neg, valid


def triplet_loss(matrix: np.ndarray, x: np.ndarray, positive: np.ndarray, negative: np.ndarray,
                 alpha: float = ALPHA, semi_hard: bool = False) -> tuple[float, np.ndarray]:
    """FaceNet's loss, mean over the anchors of max(0, |a-p|^2 - |a-n|^2 + alpha),
    on L2-normalised ``x @ matrix``, with batch-hard mining; and its gradient
    in ``matrix``. The first ``len(positive)`` rows of ``x`` are the anchors."""
    z = x @ matrix
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    y = z / norms
    anchors = len(positive)
    d2 = 2.0 - 2.0 * (y[:anchors] @ y.T)
    pos, neg, valid = batch_hard(d2, positive, negative, semi_hard)
    rows = np.flatnonzero(valid)
    count = max(len(rows), 1)
    hinge = d2[rows, pos[rows]] - d2[rows, neg[rows]] + alpha
    active = rows[hinge > 0]
    loss = float(np.maximum(hinge, 0.0).sum() / count)
    # |y_i - y_j|^2 = 2 - 2 y_i.y_j, so d/dy_i = -2 y_j and d/dy_j = -2 y_i.
    gy = np.zeros_like(y)
    p, n = pos[active], neg[active]
    np.add.at(gy, active, (2.0 / count) * (y[n] - y[p]))
    np.add.at(gy, p, (-2.0 / count) * y[active])
    np.add.at(gy, n, (2.0 / count) * y[active])
    gz = (gy - y * np.sum(gy * y, axis=1, keepdims=True)) / norms  # through the normalisation
    return loss, x.T @ gz


# -- training -----------------------------------------------------------------------


@dataclass(frozen=True)
class TrainParams:
    steps: int = 300
    people_per_batch: int = 32
    faces_per_person: int = 4
    negatives_per_person: int = 4  # rejected and same-photo faces added per person
    learning_rate: float = 2e-3
    # Pull toward the identity: a few hundred faces must not move the whole space.
    decay: float = 1e-2
    semi_hard: bool = False
    seed: int = 0


def train(embeddings: np.ndarray, labels: np.ndarray, not_person: dict[int, np.ndarray],
          params: TrainParams = TrainParams(),
          step_done: Callable[[], None] | None = None) -> np.ndarray:
    """The adapter's matrix, from rows with ``labels`` > 0 (a named person) and,
    per person, the rows that are certainly not that person (``not_person``).
    Adam on mini-batches of P people x K faces; deterministic with the seed."""
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    # A mini-batch's products are too small for BLAS threads, which on a busy
    # 2-core machine made each step 20 times slower than one thread.
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(embeddings, labels, not_person, params, step_done)


def _train(embeddings: np.ndarray, labels: np.ndarray, not_person: dict[int, np.ndarray],
           params: TrainParams, step_done: Callable[[], None] | None) -> np.ndarray:
    d = embeddings.shape[1]
    rng = np.random.default_rng(params.seed)
    people, counts = np.unique(labels[labels > 0], return_counts=True)
    rows_of = {int(p): np.flatnonzero(labels == p) for p in people}
    anchors_from = people[counts >= 2]
    matrix = np.eye(d)
    if len(anchors_from) == 0 or len(people) < 2:
        return matrix.astype(np.float32)
    m, v = np.zeros_like(matrix), np.zeros_like(matrix)
    beta1, beta2 = 0.9, 0.999
    x_all = embeddings.astype(np.float64)
    for step in range(1, params.steps + 1):
        chosen = rng.choice(anchors_from, size=min(params.people_per_batch, len(anchors_from)),
                            replace=False)
        batch, batch_labels = [], []
        for person in chosen:
            rows = rows_of[int(person)]
            picked = rng.choice(rows, size=min(params.faces_per_person, len(rows)), replace=False)
            batch.extend(picked)
            batch_labels.extend([int(person)] * len(picked))
        if len(chosen) < 2:  # one person with faces to pair: others join as negatives only
            others = np.flatnonzero((labels > 0) & (labels != chosen[0]))
            picked = rng.choice(others, size=min(params.faces_per_person, len(others)), replace=False)
            batch.extend(picked)
            batch_labels.extend(labels[picked].tolist())
        extra, extra_not = [], []
        for person in chosen:
            pool = not_person.get(int(person))
            if pool is not None and len(pool):
                picked = rng.choice(pool, size=min(params.negatives_per_person, len(pool)),
                                    replace=False)
                extra.extend(picked)
                extra_not.extend([int(person)] * len(picked))
        lab = np.array(batch_labels)
        x = x_all[np.concatenate([batch, extra]).astype(np.int64)]
        positive = (lab[:, None] == lab[None, :]) & ~np.eye(len(lab), dtype=bool)
        negative = lab[:, None] != lab[None, :]
        if extra:
            positive = np.hstack([positive, np.zeros((len(lab), len(extra)), bool)])
            negative = np.hstack([negative, lab[:, None] == np.array(extra_not)[None, :]])
        _, grad = triplet_loss(matrix, x, positive, negative, semi_hard=params.semi_hard)
        grad += 2 * params.decay * (matrix - np.eye(d))
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad ** 2
        matrix -= params.learning_rate * (m / (1 - beta1 ** step)) / (np.sqrt(v / (1 - beta2 ** step)) + 1e-8)
        if step_done is not None:
            step_done()
    return matrix.astype(np.float32)


def certain_negatives(person_ids: np.ndarray, photo_ids: np.ndarray,
                      rejected_rows: list[tuple[int, int]]) -> dict[int, np.ndarray]:
    """Per person, the rows that are certainly someone else: faces the user
    rejected from them, and the other faces of every photo they are named in."""
    found: dict[int, set[int]] = {}
    for row, person in rejected_rows:
        found.setdefault(int(person), set()).add(int(row))
    by_photo: dict[int, list[int]] = {}
    for row, photo in enumerate(photo_ids):
        by_photo.setdefault(int(photo), []).append(row)
    for rows in by_photo.values():
        if len(rows) < 2:
            continue
        for row in rows:
            person = int(person_ids[row])
            if person > 0:
                found.setdefault(person, set()).update(r for r in rows if person_ids[r] != person)
    return {p: np.array(sorted(r), dtype=np.int64) for p, r in found.items() if r}


# -- measuring -----------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    right: int
    wrong: int
    unknown: int

    def as_dict(self) -> dict:
        return {"right": self.right, "wrong": self.wrong, "unknown": self.unknown}


def name_faces(gallery_x: np.ndarray, gallery_labels: np.ndarray, queries: np.ndarray,
               distance: float, margin: float) -> np.ndarray:
    """One-to-K recognition as automatic naming does it: a person or UNKNOWN."""
    return recognize(queries, Gallery.from_named(gallery_x, gallery_labels), distance, margin).person


def tally(named: np.ndarray, truth: np.ndarray) -> Tally:
    """``truth`` is 0 for a stranger, whose only right answer is unknown."""
    unknown = named == UNKNOWN
    right = ~unknown & (named == truth)
    return Tally(int(right.sum()), int((~unknown & ~right).sum()), int(unknown.sum()))


def calibrate(raw_gallery: np.ndarray, raw_queries: np.ndarray, new_gallery: np.ndarray,
              new_queries: np.ndarray, gallery_labels: np.ndarray, truth: np.ndarray,
              pack: PackThresholds) -> tuple[float, float]:
    """The adapter's recognize distance and margin: scaled so that as many
    face-to-wrong-person distances fall within them as within the pack's on
    its own embeddings (the same false-match rate), measured on the nearest
    impostors, where the threshold matters."""
    def impostors(gallery: np.ndarray, queries: np.ndarray) -> np.ndarray:
        g = Gallery.from_named(gallery, gallery_labels)
        d = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * queries @ g.centroids.T))
        return d[truth[:, None] != g.person_ids[None, :]]

    raw, new = impostors(raw_gallery, raw_queries), impostors(new_gallery, new_queries)
    if len(raw) == 0:
        return pack.recognize, pack.margin
    k = min(len(raw), max(int(np.sum(raw <= pack.recognize)), 20, len(raw) // 1000))
    nearest = lambda d: np.partition(d, k - 1)[:k].mean()  # noqa: E731
    ratio = float(nearest(new) / max(nearest(raw), 1e-6))
    return round(pack.recognize * ratio, 4), round(pack.margin * ratio, 4)


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # rows to learn from
    known: np.ndarray  # held-out rows of people in the gallery
    strangers: np.ndarray  # held-out rows of held-out people


def split(person_ids: np.ndarray, photo_ids: np.ndarray, seed: int, held_photos: float = 0.3,
          held_people: float = 0.2) -> Split:
    """Hold out a share of the photos (a photo's faces all on one side) and a
    share of the named people, whose held-out faces are strangers (open set)."""
    rng = np.random.default_rng(seed)
    people = np.unique(person_ids[person_ids > 0])
    strangers = set(rng.choice(people, size=int(len(people) * held_people), replace=False).tolist()) \
        if len(people) >= 5 else set()
    photos = np.unique(photo_ids[person_ids > 0])
    held = set(rng.choice(photos, size=int(round(len(photos) * held_photos)), replace=False).tolist())
    named = person_ids > 0
    in_held = np.array([int(p) in held for p in photo_ids])
    is_stranger = np.array([int(p) in strangers for p in person_ids])
    return Split(np.flatnonzero(named & ~in_held & ~is_stranger),
                 np.flatnonzero(named & in_held & ~is_stranger),
                 np.flatnonzero(named & in_held & is_stranger))


# -- the whole job ---------------------------------------------------------------------


@dataclass(frozen=True)
class TuneResult:
    faces: int  # named faces learned from
    people: int
    held_known: int
    held_strangers: int
    without: Tally
    with_adapter: Tally
    kept: bool
    adapter: Adapter
    seconds: float

    def as_dict(self) -> dict:
        return {"faces": self.faces, "people": self.people, "held_out_faces": self.held_known,
                "held_out_strangers": self.held_strangers, "without": self.without.as_dict(),
                "with_adapter": self.with_adapter.as_dict(), "kept": self.kept,
                "recognize": self.adapter.recognize, "margin": self.adapter.margin,
                "seconds": round(self.seconds, 2)}


MIN_FACES = 10


def learn(embeddings: np.ndarray, person_ids: np.ndarray, photo_ids: np.ndarray,
          rejected_rows: list[tuple[int, int]], pack: PackThresholds,
          params: TrainParams = TrainParams(),
          step_done: Callable[[], None] | None = None) -> TuneResult:
    """Train on part of the named faces, compare on the rest, keep if better."""
    started = time.perf_counter()
    parts = split(person_ids, photo_ids, params.seed)
    train_people = np.unique(person_ids[parts.train])
    if len(parts.train) < MIN_FACES or len(train_people) < 2 or len(parts.known) == 0:
        raise FacesortError(
            f"too few named faces to learn from ({int(np.sum(person_ids > 0))} named, of "
            f"{len(np.unique(person_ids[person_ids > 0]))} people; it needs {MIN_FACES} of two or "
            "more people besides the 30% of photos held out to check it): name more faces first")
    labels = np.zeros_like(person_ids)
    labels[parts.train] = person_ids[parts.train]
    in_train = np.zeros(len(person_ids), bool)
    in_train[parts.train] = True
    held_rows = np.concatenate([parts.known, parts.strangers])
    # Negatives come only from training photos, so nothing held out leaks in.
    train_photos = set(photo_ids[parts.train].tolist())
    usable = np.array([int(p) in train_photos for p in photo_ids])
    negatives = certain_negatives(np.where(usable, labels, -1), np.where(usable, photo_ids, -1),
                                  [(r, p) for r, p in rejected_rows if usable[r]])
    negatives = {p: rows[usable[rows] & (labels[rows] != p)] for p, rows in negatives.items()}
    matrix = train(embeddings, labels, negatives, params, step_done)
    adapter = Adapter(matrix, pack.recognize, pack.margin)
    truth = np.where(np.isin(person_ids[held_rows], train_people), person_ids[held_rows], 0)
    g_raw, q_raw = embeddings[parts.train], embeddings[held_rows]
    g_new, q_new = adapter.apply(g_raw), adapter.apply(q_raw)
    g_labels = person_ids[parts.train]
    recognize_at, margin = calibrate(g_raw, q_raw, g_new, q_new, g_labels, truth, pack)
    adapter = Adapter(matrix, recognize_at, margin)
    without = tally(name_faces(g_raw, g_labels, q_raw, pack.recognize, pack.margin), truth)
    with_adapter = tally(name_faces(g_new, g_labels, q_new, recognize_at, margin), truth)
    kept = with_adapter.right > without.right and with_adapter.wrong <= without.wrong
    return TuneResult(len(parts.train), len(train_people), len(parts.known), len(parts.strangers),
                      without, with_adapter, kept, adapter, time.perf_counter() - started)


# -- the library's adapter -------------------------------------------------------------


def adapter_for(store: Store, pack_id: int) -> Adapter | None:
    """The adapter 'facesort tune' kept for this pack, or None. It is stored
    per pack and never applied to another pack's faces."""
    stored = store.adapter(pack_id)
    if stored is None:
        return None
    return Adapter(stored.matrix, stored.recognize, stored.margin)


def tune_library(store: Store, pack_name: str, params: TrainParams = TrainParams(),
                 step_done: Callable[[], None] | None = None, dry_run: bool = False) -> TuneResult:
    """Learn from the user's decisions on ``pack_name``'s faces; keep the
    adapter in the library only if it helps (and not with ``dry_run``).
    Where it does not, an adapter kept before stays as it was."""
    pack = thresholds_for(pack_name)
    pack_id = store.find_pack(pack_name)
    if pack is None or pack_id is None:
        raise FacesortError(f"no measured thresholds for pack {pack_name!r}: there are no "
                            "automatic names to improve")
    data = store.grouping_input(pack_id)
    row_of = {int(face): row for row, face in enumerate(data.face_ids)}
    rejected = [(row_of[face], person) for face, person in store.rejected_pairs(pack_id)
                if face in row_of]
    decisions = store.decision_count(pack_id)
    result = learn(data.embeddings, data.person_ids, data.photo_ids, rejected, pack, params, step_done)
    if result.kept and not dry_run:
        store.save_adapter(pack_id, result.adapter.matrix, result.adapter.recognize,
                           result.adapter.margin, result.faces, decisions, params.seed)
    return result


def new_decisions(store: Store, pack_id: int) -> int | None:
    """The decisions made since the pack's adapter was trained, when there are
    enough of them (20% more, and at least 50) that training again is worth it."""
    stored = store.adapter(pack_id)
    if stored is None:
        return None
    grown = store.decision_count(pack_id) - stored.decisions
    return grown if grown >= max(RETUNE_MIN, RETUNE_GROWTH * stored.decisions) else None
