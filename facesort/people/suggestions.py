"""Naming a whole library with few decisions: suggestions, review and split.

- Suggestions: the unnamed groups near a named person ("Also Alice?"), and
  pairs of named people who may be one. A person is compared through up to
  ``EXEMPLARS`` of the faces the user gave them, spread over capture time, so
  a child photographed over years is matched at every age; a group through
  its best faces. Distances are the pack's measured ones (thresholds.py): a
  pack without thresholds gets no suggestions.
- Review: automatic names, least certain first, settled a page at a time.
- Split: one person's faces grouped again (SPLIT_RULES), for look-alikes
  that grouping or the user merged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from facesort.people import decisions
from facesort.people.cluster_run import require_pack
from facesort.errors import FacesortError
from facesort.scanning.quality import POOR, best_first
from facesort.people.gallery import CHUNK_CELLS, UNKNOWN, Gallery, distances, recognize
from facesort.store import ClusterSummary, FaceInfo, Person, Store, equal_runs
from facesort.engine.thresholds import PackThresholds, thresholds_for

# Faces that stand for a person: enough to cover the ages of a child, few
# enough that a library with hundreds of people compares in milliseconds.
EXEMPLARS = 16
# Faces that stand for a group, best first.
GROUP_FACES = 16
# Where split cuts a person's faces (average linkage between parts), by rule;
# "default" is what `facesort split` uses. bench/split_default.py on 40 LFW
# people with 14-22 photos each, alone and mixed with their nearest look-alike
# (11 + 11 faces), sc_dlib / yunet_sface:
#   fraction: one person in 1-2 parts 0/40 / 3/40 (median 12 / 7 parts), pairs apart 17/40 / 20/40
#   cluster:  7/40 / 33/40, pairs apart 28/40 / 31/40
#   midway:   38/40 / 40/40 (worst 3 / 2 parts), pairs apart 40/40 / 40/40, parts pure
#   verify:   40/40 / 40/40, pairs apart 20/40 / 37/40 (BCubed precision 0.75 / 0.96)
SPLIT_RULES = {
    "fraction": lambda t: 0.8 * t.cluster,
    "cluster": lambda t: t.cluster,
    "midway": lambda t: (t.cluster + t.verify) / 2,
    "verify": lambda t: t.verify,
}
SPLIT_RULES["default"] = SPLIT_RULES["midway"]
# Groups this small (a stranger met once or twice, most of them) are shown a
# page at a time, so one answer ignores a page of strangers instead of one
# answer each. Six groups, lettered a to f, fit a terminal's preview and
# leave i, x and q free as answers.
SMALL_GROUP = 3
GROUP_PAGE = 6


@dataclass(frozen=True)
class GroupSuggestion:
    group: int
    person: Person
    distance: float  # median over the group's faces of the distance to the nearest exemplar
    faces: int


@dataclass(frozen=True)
class PeopleSuggestion:
    first: Person
    second: Person
    distance: float


def spread_over_time(rows: np.ndarray, rank: np.ndarray, count: int = EXEMPLARS) -> np.ndarray:
    """``count`` of ``rows`` (a person's faces, oldest first) spread over
    capture time: the rows cut into ``count`` runs, and the best of each run
    (the lowest ``rank``)."""
    if len(rows) <= count:
        return rows
    return np.array([run[np.argmin(rank[run])] for run in np.array_split(rows, count)])


def suggestion_distance(thresholds: PackThresholds) -> float:
    """The pack's measured ``suggest`` distance; else just beyond the pack's
    cluster distance: a group of a named person that grouping kept apart is,
    by construction, a little farther than that from the person's faces, while strangers are many and spread up to the
    verification distance and beyond. A quarter of the way from the cluster
    to the verification distance (and, in group_suggestions, half the pack's
    recognition margin nearer than to anyone else named). On the LFW album
    after naming half its groups: sc_dlib (0.353) 38 offers of which 6 right,
    19 with the margin, where the verification distance would make 346 offers
    of which 7 right; sc_sface (1.043) 15 offers, 6 with the margin, 1 right
    (the only group left that was a named person; 353 offers at the
    verification distance). With sc_dlib a second group of Tony Blair is
    0.338 from him."""
    if thresholds.suggest is not None:
        return thresholds.suggest
    return thresholds.cluster + 0.25 * (thresholds.verify - thresholds.cluster)


def _gallery(store: Store, pack_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exemplar embeddings, their person ids and capture days (NaN for
    none), each person's in one run of rows: up to EXEMPLARS of the faces
    the user gave each person, spread over time, judgeable ones where the
    person has any."""
    owners, face_ids, quality, days = store.named_faces_by_time(pack_id)
    if not len(owners):
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64), np.zeros(0)
    # Best first: the highest quality (0.5 when never scored), then the oldest face id.
    rank = np.empty(len(owners), np.int64)
    rank[np.lexsort((face_ids, -np.where(np.isnan(quality), 0.5, quality)))] = np.arange(len(owners))
    judgeable = ~(quality < POOR)  # never scored counts as judgeable
    chosen = []
    for start, end in zip(*equal_runs(owners)):
        rows = np.arange(start, end)
        chosen.append(spread_over_time(rows[judgeable[rows]] if judgeable[rows].any() else rows, rank))
    rows = np.concatenate(chosen)
    embeddings = store.embeddings_of(face_ids[rows])
    return (np.stack([embeddings[face_id] for face_id in face_ids[rows].tolist()]), owners[rows],
            days[rows])


