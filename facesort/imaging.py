"""Decoding photos upright, at the size the detector needs.

Boxes are reported in *displayed* pixels: the full-size photo as a viewer
shows it after applying the EXIF orientation.
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from facesort.config import HEIF_EXTENSIONS
from facesort.errors import PhotoError

# Pillow's own guard stops at 179 megapixels, below what 200 MP phones and
# medium-format cameras produce; facesort checks the size itself instead, with
# a message that says what happened.
Image.MAX_IMAGE_PIXELS = None
MAX_PIXELS = 400_000_000

_ORIENTATION_TAG = 0x0112
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_DATETIME = 0x0132
# How each EXIF orientation turns the stored pixels into the displayed ones.
_UPRIGHT = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


@dataclass(frozen=True)
class PhotoInfo:
    width: int  # displayed, full size
    height: int
    orientation: int
    taken_at: str | None


@dataclass(frozen=True)
class DecodedPhoto:
    pixels: np.ndarray  # RGB, uint8, upright; maybe smaller than the photo
    scale: float  # displayed pixels per decoded pixel
    info: PhotoInfo


def swaps_axes(orientation: int) -> bool:
    """Whether this EXIF orientation shows the stored width as the height."""
    return orientation in (5, 6, 7, 8)


@functools.cache
def _heif_opener_registered() -> bool:
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _open(path: Path, source: io.BytesIO) -> Image.Image:
    if path.suffix.lower() in HEIF_EXTENSIONS and not _heif_opener_registered():
        raise PhotoError(
            path, "HEIC/HEIF support is not installed: pip install 'facesort[heic]'"
        )
    try:
        return Image.open(source)
    except UnidentifiedImageError:
        raise PhotoError(path, "not an image facesort can read (unknown format or corrupt)")
    except Exception as exc:  # Pillow raises many kinds on a damaged header
        raise PhotoError(path, f"cannot read the image header: {exc}") from exc


def _capture_time(exif: Image.Exif) -> str | None:
    sub = exif.get_ifd(_EXIF_IFD)
    raw = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(_OFFSET_TIME_ORIGINAL)
    stamp = moment.isoformat()
    if isinstance(offset, str) and len(offset) == 6 and offset[0] in "+-":
        stamp += offset
    return stamp


def decode(path: Path, data: bytes, long_side: int | None) -> DecodedPhoto:
    """Decode ``data`` (the bytes of ``path``) upright.

    With ``long_side``, a JPEG is decoded with Pillow's draft mode at the
    smallest 1/2, 1/4 or 1/8 scale that still has ``long_side`` pixels on its
    long side, which is several times faster than a full decode.
    """
    if not data:
        raise PhotoError(path, "empty file (0 bytes)")
    image = _open(path, io.BytesIO(data))
    stored_w, stored_h = image.size
    if stored_w * stored_h > MAX_PIXELS:
        raise PhotoError(
            path,
            f"image is {stored_w}x{stored_h} ({stored_w * stored_h / 1e6:.0f} megapixels), "
            f"over the {MAX_PIXELS // 1_000_000} megapixel limit",
        )
    try:
        exif = image.getexif()
        orientation = exif.get(_ORIENTATION_TAG, 1)
        if orientation not in range(1, 9):
            orientation = 1
        taken_at = _capture_time(exif)
        if long_side and image.format == "JPEG" and max(stored_w, stored_h) > long_side:
            factor = long_side / max(stored_w, stored_h)
            image.draft("RGB", (math.ceil(stored_w * factor), math.ceil(stored_h * factor)))
        image.load()
        for step in _UPRIGHT.get(orientation, ()):
            image = image.transpose(step)
        image = image.convert("RGB")
    except PhotoError:
        raise
    except Exception as exc:  # truncated data, bad chunks, decoder errors
        raise PhotoError(path, f"corrupt or truncated image: {exc}") from exc
    width, height = (stored_h, stored_w) if swaps_axes(orientation) else (stored_w, stored_h)
    info = PhotoInfo(width=width, height=height, orientation=orientation, taken_at=taken_at)
    return DecodedPhoto(pixels=np.asarray(image), scale=width / image.width, info=info)


def read_and_decode(path: Path, long_side: int | None = None) -> DecodedPhoto:
    """Decode a photo straight from disk, for photos outside the scan loop."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PhotoError(path, (exc.strerror or str(exc)).lower()) from exc
    return decode(Path(path), data, long_side)
