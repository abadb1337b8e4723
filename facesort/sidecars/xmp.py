"""XMP sidecars: write face regions and person keywords that digiKam,
Lightroom, darktable, Immich and exiftool read; read what they wrote.

What facesort writes into a sidecar it also records there, in its own
namespace (the names, and each region's area), so that a later write replaces
exactly that and keeps every property and region other apps wrote; and so
that an import never mistakes facesort's own regions for the user's tagging.
Untrusted XML is parsed with defusedxml: no entities, no DTDs.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from defusedxml import ElementTree as SafeET

from facesort import __version__
from facesort.errors import FacesortError, PhotoError

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "stDim": "http://ns.adobe.com/xap/1.0/sType/Dimensions#",
    "stArea": "http://ns.adobe.com/xmp/sType/Area#",
    "MP": "http://ns.microsoft.com/photo/1.2/",
    "MPRI": "http://ns.microsoft.com/photo/1.2/t/RegionInfo#",
    "MPReg": "http://ns.microsoft.com/photo/1.2/t/Region#",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "facesort": "https://github.com/facesort/facesort/ns/1.0/",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

XPACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
XPACKET_END = '\n<?xpacket end="w"?>\n'
# Keyword properties and how each writes a person's name.
KEYWORDS = {
    ("digiKam", "TagsList", "Seq"): "People/{}",
    ("lr", "hierarchicalSubject", "Bag"): "People|{}",
    ("dc", "subject", "Bag"): "{}",
    ("Iptc4xmpExt", "PersonInImage", "Bag"): "{}",
}
# The keyword trees, and the character that separates their levels: a name
# holding either would read as nested tags (digiKam also reads Lightroom's tree
# when a photo has no TagsList), so facesort leaves such a name out of both
# trees; its regions and the flat keywords still carry it.
TREES = {("digiKam", "TagsList"): "/", ("lr", "hierarchicalSubject"): "|"}
DEFAULT_PEOPLE_TAG = "People"


def q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


class SidecarError(PhotoError):
    """A sidecar that cannot be read or written; the run goes on."""


@dataclass(frozen=True)
class Region:
    """A named face, normalised to the photo's stored pixel grid: centre x, y and size."""

    name: str
    x: float
    y: float
    w: float
    h: float


def sidecar_paths(photo: Path) -> tuple[Path, Path]:
    """``photo.jpg.xmp`` (digiKam, darktable, Immich) and ``photo.xmp`` (Lightroom, exiftool)."""
    return photo.with_name(photo.name + ".xmp"), photo.with_suffix(".xmp")


# -- geometry -----------------------------------------------------------------------

# Where a normalised point (u, v) of the displayed photo lies in the stored
# pixels, for each EXIF orientation; and the way back.
_TO_STORED = {
    1: lambda u, v: (u, v), 2: lambda u, v: (1 - u, v), 3: lambda u, v: (1 - u, 1 - v),
    4: lambda u, v: (u, 1 - v), 5: lambda u, v: (v, u), 6: lambda u, v: (v, 1 - u),
    7: lambda u, v: (1 - v, 1 - u), 8: lambda u, v: (1 - v, u),
}
_TO_DISPLAYED = {
    1: lambda u, v: (u, v), 2: lambda u, v: (1 - u, v), 3: lambda u, v: (1 - u, 1 - v),
    4: lambda u, v: (u, 1 - v), 5: lambda u, v: (v, u), 6: lambda u, v: (1 - v, u),
    7: lambda u, v: (1 - v, 1 - u), 8: lambda u, v: (v, 1 - u),
}


def _turn_box(left: float, top: float, right: float, bottom: float, turns: dict,
              orientation: int) -> tuple[float, float, float, float]:
    """The normalised box (left, top, right, bottom) carried through ``turns``."""
    turn = turns.get(orientation, turns[1])
    (a0, b0), (a1, b1) = turn(left, top), turn(right, bottom)
    return min(a0, a1), min(b0, b1), max(a0, a1), max(b0, b1)


