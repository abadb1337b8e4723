"""Settings and their defaults: where the library lives, which model pack to use.

Nothing here imports the model stack, so read-only commands stay fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import typer

APP_NAME = "facesort"
DB_ENV = "FACESORT_DB"
MODEL_ENV = "FACESORT_MODEL"
# insightface's own default pack: SCRFD-10GF detector + ResNet50 ArcFace.
DEFAULT_MODEL = "buffalo_l"
# Long side, in pixels, of the image the detector sees. 480 already finds all
# 29 faces of the Solvay group photo and 416 misses four (bench/scan.py
# --det-sizes); 640 keeps a margin for smaller faces at ~20 ms a photo.
DEFAULT_DET_SIZE = 640
# Faces smaller than this (shorter side, in displayed pixels) are background
# strangers far more often than people a user wants to name.
DEFAULT_MIN_FACE_SIZE = 40
PHOTO_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif"}
)
HEIF_EXTENSIONS = frozenset({".heic", ".heif"})


def default_db_path() -> Path:
    return Path(typer.get_app_dir(APP_NAME)) / "library.db"


def insightface_root() -> Path:
    """Where insightface keeps (and downloads) its packs: ``~/.insightface``."""
    return Path("~/.insightface").expanduser()


@dataclass(frozen=True)
class PackRef:
    """A model pack named by the user: an insightface pack name or a folder."""

    name: str
    path: Path
    is_folder: bool

    @property
    def exists(self) -> bool:
        return self.path.is_dir()

    def fingerprint(self) -> str:
        """Identify the model files cheaply, so that a pack name that starts to
        point at other weights is noticed before its embeddings are mixed."""
        files = sorted(self.path.glob("*.onnx"))
        return ";".join(f"{f.name}:{f.stat().st_size}" for f in files)


def resolve_pack(spec: str) -> PackRef:
    """``spec`` is a pack name (looked up in insightface's folder) or a folder."""
    candidate = Path(spec).expanduser()
    looks_like_path = os.sep in spec or "/" in spec or spec.startswith(".") or spec.startswith("~")
    if looks_like_path or candidate.is_dir():
        folder = candidate.resolve()
        return PackRef(name=folder.name, path=folder, is_folder=True)
    return PackRef(name=spec, path=insightface_root() / "models" / spec, is_folder=False)
