"""Decoding photos upright, at the size the detector needs.

Boxes are reported in *displayed* pixels: the full-size photo as a viewer
shows it after applying the EXIF orientation.
"""

from __future__ import annotations

import functools
import io
import math
import os
import stat
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from facesort.config import HEIF_EXTENSIONS
from facesort.errors import PhotoError
from facesort.scanning.walk import is_raw_name

# Pillow's own guard stops at 179 megapixels, below what 200 MP phones and
# medium-format cameras produce; facesort checks the size itself instead, with
# a message that says what happened.
Image.MAX_IMAGE_PIXELS = None
MAX_PIXELS = 400_000_000
# Above this, a photo other than a JPEG is shrunk to the detector's size as it
# is decoded (a JPEG always is, by draft mode): a full decode of a 361 MP PNG,
# with its copies, took 3.5 GB, several of which at once run a NAS out of
# memory. A PNG is then decoded a strip of rows at a time (bench/decode_memory.py).
REDUCE_ABOVE_PIXELS = 50_000_000
_STRIP_PIXELS = 1_000_000

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
    # What Pillow warned of while reading it (a corrupt EXIF block): the
    # photo is read, but its orientation or date may be missing.
    notes: tuple[str, ...] = ()


# Pillow warns of damaged metadata with warnings.warn, which would reach the
# user raw, with no file name. While a photo is decoded, its thread collects
# them instead; catch_warnings would not do, as it is not thread-safe.
_collecting = threading.local()
_show_warning = warnings.showwarning


def _collect_or_show(message, category, filename, lineno, file=None, line=None) -> None:
    notes = getattr(_collecting, "notes", None)
    if notes is not None and issubclass(category, UserWarning):
        notes.append(str(message).strip().rstrip("."))
    else:
        _show_warning(message, category, filename, lineno, file, line)


warnings.showwarning = _collect_or_show
# Every time, not once a place: each photo gets its own note.
warnings.filterwarnings("always", category=UserWarning, module=r"PIL\.")


@contextmanager
def _notes() -> Iterator[list[str]]:
    _collecting.notes = notes = []
    try:
        yield notes
    finally:
        _collecting.notes = None


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


def capture_time(exif: Image.Exif) -> str | None:
    """When the photo was taken, from its EXIF: ISO 8601, with the offset where recorded."""
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


def _png_chunks(data: bytes, kind: bytes) -> Iterator[memoryview]:
    view = memoryview(data)
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(view[pos:pos + 4], "big")
        if view[pos + 4:pos + 8] == kind:
            yield view[pos + 8:pos + 8 + length]
        pos += 12 + length


