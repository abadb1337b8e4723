"""The SQLite library; see :mod:`facesort.store.library`."""

from facesort.store.decisions import CarryReport
from facesort.store.library import (
    ClusterRun,
    ClusterSummary,
    ExportPhoto,
    FaceInfo,
    GroupingInput,
    NewCluster,
    Person,
    PersonSummary,
    FaceRecord,
    LibrarySummary,
    Orphan,
    PhotoMeta,
    PhotoRecord,
    PhotoState,
    Store,
    blob_to_embedding,
    embedding_to_blob,
)

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
    "Store",
    "blob_to_embedding",
    "embedding_to_blob",
]