def displayed_to_stored(box: tuple[float, float, float, float], width: int, height: int,
                        orientation: int) -> tuple[float, float, float, float]:
    """A box in displayed pixels → (centre x, centre y, w, h) normalised to the
    stored pixel grid, which is what MWG regions are relative to: readers such
    as Immich and Lightroom turn them by the EXIF orientation themselves."""
    x, y, w, h = box
    left, top, right, bottom = _turn_box(x / width, y / height, (x + w) / width,
                                         (y + h) / height, _TO_STORED, orientation)
    return ((left + right) / 2, (top + bottom) / 2, right - left, bottom - top)


def stored_to_displayed(region: Region, width: int, height: int,
                        orientation: int) -> tuple[float, float, float, float]:
    """The inverse of :func:`displayed_to_stored`, in displayed pixels (x, y, w, h)."""
    left, top, right, bottom = _turn_box(
        region.x - region.w / 2, region.y - region.h / 2, region.x + region.w / 2,
        region.y + region.h / 2, _TO_DISPLAYED, orientation)
    return (left * width, top * height, (right - left) * width, (bottom - top) * height)


def _fmt(value: float) -> str:
    return f"{min(max(value, 0.0), 1.0):.6f}"


def _mwg_signature(region: Region) -> str:
    return f"mwg {_fmt(region.x)},{_fmt(region.y)},{_fmt(region.w)},{_fmt(region.h)} {region.name}"


def _mp_rectangle(region: Region) -> str:
    return (f"{_fmt(region.x - region.w / 2)}, {_fmt(region.y - region.h / 2)}, "
            f"{_fmt(region.w)}, {_fmt(region.h)}")


def _mp_signature(region: Region) -> str:
    return f"mp {_mp_rectangle(region)} {region.name}"


# -- parsing ------------------------------------------------------------------------

def _parse(text: bytes, source: Path) -> ET.Element:
    try:
        for _event, (prefix, uri) in SafeET.iterparse(io.BytesIO(text), events=("start-ns",)):
            if prefix and prefix not in NS:
                ET.register_namespace(prefix, uri)  # keep other apps' prefixes as they were
        root = SafeET.fromstring(text)
    except Exception as exc:  # defusedxml and expat raise several kinds
        raise SidecarError(source, f"malformed XMP: {exc}") from exc
    if root.tag == q("rdf", "RDF"):
        wrapper = ET.Element(q("x", "xmpmeta"))
        wrapper.append(root)
        root = wrapper
    if root.tag != q("x", "xmpmeta") or root.find(q("rdf", "RDF")) is None:
        raise SidecarError(source, "not an XMP packet (no x:xmpmeta/rdf:RDF)")
    return root


def _descriptions(root: ET.Element) -> list[ET.Element]:
    return root.find(q("rdf", "RDF")).findall(q("rdf", "Description"))


def _items(container: ET.Element | None) -> list[ET.Element]:
    """The rdf:li of a property holding a Bag or Seq."""
    if container is None:
        return []
    return [li for array in container for li in array.findall(q("rdf", "li"))]


def _field(element: ET.Element, prefix: str, name: str) -> str | None:
    """A struct field written as an attribute, a child element, or inside a
    nested rdf:Description: XMP allows all three."""
    key = q(prefix, name)
    if key in element.attrib:
        return element.attrib[key]
    child = element.find(key)
    if child is None:
        nested = element.find(q("rdf", "Description"))
        return _field(nested, prefix, name) if nested is not None else None
    return child.text


def _struct(element: ET.Element, prefix: str, name: str) -> ET.Element | None:
    found = element.find(q(prefix, name))
    if found is None and element.find(q("rdf", "Description")) is not None:
        return _struct(element.find(q("rdf", "Description")), prefix, name)
    return found


