"""XMP sidecars, checked with exiftool, the reader other apps' users trust."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from conftest import GROUP, lfw_photo

TAGS = ["-RegionInfo", "-RegionInfoMP", "-TagsList", "-HierarchicalSubject", "-Subject",
        "-PersonInImage", "-Rating"]


def exiftool(path: Path, *tags: str) -> dict:
    assert shutil.which("exiftool"), "exiftool is needed: apt-get install libimage-exiftool-perl"
    out = subprocess.run(["exiftool", "-j", "-struct", *(tags or TAGS), str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]


def export(cli) -> dict[str, dict]:
    return {Path(r["path"]).name: r for r in map(json.loads, cli("export").stdout.splitlines())}


def name_faces(cli, photo_name: str, *names: str) -> list[dict]:
    """Assign ``names`` to the photo's faces from left to right."""
    faces = sorted(export(cli)[photo_name]["faces"], key=lambda f: f["box"][0])
    for face, person in zip(faces, names):
        assert cli("assign", str(face["id"]), person).exit_code == 0
    return faces


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    return folder


def test_a_plain_photo_gets_regions_and_keywords_exiftool_reads(cli, folder):
    shutil.copy(GROUP / "two_people.jpg", folder / "two.jpg")
    original = hashlib.sha256((folder / "two.jpg").read_bytes()).hexdigest()
    cli("scan", str(folder))
    faces = name_faces(cli, "two.jpg", "Zoë & Björn <Ω>", "山田 太郎")
    result = cli("write")
    assert result.exit_code == 0, result.output
    assert "1 sidecars created" in result.stdout
    data = exiftool(folder / "two.jpg.xmp")
    info = data["RegionInfo"]
    assert info["AppliedToDimensions"] == {"W": 1126, "H": 661, "Unit": "pixel"}
    regions = sorted(info["RegionList"], key=lambda r: r["Area"]["X"])
    assert [r["Name"] for r in regions] == ["Zoë & Björn <Ω>", "山田 太郎"]
    for region, face in zip(regions, faces):
        x, y, w, h = face["box"]
        assert region["Type"] == "Face"
        assert region["Area"]["X"] == pytest.approx((x + w / 2) / 1126, abs=1e-4)
        assert region["Area"]["Y"] == pytest.approx((y + h / 2) / 661, abs=1e-4)
        assert region["Area"]["W"] == pytest.approx(w / 1126, abs=1e-4)
        assert region["Area"]["Unit"] == "normalized"
    assert sorted(data["TagsList"]) == ["People/Zoë & Björn <Ω>", "People/山田 太郎"]
    assert sorted(data["HierarchicalSubject"]) == ["People|Zoë & Björn <Ω>", "People|山田 太郎"]
    assert sorted(data["Subject"]) == sorted(data["PersonInImage"]) == ["Zoë & Björn <Ω>", "山田 太郎"]
    mp = sorted(data["RegionInfoMP"]["Regions"], key=lambda r: r["Rectangle"])
    assert [r["PersonDisplayName"] for r in mp] == ["Zoë & Björn <Ω>", "山田 太郎"]
    # Writing again changes nothing, and the photo itself was never touched.
    again = cli("write")
    assert "0 sidecars created, 0 updated, 1 unchanged (nothing to change)" in again.stdout
    assert hashlib.sha256((folder / "two.jpg").read_bytes()).hexdigest() == original


def test_regions_on_a_rotated_photo_are_relative_to_the_stored_pixels(cli, folder):
    upright = Image.open(GROUP / "kit_with_rose.jpg").convert("RGB")
    to_stored = Image.Transpose.ROTATE_90  # a viewer turns it back with orientation 6
    stored = upright.transpose(to_stored)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(folder / "rotated.jpg", quality=95, exif=exif)
    cli("scan", str(folder))
    faces = name_faces(cli, "rotated.jpg", "Kit", "Rose")
    assert cli("write").exit_code == 0
    info = exiftool(folder / "rotated.jpg.xmp")["RegionInfo"]
    assert info["AppliedToDimensions"] == {"W": stored.width, "H": stored.height, "Unit": "pixel"}
    regions = {r["Name"]: r["Area"] for r in info["RegionList"]}
    for face, name in zip(faces, ("Kit", "Rose")):
        x, y, w, h = face["box"]  # displayed pixels, as the viewer shows the photo
        # Where the face's centre lies in the stored pixels, found by PIL's own
        # transpose of a marker rather than by the formula under test.
        marker = Image.new("L", upright.size)
        marker.putpixel((round(x + w / 2), round(y + h / 2)), 255)
        left, top, *_ = marker.transpose(to_stored).getbbox()
        area = regions[name]
        assert area["X"] == pytest.approx(left / stored.width, abs=0.005)
        assert area["Y"] == pytest.approx(top / stored.height, abs=0.005)
        # A quarter turn swaps the axes: the box's height runs along the stored width.
        assert area["W"] == pytest.approx(h / upright.height, abs=0.005)
        assert area["H"] == pytest.approx(w / upright.width, abs=0.005)


