"""Showing faces: thumbnails and contact sheets (PNG). The command line
draws the same thumbnails in the terminal (facesort/cli/preview.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from facesort.scanning import decoding
from facesort.errors import PhotoError
from facesort.files import atomic_write
from facesort.store import FaceInfo

THUMB = 128
COLUMNS = 8
LABEL_HEIGHT = 20
# Context around the box: a bare box crops the chin and hair people recognise.
MARGIN = 0.25
_DECODE_SIDE = 1600
_MISSING = (90, 90, 90)


def face_thumbnails(faces: Sequence[FaceInfo], size: int = THUMB) -> list[Image.Image]:
    """Square crops around each face; a grey tile where the photo is gone."""
    decoded: dict[str, decoding.DecodedPhoto | None] = {}
    thumbs = []
    for face in faces:
        if face.path not in decoded:
            try:
                decoded[face.path] = decoding.read_and_decode(Path(face.path), _DECODE_SIDE)
            except PhotoError:
                decoded[face.path] = None
        photo = decoded[face.path]
        if photo is None:
            thumbs.append(Image.new("RGB", (size, size), _MISSING))
            continue
        x, y, w, h = (v / photo.scale for v in face.box)
        side = max(w, h) * (1 + 2 * MARGIN)
        cx, cy = x + w / 2, y + h / 2
        crop = Image.fromarray(photo.pixels).crop(
            (round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2))
        )
        thumbs.append(crop.resize((size, size), Image.Resampling.LANCZOS))
    return thumbs


def contact_sheet(thumbs: Sequence[Image.Image], labels: Sequence[str], title: str) -> Image.Image:
    """A grid of faces with a label under each, and a title line on top."""
    columns = min(COLUMNS, max(1, len(thumbs)))
    rows = max(1, math.ceil(len(thumbs) / columns))
    cell_h = THUMB + LABEL_HEIGHT
    sheet = Image.new("RGB", (columns * THUMB, LABEL_HEIGHT + rows * cell_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    draw.text((4, 2), title, fill=(0, 0, 0), font=font)
    for index, (thumb, label) in enumerate(zip(thumbs, labels)):
        left = (index % columns) * THUMB
        top = LABEL_HEIGHT + (index // columns) * cell_h
        sheet.paste(thumb.resize((THUMB, THUMB)), (left, top))
        draw.text((left + 4, top + THUMB + 2), label, fill=(0, 0, 0), font=font)
    return sheet


def save_sheet(sheet: Image.Image, path: Path) -> Path:
    """A viewer that has the old sheet open never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as out:
        sheet.save(out, format="PNG")
    return path
