"""The SQLite library; see :mod:`facesort.store.library`."""

from facesort.store.decisions import CarryReport
from facesort.store.library import (
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
    StoredAdapter,
    blob_to_embedding,
    embedding_to_blob,
)

__all__ = [
    "CarryReport",
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
    "StoredAdapter",
    "blob_to_embedding",
    "embedding_to_blob",
]