@dataclass(frozen=True)
class _Nearness:
    group: int
    faces: int
    people: np.ndarray  # the named people nearest it (CANDIDATES), by id
    distance: np.ndarray  # for each of them: the median face's distance to their nearest exemplar
    automatic: int | None  # the person the next cluster run would name most of its faces


def _recognition_space(store: Store, pack_id: int, thresholds: PackThresholds):
    """How suggestions see faces: through the adapter 'facesort tune' kept,
    as automatic names do, with every distance scaled as its recognition
    distance was; or as the pack made them."""
    from facesort.people.tune import adapter_for

    adapter = adapter_for(store, pack_id)
    if adapter is None:
        return (lambda embeddings: embeddings), thresholds
    scale = adapter.recognize / thresholds.recognize
    suggest = None if thresholds.suggest is None else thresholds.suggest * scale
    return adapter.apply, replace(adapter.thresholds(thresholds), verify=thresholds.verify * scale,
                                  cluster=thresholds.cluster * scale, suggest=suggest)


# People each group is compared with face by face: those whose centroid is
# nearest the group's. All faces against all exemplars took 4 s a call with
# 1,100 people and 1,100 unnamed groups (100,000 faces); a person outside a
# group's 8 nearest centroids is never within suggestion distance of it.
CANDIDATES = 8


def _nearness(store: Store, pack_id: int, space, thresholds: PackThresholds) -> list[_Nearness]:
    """Each unnamed group's distance to its candidate people, and the person
    the next cluster run would name it, seen through ``space`` at its
    ``thresholds`` (_recognition_space)."""
    from facesort.people import timeline

    vectors, owners, days = _gallery(store, pack_id)
    vectors = space(vectors)
    if not len(owners):
        return []
    # With dates, the next cluster run names a group's faces through each
    # person's faces nearest in time (people.timeline): so does this look.
    in_time = timeline.Timeline.of(vectors, owners, days) if timeline.in_use(days) else None
    starts, ends = equal_runs(owners)
    person_ids = owners[starts]
    centroids = _normalised(np.add.reduceat(vectors, starts, axis=0))
    groups = store.unnamed_groups(pack_id)
    if not groups:
        return []
    groups = [replace(g, embeddings=space(g.embeddings)) for g in groups]
    candidates = _nearest_centroids(
        _normalised(np.stack([g.embeddings[:GROUP_FACES].mean(axis=0) for g in groups])), centroids)
    found = []
    for group, near in zip(groups, candidates):
        gallery = Gallery(person_ids[near], centroids[near])
        if in_time is not None and timeline.in_use(group.days):
            mine = in_time.recognize(group.embeddings, group.days, thresholds.recognize,
                                     thresholds.margin).person
        else:
            mine = recognize(group.embeddings, gallery, thresholds.recognize, thresholds.margin).person
        votes = Counter(mine[mine != UNKNOWN].tolist()).most_common(1)
        automatic = votes[0][0] if votes and 2 * votes[0][1] >= len(mine) else None
        # Each face's distance to each candidate's nearest exemplar; the median face decides.
        rows = np.concatenate([np.arange(starts[c], ends[c]) for c in near])
        face_to_exemplar = distances(group.embeddings[:GROUP_FACES], vectors[rows])
        runs = np.cumsum([0] + [ends[c] - starts[c] for c in near[:-1]])
        per_person = np.median(np.minimum.reduceat(face_to_exemplar, runs, axis=1), axis=0)
        found.append(_Nearness(group.id, len(group.face_ids),
                               gallery.person_ids, per_person, automatic))
    return found


