"""The export formats: a contract that scripts and our benchmarks read.

jsonl: one photo per line, ``{"path", "width", "height", "taken_at", "faces":
[{"id", "box": [x, y, w, h], "score", "cluster", "person"}]}``, boxes in
displayed pixels. csv: one face per row with the same fields.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

from facesort.store import ExportPhoto

CSV_COLUMNS = ["path", "width", "height", "taken_at", "face_id", "x", "y", "w", "h", "score",
               "cluster", "person"]


def photo_record(photo: ExportPhoto) -> dict:
    return {
        "path": photo.path,
        "width": photo.width,
        "height": photo.height,
        "taken_at": photo.taken_at,
        "faces": [
            {"id": face.id, "box": list(face.box), "score": face.score, "cluster": None,
             "person": None}
            for face in photo.faces
        ],
    }


def write_jsonl(photos: Iterable[ExportPhoto], out: TextIO) -> int:
    count = 0
    for photo in photos:
        out.write(json.dumps(photo_record(photo), ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(photos: Iterable[ExportPhoto], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for photo in photos:
        record = photo_record(photo)
        for face in record["faces"]:
            writer.writerow([photo.path, photo.width, photo.height, photo.taken_at, face["id"],
                             *face["box"], face["score"], face["cluster"], face["person"]])
            count += 1
    return count


WRITERS = {"jsonl": write_jsonl, "csv": write_csv}