def _facesort_record(root: ET.Element) -> tuple[set[str], set[str]]:
    names, signatures = set(), set()
    for description in _descriptions(root):
        names |= {li.text or "" for li in _items(description.find(q("facesort", "Names")))}
        signatures |= {li.text or "" for li in _items(description.find(q("facesort", "Regions")))}
    return names, signatures


def _mwg_regions(description: ET.Element) -> list[tuple[ET.Element, Region | None]]:
    regions = _struct(description, "mwg-rs", "Regions")
    if regions is None:
        return []
    found = []
    for li in _items(_struct(regions, "mwg-rs", "RegionList")):
        area = _struct(li, "mwg-rs", "Area")
        name = _field(li, "mwg-rs", "Name")
        kind = _field(li, "mwg-rs", "Type")
        region = None
        if area is not None and name and kind in (None, "Face"):
            try:
                region = Region(name, *(float(_field(area, "stArea", k) or "nan")
                                        for k in ("x", "y", "w", "h")))
            except ValueError:
                region = None
        found.append((li, region))
    return found


def _mp_regions(description: ET.Element) -> list[tuple[ET.Element, Region | None]]:
    info = _struct(description, "MP", "RegionInfo")
    if info is None:
        return []
    found = []
    for li in _items(_struct(info, "MPRI", "Regions")):
        name = _field(li, "MPReg", "PersonDisplayName")
        rectangle = _field(li, "MPReg", "Rectangle")
        region = None
        if name and rectangle:
            try:
                x, y, w, h = (float(v) for v in rectangle.split(","))
                region = Region(name, x + w / 2, y + h / 2, w, h)
            except ValueError:
                region = None
        found.append((li, region))
    return found


@dataclass(frozen=True)
class ForeignTags:
    """What apps other than facesort wrote into one XMP packet."""

    regions: list[Region]  # named face regions
    people: list[str]  # names from person properties: PersonInImage and the people trees
    # dc:subject keywords that may be people: not facesort's, and no level of
    # a keyword tree (a tree puts a person under the people tag, so a keyword
    # elsewhere in it, or the people tag itself, is not one).
    subjects: list[str]
    # The packet's only keyword, when it has no keyword tree that could say
    # whether that keyword is a person.
    lone_subject: str | None


def nests_in_a_tree(name: str) -> bool:
    """Whether ``name`` holds a keyword tree's level separator, so that
    facesort leaves it out of the trees."""
    return any(separator in name for separator in TREES.values())


def _keywords_of(names: set[str]) -> set[str]:
    """Every keyword facesort writes (or wrote, before it left names with a
    separator out of the trees) for these names."""
    return {pattern.format(name) for pattern in KEYWORDS.values() for name in names}


def _texts(description: ET.Element, prefix: str, name: str, own: set[str]) -> list[str]:
    """A keyword property's entries, but for the ones in ``own``."""
    return [li.text.strip() for li in _items(description.find(q(prefix, name)))
            if li.text and li.text.strip() and li.text not in own]


def _split_tree(entries: list[str], separator: str, people_tag: tuple[str, ...],
                ) -> tuple[list[str], set[str]]:
    """The people in a keyword tree (the leaves under the people tag, so that
    ``People/Family/Ann`` is Ann) and every other level in it, casefolded."""
    paths = [tuple(level.strip() for level in entry.split(separator)) for entry in entries]
    depth = len(people_tag)
    key = tuple(level.casefold() for level in people_tag)
    people, levels = [], set()
    for path in paths:
        under_tag = len(path) > depth and tuple(p.casefold() for p in path[:depth]) == key
        is_ancestor = any(len(other) > len(path) and other[:len(path)] == path for other in paths)
        if under_tag and not is_ancestor and path[-1]:
            people.append(path[-1])
            levels |= {level.casefold() for level in path[:-1]}
        else:
            levels |= {level.casefold() for level in path}
    return people, levels


