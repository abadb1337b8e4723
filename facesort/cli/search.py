"""Finding photos and the FaceNet verbs: find, who (recognition), verify
(verification), tune (triplet loss)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from facesort.cli import console
from facesort.text import plural
from facesort.config import DEFAULT_MIN_FACE_SIZE, DEFAULT_MODEL, resolve_pack
from facesort.errors import FacesortError
from facesort.cli.app import (
    EXIT_SOME_FAILED,
    DbOption,
    ModelOption,
    QuietOption,
    JsonOption,
    LibraryModelOption,
    command,
    open_library,
    pack_or_empty,
    pack_id_of,
)


@command()
def find(
    names: Annotated[list[str], typer.Argument(metavar="NAME...", help="People who must all be in the photo.")],
    any_of: Annotated[bool, typer.Option("--any", help="Any of the people, not all of them.")] = False,
    without: Annotated[Optional[list[str]], typer.Option("--not", help="Leave out photos with this person (repeatable).")] = None,
    only: Annotated[bool, typer.Option("--only", help="Nobody else named in the photo.")] = False,
    year: Annotated[Optional[int], typer.Option(help="Taken in this year.")] = None,
    since: Annotated[Optional[str], typer.Option(help="Taken on or after this date (YYYY-MM-DD).")] = None,
    until: Annotated[Optional[str], typer.Option(help="Taken on or before this date (YYYY-MM-DD).")] = None,
    age: Annotated[Optional[str], typer.Option(help="Aged this many years in the photo, e.g. 3-5 (inclusive) or 3.")] = None,
    null: Annotated[bool, typer.Option("-0", "--null", help="End each path with NUL, for xargs -0.")] = False,
    db: DbOption = None,
    model: LibraryModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Find photos and video clips by the people in them: one path per line.

    --year, --since and --until go by the capture date in the photo's EXIF
    (a clip's: its container's); a photo without one goes by its file's
    modification date instead (said on stderr). --age 3-5 keeps the photos where each NAME (with --any: one of
    them in the photo) is 3 to 5 years old, from their birth date ('facesort
    person NAME --born') and the capture date; photos without one are left
    out. No photo found: says so on stderr and exits 1, as grep does.

    Example: facesort find Alice Bob --not Carol --year 2024 -0 | xargs -0 open
    """
    from facesort.people.ages import age_fields, age_in_months, parse_age_range
    from facesort.search.find import PhotoQuery, find_photos

    query = PhotoQuery(list(names), any_of=any_of, without=tuple(without or ()), only=only,
                       year=year, since=since, until=until,
                       ages=parse_age_range(age) if age is not None else None)
    with open_library(db) as store:
        hits = find_photos(store, pack_id_of(store, model), query,
                           with_people=json_output)
        born = store.birth_dates_by_name() if json_output else {}
    dated = year is not None or since is not None or until is not None
    if json_output:
        console.stdout.print_json(data=[
            {"path": h.photo.path, "taken_at": h.photo.taken_at, "media": h.photo.media,
             "people": h.people,
             "ages": {name: age_fields(age_in_months(born[name], h.photo.taken_at))
                      for name in h.people if name in born}}
            for h in hits])
    else:
        # Each path as its own bytes, as find and ls print them, whatever stdout's encoding.
        end = b"\0" if null else b"\n"
        sys.stdout.flush()
        sys.stdout.buffer.write(b"".join(os.fsencode(h.photo.path) + end for h in hits))
        sys.stdout.buffer.flush()
    undated = sum(1 for h in hits if h.photo.taken_at is None)
    if dated and undated:
        console.warning_line(f"{plural(undated, 'photo')} found {'has' if undated == 1 else 'have'} "
                             "no capture date: the file's modification time was used instead")
    if not hits:
        # As grep: nothing found is said, and exits 1, so a script can tell.
        console.error_line("no photos match" + (
            " (a photo without a capture date goes by its file's modification time)" if dated else ""))
        raise typer.Exit(EXIT_SOME_FAILED)


def _engine_and_thresholds(model: str, purpose: str):
    from facesort.engine.face_engine import load_engine
    from facesort.engine.thresholds import thresholds_for

    pack = resolve_pack(model)
    thresholds = thresholds_for(pack.name)
    if thresholds is None:
        raise FacesortError(f"no {purpose} threshold is known for model pack {pack.name!r}")
    return pack, load_engine(pack), thresholds


def _model_answer(f, threshold: float) -> str:
    if f.person:
        return f"{f.person} (distance {f.distance:.3f})"
    if f.nearest:
        return f"unknown (nearest {f.nearest}, distance {f.distance:.3f} > {threshold})"
    return "unknown (nobody is named yet)"


