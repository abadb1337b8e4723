"""A cluster run: group the pack's faces, keep group ids and ignored groups
where membership persists, and name faces automatically from the people the
user named (``auto_names``).

Automatic names are stored apart from the user's decisions and recomputed from
them on every run; a run never overwrites a decision.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Callable

from facesort.errors import FacesortError
from facesort.people.ages import before_birth, is_child
from facesort.store import ClusterRun, GroupingInput, NewCluster, Store
from facesort.engine.thresholds import PackThresholds, thresholds_for

# numpy and the clustering modules are imported by the functions that group
# faces: listing people and groups starts without them.
if TYPE_CHECKING:
    import numpy as np

    from facesort.people.grouping import ClusterParams


@dataclass(frozen=True)
class ClusterReport:
    faces: int
    groups: int
    grouped_faces: int
    unknown_faces: int
    ignored_groups: int
    kept_group_ids: int
    named_people: int
    auto_named_faces: int
    group_sizes: list[int]
    seconds: float
    thresholds: str | None
    run: str  # full, incremental (only new faces and changes), or unchanged
    new_faces: int

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


def require_pack(store: Store, pack_name: str) -> int:
    pack_id = store.find_pack(pack_name)
    if pack_id is None:
        known = ", ".join(store.pack_names()) or "none yet"
        raise FacesortError(
            f"no faces from model pack {pack_name!r} in the library (packs: {known}); "
            "run 'facesort scan' with it first"
        )
    return pack_id


def auto_names(data: GroupingInput, labels: np.ndarray, thresholds: PackThresholds,
               rejected: set[tuple[int, int]], excluded: np.ndarray,
               allowed: Callable[[list[tuple[int, int, float]]], list[tuple[int, int, float]]] | None = None,
               ) -> list[tuple[int, int, float]]:
    """Automatic ``(face, person, distance)`` for the faces the user has not
    decided, from the people the user named.

    Two sources, both FaceNet's one-to-K recognition at heart:
    - a face within the recognition threshold of one named person's centroid
      (and clearly nearer to it than to anyone else's) gets that person;
    - named faces anchor their group: when all the user-named faces of a group
      are one person, its other faces get that person too. Groups are refined
      to about 0.99 precision, and this is what makes one named face enough.
    With capture dates (people.timeline), a person is seen through their faces
    nearest in time to each face, and a group's anchor names only the faces
    within reach of those: babies crowd together, and groups there mix children.
    Names then chain through time (timeline.CHAIN_ROUNDS): the faces named in
    one round stand for their person in the next, so a child named at 5 is
    recognised at 6, then at 7, where a single comparison with the photos at 5
    could not. A face that recognition gives to someone else than its group's
    anchor gets no name, and a name recognition takes from the user's photos
    alone must also be clear of every group nobody named (UNNAMED_MARGIN).
    Never given: a person the user rejected for that face,
    a person already named in the same photo, one person to two faces of one
    photo (the nearest face wins), or a name that ``allowed`` (the birth dates)
    drops: a dropped name is never evidence for the next.
    """
    import numpy as np

    from facesort.people import timeline

    allowed = allowed or (lambda names: names)
    evidence = data.person_ids.copy()
    examine = (evidence == 0) & ~excluded
    # A group's anchor: the user's names only, the same in every round.
    anchor = anchors(labels, data.person_ids)
    given: list[tuple[int, int, float]] = []
    limits = thresholds
    # The first round's names, the ones taken from the user's photos alone,
    # must also be clear of the groups nobody named (UNNAMED_MARGIN); the
    # chain's steps need its own margin only: one child's photos of later
    # years often stand apart in groups of their own, and would stop it.
    unnamed = np.where((evidence == 0) & (labels >= 0) & (anchor == 0), labels + 1, 0)
    for _ in range(timeline.CHAIN_ROUNDS if timeline.in_use(data.days) else 1):
        names, rows, watched = _names_from(data, evidence, anchor, unnamed, limits, rejected, examine)
        unnamed = None
        names = allowed(names)
        if not names:
            break
        given += names
        named, _ = _rows_of(data.face_ids, [face for face, _, _ in names])
        gained = np.unique([person for _, person, _ in names])
        evidence[named] = [person for _, person, _ in names]
        # A face's answer changes when its nearest or next person gains faces
        # of its time; the others are not compared again.
        examine[:] = False
        examine[rows[np.isin(watched, gained).any(axis=1)]] = True
        examine &= evidence == 0
        limits = replace(thresholds, margin=timeline.CHAIN_MARGIN * thresholds.margin)
    return given


def _names_from(data: GroupingInput, evidence: np.ndarray, anchor: np.ndarray, unnamed: np.ndarray | None,
                thresholds: PackThresholds, rejected: set[tuple[int, int]], examine: np.ndarray,
                ) -> tuple[list[tuple[int, int, float]], np.ndarray, np.ndarray]:
    """One round of ``auto_names``: names for the faces to ``examine``, from
    ``evidence`` (the user's names and the automatic names given so far, 0
    for none), each face's group ``anchor`` (0 for none) and, when given,
    the groups a name by recognition must be clear of (``unnamed``: their
    undecided faces' group + 1, else 0); with the rows examined and each
    one's nearest two people."""
    import numpy as np

    from facesort.people.gallery import UNKNOWN, Gallery, recognize

    from facesort.people import timeline

    timed = timeline.in_use(data.days)
    if timed:
        people = timeline.Timeline.of(data.embeddings, evidence, data.days)
        gallery = people.gallery
    else:
        gallery = Gallery.from_named(data.embeddings, evidence)
    open_faces = np.flatnonzero(examine)
    if len(gallery.person_ids) == 0 or len(open_faces) == 0:
        return [], open_faces, np.zeros((len(open_faces), 2), np.int64)
    if timed:
        found = people.recognize(data.embeddings[open_faces], data.days[open_faces],
                                 thresholds.recognize, thresholds.margin)
        watched = np.stack([found.nearest, found.second], axis=1)
    else:
        found = recognize(data.embeddings[open_faces], gallery, thresholds.recognize, thresholds.margin)
        watched = np.zeros((len(open_faces), 2), np.int64)
    anchor = anchor[open_faces]
    anchored = anchor > 0
    disagrees = anchored & (found.person != UNKNOWN) & (found.person != anchor)
    person = np.where(anchored, anchor, found.person)
    person[disagrees] = UNKNOWN
    distance = found.distance.copy()
    by_anchor = anchored & ~disagrees
    if timed:
        # Where faces crowd together (babies), a group may hold two children:
        # its anchor names a face only within reach of the person's own faces
        # of that time (timeline.ANCHOR_REACH).
        rows = np.flatnonzero(by_anchor)
        # The group is the evidence across time here: no gap penalty.
        distance[rows] = people.distances(
            data.embeddings[open_faces[rows]], data.days[open_faces[rows]],
            np.searchsorted(gallery.person_ids, anchor[rows])[:, None], penalty=False)[:, 0]
        # ... and only when the person nearest in time is the anchor, clearly
        # (timeline.ANCHOR_MARGIN): a group holding two children agrees with
        # the faces of time only for the child it was named after. `found`
        # already compared these faces with the same people on the same days.
        clear = ((found.nearest[rows] == anchor[rows])
                 & (found.runner_up[rows] - found.distance[rows]
                    >= timeline.ANCHOR_MARGIN * thresholds.margin))
        person[rows[(distance[rows] > timeline.ANCHOR_REACH * thresholds.recognize)
                    | ~clear]] = UNKNOWN
    else:
        distance[by_anchor] = np.linalg.norm(
            data.embeddings[open_faces[by_anchor]]
            - gallery.centroids[np.searchsorted(gallery.person_ids, anchor[by_anchor])], axis=1)
    alone = np.flatnonzero(~anchored & (person != UNKNOWN))
    if unnamed is not None and len(alone):
        rival = _nearest_unnamed(data, unnamed, open_faces[alone])
        person[alone[rival < distance[alone] + UNNAMED_MARGIN * thresholds.margin]] = UNKNOWN
    keep = person != UNKNOWN
    rows, person, distance = open_faces[keep], person[keep], distance[keep]
    faces, photos = data.face_ids[rows], data.photo_ids[rows]
    # A person already named in the photo, or rejected for the face, is never given.
    span = int(max(person.max(initial=0), evidence.max(initial=0))) + 1
    named = evidence > 0
    taken = np.isin(photos * span + person, data.photo_ids[named] * span + evidence[named])
    refused = np.isin(faces * span + person,
                      [face * span + rejected_person for face, rejected_person in rejected
                       if rejected_person < span])
    keep = ~taken & ~refused
    faces, photos, person, distance = faces[keep], photos[keep], person[keep], distance[keep]
    # One person to one face of a photo: the nearest (then the first) wins.
    order = np.lexsort((np.arange(len(faces)), distance, photos * span + person))
    _, first_of_pair = np.unique((photos * span + person)[order], return_index=True)
    chosen = order[first_of_pair]
    names = [(int(f), int(p), float(d)) for f, p, d in zip(faces[chosen], person[chosen], distance[chosen])]
    return names, open_faces, watched


# A face named by recognition from the user's photos (no group anchor, the
# chain's first round) must be nearer to the person than to any other group
# nobody named, by this multiple of the pack's margin: such a group is someone
# too, only not named yet. Babies of children the user has not named sit as
# near a named baby as that baby's own photos do, and one such name chained
# through a whole group. Family albums (bench/family.py, seeds 1-8), three
# batches: 949 right / 31 wrong (3.2%) -> 935 / 8 (0.8%), one album
# 109 / 21 -> 107 / 0. In every round of the chain: 906 / 8.
UNNAMED_MARGIN = 0.75


def _nearest_unnamed(data: GroupingInput, unnamed: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Distance from each face of ``rows`` to the nearest group nobody named
    other than its own (``unnamed`` as in ``_names_from``), through that
    group's faces nearest in time; infinite where there is none."""
    import numpy as np

    from facesort.people import timeline

    groups = timeline.Timeline.of(data.embeddings, unnamed, data.days if timeline.in_use(data.days) else None)
    if not len(groups.gallery.person_ids):
        return np.full(len(rows), np.inf)
    found = groups.recognize(data.embeddings[rows], data.days[rows] if data.days is not None else None,
                             np.inf, 0.0)
    return np.where(found.nearest == unnamed[rows], found.runner_up, found.distance)


def apart_from_rejected(labels: np.ndarray, data: GroupingInput,
                        rejected: set[tuple[int, int]]) -> np.ndarray:
    """``labels`` with each face the user rejected from a person taken out of
    any group holding faces the user named that person (label -1): grouping
    again never puts back a face the user took out of Alice's group. Family
    albums (bench/family.py), three batches: children's BCubed precision
    0.951 -> 0.982 and 0.946 -> 0.974."""
    import numpy as np

    if not rejected or not len(labels):
        return labels
    named = (labels >= 0) & (data.person_ids > 0)
    span = int(max(data.person_ids.max(initial=0), max(person for _, person in rejected))) + 1
    held = np.unique(labels[named] * span + data.person_ids[named])
    rows, present = _rows_of(data.face_ids, [face for face, _ in rejected])
    rows = rows[present]  # only the faces being grouped
    people = np.array([person for _, person in rejected])[present]
    out = rows[(labels[rows] >= 0) & np.isin(labels[rows] * span + people, held)]
    if not len(out):
        return labels
    labels = labels.copy()
    labels[out] = -1
    return labels


def _rows_of(face_ids: np.ndarray, wanted: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The row of each wanted face id in ``face_ids`` (not empty, any order),
    and whether it is there at all."""
    import numpy as np

    wanted = np.asarray(wanted, np.int64)
    by_id = np.argsort(face_ids)
    rows = by_id[np.minimum(np.searchsorted(face_ids, wanted, sorter=by_id), len(by_id) - 1)]
    return rows, face_ids[rows] == wanted


def apart_by_names(labels: np.ndarray, data: GroupingInput, margin: float = 0.0) -> np.ndarray:
    """``labels`` with each group whose faces the user named as two or more
    people cut into one group per person: the user has said it holds them
    all. Each undecided face goes with the group's person nearest to it (in
    time, where the photos are dated) when nearer by ``margin`` than the
    next, else it is unknown (label -1): the part it joins names it. The
    largest part keeps the label. Look-alike siblings share a group until
    the user names both. Family albums (bench/family.py), month by month:
    children's BCubed precision 0.968 -> 0.993 (album 2) and 0.979 -> 1.000
    (album 3), albums 1 and 4 and three batches unchanged, the same names
    everywhere; with sc_sface 0.956 -> 0.996 (three batches) and 0.902 ->
    0.993. Without the margin the same albums, dates ignored, got 29 and 25
    wrong names month by month instead of 24 and 22."""
    import numpy as np

    from facesort.people import timeline

    both = (labels >= 0) & (data.person_ids > 0)
    # Each group's people, sorted by group then person.
    pairs = np.unique(np.stack([labels[both], data.person_ids[both]], axis=1), axis=0)
    groups, starts, counts = np.unique(pairs[:, 0], return_index=True, return_counts=True)
    if not (counts > 1).any():
        return labels
    rows = np.flatnonzero(np.isin(labels, groups[counts > 1]))
    owner = data.person_ids[rows].copy()
    undecided = np.flatnonzero(owner == 0)
    if len(undecided):
        timed = timeline.in_use(data.days)
        people = timeline.Timeline.of(data.embeddings, data.person_ids, data.days if timed else None)
        group = np.searchsorted(groups, labels[rows[undecided]])
        # Each face's candidates: its group's people, the last repeated to fill the row.
        width = int(counts.max())
        offsets = np.minimum(np.arange(width)[None, :], counts[group][:, None] - 1)
        theirs = pairs[starts[group][:, None] + offsets, 1]
        days = data.days[rows[undecided]] if timed else np.full(len(undecided), np.nan)
        d = people.distances(data.embeddings[rows[undecided]], days,
                             np.searchsorted(people.gallery.person_ids, theirs))
        d[np.arange(width)[None, :] >= counts[group][:, None]] = np.inf
        ranked = np.sort(d, axis=1)
        owner[undecided] = theirs[np.arange(len(undecided)), np.argmin(d, axis=1)]
        # A face not clearly nearer one of them than the next is neither's: unknown.
        owner[undecided[ranked[:, 1] - ranked[:, 0] < margin]] = -1
    labels = labels.copy()
    labels[rows[owner < 0]] = -1
    rows, owner = rows[owner >= 0], owner[owner >= 0]
    if not len(rows):
        return labels
    span = int(owner.max()) + 1
    parts, part_of_row, sizes = np.unique(labels[rows] * span + owner, return_inverse=True,
                                          return_counts=True)
    part_group = parts // span
    # The largest part of each group (then the first person's) keeps its label.
    order = np.lexsort((-sizes, part_group))
    keeps = np.r_[True, part_group[order][1:] != part_group[order][:-1]]
    label_of_part = np.empty(len(parts), np.int64)
    label_of_part[order[keeps]] = part_group[order[keeps]]
    label_of_part[order[~keeps]] = int(labels.max()) + 1 + np.arange(int((~keeps).sum()))
    labels[rows] = label_of_part[part_of_row.ravel()]
    return labels


def anchors(labels: np.ndarray, person_ids: np.ndarray) -> np.ndarray:
    """Each face's group anchor: the one person its group's user-named faces
    are, if one; 0 for none."""
    import numpy as np

    both = (labels >= 0) & (person_ids > 0)
    pairs = np.unique(np.stack([labels[both], person_ids[both]], axis=1), axis=0)
    group, first, people_in_group = np.unique(pairs[:, 0], return_index=True, return_counts=True)
    anchor_of = np.zeros(int(labels.max(initial=-1)) + 2, np.int64)  # by label + 1; 0 for none
    anchor_of[group[people_in_group == 1] + 1] = pairs[first[people_in_group == 1], 1]
    return anchor_of[labels + 1]


def apart_from_others(labels: np.ndarray, data: GroupingInput,
                      names: list[tuple[int, int, float]] | None = None) -> np.ndarray:
    """``labels`` with each undecided dated face of a group the user named as
    one person taken out of it (label -1) when the user's photos of its time
    say it is someone else: another person they named is nearer to it than
    the group's person, whose gap in time is not even counted. Look-alike
    children end up in one group, photographed years apart; this keeps the
    group to one child. Family albums (bench/family.py), three batches:
    children's BCubed precision 0.982 -> 1.000 and 0.974 -> 0.989, recall
    0.579 -> 0.576 and 0.589 -> 0.570, the same names.

    Once faces are named automatically (``names``), they count as the
    photos of their person too, and a face left unnamed is judged again: a
    younger sibling nobody has named yet hides unnamed in the older one's
    group, and someone else's automatic names of its time are nearer it
    than the group's person. Eight family albums: children's BCubed
    precision at worst 0.974 -> 0.982 (three batches) and 0.976 -> 0.982
    (month by month), the same names and names typed."""
    import numpy as np

    from facesort.people import timeline

    if not timeline.in_use(data.days):
        return labels
    anchor = anchors(labels, data.person_ids)
    evidence = data.person_ids.copy()
    if names:
        named, _ = _rows_of(data.face_ids, [face for face, _, _ in names])
        evidence[named] = [person for _, person, _ in names]
    rows = np.flatnonzero((anchor > 0) & (evidence == 0) & np.isfinite(data.days))
    if not len(rows):
        return labels
    people = timeline.Timeline.of(data.embeddings, evidence, data.days)
    if len(people.gallery.person_ids) < 2:
        return labels
    found = people.recognize(data.embeddings[rows], data.days[rows], 0.0, 0.0)
    theirs = people.distances(data.embeddings[rows], data.days[rows],
                              np.searchsorted(people.gallery.person_ids, anchor[rows])[:, None],
                              penalty=False)[:, 0]
    out = rows[(found.nearest != anchor[rows]) & (theirs > found.distance)]
    if not len(out):
        return labels
    labels = labels.copy()
    labels[out] = -1
    return labels


def within_ages(store: Store, names: list[tuple[int, int, float]], thresholds: PackThresholds,
                born: dict[int, str]) -> list[tuple[int, int, float]]:
    """The automatic ``(face, person, distance)`` names that the people's
    birth dates (``born``, store.birth_dates) allow: never a person on a
    photo taken before their birth, and a face of a known child
    (people/ages.py) only within the distance measured on children, where
    the pack has one."""
    if not born:
        return names
    taken = store.capture_times(face for face, person, _ in names if person in born)
    child_limit = thresholds.child_recognize or float("inf")
    return [(face, person, distance) for face, person, distance in names
            if not before_birth(born.get(person), taken.get(face))
            and (distance <= child_limit or not is_child(born.get(person), taken.get(face)))]


# A library this many times larger than at its last full run is clustered in
# full again: its blocks have grown too large to cluster again quickly.
FULL_RUN_GROWTH = 2


def grouping_state(store: Store, pack_name: str) -> str:
    """Whether the pack's faces are grouped: "never" (no cluster run yet),
    "stale" (faces came or went since the last run) or "current"."""
    pack_id = store.find_pack(pack_name) if pack_name else None
    last = store.cluster_run(pack_id) if pack_id is not None else None
    if last is None:
        return "never"
    return "current" if (last.faces, last.max_face_id) == tuple(store.face_state(pack_id)) else "stale"


def update_groups(store: Store, pack_name: str, params: ClusterParams | None = None,
                  full: bool = False) -> ClusterReport:
    """Group the pack's faces, keep group ids and ignored groups where
    membership mostly persists, and recompute the automatic names.

    Only what changed since the last run is done again: nothing at all when
    no face came or went and no decision changed; new faces join the groups
    they clearly belong to, and only the blocks that received the others are
    clustered again. ``full`` clusters every face again."""
    import numpy as np

    from facesort.people.grouping import (BLOCK_SIZE, Blocking, ClusterParams, blocking_for,
                                  cluster_embeddings, cluster_new_faces, match_groups, members_of)
    from facesort.people.tune import adapter_for

    started = time.perf_counter()
    pack_id = require_pack(store, pack_name)
    thresholds = thresholds_for(pack_name)
    params = params or ClusterParams()
    if params.refine_distance is None and thresholds is not None:
        params = replace(params, refine_distance=thresholds.cluster,
                         rescue_distance=thresholds.recognize, rescue_margin=thresholds.margin)
    settings = json.dumps(asdict(params), sort_keys=True)
    # Read before the faces: a decision made while this run works is seen by the next.
    decisions = store.decision_changes()
    faces, max_face_id = store.face_state(pack_id)
    last = store.cluster_run(pack_id) if not full else None
    if last is not None and last.settings != settings:
        last = None
    if last is not None and (last.faces, last.max_face_id, last.decisions) == (
            faces, max_face_id, decisions):
        return replace(ClusterReport(**json.loads(last.report)), run="unchanged", new_faces=0,
                       seconds=time.perf_counter() - started)
    if last is not None and (faces > FULL_RUN_GROWTH * last.full_run_faces
                             or (last.blocking is None and faces > BLOCK_SIZE)):
        last = None
    data = store.grouping_input(pack_id)
    new = data.face_ids > (last.max_face_id if last else 0)
    if last is None:
        blocking = blocking_for(data.embeddings)
        labels = (cluster_embeddings(data.embeddings, params, blocking, data.days) if len(data.face_ids)
                  else np.zeros(0, dtype=np.int64))
    else:
        blocking = Blocking.from_bytes(last.blocking) if last.blocking else None
        _, labels = np.unique(data.cluster_ids, return_inverse=True)
        labels = labels - (1 if (data.cluster_ids == 0).any() else 0)
        if new.any():
            labels = cluster_new_faces(data.embeddings, labels, new, params, blocking, data.days)
    rejected = store.rejected_pairs(pack_id)
    margin = thresholds.margin if thresholds is not None else 0.0
    labels = apart_from_others(apart_by_names(apart_from_rejected(labels, data, rejected), data, margin), data)
    kept = match_groups(labels, data.cluster_ids)
    ignored_before = store.ignored_clusters(pack_id)
    groups = []
    excluded = data.ignored.copy()
    members_by_label = members_of(labels)
    for label, members in enumerate(members_by_label):
        previous = kept.get(label)
        # A group stays ignored when it is the ignored group of before, or a
        # new group most of whose faces were ignored; never when the user named
        # any of its faces: such a group is a person, and ignoring it would
        # hide that person from automatic naming.
        ignored = (
            (previous in ignored_before
             or (previous is None and bool(data.ignored[members].mean() >= 0.5)))
            and not data.person_ids[members].any()
        )
        if ignored:
            excluded[members] = True
        groups.append(NewCluster(previous, ignored, data.face_ids[members]))
    names = []
    if thresholds is not None:
        # The adapter 'facesort tune' kept changes recognition only: the groups
        # stay on the pack's own embeddings.
        adapter = adapter_for(store, pack_id)
        named_from = data
        if adapter is not None:
            named_from = replace(data, embeddings=adapter.apply(data.embeddings))
            thresholds = adapter.thresholds(thresholds)
        # Read once: the chain's rounds each ask.
        born = store.birth_dates()
        names = auto_names(named_from, labels, thresholds, rejected, excluded,
                           allowed=lambda found: within_ages(store, found, thresholds, born))
        # Judged in the space the names were given in (tune's, if kept).
        labels = apart_from_others(labels, named_from, names)
        groups = [replace(group, face_ids=data.face_ids[members[labels[members] >= 0]])
                  for group, members in zip(groups, members_by_label)]
    store.save_clusters(pack_id, groups, data.face_ids, data.cluster_ids)
    store.save_auto_names(pack_id, names)
    report = ClusterReport(
        faces=len(data.face_ids),
        groups=len(groups),
        grouped_faces=int(np.sum(labels >= 0)),
        unknown_faces=int(np.sum(labels < 0)),
        ignored_groups=sum(g.ignored for g in groups),
        kept_group_ids=len(kept),
        named_people=len(np.unique(data.person_ids[data.person_ids > 0])),
        auto_named_faces=len(names),
        group_sizes=[len(g.face_ids) for g in groups],
        seconds=time.perf_counter() - started,
        thresholds=thresholds.source if thresholds else None,
        run="full" if last is None else "incremental",
        new_faces=int(new.sum()),
    )
    store.save_cluster_run(pack_id, ClusterRun(
        faces=faces, max_face_id=max_face_id, decisions=decisions, settings=settings,
        full_run_faces=faces if last is None else last.full_run_faces,
        blocking=blocking.to_bytes() if blocking is not None else None,
        report=json.dumps(report.as_dict())))
    return report
