"""The SQLite library; see :mod:`facesort.store.library`."""

from facesort.store.library import (
    ExportPhoto,
    FaceRecord,
    LibrarySummary,
    PhotoMeta,
    PhotoState,
    Store,
    blob_to_embedding,
    embedding_to_blob,
)

__all__ = [
    "ExportPhoto",
    "FaceRecord",
    "LibrarySummary",
    "PhotoMeta",
    "PhotoState",
    "Store",
    "blob_to_embedding",
    "embedding_to_blob",
]
