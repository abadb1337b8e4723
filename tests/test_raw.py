"""Camera RAW files: a real Canon DNG, given face photos as its embedded
preview with exiftool (as a camera would embed its JPEG), then scanned,
named and written to sidecars that exiftool reads."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from bayer_dng import bayer_dng
from conftest import DATA, GROUP
from facesort.config import RAW_EXTENSIONS
from facesort.scanning import decoding
from facesort.scanning.walk import is_photo_name
from test_sidecars import exiftool, export, name_faces

DNG = DATA / "raw" / "canon_eos_6d.dng"
DNG_SIZE = (1224, 816)  # as LibRaw develops it; its own preview is 1024x683
DNG_TAKEN = "2019-06-06T07:29:51"


def raw_with_preview(preview: Image.Image, path: Path, orientation: int | None = None) -> Path:
    """A copy of the real DNG at ``path`` whose embedded preview is ``preview``."""
    jpeg = path.with_name(path.name + ".preview.jpg")
    preview.save(jpeg, quality=92)
    shutil.copy(DNG, path)
    path.chmod(0o644)
    tags = [f"-PreviewImage<={jpeg}"] + ([f"-Orientation#={orientation}"] if orientation else [])
    subprocess.run(["exiftool", "-q", "-overwrite_original", *tags, str(path)], check=True)
    jpeg.unlink()
    return path


def crop_to(image: Image.Image, aspect: float) -> Image.Image:
    """The middle of ``image`` with the width/height ``aspect``."""
    width, height = image.size
    if width / height > aspect:
        new = round(height * aspect)
        return image.crop(((width - new) // 2, 0, (width - new) // 2 + new, height))
    new = round(width / aspect)
    return image.crop((0, (height - new) // 2, width, (height - new) // 2 + new))


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Face RAWs made once for the module; tests copy them."""
    root = tmp_path_factory.mktemp("raws")
    two = crop_to(Image.open(GROUP / "two_people.jpg").convert("RGB"), 1224 / 816)
    two.save(root / "two.jpg", quality=92)
    # Portrait: the camera stores it sideways and records orientation 6.
    upright = crop_to(Image.open(DATA / "known" / "obama" / "obama.jpg").convert("RGB"), 816 / 1224)
    upright.save(root / "upright.jpg", quality=92)
    return {
        "two.jpg": root / "two.jpg",
        "two.dng": raw_with_preview(two, root / "two.dng"),
        "upright.jpg": root / "upright.jpg",
        "rotated.dng": raw_with_preview(upright.transpose(Image.Transpose.ROTATE_90),
                                        root / "rotated.dng", orientation=6),
    }


@pytest.mark.parametrize("suffix", sorted(RAW_EXTENSIONS))
def test_every_raw_extension_is_a_photo_in_either_case(suffix):
    assert is_photo_name("IMG_0001" + suffix)
    assert is_photo_name("IMG_0001" + suffix.upper())


def centre(box: list[float]) -> tuple[float, float]:
    x, y, w, h = box
    return x + w / 2, y + h / 2


def test_a_raw_face_is_found_and_written_to_a_sidecar_exiftool_reads(cli, tmp_path, made):
    folder = tmp_path / "shoot"
    folder.mkdir()
    shutil.copy(made["two.dng"], folder / "IMG_0001.DNG")
    shutil.copy(made["two.jpg"], folder / "preview_as_jpeg.jpg")
    original = hashlib.sha256((folder / "IMG_0001.DNG").read_bytes()).hexdigest()
    summary = json.loads(cli("scan", str(folder), "--json").stdout)
    assert (summary["new"], summary["failed"]) == (2, 0)
    records = export(cli)
    raw, jpeg = records["IMG_0001.DNG"], records["preview_as_jpeg.jpg"]
    # The RAW's own size and capture time, not the preview's.
    assert (raw["width"], raw["height"]) == DNG_SIZE
    assert raw["taken_at"] == DNG_TAKEN
    assert len(raw["faces"]) == len(jpeg["faces"]) == 2
    # Boxes found on the preview are in the RAW's pixels.
    ratio = DNG_SIZE[0] / jpeg["width"]
    for face, ref in zip(sorted(raw["faces"], key=lambda f: f["box"]),
                         sorted(jpeg["faces"], key=lambda f: f["box"])):
        assert face["box"] == pytest.approx([v * ratio for v in ref["box"]], abs=1.0)

    faces = name_faces(cli, "IMG_0001.DNG", "Ada", "Ben")
    result = cli("write")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.glob("*.xmp")) == ["IMG_0001.DNG.xmp"]
    info = exiftool(folder / "IMG_0001.DNG.xmp")["RegionInfo"]
    assert info["AppliedToDimensions"] == {"W": DNG_SIZE[0], "H": DNG_SIZE[1], "Unit": "pixel"}
    regions = {r["Name"]: r["Area"] for r in info["RegionList"]}
    for face, name in zip(faces, ("Ada", "Ben")):
        x, y = centre(face["box"])
        assert regions[name]["X"] == pytest.approx(x / DNG_SIZE[0], abs=1e-3)
        assert regions[name]["Y"] == pytest.approx(y / DNG_SIZE[1], abs=1e-3)
    assert hashlib.sha256((folder / "IMG_0001.DNG").read_bytes()).hexdigest() == original

    # Lightroom's name for the sidecar.
    (folder / "IMG_0001.DNG.xmp").unlink()
    assert cli("write", "--sidecar-name", "stem").exit_code == 0
    assert sorted(exiftool(folder / "IMG_0001.xmp")["PersonInImage"]) == ["Ada", "Ben"]