_NAMED_BY = {"user": "your decision", "import": "imported from another app",
             "auto": "named automatically"}


def _library_answer(f) -> str:
    """The library's answer, and the model's only where it differs."""
    said = f"{f.person or 'unknown'} ({_NAMED_BY.get(f.source, 'nobody is named on it')}"
    if f.model_person != f.person and f.nearest is not None:
        guess = f.model_person or f"unknown, nearest {f.nearest}"
        said += f"; the model alone says {guess} at distance {f.distance:.3f}"
    return said + ")"


@command()
def who(
    photos: Annotated[list[Path], typer.Argument(metavar="PHOTO...", help="Photos or video clips, in the library or not.", exists=True, dir_okay=False)],
    db: DbOption = None,
    model: ModelOption = DEFAULT_MODEL,
    min_face_size: Annotated[int, typer.Option(min=0, help="Ignore faces smaller than this many pixels.")] = DEFAULT_MIN_FACE_SIZE,
    json_output: JsonOption = False,
) -> None:
    """Say who is in photos: each face's box, the named person, and the distance.

    For a photo in the library, the answer is the library's: your decision,
    else the automatic name, else unknown; the model's own answer is shown
    beside it where it differs. For any other photo or clip it is the model's:
    a face farther than the pack's recognition threshold from everyone you
    named is "unknown", and the nearest person is still shown. In a video clip
    each face is one person's stretch of it, at the time of its best frame.

    Example: facesort who party.jpg

    Example: facesort who birthday.mp4
    """
    from facesort.people.identify import NamedGallery, faces_in_library, who as identify
    from facesort.scanning.video import clock
    from facesort.people.cluster_run import require_pack

    pack, engine, thresholds = _engine_and_thresholds(model, "recognition")
    with open_library(db) as store:
        pack_id = require_pack(store, pack.name)
        people_named = NamedGallery.of_library(store, pack_id)
        known = {photo: faces_in_library(store, pack_id, photo) for photo in photos}
    thresholds = people_named.thresholds(thresholds)
    results = []
    failed = False
    for photo in photos:
        try:
            results.append((photo, identify(engine, people_named, thresholds, photo, min_face_size,
                                            known[photo])))
        except FacesortError as exc:
            console.error_line(str(exc))
            failed = True
    if json_output:
        console.stdout.print_json(data=[
            {"path": str(photo), "threshold": thresholds.recognize, "faces": [
                {"face": f.face.number, "box": list(f.face.box), "time": f.face.time,
                 "person": f.person, "nearest": f.nearest, "distance": f.distance,
                 **({"source": f.source, "model_person": f.model_person} if f.in_library else {})}
                for f in faces]}
            for photo, faces in results])
    else:
        for photo, faces in results:
            if not faces:
                console.stdout.print(f"{photo}: no face found", markup=False, highlight=False)
            for f in faces:
                box = ",".join(f"{v:.0f}" for v in f.face.box)
                if f.face.time is not None:
                    box += f" at {clock(f.face.time)}"
                said = _library_answer(f) if f.in_library else _model_answer(f, thresholds.recognize)
                console.stdout.print(f"{photo}  face {f.face.number}  box {box}  {said}",
                                     markup=False, highlight=False)
    if failed:
        raise typer.Exit(EXIT_SOME_FAILED)


@command()
def verify(
    photo_a: Annotated[Path, typer.Argument(metavar="PHOTO_A", help="A photo or clip of one person (or pick a face with --face-a).", exists=True, dir_okay=False)],
    photo_b: Annotated[Path, typer.Argument(metavar="PHOTO_B", help="Another photo or clip (or pick a face with --face-b).", exists=True, dir_okay=False)],
    face: Annotated[Optional[int], typer.Option("--face", min=1, metavar="N", help="Use face N (1 = leftmost; in a clip, the first to appear) in each photo with several faces.")] = None,
    face_a: Annotated[Optional[int], typer.Option("--face-a", min=1, metavar="N", help="Use face N of PHOTO_A (1 = leftmost; in a clip, the first to appear).")] = None,
    face_b: Annotated[Optional[int], typer.Option("--face-b", min=1, metavar="N", help="Use face N of PHOTO_B (1 = leftmost; in a clip, the first to appear).")] = None,
    model: ModelOption = DEFAULT_MODEL,
    min_face_size: Annotated[int, typer.Option(min=0, help="Ignore faces smaller than this many pixels.")] = DEFAULT_MIN_FACE_SIZE,
    json_output: JsonOption = False,
) -> None:
    """Say whether two photos show the same person. Exit 0 same, 1 different, 2 error.

    In a photo with several faces, pick one by its number from the left
    ('facesort who' lists them): --face-a for PHOTO_A, --face-b for PHOTO_B,
    --face for whichever photo has several. A video clip's faces are its
    people in order of appearance. Without one, a face at least four times
    the size of the others (a portrait with a bystander cut off at the edge)
    is taken, and said so. Face 4 of a group photo against a
    portrait:

    Example: facesort verify group.jpg portrait.jpg --face-a 4

    Example: facesort verify portrait.jpg birthday.mp4
    """
    from facesort.people.identify import verify as compare

    pack, engine, thresholds = _engine_and_thresholds(model, "verification")
    verdict = compare(engine, thresholds, photo_a, photo_b, min_face_size, face=face,
                      face_a=face_a, face_b=face_b)
    for note in verdict.notes:
        console.warning_line(f"note: {note}")
    if json_output:
        console.stdout.print_json(data={"same": verdict.same, "distance": verdict.distance,
                                        "threshold": verdict.threshold, "pack": pack.name,
                                        "box_a": list(verdict.box_a), "box_b": list(verdict.box_b),
                                        "time_a": verdict.time_a, "time_b": verdict.time_b})
    else:
        word = "same person" if verdict.same else "different people"
        relation = "<=" if verdict.same else ">"
        console.stdout.print(f"{word}: distance {verdict.distance:.4f} {relation} threshold "
                             f"{verdict.threshold} ({pack.name})", highlight=False)
    if not verdict.same:
        raise typer.Exit(EXIT_SOME_FAILED)


