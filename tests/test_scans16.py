"""Scans and other images beyond 8-bit RGB: 16-bit greyscale and colour PNG
and TIFF, floating-point TIFF, and every mode Pillow opens, are brought to
8-bit RGB without clipping (a 16-bit greyscale scan used to come out almost
all white, with no face found)."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import lfw_photo
from facesort.scanning import decoding


def png16(pixels: np.ndarray) -> bytes:
    """A 16-bit PNG of ``pixels`` (grey, or RGB), which Pillow cannot write."""
    height, width = pixels.shape[:2]
    colour = 2 if pixels.ndim == 3 else 0
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def tiff16_rgb(pixels: np.ndarray) -> bytes:
    """An uncompressed 16-bit RGB TIFF of ``pixels``, which Pillow cannot write."""
    height, width = pixels.shape[:2]
    data = pixels.astype("<u2").tobytes()
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 3, None), (259, 3, 1, 1),
               (262, 3, 1, 2), (273, 4, 1, None), (277, 3, 1, 3), (278, 4, 1, height),
               (279, 4, 1, len(data)), (284, 3, 1, 1)]
    bits_at = 8 + 2 + len(entries) * 12 + 4
    data_at = bits_at + 6
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = {258: bits_at, 273: data_at}.get(tag, value)
        packed = struct.pack("<I", value) if kind == 4 or tag == 258 else struct.pack("<HH", value, 0)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 4 + struct.pack("<3H", 16, 16, 16) + data


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return np.asarray(Image.open(lfw_photo("Colin_Powell")).convert("RGB"))


def test_16_bit_and_float_scans_have_their_face_found_as_at_8_bits(cli, tmp_path, face):
    grey = np.asarray(Image.fromarray(face).convert("L"))
    folder = tmp_path / "scans"
    folder.mkdir()
    Image.fromarray(grey).save(folder / "grey8.png")
    wide = grey.astype(np.uint16) * 257
    Image.fromarray(wide).save(folder / "grey16.png")
    Image.fromarray(wide).save(folder / "grey16.tif")
    Image.fromarray(wide.astype(">u2")).save(folder / "grey16_big_endian.tif")
    Image.fromarray(wide.astype(np.int32)).save(folder / "grey32.tif")
    Image.fromarray(grey.astype(np.float32) / 255).save(folder / "float.tif")
    (folder / "rgb16.png").write_bytes(png16(face.astype(np.uint16) * 257))
    (folder / "rgb16.tif").write_bytes(tiff16_rgb(face.astype(np.uint16) * 257))
    Image.fromarray(face).save(folder / "rgb8.png")
    result = cli("scan", str(folder), "--json")
    assert result.exit_code == 0, result.output
    records = {os.path.basename(r["path"]): r for r in map(json.loads, cli("export").stdout.splitlines())}
    modes = {name: Image.open(folder / name).mode for name in records}
    assert {modes[n] for n in ("grey16.png", "grey16.tif", "grey16_big_endian.tif", "grey32.tif",
                               "float.tif")} == {"I;16", "I;16B", "I", "F"}
    for reference, wider in (("grey8.png", ("grey16.png", "grey16.tif", "grey16_big_endian.tif",
                                            "grey32.tif", "float.tif")),
                             ("rgb8.png", ("rgb16.png", "rgb16.tif"))):
        [ref] = records[reference]["faces"]
        for name in wider:
            assert len(records[name]["faces"]) == 1, (name, modes[name])
            assert records[name]["faces"][0]["box"] == pytest.approx(ref["box"], abs=2.0), name


def _rgb(image: Image.Image) -> tuple[int, int, int]:
    converted = decoding.as_rgb8(image)
    assert converted.mode == "RGB"
    return tuple(int(v) for v in np.asarray(converted)[0, 0])


@pytest.mark.parametrize("mode, values, expected", [
    ("I;16", 32896, 128),  # 0x8080: half way up 16 bits
    ("I;16", 65535, 255),
    ("I;16", 200, 1),  # a dark 16-bit pixel stays dark
    ("I;16B", 32896, 128),
    ("I;16L", 65535, 255),
    ("I", 32896, 128),  # values past 255: 16-bit data
    ("I", 128, 128),  # values that fit 8 bits
    ("I", 1 << 20, 255),  # past 16 bits: from the image's own maximum
    ("I", -5, 0),
    ("F", 0.5, 128),  # floating point from 0 to 1
    ("F", 128.0, 128),
    ("F", 32896.0, 128),
])
def test_wide_modes_are_scaled_not_clipped(mode, values, expected):
    image = Image.new(mode, (2, 2), values)
    assert _rgb(image) == (expected,) * 3


def test_the_range_of_an_i_mode_image_comes_from_its_brightest_pixel():
    values = np.array([[0, 16384], [32768, 65535]], dtype=np.int32)
    converted = np.asarray(decoding.as_rgb8(Image.fromarray(values)))[..., 0]
    assert converted.tolist() == [[0, 64], [128, 255]]


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK",
                                  "YCbCr", "LAB", "HSV"])
def test_every_other_mode_pillow_opens_becomes_8_bit_rgb(mode):
    colour = Image.new("RGB", (2, 2), (200, 120, 40))
    if mode in ("P", "PA"):
        image = colour.quantize().convert(mode)  # a palette that holds the colour exactly
    elif mode == "LA":
        image = colour.convert("L").convert("LA")
    else:
        image = colour.convert(mode)
    red, green, blue = _rgb(image)
    if mode == "1":
        assert red == green == blue and red in (0, 255)
    elif mode in ("L", "LA"):
        assert red == green == blue == pytest.approx(133, abs=2)  # the grey of (200, 120, 40)
    else:
        assert (red, green, blue) == pytest.approx((200, 120, 40), abs=3)


def test_a_16_bit_image_over_the_reduce_threshold_is_reduced_without_clipping(tmp_path, monkeypatch):
    monkeypatch.setattr(decoding, "REDUCE_ABOVE_PIXELS", 100)
    wide = np.full((64, 96), 32896, dtype=np.uint16)
    wide[:, 48:] = 65535
    path = Path(tmp_path / "big16.tif")
    Image.fromarray(wide).save(path)
    photo = decoding.read_and_decode(path, 24)
    assert photo.pixels.shape[:2] == (64 // 4, 96 // 4)
    assert photo.scale == 4.0
    assert photo.pixels[0, 0].tolist() == [128] * 3
    assert photo.pixels[0, -1].tolist() == [255] * 3
