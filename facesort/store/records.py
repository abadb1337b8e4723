"""What the store hands out and takes in: plain, frozen records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING


# numpy is imported where embeddings are handled, not here: the commands that
# only list and find start without it.
if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class PhotoState:
    id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str
    scanned_with_pack: bool


@dataclass(frozen=True)
class PhotoMeta:
    width: int
    height: int
    orientation: int
    taken_at: str | None
    media: str = "photo"  # or "video": a clip
    duration: float | None = None  # a clip's, in seconds


@dataclass(frozen=True)
class TrackFace:
    """One of the best faces of a clip's track, kept with its time."""

    time: float  # seconds into the clip
    box: tuple[float, float, float, float]  # displayed pixels of that frame
    quality: float


@dataclass(frozen=True)
class FaceRecord:
    box: tuple[float, float, float, float]  # x, y, w, h in displayed pixels
    landmarks: list[list[float]]  # 5 points in displayed pixels
    score: float
    embedding: np.ndarray
    quality: float | None = None  # facesort.scanning.quality; None when not measured
    # In a clip a face is a whole track (facesort/scanning/tracks.py): its
    # best face's time, box and quality, the track's embedding, and the
    # track's best faces.
    time: float | None = None
    track: tuple[TrackFace, ...] = ()


@dataclass(frozen=True)
class PackSummary:
    name: str
    photos: int
    faces: int
    dimensions: int | None


@dataclass(frozen=True)
class LibrarySummary:
    db_path: str
    db_bytes: int
    photos: int  # clips apart
    failed: int  # photos that failed
    faces: int  # clip_faces among them
    packs: list[PackSummary]
    people: int
    groups: int
    grouped_faces: int
    named_faces: int  # the user's (and imported) decisions
    auto_faces: int
    orphans: int  # decisions whose face was not found again
    poor_faces: int  # too small or too blurred to judge
    clips: int = 0  # video clips
    failed_clips: int = 0
    clip_faces: int = 0  # a clip's face is a track: a person's stretch of it


@dataclass(frozen=True)
class Orphan:
    """A decision whose face was not found again when its photo was detected again."""

    id: int
    path: str
    pack: str  # the pack whose face held it
    box: tuple[float, float, float, float]  # normalised to the displayed photo (0..1)
    person: str | None
    person_source: str | None
    ignored: bool
    rejected: list[str]
    since: str


@dataclass(frozen=True)
class FailedPhoto:
    path: str
    error: str
    scanned_at: str


@dataclass(frozen=True)
class ExportFace:
    id: int
    box: tuple[float, float, float, float]
    score: float
    cluster: int | None
    person: str | None  # the user's (or imported) decision, else the automatic one
    person_source: str | None  # user, import, auto
    time: float | None = None  # seconds into a clip
    track: tuple[TrackFace, ...] = ()  # a clip's face: its track's best faces


@dataclass(frozen=True)
class ExportPhoto:
    path: str
    width: int
    height: int
    taken_at: str | None
    faces: list[ExportFace]
    media: str = "photo"
    duration: float | None = None


@dataclass(frozen=True)
class PhotoRecord:
    id: int
    path: str
    width: int  # displayed
    height: int
    orientation: int
    taken_at: str | None
    media: str = "photo"  # or "video"

    @property
    def is_clip(self) -> bool:
        return self.media == "video"


@dataclass(frozen=True)
class GroupingInput:
    """A pack's faces as clustering and naming need them, one row per face."""

    face_ids: np.ndarray
    photo_ids: np.ndarray
    embeddings: np.ndarray
    cluster_ids: np.ndarray  # 0 for none
    person_ids: np.ndarray  # the user's decision; 0 for none
    ignored: np.ndarray
    # Capture time of each face's photo in days (Julian day), NaN when the
    # photo carries no date; None when not read at all.
    days: np.ndarray | None = None
    # The person each face was named automatically by the last cluster run; 0 for none.
    auto_person_ids: np.ndarray | None = None


@dataclass(frozen=True)
class NewCluster:
    previous_id: int | None
    ignored: bool
    face_ids: np.ndarray


@dataclass(frozen=True)
class ClusterRun:
    """What the last cluster run of a pack saw, and what it reported."""

    faces: int
    max_face_id: int
    decisions: int
    settings: str
    full_run_faces: int  # faces at the last run that clustered everything
    blocking: bytes | None
    report: str


@dataclass(frozen=True)
class Person:
    id: int
    name: str


@dataclass(frozen=True)
class PersonSummary:
    id: int
    name: str
    faces: int  # the user's (and imported) decisions
    auto_faces: int
    photos: int
    born: str | None = None  # facesort.people.ages


@dataclass(frozen=True)
class ClusterSummary:
    id: int
    faces: int
    photos: int
    ignored: bool
    named_faces: int
    auto_faces: int
    person: str | None


@dataclass(frozen=True)
class FaceInfo:
    id: int
    path: str
    box: tuple[float, float, float, float]
    cluster: int | None
    user_person_id: int | None
    person: str | None
    person_source: str | None  # user, import, auto
    auto_distance: float | None
    photo_id: int
    quality: float | None = None
    time: float | None = None  # seconds into a clip; None in a photo


@dataclass(frozen=True)
class ScoredGroup:
    """An unnamed group as suggestions see it: its judgeable faces, best first."""

    id: int
    face_ids: np.ndarray
    embeddings: np.ndarray
    days: np.ndarray | None = None  # capture time (Julian day) of each face, NaN for none


@dataclass(frozen=True)
class StoredAdapter:
    """What 'facesort tune' kept for one pack (see :mod:`facesort.people.tune`)."""

    pack: str
    matrix: np.ndarray  # (rows, cols) float32
    recognize: float
    margin: float
    trained_at: str
    faces: int  # named faces it learned from
    decisions: int  # the user's decisions on the pack's faces when it was trained
    seed: int

