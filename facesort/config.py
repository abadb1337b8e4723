"""Settings and their defaults: where the library lives, which model pack to use.

Nothing here imports the model stack, so read-only commands stay fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import typer

APP_NAME = "facesort"
DB_ENV = "FACESORT_DB"
MODEL_ENV = "FACESORT_MODEL"
# The pack that ships inside facesort (facesort/models/), so that a fresh install
# scans with no download: YuNet detector + SFace recognizer, both licensed for
# redistribution (NOTICE beside them). Its files are listed so that a damaged
# install names the one that is missing.
DEFAULT_MODEL = "yunet_sface"
BUILTIN_PACKS: dict[str, tuple[str, ...]] = {
    "yunet_sface": ("face_detection_yunet_2023mar_int8bq.onnx", "sface_2021dec_fp32.onnx"),
}
BUILTIN_ROOT = Path(__file__).resolve().parent / "models"
# Long side, in pixels, of the image the detector sees. On the Solvay group
# photo (bench/scan.py, bench/detect.py) SCRFD-500MF finds all 29 faces from
# 480 px and YuNet (the built-in pack) from 640 (22 at 480): 640 suits both.
DEFAULT_DET_SIZE = 640
# Faces smaller than this (shorter side, in displayed pixels) are background
# strangers far more often than people a user wants to name.
DEFAULT_MIN_FACE_SIZE = 40
# Camera RAW files, read through LibRaw (rawpy): facesort/scanning/raw.py.
RAW_EXTENSIONS = frozenset({
    ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".sr2", ".dng", ".orf", ".raf",
    ".rw2", ".pef", ".srw", ".3fr", ".iiq", ".erf", ".mef", ".mos", ".x3f",
})
PHOTO_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif"}
) | RAW_EXTENSIONS
HEIF_EXTENSIONS = frozenset({".heic", ".heif"})
# Clips phones and cameras record; read with OpenCV's FFmpeg backend
# (facesort/scanning/video.py, docs/video.md).
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".3gp"})


def default_db_path() -> Path:
    return Path(typer.get_app_dir(APP_NAME)) / "library.db"


def insightface_root() -> Path:
    """Where insightface keeps (and downloads) its packs: ``~/.insightface``."""
    return Path("~/.insightface").expanduser()


@dataclass(frozen=True)
class PackRef:
    """A model pack named by the user: a pack built into facesort, an
    insightface pack name, or a folder."""

    name: str
    path: Path
    kind: Literal["builtin", "insightface", "folder"]

    @property
    def exists(self) -> bool:
        """The pack is on this machine (a built-in one with all its files)."""
        if self.kind == "builtin":
            return all((self.path / name).is_file() for name in BUILTIN_PACKS[self.name])
        return self.path.is_dir()

    def fingerprint(self) -> str:
        """Identify the model files cheaply, so that a pack name that starts to
        point at other weights is noticed before its embeddings are mixed."""
        if self.kind == "builtin":
            files = [self.path / name for name in BUILTIN_PACKS[self.name]]
        else:
            files = sorted(self.path.glob("*.onnx"))
        return ";".join(f"{f.name}:{f.stat().st_size}" for f in files)


def resolve_pack(spec: str) -> PackRef:
    """``spec`` is a pack name (built in, else looked up in insightface's
    folder) or a folder. A built-in name always means the built-in pack, even
    where a folder of that name is in the working directory: write
    ``./yunet_sface`` for the folder."""
    if spec in BUILTIN_PACKS:
        return PackRef(name=spec, path=BUILTIN_ROOT / spec, kind="builtin")
    candidate = Path(spec).expanduser()
    looks_like_path = os.sep in spec or "/" in spec or spec.startswith(".") or spec.startswith("~")
    if looks_like_path or candidate.is_dir():
        folder = candidate.resolve()
        return PackRef(name=folder.name, path=folder, kind="folder")
    return PackRef(name=spec, path=insightface_root() / "models" / spec, kind="insightface")