def _normalised(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _nearest_centroids(queries: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """For each query row, the indexes of its CANDIDATES nearest centroids."""
    if len(centroids) <= CANDIDATES:
        return np.tile(np.arange(len(centroids)), (len(queries), 1))
    chunk = max(1, CHUNK_CELLS // len(centroids))
    return np.concatenate([
        np.argpartition(-(queries[start:start + chunk] @ centroids.T), CANDIDATES - 1, axis=1)[:, :CANDIDATES]
        for start in range(0, len(queries), chunk)])


@dataclass(frozen=True)
class Outlook:
    """What `facesort name` needs after each answer, from one look at the
    library: reading every named person's exemplars and every unnamed group
    is most of the cost of either half (2.6 s at a million faces)."""

    offers: list[GroupSuggestion]  # nearest first
    later: set[int]  # unnamed groups most of whose faces the next cluster run names


def outlook(store: Store, pack_name: str, person: Person | None = None,
            skip: Iterable[tuple[int, int]] = ()) -> Outlook:
    """The offers of :func:`group_suggestions` and the unnamed groups the
    next cluster run names anyway (recognition against the people named so
    far): `facesort name` shows those last, and never offers them."""
    thresholds = thresholds_for(pack_name)
    pack_id = require_pack(store, pack_name)
    if thresholds is None:
        return Outlook([], set())
    space, seen = _recognition_space(store, pack_id, thresholds)
    nearness = _nearness(store, pack_id, space, seen)
    return Outlook(_offers(store, pack_id, seen, nearness, person, skip),
                   {near.group for near in nearness if near.automatic is not None})


def group_suggestions(store: Store, pack_name: str, person: Person | None = None,
                      skip: Iterable[tuple[int, int]] = ()) -> list[GroupSuggestion]:
    """Unnamed groups that may be a named person (``person``, or each group's
    nearest), nearest first. Never a pair the user refused or skipped, nor a
    group with a face in a photo where that person already is, nor a group
    the next cluster run names that person anyway (asking would cost an
    answer for nothing)."""
    return outlook(store, pack_name, person, skip).offers


def _offers(store: Store, pack_id: int, seen: PackThresholds, nearness: list[_Nearness],
            person: Person | None, skip: Iterable[tuple[int, int]]) -> list[GroupSuggestion]:
    """The offers among ``nearness``, at the thresholds it was seen with."""
    refused = store.refusals() | set(skip)
    beside: dict[int, set[int]] = {}  # group → people in its photos, read for the few within reach
    names = {p.id: p for p in store.people()}
    born = store.birth_dates()
    limit = suggestion_distance(seen)
    found = []
    for near in nearness:
        order = np.argsort(near.distance)
        for rank, index in enumerate(order):
            person_id, distance = int(near.people[index]), float(near.distance[index])
            if distance > limit:
                break
            if ((person is not None and person_id != person.id) or (near.group, person_id) in refused
                    or near.automatic == person_id):
                continue
            if near.group not in beside:
                beside[near.group] = store.people_beside_group(near.group, pack_id)
            if person_id in beside[near.group] or _before_birth(store, near.group, born.get(person_id)):
                continue
            # Clearly nearer to this person than to anyone else named: look-alike
            # strangers sit between several people.
            others = near.distance[np.delete(order, rank)]
            if len(others) and others.min() - distance < seen.margin / 2:
                break
            found.append(GroupSuggestion(near.group, names[person_id], round(distance, 4), near.faces))
            break
    return sorted(found, key=lambda s: (s.distance, s.group))


def _before_birth(store: Store, group: int, born: str | None) -> bool:
    """Whether a face of ``group`` is in a photo taken before ``born``."""
    if born is None:
        return False
    return bool(decisions.faces_before_birth(store, (face.id for face in store.faces_in_cluster(group)), born))


def next_to_name(remaining: Sequence[ClusterSummary], later: set[int]) -> list[ClusterSummary]:
    """What `facesort name` shows next from ``remaining`` (largest first): the
    largest group, or, once only small groups are left, a page of them.
    Groups the next cluster run names anyway (``later``) come last: an
    answer spent on them names nobody new."""
    ordered = sorted(remaining, key=lambda c: c.id in later)
    first = ordered[0]
    if first.faces > SMALL_GROUP:
        return [first]
    return [c for c in ordered
            if c.faces <= SMALL_GROUP and (c.id in later) == (first.id in later)][:GROUP_PAGE]


def people_suggestions(store: Store, pack_name: str) -> list[PeopleSuggestion]:
    """Pairs of named people who may be one person, nearest first: their
    exemplars' centroids within the pack's recognition distance (centroids
    are steadier than single faces, so the strict distance), and never two
    people named in one photo."""
    thresholds = thresholds_for(pack_name)
    pack_id = require_pack(store, pack_name)
    if thresholds is None:
        return []
    vectors, owners, _ = _gallery(store, pack_id)
    if len(owners) < 2:
        return []
    space, thresholds = _recognition_space(store, pack_id, thresholds)
    vectors = space(vectors)
    starts, _ = equal_runs(owners)
    person_ids = owners[starts]
    if len(person_ids) < 2:
        return []
    centroids = _normalised(np.add.reduceat(vectors, starts, axis=0))
    d = distances(centroids, centroids)
    photos_of: dict[int, set[int]] = {}  # read for the few close pairs only
    names = {p.id: p for p in store.people()}
    found = []
    for i, j in zip(*np.nonzero(np.triu(d <= thresholds.recognize, k=1))):
        a, b = int(person_ids[i]), int(person_ids[j])
        for someone in (a, b):
            if someone not in photos_of:
                photos_of[someone] = store.photos_of_person(someone, pack_id)
        if photos_of[a] & photos_of[b]:
            continue
        found.append(PeopleSuggestion(names[a], names[b], round(float(d[i, j]), 4)))
    return sorted(found, key=lambda s: s.distance)


def accept_suggestion(store: Store, suggestion: GroupSuggestion) -> decisions.Naming:
    """"Also Alice?" answered yes: the user's own decision, as naming the group."""
    return decisions.name_group(store, suggestion.group, suggestion.person.name)


def refuse_suggestion(store: Store, suggestion: GroupSuggestion) -> None:
    """Answered no: that group is never offered as that person again."""
    store.refuse(suggestion.group, suggestion.person.id)


# -- review ---------------------------------------------------------------------------


def review_queue(store: Store, pack_name: str, name: str | None = None) -> list[FaceInfo]:
    """The automatic names to review (of one person, or everyone's), least certain first."""
    pack_id = require_pack(store, pack_name)
    person = decisions.find_person(store, name) if name else None
    return store.auto_named(pack_id, person.id if person else None)


def settle_page(store: Store, page: Sequence[FaceInfo], wrong: Iterable[int] = ()) -> tuple[int, int]:
    """The user's answer on a page: the faces in ``wrong`` (face ids) are not
    their person, for good; the rest are, as the user's own decisions.
    Returns (accepted, rejected)."""
    wrong = set(wrong) & {face.id for face in page}
    by_person: dict[str, tuple[list[int], list[int]]] = {}
    for face in page:
        accepted, rejected = by_person.setdefault(face.person, ([], []))
        (rejected if face.id in wrong else accepted).append(face.id)
    for name, (accepted, rejected) in by_person.items():
        person = store.find_person(name)
        store.reject(rejected, person.id)
        store.set_person(accepted, person.id)
    return len(page) - len(wrong), len(wrong)


# -- split ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    faces: list[FaceInfo]  # best first
    years: list[str]  # capture years, oldest first


def split_labels(points: np.ndarray, thresholds: PackThresholds | None, rule: str = "default",
                 parts: int | None = None) -> np.ndarray:
    """Part labels of one person's faces by average linkage: into ``parts``
    groups, or cut at the distance ``rule`` names (SPLIT_RULES)."""
    from sklearn.cluster import AgglomerativeClustering

    if parts is not None:
        model = AgglomerativeClustering(n_clusters=min(parts, len(points)), linkage="average")
    else:
        model = AgglomerativeClustering(n_clusters=None, linkage="average",
                                        distance_threshold=SPLIT_RULES[rule](thresholds))
    return model.fit_predict(points)


def split_person(store: Store, pack_name: str, name: str, parts: int | None = None) -> tuple[Person, list[Part]]:
    """A person's faces (the user's and automatic) grouped again by average
    linkage: into ``parts`` groups, or at SPLIT_RULES' default distance.
    Largest part first."""
    pack_id = require_pack(store, pack_name)
    person = decisions.find_person(store, name)
    faces = store.faces_of_person(person.id, pack_id)
    if len(faces) < 2:
        return person, [Part(faces, [])] if faces else []
    thresholds = thresholds_for(pack_name)
    if parts is None and thresholds is None:
        raise FacesortError(
            f"no measured distances for pack {pack_name!r}: say how many parts with --parts")
    vectors = store.embeddings_of(f.id for f in faces)
    labels = split_labels(np.stack([vectors[f.id] for f in faces]), thresholds, parts=parts)
    years = store.capture_years([f.id for f in faces])
    result = []
    for label in np.unique(labels):
        members = [f for f, lab in zip(faces, labels) if lab == label]
        result.append(Part(best_first(members),
                           sorted({years[f.id] for f in members if years.get(f.id)})))
    result.sort(key=lambda p: -len(p.faces))
    return person, result


def move_part(store: Store, part: Part, name: str) -> Person:
    """Give a part to another person (created if new), as the user's decision."""
    return decisions.assign(store, [f.id for f in part.faces], name)


def reject_part(store: Store, part: Part, person: Person) -> int:
    """Take a part away from ``person``, for good."""
    store.reject([f.id for f in part.faces], person.id)
    return len(part.faces)
