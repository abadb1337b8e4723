"""When a clip was shot, from its container: OpenCV does not expose the
container's metadata, and a new dependency for one date is not worth it.

- MP4/MOV/M4V/3GP (ISO BMFF, QuickTime): Apple's
  ``com.apple.quicktime.creationdate`` (``moov/meta`` keys and items), the
  local time with its offset, else ``moov/mvhd``'s creation time (UTC).
- MKV/WebM: the Segment Info's ``DateUTC`` (UTC).
- Anything else (AVI): none.

The result has the format photos' EXIF dates have in the library (ISO 8601,
``2024-06-01T14:03:22+02:00``), so ``find --year``, ages and the timeline read
clips as photos. Only box and element headers are read, with seeks, never
the whole clip: a few KiB whatever its size. A damaged or truncated
container gives None, never an error: the scan goes on without a date.
"""

from __future__ import annotations

import os
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO

_QUICKTIME_EPOCH = datetime(1904, 1, 1, tzinfo=timezone.utc)
_MATROSKA_EPOCH = datetime(2001, 1, 1, tzinfo=timezone.utc)
_APPLE_KEY = b"com.apple.quicktime.creationdate"
# Bounds on a damaged or hostile container: boxes looked at in all, and the
# bytes of the keys and items boxes read (a phone's are a few hundred bytes).
_MOST_BOXES = 4096
_MOST_META_BYTES = 1 << 20
# Matroska: elements looked at before the Segment Info is given up.
_MOST_ELEMENTS = 256
_EBML_HEADER = 0x1A45DFA3
_SEGMENT = 0x18538067
_INFO = 0x1549A966
_CLUSTER = 0x1F43B675
_DATE_UTC = 0x4461


def creation_time(path: str | Path) -> str | None:
    """The clip's capture time as the library stores it, or None."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(4)
            handle.seek(0)
            if int.from_bytes(head, "big") == _EBML_HEADER:
                return _matroska_time(handle, size)
            return _quicktime_time(handle, size)
    except (OSError, ValueError, OverflowError, struct.error):
        return None


class _Boxes:
    """ISO BMFF boxes, walked by their headers within bounds."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.seen = 0

    def children(self, start: int, end: int):
        """(type, body start, body end) of each box between start and end."""
        at = start
        while at + 8 <= end:
            self.seen += 1
            if self.seen > _MOST_BOXES:
                return
            self.handle.seek(at)
            header = self.handle.read(8)
            if len(header) < 8:
                return
            size, kind = struct.unpack(">I4s", header)
            body = at + 8
            if size == 1:  # a 64-bit size follows
                large = self.handle.read(8)
                if len(large) < 8:
                    return
                size = struct.unpack(">Q", large)[0]
                body += 8
            elif size == 0:  # the box runs to the end
                size = end - at
            if size < body - at or at + size > end:
                return  # damaged or truncated: nothing past here is trusted
            yield kind, body, at + size
            at += size

    def find(self, kind: bytes, start: int, end: int) -> tuple[int, int] | None:
        for found, body, stop in self.children(start, end):
            if found == kind:
                return body, stop
        return None

    def read(self, start: int, end: int) -> bytes:
        self.handle.seek(start)
        return self.handle.read(min(end - start, _MOST_META_BYTES))


def _quicktime_time(handle: BinaryIO, size: int) -> str | None:
    boxes = _Boxes(handle)
    moov = boxes.find(b"moov", 0, size)
    if moov is None:
        return None
    apple = None
    for meta in (boxes.find(b"meta", *moov), _udta_meta(boxes, moov)):
        if meta is not None and apple is None:
            apple = _apple_creation_date(boxes, *meta)
    return apple or _mvhd_time(boxes, moov)


def _udta_meta(boxes: _Boxes, moov: tuple[int, int]) -> tuple[int, int] | None:
    udta = boxes.find(b"udta", *moov)
    return boxes.find(b"meta", *udta) if udta else None