FOREIGN = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="digiKam">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#"
    xmlns:acme="http://example.com/acme/1.0/"
    xmp:Rating="4" acme:Mood="sunny">
   <dc:subject><rdf:Bag><rdf:li>holiday</rdf:li></rdf:Bag></dc:subject>
   <mwg-rs:Regions rdf:parseType="Resource">
    <mwg-rs:AppliedToDimensions stDim:w="1126" stDim:h="661" stDim:unit="pixel"/>
    <mwg-rs:RegionList><rdf:Bag>
     <rdf:li><rdf:Description mwg-rs:Name="Grandma" mwg-rs:Type="Face">
      <mwg-rs:Area stArea:x="0.9" stArea:y="0.9" stArea:w="0.05" stArea:h="0.08" stArea:unit="normalized"/>
     </rdf:Description></rdf:li>
    </rdf:Bag></mwg-rs:RegionList>
   </mwg-rs:Regions>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


def test_an_existing_sidecar_keeps_what_other_apps_wrote(cli, folder):
    shutil.copy(GROUP / "two_people.jpg", folder / "two.jpg")
    (folder / "two.xmp").write_text(FOREIGN, encoding="utf-8")  # Lightroom-style name
    cli("scan", str(folder))
    faces = name_faces(cli, "two.jpg", "Ann", "Ben")
    assert cli("write").exit_code == 0
    assert not (folder / "two.jpg.xmp").exists()  # the sidecar that exists is the one updated
    data = exiftool(folder / "two.xmp")
    assert data["Rating"] == 4
    assert sorted(r["Name"] for r in data["RegionInfo"]["RegionList"]) == ["Ann", "Ben", "Grandma"]
    assert sorted(data["Subject"]) == ["Ann", "Ben", "holiday"]
    assert 'acme:Mood="sunny"' in (folder / "two.xmp").read_text(encoding="utf-8")
    # A rename replaces facesort's name; a rejected face's name disappears.
    cli("rename", "Ann", "Annabel")
    cli("reject", str(faces[1]["id"]))
    result = cli("write")
    assert "1 updated" in result.stdout
    data = exiftool(folder / "two.xmp")
    assert sorted(r["Name"] for r in data["RegionInfo"]["RegionList"]) == ["Annabel", "Grandma"]
    assert sorted(data["Subject"]) == ["Annabel", "holiday"]
    assert data["TagsList"] == ["People/Annabel"]
    assert data["Rating"] == 4


def test_dry_run_lists_changes_and_writes_nothing(cli, folder):
    shutil.copy(lfw_photo("Colin_Powell"), folder / "colin.jpg")
    cli("scan", str(folder))
    name_faces(cli, "colin.jpg", "Colin")
    result = cli("write", "--dry-run")
    assert result.exit_code == 0
    assert f"would be created: {folder / 'colin.jpg.xmp'} (Colin)" in result.stdout
    assert not list(folder.glob("*.xmp"))
    assert cli("write", "--sidecar-name", "stem").exit_code == 0
    assert (folder / "colin.xmp").is_file() and not (folder / "colin.jpg.xmp").exists()


def test_write_can_be_limited_to_a_person_and_to_folders(cli, folder):
    (folder / "a").mkdir()
    (folder / "b").mkdir()
    shutil.copy(lfw_photo("Colin_Powell"), folder / "a" / "colin.jpg")
    shutil.copy(lfw_photo("Tony_Blair"), folder / "b" / "tony.jpg")
    cli("scan", str(folder))
    name_faces(cli, "colin.jpg", "Colin")
    name_faces(cli, "tony.jpg", "Tony")
    assert cli("write", "--person", "tony").exit_code == 0
    assert [p.name for p in folder.rglob("*.xmp")] == ["tony.jpg.xmp"]
    assert cli("write", str(folder / "a")).exit_code == 0
    assert sorted(p.name for p in folder.rglob("*.xmp")) == ["colin.jpg.xmp", "tony.jpg.xmp"]


