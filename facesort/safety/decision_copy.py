"""The copy of the user's decisions beside the library, and restoring from it.

The copy is ``<library>.decisions.jsonl.gz``: gzip'd JSON lines, so that it
is small (a decision is about 60 bytes; 100,000 of them are a few MB), can be
read with ``zcat`` and any JSON tool, and is read and written a line at a
time. The first line is the header::

    {"format": "facesort decisions", "version": 1, "library": "<id>",
     "written_at": "...", "people": [{"name": "Anna", ...}, ...]}

and every other line one decision: the photo's content hash (and its path
then), the pack whose face held it, the face's box normalised to the
displayed photo with the photo's orientation, and what was decided: a person
("person", "source": user or import), "ignored", the people it was
"rejected" from, or "orphan" when no face was found at its place. Fields
are only ever added: a reader keeps a person's fields it does not know and
ignores a decision's; "version" goes up only where an older facesort would
misread the file, and then it refuses it.

The copy is written atomically after each command that changed a decision
(the library counts such changes), so it is never half written and never
behind by more than the command that is running.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from facesort.errors import FacesortError, shown
from facesort.files import atomic_write
from facesort.store import Store
from facesort.store.keeping import RestoreReport

FORMAT = "facesort decisions"
# One encoder for every line: json.dumps with options builds a new one a call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
VERSION = 1


def copy_path(library: Path) -> Path:
    return Path(library).with_name(Path(library).name + ".decisions.jsonl.gz")


@dataclass(frozen=True)
class KeptCopy:
    path: Path
    decisions: int
    set_aside: Path | None  # another library's copy that was at ``path``


def keep_copy(store: Store) -> KeptCopy | None:
    """Write the copy if a decision changed since it was last written."""
    pending = store.copy_pending()
    if pending is None:
        return None
    path = copy_path(store.path)
    ours, restored_from = store.library_id()
    set_aside = None
    theirs = _header_or_none(path)
    if theirs is not None and theirs.get("library") not in (ours, restored_from):
        # A library made where one was lost, before 'facesort restore': the
        # lost library's decisions are kept, under their own name.
        set_aside = _free_name(path, str(theirs.get("library", "old"))[:8])
        os.replace(path, set_aside)
    count = 0
    with store.snapshot(), atomic_write(path, "wb") as raw:
        # mtime=0: the same decisions make the same bytes.
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as packed:
            # A path that is not UTF-8 holds surrogate escapes: backslashreplace
            # writes each as the JSON escape \udcXX, which reads back as the same
            # path, and the file stays UTF-8.
            text = io.TextIOWrapper(packed, encoding="utf-8", errors="backslashreplace", newline="\n")
            header = {"format": FORMAT, "version": VERSION, "library": ours,
                      "written_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "people": store.people_records()}
            text.write(_encode(header) + "\n")
            lines = []
            for record in store.decision_records():
                lines.append(_encode(record))
                if len(lines) == 4096:
                    text.write("\n".join(lines) + "\n")
                    count += len(lines)
                    lines = []
            text.write("".join(line + "\n" for line in lines))
            count += len(lines)
            text.flush()
            text.detach()
    store.copy_written(pending)
    return KeptCopy(path, count, set_aside)


def _free_name(path: Path, tag: str) -> Path:
    stem = path.name.removesuffix(".decisions.jsonl.gz")
    for n in range(1, 1000):
        suffix = tag if n == 1 else f"{tag}-{n}"
        candidate = path.with_name(f"{stem}.decisions-{suffix}.jsonl.gz")
        if not candidate.exists():
            return candidate
    raise FacesortError(f"{shown(path)}: too many set-aside copies of decisions beside it")


def _header_or_none(path: Path) -> dict | None:
    """The copy's header; None where there is no copy or a damaged one (a
    first line that is not a JSON object, as read_copy also refuses)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            header = json.loads(lines.readline())
    except (OSError, EOFError, ValueError):
        return None
    return header if isinstance(header, dict) else None


def _is(value, kind: type) -> bool:
    """Whether an optional field of the copy is absent or of its JSON type:
    restoring trusts them (a path looked up in a set, a string rejected from
    would be each of its letters)."""
    return value is None or isinstance(value, kind)


@dataclass
class Copy:
    path: Path
    header: dict
    records: Iterator[dict]


def read_copy(path: Path) -> Copy:
    """The header and the decisions of a copy; one line naming the file and
    the cause where it is not one facesort can read."""
    path = Path(path).expanduser()
    try:
        lines = gzip.open(path, "rt", encoding="utf-8")
        header = json.loads(lines.readline())
    except FileNotFoundError:
        raise FacesortError(f"{shown(path)}: no copy of decisions here") from None
    except (OSError, EOFError, ValueError) as exc:
        raise FacesortError(f"{shown(path)}: not a copy of facesort decisions ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT or not _is(header.get("library"), str):
        raise FacesortError(f"{shown(path)}: not a copy of facesort decisions")
    if not isinstance(header.get("version"), int) or header["version"] > VERSION:
        raise FacesortError(
            f"{shown(path)}: written by a newer facesort (format version {header.get('version')}; "
            f"this one reads {VERSION}): update facesort to restore it")
    people = header.get("people", [])
    if not isinstance(people, list) or not all(isinstance(p, dict) and isinstance(p.get("name"), str)
                                               and _is(p.get("born"), str) for p in people):
        raise FacesortError(f"{shown(path)}: its list of people is not one facesort wrote")

    def records() -> Iterator[dict]:
        with lines:
            for number, line in enumerate(lines, start=2):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    valid = (isinstance(record["photo"], str) and isinstance(record["pack"], str)
                             and len(record["box"]) == 4
                             and all(isinstance(v, (int, float)) for v in record["box"])
                             and isinstance(record.get("person", ""), str)
                             and _is(record.get("source"), str) and _is(record.get("path"), str)
                             and _is(record.get("orientation"), int)
                             and isinstance(record.get("ignored", False), bool)
                             and isinstance(record.get("rejected", []), list)
                             and all(isinstance(n, str) for n in record.get("rejected", [])))
                except (ValueError, KeyError, TypeError) as exc:
                    valid, why = False, f" ({exc})"
                else:
                    why = ""
                if not valid:
                    raise FacesortError(f"{shown(path)}, line {number}: not a decision{why}")
                yield record

    return Copy(path, header, records())


def restore(store: Store, path: Path | None = None, dry_run: bool = False) -> tuple[Path, RestoreReport]:
    """Put the decisions of the copy at ``path`` (by default the one beside
    the library) back into the library, after its photos were scanned."""
    copy = read_copy(path or copy_path(store.path))
    try:
        report = store.restore_decisions(copy.header.get("people", []), copy.records,
                                         copy.header.get("library"), dry_run)
    except (OSError, EOFError) as exc:  # a copy cut short (gzip's own errors)
        raise FacesortError(f"{shown(copy.path)}: the copy cannot be read to its end ({exc})") from None
    return copy.path, report