def _png_in_strips(image: Image.Image, data: bytes, factor: int) -> Image.Image | None:
    """A plain 8-bit PNG decoded ``factor`` times smaller a strip of rows at a
    time, so that no more than a strip is ever held at full size; None for a
    PNG this cannot do (interlaced, animated, 16-bit or palette).

    Each strip's filtered rows are handed to Pillow's own PNG decoder behind
    the strip's previous row, unfiltered, so that filters that look one row up
    decode as they would in the whole image.
    """
    mode = image.mode
    tile = image.tile[0] if len(image.tile) == 1 else None
    if (image.format != "PNG" or mode not in ("RGB", "RGBA", "L", "LA") or tile is None
            or tile.args != mode or image.info.get("interlace")
            or getattr(image, "n_frames", 1) != 1 or tuple(tile.extents) != (0, 0, *image.size)):
        return None
    width, height = image.size
    row_bytes = width * len(mode)
    inflater = zlib.decompressobj()
    chunks = _png_chunks(data, b"IDAT")

    def inflate(size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            source = inflater.unconsumed_tail or next(chunks, None)
            if source is None or inflater.eof:
                raise ValueError("image data ends early")
            out += inflater.decompress(source, size - len(out))
        return bytes(out)

    reduced = Image.new("RGB", (math.ceil(width / factor), math.ceil(height / factor)))
    strip = max(1, _STRIP_PIXELS // width // factor) * factor
    previous = b""  # the last row decoded, unfiltered, behind filter type 0
    for top in range(0, height, strip):
        rows = min(strip, height - top)
        filtered = previous + inflate(rows * (row_bytes + 1))
        lead = 1 if previous else 0
        piece = Image.frombytes(mode, (width, rows + lead), zlib.compress(filtered, 0), "zip", mode)
        previous = b"\x00" + piece.crop((0, rows + lead - 1, width, rows + lead)).tobytes("raw", mode)
        if lead:
            piece = piece.crop((0, 1, width, rows + 1))
        reduced.paste(piece.convert("RGB").reduce(factor), (0, top // factor))
    return reduced


def _exif(image: Image.Image, data: bytes) -> Image.Exif:
    if image.format != "PNG":
        return image.getexif()
    # Pillow's PNG reader would decode the whole image to look for an EXIF
    # chunk after the pixels; finding it here costs nothing.
    if "exif" not in image.info:
        chunk = next(_png_chunks(data, b"eXIf"), None)
        if chunk is not None:
            image.info["exif"] = b"Exif\x00\x00" + bytes(chunk)
    return Image.Image.getexif(image)


def _load_reduced(image: Image.Image, data: bytes, factor: int) -> Image.Image:
    """The image decoded ``factor`` times smaller, holding as little of it at
    full size as the format allows."""
    in_strips = _png_in_strips(image, data, factor)
    if in_strips is not None:
        return in_strips
    image.load()
    if image.mode.startswith("I;16"):
        image = image.convert("I")  # which keeps the values; reduce cannot take I;16
    elif image.mode not in ("RGB", "RGBA", "L", "LA", "I", "F"):
        image = image.convert("RGB")
    # Before turning and converting it, which would each copy the full image.
    return image.reduce(factor)


# Modes whose pixels go past 255 and which Pillow's convert("RGB") clips, so
# that a 16-bit scan came out almost all white.
_WIDE_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def as_rgb8(image: Image.Image) -> Image.Image:
    """``image`` as 8-bit RGB, whatever mode Pillow opened it in. A 16-bit
    image is scaled from 0..65535. The 32-bit modes I and F do not say how
    many bits their values hold: they are scaled from the smallest of 0..1
    (F only), 0..255 and 0..65535 that their values fit, else from 0 to their
    maximum."""
    if image.mode not in _WIDE_MODES:
        return image.convert("RGB")
    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        full = 65535.0
    else:
        top = float(values.max(initial=0))
        ranges = (1.0, 255.0, 65535.0) if image.mode == "F" else (255.0, 65535.0)
        full = next((f for f in ranges if top <= f), top)
    scaled = values.astype(np.float32)
    np.clip(scaled, 0.0, full, out=scaled)
    scaled *= 255.0 / full
    np.rint(scaled, out=scaled)
    return Image.fromarray(scaled.astype(np.uint8), "L").convert("RGB")


def load_upright(image: Image.Image, data: bytes, orientation: int, long_side: int | None) -> Image.Image:
    """The opened ``image`` (from ``data``) decoded, turned upright by the
    EXIF ``orientation`` and brought to 8-bit RGB.

    With ``long_side``, a JPEG is decoded with Pillow's draft mode at the
    smallest 1/2, 1/4 or 1/8 scale that still has ``long_side`` pixels on its
    long side, which is several times faster than a full decode; another
    format over ``REDUCE_ABOVE_PIXELS`` is shrunk by the largest whole factor
    that keeps ``long_side`` pixels.
    """
    stored_w, stored_h = image.size
    reduce_by = max(stored_w, stored_h) // long_side if long_side else 1
    if long_side and image.format == "JPEG" and max(stored_w, stored_h) > long_side:
        factor = long_side / max(stored_w, stored_h)
        image.draft("RGB", (math.ceil(stored_w * factor), math.ceil(stored_h * factor)))
        image.load()
    elif reduce_by >= 2 and stored_w * stored_h > REDUCE_ABOVE_PIXELS:
        image = _load_reduced(image, data, reduce_by)
    else:
        image.load()
    for step in _UPRIGHT.get(orientation, ()):
        image = image.transpose(step)
    return as_rgb8(image)


def decode(path: Path, data: bytes, long_side: int | None) -> DecodedPhoto:
    """Decode ``data`` (the bytes of ``path``, a photo other than a camera
    RAW: those LibRaw reads itself, see ``read_and_decode``) upright, with at
    least ``long_side`` pixels on its long side where the photo has them (see
    ``load_upright``). What the decoder warned about (corrupt EXIF data) comes
    back as the photo's notes."""
    if not data:
        raise PhotoError(path, "empty file (0 bytes)")
    with _notes() as notes:
        photo = _decode(path, data, long_side)
    return _noted(photo, notes)


def _noted(photo: DecodedPhoto, notes: list[str]) -> DecodedPhoto:
    return replace(photo, notes=tuple(dict.fromkeys(notes))) if notes else photo


def _decode(path: Path, data: bytes, long_side: int | None) -> DecodedPhoto:
    image = _open(path, io.BytesIO(data))
    stored_w, stored_h = image.size
    if stored_w * stored_h > MAX_PIXELS:
        raise PhotoError(
            path,
            f"image is {stored_w}x{stored_h} ({stored_w * stored_h / 1e6:.0f} megapixels), "
            f"over the {MAX_PIXELS // 1_000_000} megapixel limit",
        )
    try:
        exif = _exif(image, data)
        orientation = exif.get(_ORIENTATION_TAG, 1)
        if orientation not in range(1, 9):
            orientation = 1
        taken_at = capture_time(exif)
        image = load_upright(image, data, orientation, long_side)
    except PhotoError:
        raise
    except Exception as exc:  # truncated data, bad chunks, decoder errors
        raise PhotoError(path, f"corrupt or truncated image: {exc}") from exc
    width, height = (stored_h, stored_w) if swaps_axes(orientation) else (stored_w, stored_h)
    info = PhotoInfo(width=width, height=height, orientation=orientation, taken_at=taken_at)
    return DecodedPhoto(pixels=np.asarray(image), scale=width / image.width, info=info)


def read_and_decode(path: Path, long_side: int | None = None) -> DecodedPhoto:
    """Decode a photo straight from disk (a camera RAW: ``raw.decode_raw``)."""
    try:
        # A named pipe or a device would block the read forever (the scan's
        # walk skips them; 'who' and 'verify' take any path).
        found = os.stat(path)
        if not stat.S_ISREG(found.st_mode):
            raise PhotoError(path, "not a regular file (a pipe or a device?): give a photo")
        if found.st_size == 0:
            raise PhotoError(path, "empty file (0 bytes)")
        if is_raw_name(path):
            # Imported here: rawpy is loaded only once a RAW is met.
            from facesort.scanning import raw

            # Pillow reads the RAW's EXIF directories and its preview: what it
            # warns of is the photo's, as for any other photo.
            with _notes() as notes:
                photo = raw.decode_raw(Path(path), long_side)
            return _noted(photo, notes)
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PhotoError(path, (exc.strerror or str(exc)).lower()) from exc
    return decode(Path(path), data, long_side)
