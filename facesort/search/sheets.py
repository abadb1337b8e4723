"""Showing faces: thumbnails and contact sheets (PNG). The command line
draws the same thumbnails in the terminal (facesort/cli/preview.py).

A face of a video clip is cut from its frame, decoded again at the face's
time, and labelled with the clip and the time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from facesort.scanning import decoding, video
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


def _decoded(path: str, time: float | None) -> decoding.DecodedPhoto | video.Frame | None:
    try:
        if time is not None:
            return video.frame_at(Path(path), time, _DECODE_SIDE)
        return decoding.read_and_decode(Path(path), _DECODE_SIDE)
    except PhotoError:
        return None


def face_thumbnails(faces: Sequence[FaceInfo], size: int = THUMB) -> list[Image.Image]:
    """Square crops around each face; a grey tile where the photo is gone."""
    decoded: dict[tuple[str, float | None], decoding.DecodedPhoto | video.Frame | None] = {}
    thumbs = []
    for face in faces:
        key = (face.path, getattr(face, "time", None))
        if key not in decoded:
            decoded[key] = _decoded(*key)
        photo = decoded[key]
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


def clip_caption(face: FaceInfo) -> str:
    """Where a clip's face is: the clip's name and the time; "" for a photo's."""
    time = getattr(face, "time", None)
    if time is None:
        return ""
    name = Path(face.path).name
    if len(name) > 11:
        name = name[:10] + "…"
    return f"{name} {video.clock(time)}"


def contact_sheet(thumbs: Sequence[Image.Image], labels: Sequence[str], title: str,
                  captions: Sequence[str] = ()) -> Image.Image:
    """A grid of faces with a label under each, and a title line on top;
    ``captions`` (a clip's name and time) go on a second line where given."""
    columns = min(COLUMNS, max(1, len(thumbs)))
    rows = max(1, math.ceil(len(thumbs) / columns))
    lines = 2 if any(captions) else 1
    cell_h = THUMB + LABEL_HEIGHT * lines
    sheet = Image.new("RGB", (columns * THUMB, LABEL_HEIGHT + rows * cell_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    draw.text((4, 2), title, fill=(0, 0, 0), font=font)
    captions = list(captions) + [""] * (len(thumbs) - len(captions))
    for index, (thumb, label, caption) in enumerate(zip(thumbs, labels, captions)):
        left = (index % columns) * THUMB
        top = LABEL_HEIGHT + (index // columns) * cell_h
        sheet.paste(thumb.resize((THUMB, THUMB)), (left, top))
        draw.text((left + 4, top + THUMB + 2), label, fill=(0, 0, 0), font=font)
        if caption:
            draw.text((left + 4, top + THUMB + LABEL_HEIGHT + 2), caption, fill=(60, 60, 60),
                      font=font)
    return sheet


def save_sheet(sheet: Image.Image, path: Path) -> Path:
    """A viewer that has the old sheet open never sees half a file."""
    with atomic_write(path, parents=True) as out:
        sheet.save(out, format="PNG")
    return path