def people_tag_levels(tag: str) -> tuple[str, ...]:
    """``--people-tag`` as tree levels: 'People', or nested as 'Tags/People' or 'Tags|People'."""
    levels = tuple(level.strip() for level in tag.replace("|", "/").split("/"))
    if not all(levels):
        raise FacesortError(f"--people-tag {tag!r}: give a tag name, such as People or Tags/People")
    return levels


def read_xmp(text: bytes, source: Path, people_tag: tuple[str, ...] = (DEFAULT_PEOPLE_TAG,),
             ) -> ForeignTags:
    """Named face regions (MWG, else Microsoft Photo) and person keywords that
    apps other than facesort wrote into an XMP packet. What facesort's own
    record says it wrote (regions and names) is left out."""
    root = _parse(text, source)
    own_names, signatures = _facesort_record(root)
    own = _keywords_of(own_names)
    regions: list[Region] = []
    people: list[str] = []
    subjects: list[str] = []
    tree_entries = 0
    other_levels: set[str] = set()
    for description in _descriptions(root):
        mwg = [r for _, r in _mwg_regions(description) if r is not None]
        ours = {_mwg_signature(r) for r in mwg} & signatures
        regions += [r for r in mwg if _mwg_signature(r) not in ours]
        if not mwg:
            mp = [r for _, r in _mp_regions(description) if r is not None]
            regions += [r for r in mp if _mp_signature(r) not in signatures]
        people += _texts(description, "Iptc4xmpExt", "PersonInImage", own)
        for (prefix, name), separator in TREES.items():
            entries = _texts(description, prefix, name, own)
            tree_entries += len(entries)
            found, levels = _split_tree(entries, separator, people_tag)
            people += found
            other_levels |= levels
        subjects += _texts(description, "dc", "subject", own)
    subjects = list(dict.fromkeys(subjects))
    lone = subjects[0] if len(subjects) == 1 and not tree_entries else None
    return ForeignTags(regions, list(dict.fromkeys(people)),
                       [s for s in subjects if s.casefold() not in other_levels], lone)


# -- writing ------------------------------------------------------------------------

def _bag(parent: ET.Element, prefix: str, name: str, kind: str = "Bag") -> ET.Element:
    prop = parent.find(q(prefix, name))
    if prop is None:
        prop = ET.SubElement(parent, q(prefix, name))
    array = prop.find(q("rdf", kind))
    if array is None:
        array = ET.SubElement(prop, q("rdf", kind))
    return array


def _resource(parent: ET.Element, prefix: str, name: str) -> ET.Element:
    prop = _struct(parent, prefix, name)
    if prop is None:
        prop = ET.SubElement(parent, q(prefix, name), {q("rdf", "parseType"): "Resource"})
    return prop


def _fields_of(struct: ET.Element) -> ET.Element:
    """Where a struct's fields live: in it, or in its nested rdf:Description."""
    nested = struct.find(q("rdf", "Description"))
    return nested if nested is not None else struct


def _prune(element: ET.Element) -> None:
    """Drop containers left empty by removing facesort's old entries."""
    for child in list(element):
        _prune(child)
        if len(child) == 0 and not (child.text or "").strip() and not (
            set(child.attrib) - {q("rdf", "parseType")}
        ):
            element.remove(child)


