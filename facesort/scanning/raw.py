"""Camera RAW files (CR2, NEF, ARW, DNG...), read through LibRaw (rawpy).

A RAW is scanned through the JPEG preview the camera embeds in it, which is
fast to decode and full or nearly full size. Where there is no usable preview
(none, too small for the detector, or framed other than the RAW), the raw
data is developed at half size instead, which takes about 0.4 s for a
24-megapixel file against 0.06 s for its preview (bench/raw.py).

The photo's recorded size is the RAW's own (as LibRaw develops it, upright),
not the preview's, so that sidecar regions are relative to the RAW as
digiKam, Lightroom and darktable read them; boxes found on the preview are
scaled to it.

LibRaw reads the file itself, only the parts it needs (the preview, or the
sensor data), so that a 50 MB RAW is never held whole in memory: the scan
hashes RAWs as it streams them (bench/raw.py measures the difference).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import rawpy
from PIL import Image

from facesort.config import DEFAULT_DET_SIZE
from facesort.errors import PhotoError
from facesort.scanning.libjpeg_quiet import quiet_libjpeg
from facesort.scanning.decoding import (
    DecodedPhoto, PhotoInfo, capture_time, load_upright, swaps_axes,
)

# LibRaw's sizes.flip as an EXIF orientation (LibRaw's own table, from dcraw).
_FLIP_TO_ORIENTATION = {flip: int(o) for flip, o in enumerate("12435867")}
_TIFF_HEADERS = (b"II*\x00", b"MM\x00*")
# A preview framed differently from the RAW (an in-camera crop to 16:9 or
# 1:1, or a preview stored already turned) would put its faces at the wrong
# place in the RAW's coordinates: such a preview is not used.
_ASPECT_TOLERANCE = 0.02


def _libraw_says(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else type(exc).__name__
    return detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)


def _preview(raw: rawpy.RawPy) -> tuple[Image.Image, bytes] | None:
    """The embedded preview, opened but not decoded, with its bytes; None
    where the RAW has none that Pillow can open."""
    try:
        with quiet_libjpeg():
            thumb = raw.extract_thumb()
    except rawpy.LibRawError:
        return None
    if thumb.format == rawpy.ThumbFormat.BITMAP:
        return Image.fromarray(thumb.data), b""
    try:
        return Image.open(io.BytesIO(thumb.data)), thumb.data
    except Exception:  # Pillow raises many kinds on a damaged preview
        return None


def _usable(preview: Image.Image, raw_size: tuple[int, int], long_side: int | None) -> bool:
    """Whether the preview is big enough for the detector (a larger
    ``long_side`` asked for, as contact sheets do, is not worth a develop)
    and framed as the stored RAW is."""
    width, height = preview.size
    needed = min(long_side or DEFAULT_DET_SIZE, DEFAULT_DET_SIZE)
    if max(width, height) < needed or not height or not raw_size[1]:
        return False
    aspect, raw_aspect = width / height, raw_size[0] / raw_size[1]
    return abs(aspect - raw_aspect) <= _ASPECT_TOLERANCE * raw_aspect


def _raw_time(path: Path) -> str | None:
    """The capture time in the EXIF of a TIFF-based RAW (DNG, CR2, NEF, ARW,
    PEF...), whose first IFD is the photo's as in a TIFF. Only the
    directories are read: the EXIF one may lie after the image data."""
    try:
        with open(path, "rb") as handle:
            if handle.read(4) not in _TIFF_HEADERS:
                return None
            handle.seek(0)
            exif = Image.Exif()
            exif.load_from_fp(handle)
            return capture_time(exif)
    except Exception:  # a damaged directory: the time is then looked for in the preview
        return None


def _open(path: Path) -> rawpy.RawPy:
    try:
        os.fspath(path).encode()
    except UnicodeEncodeError:
        # A name that is not UTF-8 (rawpy hands LibRaw the name as UTF-8):
        # LibRaw is given the file's bytes instead.
        with open(path, "rb") as handle:
            return rawpy.imread(handle)
    return rawpy.imread(os.fspath(path))


def decode_raw(path: Path, long_side: int | None) -> DecodedPhoto:
    """Decode the RAW at ``path`` upright; see the module. The caller
    (``decoding.read_and_decode``) has seen that it is a file and not empty."""
    try:
        with quiet_libjpeg():
            raw = _open(path)
        with raw:
            sizes = raw.sizes
            orientation = _FLIP_TO_ORIENTATION.get(sizes.flip, 1)
            stored = (sizes.width, sizes.height)
            taken_at = _raw_time(path)
            preview = _preview(raw)
            if taken_at is None and preview is not None:
                # LibRaw gives a preview that has no EXIF one with the RAW's time.
                taken_at = capture_time(preview[0].getexif())
            image = None
            if preview is not None and _usable(preview[0], stored, long_side):
                try:
                    image = load_upright(preview[0], preview[1], orientation, long_side)
                except Exception:  # a damaged preview: the raw data may be whole
                    image = None
            if image is None:
                # LibRaw turns the developed image upright itself.
                with quiet_libjpeg():
                    developed = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
                image = Image.fromarray(developed)
                # Brought to the detector's size as a preview is: a 24 MP
                # RAW's 6 MP, held for each photo waiting for the model,
                # would cost 18 MB each.
                reduce_by = max(image.size) // long_side if long_side else 1
                if reduce_by >= 2:
                    image = image.reduce(reduce_by)
    except rawpy.LibRawFileUnsupportedError as exc:
        raise PhotoError(path, f"not a RAW file LibRaw can read ({_libraw_says(exc)})") from exc
    except rawpy.LibRawError as exc:
        raise PhotoError(path, f"corrupt or truncated RAW file ({_libraw_says(exc)})") from exc
    width, height = (stored[1], stored[0]) if swaps_axes(orientation) else stored
    info = PhotoInfo(width=width, height=height, orientation=orientation, taken_at=taken_at)
    return DecodedPhoto(pixels=np.asarray(image), scale=width / image.width, info=info)