def test_import_reads_a_raw_that_pillow_cannot_open_through_its_sidecar(cli, tmp_path, made, monkeypatch):
    from facesort.sidecars import sync

    folder = tmp_path / "shoot"
    folder.mkdir()
    shutil.copy(made["two.dng"], folder / "IMG_0002.RAF")  # LibRaw reads by content
    assert cli("scan", str(folder)).exit_code == 0
    faces = sorted(export(cli)["IMG_0002.RAF"]["faces"], key=lambda f: f["box"][0])
    regions = "".join(
        f'<rdf:li mwg-rs:Name="{name}" mwg-rs:Type="Face"><mwg-rs:Area stArea:x="{(x + w / 2) / 1224}" '
        f'stArea:y="{(y + h / 2) / 816}" stArea:w="{w / 1224}" stArea:h="{h / 816}" stArea:unit="normalized"/></rdf:li>'
        for name, (x, y, w, h) in zip(("Ada", "Ben"), (f["box"] for f in faces)))
    (folder / "IMG_0002.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
        'xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#" xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#">'
        '<mwg-rs:Regions rdf:parseType="Resource"><mwg-rs:AppliedToDimensions stDim:w="1224" stDim:h="816" stDim:unit="pixel"/>'
        f'<mwg-rs:RegionList><rdf:Bag>{regions}</rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>'
        '</rdf:Description></rdf:RDF></x:xmpmeta>')
    real_open = sync.Image.open

    def like_a_real_raf(path, *args, **kwargs):
        if str(path).endswith(".RAF"):
            raise sync.Image.UnidentifiedImageError(f"cannot identify image file {path!r}")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(sync.Image, "open", like_a_real_raf)
    result = cli("import", str(folder), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["faces_named"], report["failed"]) == (2, 0)


def test_a_rotated_raw_gives_boxes_upright_and_regions_on_the_stored_pixels(cli, tmp_path, made):
    folder = tmp_path / "portrait"
    folder.mkdir()
    shutil.copy(made["rotated.dng"], folder / "rotated.dng")
    shutil.copy(made["upright.jpg"], folder / "upright.jpg")
    assert cli("scan", str(folder)).exit_code == 0
    records = export(cli)
    raw, upright = records["rotated.dng"], records["upright.jpg"]
    assert (raw["width"], raw["height"]) == (DNG_SIZE[1], DNG_SIZE[0])
    assert len(raw["faces"]) == len(upright["faces"]) == 1
    ux, uy = centre(upright["faces"][0]["box"])
    u, v = ux / upright["width"], uy / upright["height"]
    x, y = centre(raw["faces"][0]["box"])
    assert (x / raw["width"], y / raw["height"]) == pytest.approx((u, v), abs=0.005)

    name_faces(cli, "rotated.dng", "Barack")
    assert cli("write").exit_code == 0
    info = exiftool(folder / "rotated.dng.xmp")["RegionInfo"]
    assert info["AppliedToDimensions"] == {"W": DNG_SIZE[0], "H": DNG_SIZE[1], "Unit": "pixel"}
    # The preview was stored turned a quarter left: the upright (u, v) lies at (v, 1 - u).
    area = info["RegionList"][0]["Area"]
    assert (area["X"], area["Y"]) == pytest.approx((v, 1 - u), abs=0.005)


@pytest.mark.parametrize("preview_size, orientation", [
    ((300, 200), None),  # too small for the detector
    ((900, 900), None),  # framed other than the RAW
    ((300, 200), 6),  # and developed upright
], ids=["small", "square", "small-rotated"])
def test_a_raw_without_a_usable_preview_is_developed(tmp_path, preview_size, orientation):
    path = raw_with_preview(Image.new("RGB", preview_size, "red"), tmp_path / "a.dng", orientation)
    photo = decoding.read_and_decode(path, 640)
    # This DNG holds demosaiced (linear) data, which LibRaw's half size
    # leaves whole; a Bayer RAW comes out at half its size.
    displayed = DNG_SIZE[::-1] if orientation == 6 else DNG_SIZE
    assert photo.pixels.shape == (displayed[1], displayed[0], 3)
    assert photo.scale == 1.0
    assert (photo.info.width, photo.info.height) == displayed
    # The developed desk, not the red preview.
    assert not (photo.pixels[..., 0] > 200).all()
    assert photo.info.taken_at == DNG_TAKEN


