"""The export formats: a contract that scripts and our benchmarks read.

jsonl: one photo per line, ``{"path", "width", "height", "taken_at", "media",
"faces": [{"id", "box": [x, y, w, h], "score", "cluster", "person", "person_source",
"age", "age_months", "time"}]}``, boxes in displayed pixels. ``person`` is the
user's decision (``person_source`` user, or import from another app) or else
facesort's automatic one (auto); cluster and person are null until ``facesort
cluster`` and naming. ``age`` (whole years) and ``age_months`` are the
person's age in the photo, null unless the person has a birth date and the
photo a capture date. ``media`` is "photo" or "video"; a clip also has
``duration`` (seconds), and each of its faces (a person's stretch of the clip)
has ``time``, the seconds into the clip of its best face (the box is in that
frame), and ``track``: its best faces, ``[{"time", "box", "quality"}]``. A
photo's faces have ``time`` null. csv: one face per row with the same fields
but ``track``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

from facesort.people.ages import age_in_months, age_years
from facesort.store import ExportPhoto

CSV_COLUMNS = ["path", "width", "height", "taken_at", "face_id", "x", "y", "w", "h", "score",
               "cluster", "person", "person_source", "media", "time", "age", "age_months"]


def _face(face, age_months: int | None) -> dict:
    record = {"id": face.id, "box": list(face.box), "score": face.score, "cluster": face.cluster,
              "person": face.person, "person_source": face.person_source, "time": face.time,
              "age": age_years(age_months), "age_months": age_months}
    if face.track:
        record["track"] = [{"time": kept.time, "box": list(kept.box), "quality": kept.quality}
                           for kept in face.track]
    return record


def photo_record(photo: ExportPhoto, born: dict[str, str] | None = None) -> dict:
    """``born``: person name → birth date, for the ages."""
    born = born or {}
    record = {
        "path": photo.path,
        "width": photo.width,
        "height": photo.height,
        "taken_at": photo.taken_at,
        "media": photo.media,
        "faces": [_face(face, age_in_months(born.get(face.person), photo.taken_at))
                  for face in photo.faces],
    }
    if photo.media == "video":
        record["duration"] = photo.duration
    return record


def write_jsonl(photos: Iterable[ExportPhoto], out: TextIO, born: dict[str, str] | None = None) -> None:
    for photo in photos:
        out.write(json.dumps(photo_record(photo, born), ensure_ascii=False) + "\n")


def write_csv(photos: Iterable[ExportPhoto], out: TextIO, born: dict[str, str] | None = None) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for photo in photos:
        record = photo_record(photo, born)
        for face in record["faces"]:
            writer.writerow([photo.path, photo.width, photo.height, photo.taken_at, face["id"],
                             *face["box"], face["score"], face["cluster"], face["person"],
                             face["person_source"], photo.media, face["time"], face["age"],
                             face["age_months"]])


WRITERS = {"jsonl": write_jsonl, "csv": write_csv}