def merge(existing: bytes | None, source: Path, regions: list[Region], width: int,
          height: int, people: list[str] = ()) -> bytes:
    """The sidecar with facesort's regions and names replaced by ``regions``
    (and ``people`` named without a region: a video clip's, where regions do
    not apply); everything else in ``existing`` is kept. Deterministic, so
    writing the same regions twice gives the same bytes."""
    if existing:
        root = _parse(existing, source)
    else:
        root = ET.Element(q("x", "xmpmeta"))
        ET.SubElement(root, q("rdf", "RDF"))
    root.set(q("x", "xmptk"), root.get(q("x", "xmptk"), f"facesort {__version__}"))
    old_names, old_signatures = _facesort_record(root)
    rdf = root.find(q("rdf", "RDF"))
    descriptions = _descriptions(root)
    for description in descriptions:
        for li, region in _mwg_regions(description):
            if region is not None and _mwg_signature(region) in old_signatures:
                _remove(description, li)
        for li, region in _mp_regions(description):
            if region is not None and _mp_signature(region) in old_signatures:
                _remove(description, li)
        old_keywords = _keywords_of(old_names)
        for prefix, name, _kind in KEYWORDS:
            for li in _items(description.find(q(prefix, name))):
                if li.text in old_keywords:
                    _remove(description, li)
        for name in ("Names", "Regions"):
            for element in description.findall(q("facesort", name)):
                description.remove(element)
        _prune(description)
    if not descriptions:
        descriptions = [ET.SubElement(rdf, q("rdf", "Description"), {q("rdf", "about"): ""})]
    target = descriptions[0]
    if regions or people:
        _add(target, regions, width, height, people)
    for description in descriptions[1:]:
        if len(description) == 0 and set(description.attrib) <= {q("rdf", "about")}:
            rdf.remove(description)
    ET.indent(root, space=" ")
    return (XPACKET_BEGIN + ET.tostring(root, encoding="unicode") + XPACKET_END).encode("utf-8")


def _remove(description: ET.Element, item: ET.Element) -> None:
    for parent in description.iter():
        if item in list(parent):
            parent.remove(item)
            return


def _add(target: ET.Element, regions: list[Region], width: int, height: int,
         people: list[str]) -> None:
    names = sorted({r.name for r in regions} | set(people), key=str.casefold)
    signatures = _add_regions(target, regions, width, height) if regions else []
    for (prefix, name, kind), pattern in KEYWORDS.items():
        flat = [person for person in names
                if (prefix, name) not in TREES or not nests_in_a_tree(person)]
        if not flat:
            continue
        array = _bag(target, prefix, name, kind)
        present = {li.text for li in array}
        for person in flat:
            if pattern.format(person) not in present:
                ET.SubElement(array, q("rdf", "li")).text = pattern.format(person)
    record_names = _bag(target, "facesort", "Names")
    for person in names:
        ET.SubElement(record_names, q("rdf", "li")).text = person
    if signatures:
        record_regions = _bag(target, "facesort", "Regions")
        for signature in signatures:
            ET.SubElement(record_regions, q("rdf", "li")).text = signature


def _add_regions(target: ET.Element, regions: list[Region], width: int, height: int) -> list[str]:
    """The regions in both MWG and Microsoft's form; their signatures."""
    mwg = _fields_of(_resource(target, "mwg-rs", "Regions"))
    if _struct(mwg, "mwg-rs", "AppliedToDimensions") is None:
        ET.SubElement(mwg, q("mwg-rs", "AppliedToDimensions"), {
            q("stDim", "w"): str(width), q("stDim", "h"): str(height), q("stDim", "unit"): "pixel"})
    mwg_list = _bag(mwg, "mwg-rs", "RegionList")
    mp_list = _bag(_fields_of(_resource(target, "MP", "RegionInfo")), "MPRI", "Regions")
    signatures = []
    for region in regions:
        li = ET.SubElement(mwg_list, q("rdf", "li"), {q("rdf", "parseType"): "Resource"})
        ET.SubElement(li, q("mwg-rs", "Type")).text = "Face"
        ET.SubElement(li, q("mwg-rs", "Name")).text = region.name
        ET.SubElement(li, q("mwg-rs", "Area"), {
            q("stArea", "x"): _fmt(region.x), q("stArea", "y"): _fmt(region.y),
            q("stArea", "w"): _fmt(region.w), q("stArea", "h"): _fmt(region.h),
            q("stArea", "unit"): "normalized"})
        ET.SubElement(mp_list, q("rdf", "li"), {
            q("MPReg", "Rectangle"): _mp_rectangle(region),
            q("MPReg", "PersonDisplayName"): region.name})
        signatures += [_mwg_signature(region), _mp_signature(region)]
    return signatures