def test_the_cameras_own_preview_is_used_when_big_enough():
    photo = decoding.read_and_decode(DNG, 640)
    assert photo.pixels.shape == (683, 1024, 3)
    assert photo.scale == pytest.approx(DNG_SIZE[0] / 1024)
    assert (photo.info.width, photo.info.height, photo.info.orientation) == (*DNG_SIZE, 1)


def inside(point: tuple[float, float], box: list[float]) -> bool:
    x, y, w, h = box
    return x <= point[0] <= x + w and y <= point[1] <= y + h


def test_a_bayer_raw_without_a_preview_is_developed_and_its_faces_found(cli, tmp_path):
    """Real sensor data: the photo mosaicked into RGGB, stored sideways by a
    camera held upright (orientation 6), no preview; LibRaw demosaics it."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    upright = Image.open(GROUP / "two_people.jpg").convert("RGB").crop((0, 0, 1126, 660))
    upright.save(folder / "reference.jpg", quality=95)
    path = bayer_dng(upright, folder / "IMG_0003.DNG", orientation=6)
    photo = decoding.read_and_decode(path, 640)
    # Developed at half size, upright; the size recorded is the RAW's own.
    assert photo.pixels.shape == (330, 563, 3) and photo.scale == 2.0
    assert (photo.info.width, photo.info.height, photo.info.orientation) == (1126, 660, 6)
    assert photo.info.taken_at == "2021-07-14T10:30:00"

    assert json.loads(cli("scan", str(folder), "--json").stdout)["failed"] == 0
    records = export(cli)
    raw, ref = records["IMG_0003.DNG"], records["reference.jpg"]
    assert (raw["width"], raw["height"]) == (1126, 660)
    assert len(raw["faces"]) == len(ref["faces"]) == 2
    for face, known in zip(sorted(raw["faces"], key=lambda f: f["box"]),
                           sorted(ref["faces"], key=lambda f: f["box"])):
        assert inside(centre(face["box"]), known["box"])
        assert face["box"][2] == pytest.approx(known["box"][2], rel=0.1)


def test_a_raw_whose_name_is_not_utf8_is_read(cli, tmp_path, made):
    """LibRaw is handed the name as UTF-8: a name from an old Latin-1 disk is
    read through the file's bytes instead."""
    folder = tmp_path / "old disk"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.dng")
    shutil.copy(made["two.dng"], folder / name)
    summary = json.loads(cli("scan", str(folder), "--json").stdout)
    assert (summary["new"], summary["failed"], summary["faces"]) == (1, 0, 2)


@pytest.fixture
def raw_and_jpeg(cli, tmp_path, made) -> Path:
    """IMG_0001.CR2 + IMG_0001.JPG, as a camera set to RAW+JPEG writes them
    (same stem, same capture time), scanned."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    shutil.copy(made["two.dng"], folder / "IMG_0001.CR2")  # LibRaw reads by content
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = DNG_TAKEN.replace("-", ":").replace("T", " ")
    Image.open(made["two.jpg"]).save(folder / "IMG_0001.JPG", quality=92, exif=exif)
    summary = json.loads(cli("scan", str(folder), "--json").stdout)
    assert (summary["new"], summary["failed"]) == (2, 0)
    return folder


def test_a_raw_and_a_jpeg_of_one_shot_are_two_photos(cli, raw_and_jpeg):
    records = export(cli)
    raw, shot = records["IMG_0001.CR2"], records["IMG_0001.JPG"]
    assert raw["taken_at"] == shot["taken_at"] == DNG_TAKEN
    assert len(raw["faces"]) == len(shot["faces"]) == 2
    assert raw["faces"][0]["id"] not in {face["id"] for face in shot["faces"]}


def test_one_stem_sidecar_keeps_the_names_of_a_raw_and_its_jpeg(cli, raw_and_jpeg):
    """Lightroom's sidecar name (IMG_0001.xmp) is the same for both photos:
    it must hold the names of both, and stay as it is when written again."""
    # Different names on each, so that losing either's shows.
    name_faces(cli, "IMG_0001.CR2", "Ada", "Ben")
    name_faces(cli, "IMG_0001.JPG", "Cy", "Dee")
    assert cli("write", "--sidecar-name", "stem").exit_code == 0
    assert sorted(p.name for p in raw_and_jpeg.glob("*.xmp")) == ["IMG_0001.xmp"]
    sidecar = raw_and_jpeg / "IMG_0001.xmp"
    written = sidecar.read_bytes()
    assert sorted(exiftool(sidecar)["PersonInImage"]) == ["Ada", "Ben", "Cy", "Dee"]
    assert cli("write", "--sidecar-name", "stem").exit_code == 0
    assert sidecar.read_bytes() == written