def _apple_creation_date(boxes: _Boxes, start: int, end: int) -> str | None:
    # QuickTime's meta is a plain container; ISO's (MP4) has a version and
    # flags first. Its first child, the handler, tells which.
    boxes.handle.seek(start + 4)
    if boxes.handle.read(4) != b"hdlr":
        start += 4
    keys = boxes.find(b"keys", start, end)
    items = boxes.find(b"ilst", start, end)
    if keys is None or items is None:
        return None
    index = _key_index(boxes.read(*keys))
    if index is None:
        return None
    for kind, body, stop in boxes.children(*items):
        if int.from_bytes(kind, "big") == index:
            data = boxes.find(b"data", body, stop)
            if data is None:
                return None
            value = boxes.read(*data)
            # type (1: UTF-8) and locale, then the text
            if len(value) < 8 or int.from_bytes(value[:4], "big") != 1:
                return None
            return _iso(value[8:].decode("utf-8", "replace").strip("\x00 "))
    return None


def _key_index(keys: bytes) -> int | None:
    """The 1-based index of Apple's creation date among the keys."""
    count = struct.unpack_from(">I", keys, 4)[0]  # after version and flags
    at = 8
    for index in range(1, count + 1):
        if at + 8 > len(keys):
            return None
        length = struct.unpack_from(">I", keys, at)[0]
        if length < 8:
            return None
        if keys[at + 8:at + length] == _APPLE_KEY:
            return index
        at += length
    return None


def _iso(text: str) -> str | None:
    """``2024-06-01T14:03:22+0200`` as the library's ``2024-06-01T14:03:22+02:00``."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(microsecond=0).isoformat()


def _mvhd_time(boxes: _Boxes, moov: tuple[int, int]) -> str | None:
    mvhd = boxes.find(b"mvhd", *moov)
    if mvhd is None:
        return None
    body = boxes.read(mvhd[0], min(mvhd[1], mvhd[0] + 12))
    if len(body) < 8:
        return None
    if body[0] == 1:
        if len(body) < 12:
            return None
        seconds = struct.unpack_from(">Q", body, 4)[0]
    else:
        seconds = struct.unpack_from(">I", body, 4)[0]
    if seconds == 0:  # "unknown", as writers without a clock leave it
        return None
    return _utc(_QUICKTIME_EPOCH + timedelta(seconds=seconds))


def _utc(moment: datetime) -> str | None:
    if not 1970 <= moment.year <= 9999:
        return None
    return moment.replace(microsecond=0).isoformat()


def _vint(handle: BinaryIO, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer: (value, its length in bytes); a size
    of all ones (unknown) comes back as -1."""
    first = handle.read(1)
    if not first:
        return None
    lead = first[0]
    length = 9 - lead.bit_length() if lead else 0
    if not 1 <= length <= 8:
        return None
    rest = handle.read(length - 1)
    if len(rest) < length - 1:
        return None
    value = lead if keep_marker else lead & (0xFF >> length)
    for byte in rest:
        value = (value << 8) | byte
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return -1, length
    return value, length


def _elements(handle: BinaryIO, start: int, end: int, budget: list[int]):
    """(id, body start, body end) of each EBML element between start and end."""
    at = start
    while at < end and budget[0] > 0:
        budget[0] -= 1
        handle.seek(at)
        element = _vint(handle, keep_marker=True)
        size = _vint(handle, keep_marker=False) if element else None
        if element is None or size is None:
            return
        body = at + element[1] + size[1]
        stop = end if size[0] < 0 else body + size[0]
        if stop > end:
            stop = end  # a truncated file: read what is there
        yield element[0], body, stop
        at = stop


def _matroska_time(handle: BinaryIO, size: int) -> str | None:
    budget = [_MOST_ELEMENTS]
    for element, body, stop in _elements(handle, 0, size, budget):
        if element != _SEGMENT:
            continue
        for child, child_body, child_stop in _elements(handle, body, stop, budget):
            if child == _CLUSTER:
                return None  # writers put the Info before the first cluster
            if child != _INFO:
                continue
            for field, field_body, field_stop in _elements(handle, child_body, child_stop, budget):
                if field == _DATE_UTC and field_stop - field_body == 8:
                    handle.seek(field_body)
                    nanoseconds = struct.unpack(">q", handle.read(8))[0]
                    return _utc(_MATROSKA_EPOCH + timedelta(microseconds=nanoseconds // 1000))
            return None
        return None
    return None