def test_import_takes_over_names_from_sidecars_and_embedded_xmp(cli, folder):
    shutil.copy(GROUP / "two_people.jpg", folder / "two.jpg")
    shutil.copy(GROUP / "kit_with_rose.jpg", folder / "kit.jpg")
    shutil.copy(GROUP / "obama_and_biden.jpg", folder / "obama.jpg")
    cli("scan", str(folder))
    faces = {name: sorted(r["faces"], key=lambda f: f["box"][0]) for name, r in export(cli).items()}
    # A digiKam-style sidecar with an MWG region on the left face of two.jpg.
    x, y, w, h = faces["two.jpg"][0]["box"]
    region = (f'<rdf:li><rdf:Description mwg-rs:Name="Grandma" mwg-rs:Type="Face"><mwg-rs:Area '
              f'stArea:x="{(x + w / 2) / 1126:.4f}" stArea:y="{(y + h / 2) / 661:.4f}" '
              f'stArea:w="{w / 1126:.4f}" stArea:h="{h / 661:.4f}" stArea:unit="normalized"/>'
              f'</rdf:Description></rdf:li>')
    foreign = FOREIGN.replace(FOREIGN[FOREIGN.index("<rdf:li><rdf:Description"):FOREIGN.index(
        "</rdf:Bag></mwg-rs:RegionList>")], region)
    (folder / "two.jpg.xmp").write_text(foreign, encoding="utf-8")
    # Windows Photo Gallery regions on kit.jpg (top-left corner, normalised).
    kx, ky, kw, kh = faces["kit.jpg"][1]["box"]
    mp = f"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:MP="http://ns.microsoft.com/photo/1.2/"
 xmlns:MPRI="http://ns.microsoft.com/photo/1.2/t/RegionInfo#" xmlns:MPReg="http://ns.microsoft.com/photo/1.2/t/Region#">
<MP:RegionInfo rdf:parseType="Resource"><MPRI:Regions><rdf:Bag>
<rdf:li MPReg:Rectangle="{kx / 501:.4f}, {ky / 700:.4f}, {kw / 501:.4f}, {kh / 700:.4f}" MPReg:PersonDisplayName="Rose Leslie"/>
</rdf:Bag></MPRI:Regions></MP:RegionInfo></rdf:Description></rdf:RDF></x:xmpmeta>"""
    (folder / "kit.xmp").write_text(mp, encoding="utf-8")
    # XMP inside the photo itself, as Lightroom or a phone may write it.
    ox, oy, ow, oh = faces["obama.jpg"][0]["box"]
    embedded = folder / "embedded.xmp"
    embedded.write_text(FOREIGN.replace('stArea:x="0.9" stArea:y="0.9" stArea:w="0.05" stArea:h="0.08"',
                                        f'stArea:x="{(ox + ow / 2) / 2000:.4f}" stArea:y="{(oy + oh / 2) / 1428:.4f}" '
                                        f'stArea:w="{ow / 2000:.4f}" stArea:h="{oh / 1428:.4f}"').replace(
        "Grandma", "Joe Biden"), encoding="utf-8")
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-xmp<={embedded}", str(folder / "obama.jpg")],
                   check=True)
    embedded.unlink()
    cli("scan", str(folder))  # obama.jpg changed on disk: scanned again, same faces
    result = cli("import", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["faces_named"] == 3
    named = {(n, f["person"], f["person_source"]) for n, r in export(cli).items() for f in r["faces"] if f["person"]}
    assert named == {("two.jpg", "Grandma", "import"), ("kit.jpg", "Rose Leslie", "import"),
                     ("obama.jpg", "Joe Biden", "import")}


def test_import_does_not_take_facesorts_own_names_back(cli, folder):
    shutil.copy(GROUP / "two_people.jpg", folder / "two.jpg")
    cli("scan", str(folder))
    name_faces(cli, "two.jpg", "Ann", "Ben")
    cli("write")
    report = json.loads(cli("import", "--json").stdout)
    assert report["faces_named"] == 0
    sources = {f["person_source"] for f in export(cli)["two.jpg"]["faces"]}
    assert sources == {"user"}


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&lol3;</dc:title>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_malformed_and_hostile_sidecars_give_one_line_and_the_run_goes_on(cli, folder):
    for name in ("broken", "bomb", "good"):
        shutil.copy(lfw_photo("Colin_Powell"), folder / f"{name}.jpg")
    (folder / "broken.jpg.xmp").write_text("<x:xmpmeta><rdf:RDF>not closed", encoding="utf-8")
    (folder / "bomb.jpg.xmp").write_text(BOMB, encoding="utf-8")
    (folder / "good.xmp").write_text(FOREIGN.replace("Grandma", "Colin"), encoding="utf-8")
    cli("scan", str(folder))
    result = cli("import")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert any(line.startswith(str(folder / "broken.jpg.xmp") + ": malformed XMP") for line in lines)
    assert any(line.startswith(str(folder / "bomb.jpg.xmp") + ": malformed XMP") for line in lines)
    written = cli("write")
    assert written.exit_code == 1 and len(written.stderr.strip().splitlines()) == 2


@pytest.mark.parametrize("orientation", range(1, 9))
def test_regions_map_to_the_stored_grid_and_back_for_every_orientation(orientation):
    from facesort.sidecars.xmp import Region, displayed_to_stored, stored_to_displayed

    width, height = 400, 300  # displayed
    box = (40.0, 30.0, 100.0, 60.0)
    x, y, w, h = displayed_to_stored(box, width, height, orientation)
    swapped = orientation in (5, 6, 7, 8)
    assert (w, h) == pytest.approx((60 / 300, 100 / 400) if swapped else (100 / 400, 60 / 300))
    back = stored_to_displayed(Region("A", x, y, w, h), width, height, orientation)
    assert back == pytest.approx(box)
