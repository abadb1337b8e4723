"""Camera RAWs with real sensor data, made from a photo at test time.

A camera's sensor sees one colour a pixel through a Bayer filter (RGGB);
``bayer_dng`` turns an sRGB photo back into that mosaic (linear light, 14
bits, as a camera stores it) and writes it as a minimal DNG that LibRaw
demosaics, optionally with a JPEG preview as cameras embed one. The colour
matrix says the "camera" sees linear sRGB, so LibRaw's develop gives back
about the photo it was made from.

Also used by bench/raw_speed.py and bench/decode_memory.py.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

WHITE = 16383  # 14 bits, as most cameras record
BLACK = 512
# XYZ (D65) to linear sRGB: the ColorMatrix1 of a camera that sees linear sRGB.
XYZ_TO_SRGB = (3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.2040, 1.0570)

# How a camera that records each orientation stored the upright picture.
_STORED = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
_SHORT, _LONG, _RATIONAL, _SRATIONAL, _BYTE, _ASCII = 3, 4, 5, 10, 1, 2
_SIZES = {_BYTE: 1, _ASCII: 1, _SHORT: 2, _LONG: 4, _RATIONAL: 8, _SRATIONAL: 8}


def mosaic(image: Image.Image) -> np.ndarray:
    """The RGGB sensor values (uint16, black level included) of an sRGB photo."""
    srgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    height, width = linear.shape[0] & ~1, linear.shape[1] & ~1
    linear = linear[:height, :width]
    cfa = np.empty((height, width), dtype=np.float32)
    cfa[0::2, 0::2] = linear[0::2, 0::2, 0]
    cfa[0::2, 1::2] = linear[0::2, 1::2, 1]
    cfa[1::2, 0::2] = linear[1::2, 0::2, 1]
    cfa[1::2, 1::2] = linear[1::2, 1::2, 2]
    return (BLACK + cfa * (WHITE - BLACK)).round().astype("<u2")


def _rationals(values, signed: bool) -> list[int]:
    out = []
    for value in values:
        out += [round(value * 10000), 10000]
    return out if signed else [abs(v) for v in out]


class _Tiff:
    """A little-endian TIFF with its directories first, as cameras write
    them (EXIF readers look at the head), and its image data after."""

    HEAD = 4096  # room for the directories

    def __init__(self) -> None:
        self.head = bytearray(b"II*\x00\x00\x00\x00\x00")
        self.data = bytearray()

    def blob(self, data: bytes) -> int:
        self.data += b"\x00" * (len(self.data) % 2)
        offset = self.HEAD + len(self.data)
        self.data += data
        return offset

    def ifd(self, entries: dict[int, tuple[int, list | str]]) -> int:
        """Write a directory (and its values that do not fit in 4 bytes)."""
        self.head += b"\x00" * (len(self.head) % 2)
        start = len(self.head)
        table = struct.pack("<H", len(entries))
        extra = bytearray()
        extra_at = start + 2 + 12 * len(entries) + 4
        for tag in sorted(entries):
            kind, values = entries[tag]
            if kind == _ASCII:
                packed = values.encode() + b"\x00"
            elif kind == _BYTE:
                packed = bytes(values)
            else:
                code = {_SHORT: "H", _LONG: "I", _RATIONAL: "I", _SRATIONAL: "i"}[kind]
                packed = struct.pack(f"<{len(values)}{code}", *values)
            count = len(packed) // _SIZES[kind]
            if len(packed) <= 4:
                field = packed.ljust(4, b"\x00")
            else:
                field = struct.pack("<I", extra_at + len(extra))
                extra += packed + b"\x00" * (len(packed) % 2)
            table += struct.pack("<HHI", tag, kind, count) + field
        self.head += table + b"\x00\x00\x00\x00" + extra
        assert len(self.head) <= self.HEAD
        return start

    def finish(self, first_ifd: int) -> bytes:
        self.head[4:8] = struct.pack("<I", first_ifd)
        return bytes(self.head.ljust(self.HEAD, b"\x00") + self.data)


def bayer_dng(image: Image.Image, path: Path, *, orientation: int = 1,
              preview: Image.Image | None = None, taken: str = "2021:07:14 10:30:00") -> Path:
    """Write the upright ``image`` as the sensor data of a DNG at ``path``,
    stored as a camera held sideways or upside down stores it, with
    ``orientation`` (1, 3, 6 or 8, as in EXIF) recorded to turn it back.
    ``preview``, if given, is embedded (stored the same way) as a JPEG."""
    turn = _STORED.get(orientation)
    if turn is not None:
        image = image.transpose(turn)
        preview = preview.transpose(turn) if preview is not None else None
    cfa = mosaic(image)
    height, width = cfa.shape
    tiff = _Tiff()
    raw_at = tiff.blob(cfa.tobytes())
    sub_ifds = []
    if preview is not None:
        jpeg = io.BytesIO()
        preview.convert("RGB").save(jpeg, "JPEG", quality=90)
        jpeg_at = tiff.blob(jpeg.getvalue())
        sub_ifds.append(tiff.ifd({
            254: (_LONG, [1]),  # a reduced-resolution copy of the main image
            256: (_LONG, [preview.width]), 257: (_LONG, [preview.height]),
            258: (_SHORT, [8, 8, 8]), 259: (_SHORT, [7]), 262: (_SHORT, [6]),
            273: (_LONG, [jpeg_at]), 277: (_SHORT, [3]), 278: (_LONG, [preview.height]),
            279: (_LONG, [len(jpeg.getvalue())]),
        }))
    entries = {
        254: (_LONG, [0]),
        256: (_LONG, [width]), 257: (_LONG, [height]),
        258: (_SHORT, [16]), 259: (_SHORT, [1]), 262: (_SHORT, [32803]),  # CFA
        271: (_ASCII, "facesort"), 272: (_ASCII, "Bayer test camera"),
        273: (_LONG, [raw_at]), 274: (_SHORT, [orientation]), 277: (_SHORT, [1]),
        278: (_LONG, [height]), 279: (_LONG, [cfa.nbytes]), 284: (_SHORT, [1]),
        306: (_ASCII, taken),
        33421: (_SHORT, [2, 2]), 33422: (_BYTE, [0, 1, 1, 2]),  # RGGB
        50706: (_BYTE, [1, 4, 0, 0]), 50707: (_BYTE, [1, 1, 0, 0]),
        50708: (_ASCII, "facesort Bayer test camera"),
        50714: (_LONG, [BLACK]), 50717: (_LONG, [WHITE]),
        50721: (_SRATIONAL, _rationals(XYZ_TO_SRGB, signed=True)),
        50728: (_RATIONAL, _rationals((1, 1, 1), signed=False)),
        50778: (_SHORT, [21]),  # D65
    }
    if sub_ifds:
        entries[330] = (_LONG, sub_ifds)
    path.write_bytes(tiff.finish(tiff.ifd(entries)))
    return path