@command()
def tune(
    db: DbOption = None,
    model: LibraryModelOption = None,
    off: Annotated[bool, typer.Option("--off", help="Remove the pack's adapter: back to the pack's own embeddings.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for the held-out split and the training; the same seed gives the same adapter.")] = 0,
    steps: Annotated[int, typer.Option(min=1, help="Training steps (mini-batches).")] = 300,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Train and compare, keep nothing.")] = False,
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Learn from the faces you named to name new faces better.

    Trains a small adapter on the pack's embeddings with FaceNet's triplet
    loss: faces you named of one person closer, other people's faces (the
    faces you rejected and the others in the same photo above all) farther.
    Part of your named faces is held out; the adapter is kept only if it
    names more of them right at no more wrong names, and then automatic
    names, suggestions and 'who' use it. Grouping of unnamed faces does not.

    Example: facesort tune        (and 'facesort tune --off' to remove it)
    """
    from facesort.people.cluster_run import update_groups
    from facesort.people.tune import TrainParams, tune_library

    with open_library(db, write=True, job="cluster") as store:
        pack = pack_or_empty(store, model)
        pack_id = store.find_pack(pack)
        if off:
            dropped = store.drop_adapter(pack_id) if not dry_run else store.adapter(pack_id) is not None
            if dropped and not dry_run:
                update_groups(store, pack)
            if json_output:
                console.stdout.print_json(data={"pack": pack, "removed": dropped, "dry_run": dry_run})
            elif not quiet:
                said = ("would remove" if dry_run else "removed") if dropped else "there was no"
                console.stdout.print(f"{said} adapter for {pack}; automatic names use the pack's "
                                     "own embeddings", highlight=False)
            return
        params = TrainParams(seed=seed, steps=steps)
        with console.progress(quiet, unit="steps") as bar:
            task = bar.add_task("Learning from your names", total=steps)
            result = tune_library(store, pack, params, lambda: bar.advance(task), dry_run=dry_run)
        if result.kept and not dry_run:
            update_groups(store, pack)
    if json_output:
        console.stdout.print_json(data={"pack": pack, "dry_run": dry_run, **result.as_dict()})
        return
    if quiet:
        return
    out = console.stdout
    out.print(f"Learned from {plural(result.faces, 'named face')} of {plural(result.people, 'person', 'people')} "
              f"({result.seconds:.1f} s); compared on {plural(result.held_known, 'held-out face')} "
              f"and {plural(result.held_strangers, 'face')} of people held out as strangers:",
              highlight=False)
    out.print(f"{'':<16}{'right':>7}{'wrong':>7}{'unknown':>9}", highlight=False)
    for label, t in (("without adapter", result.without), ("with adapter", result.with_adapter)):
        out.print(f"{label:<16}{t.right:>7}{t.wrong:>7}{t.unknown:>9}", highlight=False)
    if not result.kept:
        out.print("The adapter does not name more faces right at no more wrong ones: not kept; "
                  "nothing changed.", highlight=False)
    elif dry_run:
        out.print("It would be kept (--dry-run: nothing changed).", highlight=False)
    else:
        out.print(f"Kept: automatic names now use it (recognize distance {result.adapter.recognize}, "
                  f"margin {result.adapter.margin}). To remove it: facesort tune --off", highlight=False)
