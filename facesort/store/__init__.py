"""The SQLite library: the only package that speaks SQL.

``library`` opens it (:class:`Store`), ``photos`` and ``people`` are the
Store's two halves, ``records`` what it hands out, ``decisions`` how the
user's decisions follow faces, ``migrations`` the schema's history, ``sql``
what they share.
"""

from facesort.store.decisions import CarryReport
from facesort.store.library import Store
from facesort.store.records import (
    ClusterRun,
    ClusterSummary,
    ExportPhoto,
    FaceInfo,
    FaceRecord,
    GroupingInput,
    LibrarySummary,
    NewCluster,
    Orphan,
    Person,
    PersonSummary,
    PhotoMeta,
    PhotoRecord,
    PhotoState,
    ScoredGroup,
    StoredAdapter,
    TrackFace,
)
from facesort.store.sql import blob_to_embedding, embedding_to_blob, equal_runs

__all__ = [
    "CarryReport",
    "ClusterRun",
    "ClusterSummary",
    "ExportPhoto",
    "FaceInfo",
    "GroupingInput",
    "NewCluster",
    "Person",
    "PersonSummary",
    "FaceRecord",
    "LibrarySummary",
    "Orphan",
    "PhotoMeta",
    "PhotoRecord",
    "PhotoState",
    "ScoredGroup",
    "Store",
    "StoredAdapter",
    "TrackFace",
    "blob_to_embedding",
    "embedding_to_blob",
    "equal_runs",
]
