"""Commands on the library itself: scan, status, forget, export."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from facesort.cli import console
from facesort.text import plural
from facesort.config import DEFAULT_DET_SIZE, DEFAULT_MIN_FACE_SIZE, DEFAULT_MODEL, resolve_pack
from facesort.errors import FacesortError, shown
from facesort.search.export import WRITERS
from facesort.files import atomic_write
from facesort.cli.app import (
    EXIT_SOME_FAILED,
    DbOption,
    ModelOption,
    QuietOption,
    JsonOption,
    LibraryModelOption,
    command,
    open_library,
    db_path_of,
    human_bytes,
    library_pack,
)


@command()
def scan(
    roots: Annotated[list[Path], typer.Argument(help="Folders (or single photos) to scan.")],
    db: DbOption = None,
    model: ModelOption = DEFAULT_MODEL,
    det_size: Annotated[
        int,
        typer.Option(
            min=128,
            max=4096,
            help="Long side in pixels of the image the detector sees; raise it for "
            "big group photos with small faces (slower).",
        ),
    ] = DEFAULT_DET_SIZE,
    min_face_size: Annotated[
        int,
        typer.Option(min=0, help="Ignore faces smaller than this many pixels (shorter side)."),
    ] = DEFAULT_MIN_FACE_SIZE,
    follow_symlinks: Annotated[
        bool, typer.Option("--follow-symlinks", help="Follow symbolic links to files and folders.")
    ] = False,
    videos: Annotated[
        bool, typer.Option("--videos/--no-videos",
                           help="Scan video clips (mp4, mov, m4v, mkv, avi, webm, 3gp) too.")
    ] = True,
    device: Annotated[
        str,
        typer.Option(
            metavar="DEVICE",
            help="Where the recognizer runs: auto (an accelerator onnxruntime has, else the CPU), "
            "cpu, or one to insist on: cuda, tensorrt, rocm, coreml, directml, openvino.",
        ),
    ] = "auto",
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Find every face in the photos under ROOTS and keep them in the library.

    Video clips are sampled about a frame a second; each person's stretch of
    a clip is one face, found with the photos' people (docs/video.md).

    Later runs read only new and changed photos; moved photos keep their faces.
    Photos that disappeared are dropped only when their folder was scanned and
    is present, so an unmounted drive never empties the library.

    With onnxruntime-gpu (or onnxruntime-openvino, onnxruntime-directml, or on
    macOS CoreML) installed, the model runs on that accelerator; the summary
    says where it ran.

    Example: facesort scan ~/Pictures /mnt/nas/photos

    Example: facesort scan ~/Pictures --device cpu

    Example: facesort scan ~/Pictures --no-videos
    """
    from facesort.scanning.scanner import ScanEvents, ScanOptions, scan as scan_photos

    # A root that is not there is warned about by the scan, which goes on with
    # the others (an unmounted drive must not stop the rest), then exits 1;
    # with no root there, there is nothing to do: a usage error.
    missing = [shown(os.path.abspath(root)) for root in roots if not os.path.exists(root)]
    if len(missing) == len(roots):
        raise FacesortError(f"{', '.join(missing)}: not found, so there is nothing to scan "
                            "(a typing error, or an unmounted drive?)")
    pack = resolve_pack(model)
    device = device.lower()
    if not db_path_of(db).exists():
        from facesort.engine.face_engine import load_engine

        # A first scan needs the model anyway; loading it before the library
        # is created leaves no empty library behind when the pack (or the
        # device insisted on) is missing.
        load_engine(pack, det_size, device)
    options = ScanOptions(det_size=det_size, min_face_size=min_face_size,
                          follow_symlinks=follow_symlinks, device=device, videos=videos)
    with open_library(db, write=True, create=True, job="scan") as store, \
            console.progress(quiet, extra="faces") as bar:
        task = bar.add_task("Photos", total=None, faces=0)
        clip_task = None
        found = {"photos": 0, "clips": 0}

        def done(kind: str, faces: int) -> None:
            found[kind] += faces
            bar.update(task if kind == "photos" else clip_task, advance=1, faces=found[kind])

        def clips_ahead(total: int) -> None:
            nonlocal clip_task
            clip_task = bar.add_task("Clips", total=total, faces=0, unit="clips")

        events = ScanEvents(
            on_total=lambda total: bar.update(task, total=total),
            on_photo=lambda faces: done("photos", faces),
            on_clip_total=clips_ahead,
            on_clip=lambda faces: done("clips", faces),
            on_error=console.error_line,
            on_warning=console.warning_line,
        )
        report = scan_photos(store, roots, pack, options, events)
    if json_output:
        console.stdout.print_json(data=report.as_dict())
    elif not quiet:
        clips = report.clips
        has_clips = bool(clips.clips or clips.removed)
        took = f" in {report.seconds:.1f} s" + (f" on {report.device}" if report.device else "")
        if report.photos or report.removed or not has_clips:
            console.stdout.print(
                f"{plural(report.photos, 'photo')}: {report.new} new, {report.changed} changed, "
                f"{report.unchanged} unchanged, {report.moved} moved, {report.removed} removed, "
                f"{report.failed} failed; {plural(report.faces, 'face')} found"
                + ("" if has_clips else took),
                highlight=False,
            )
        if has_clips:
            console.stdout.print(
                f"{plural(clips.clips, 'clip')}: {clips.new} new, {clips.changed} changed, "
                f"{clips.unchanged} unchanged, {clips.moved} moved, {clips.removed} removed, "
                f"{clips.failed} failed; {plural(clips.faces, 'face')} found (one for each "
                f"person's stretch of a clip){took}",
                highlight=False,
            )
        carried = report.decisions
        if carried.carried or carried.orphaned:
            packs = "".join(f", {n} from pack {name}" for name, n in sorted(carried.from_packs.items()))
            console.stdout.print(
                f"{plural(carried.carried, 'decision')} carried over to faces detected again{packs}; "
                f"{carried.orphaned} could not be (see 'facesort status --orphans')",
                highlight=False)
    if report.errors or missing:  # failed photos, folders that could not be read, missing roots
        raise typer.Exit(EXIT_SOME_FAILED)


# How long 'status' spends on SQLite's quick check: all of a library of
# 30,000 photos; the start of a bigger one.
STATUS_CHECK_SECONDS = 0.5


@command()
def status(
    db: DbOption = None,
    errors: Annotated[bool, typer.Option("--errors", help="List the photos that failed and why.")] = False,
    orphans: Annotated[bool, typer.Option("--orphans", help="List your decisions whose face was not found again.")] = False,
    poor: Annotated[bool, typer.Option("--poor", help="List the faces too small or too blurred to judge.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Show what is in the library: photos, faces, failed files, model packs.

    Faces too small or too blurred to judge are kept out of grouping and
    suggestions (never deleted; you can still name them): --poor lists them.

    --orphans lists the decisions (names, rejections, ignores) whose photo
    was detected again without a face at their place; they come back when a
    later scan finds the face, and 'facesort forget --orphan ID' drops one.

    Example: facesort status --errors
    """
    with open_library(db) as store:
        store.check_quickly(STATUS_CHECK_SECONDS)
        summary = store.summary()
        failed = store.failed_photos() if errors else []
        orphaned = store.orphans() if orphans else []
        adapters = store.adapters()
        poor_faces = store.poor_faces() if poor else []
    if json_output:
        data = {
            "database": summary.db_path,
            "database_bytes": summary.db_bytes,
            "photos": summary.photos,
            "failed": summary.failed,
            "clips": summary.clips,
            "failed_clips": summary.failed_clips,
            "faces": summary.faces,
            "clip_faces": summary.clip_faces,
            "people": summary.people,
            "groups": summary.groups,
            "grouped_faces": summary.grouped_faces,
            "named_faces": summary.named_faces,
            "auto_faces": summary.auto_faces,
            "packs": [vars(pack) for pack in summary.packs],
        }
        data["orphans"] = summary.orphans
        data["adapters"] = [{"pack": a.pack, "trained_at": a.trained_at, "faces": a.faces,
                             "recognize": a.recognize, "margin": a.margin} for a in adapters]
        data["poor_faces"] = summary.poor_faces
        if poor:
            data["poor_list"] = [{"face": f.id, "path": f.path, "box": list(f.box),
                                  "quality": f.quality, "person": f.person} for f in poor_faces]
        if errors:
            data["errors"] = [vars(photo) for photo in failed]
        if orphans:
            data["orphan_list"] = [vars(orphan) for orphan in orphaned]
        console.stdout.print_json(data=data)
        return
    out = console.stdout
    out.print(f"Library   {summary.db_path} ({human_bytes(summary.db_bytes)})", highlight=False)
    out.print(f"Photos    {summary.photos} ({summary.failed} failed)", highlight=False)
    if summary.clips:
        out.print(f"Clips     {summary.clips} ({summary.failed_clips} failed), "
                  f"{plural(summary.clip_faces, 'face')} (one for each person's stretch of a clip)",
                  highlight=False)
    out.print(f"Faces     {summary.faces} ({summary.grouped_faces} in {plural(summary.groups, 'group')}, "
              f"{summary.named_faces} named by you, {summary.auto_faces} automatically)",
              highlight=False)
    out.print(f"People    {summary.people}", highlight=False)
    for pack in summary.packs:
        dims = f", {pack.dimensions}-d" if pack.dimensions else ""
        out.print(f"Pack      {pack.name}: {pack.photos} photos, {pack.faces} faces{dims}",
                  highlight=False)
    if not adapters and summary.named_faces:
        out.print("Adapter   off: 'facesort tune' may learn one from your names", highlight=False)
    for adapter in adapters:
        out.print(f"Adapter   {adapter.pack}: on, trained {adapter.trained_at} on "
                  f"{plural(adapter.faces, 'named face')} ('facesort tune --off' removes it)",
                  highlight=False)
    if summary.orphans:
        out.print(f"Orphans   {plural(summary.orphans, 'decision')} whose face was not found again",
                  highlight=False)
    if summary.poor_faces:
        out.print(f"Too poor  {plural(summary.poor_faces, 'face')} too small or too blurred to judge, "
                  "kept out of grouping", highlight=False)
    for photo in failed:
        out.print(f"{photo.path}: {photo.error}", markup=False, highlight=False)
    for face in poor_faces if poor else []:
        x, y, w, h = face.box
        # A box may start a little outside the photo: "at 128,0", not "at 128,-0".
        x, y = max(0, round(x)), max(0, round(y))
        out.print(f"face {face.id}: {face.path}: {w:.0f}x{h:.0f} px at {x},{y}, quality "
                  f"{face.quality:.2f}{f' ({face.person})' if face.person else ''}",
                  markup=False, highlight=False)
    for orphan in orphaned:
        out.print(f"orphan {orphan.id}: {orphan.path}: {_orphan_words(orphan)}", markup=False,
                  highlight=False)
    if summary.failed and not errors:
        out.print("See which photos failed and why: facesort status --errors", style="dim")
    if summary.orphans and not orphans:
        out.print("See them: facesort status --orphans", style="dim")
    if summary.poor_faces and not poor:
        out.print("See the faces too poor to judge: facesort status --poor", style="dim")


def _orphan_words(orphan) -> str:
    said = []
    if orphan.person:
        said.append(f"{orphan.person} ({'imported' if orphan.person_source == 'import' else 'your name'})")
    if orphan.ignored:
        said.append("ignored")
    if orphan.rejected:
        said.append("not " + ", not ".join(orphan.rejected))
    x, y, w, h = orphan.box
    return (f"{'; '.join(said)}; face at {x + w / 2:.0%} across, {y + h / 2:.0%} down, "
            f"not found again (pack {orphan.pack}, since {orphan.since[:10]})")


@command()
def forget(
    folders: Annotated[Optional[list[Path]], typer.Argument(help="Folders (or photos) gone for good.")] = None,
    orphan: Annotated[Optional[list[int]], typer.Option("--orphan", help="Drop this orphaned decision (from 'facesort status --orphans'); repeatable.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Say what would be forgotten; change nothing.")] = False,
    db: DbOption = None,
) -> None:
    """Forget the photos of folders that are gone for good, or orphaned decisions.

    A scan never drops the photos of a missing or empty folder (it may be an
    unmounted drive); this does. Every person is kept, with their faces in
    other photos. A later scan of the folder adds its photos again.

    Example: facesort forget /mnt/old-nas/2009 --dry-run
    """
    from facesort.scanning.forget import forget_folders, forget_orphans

    if not folders and not orphan:
        raise FacesortError("give the folders to forget, or --orphan ID")
    verb = "would forget" if dry_run else "forgot"
    with open_library(db, write=True) as store:
        if folders:
            gone = forget_folders(store, folders, dry_run)
            console.stdout.print(
                f"{verb} {plural(gone.photos, 'photo')} ({plural(gone.faces, 'face')}, "
                f"{plural(gone.decisions, 'decision')} of yours on them); every person is kept",
                highlight=False)
        if orphan:
            count = forget_orphans(store, orphan, dry_run)
            console.stdout.print(f"{verb} {plural(count, 'orphaned decision')}", highlight=False)


@command()
def export(
    db: DbOption = None,
    model: LibraryModelOption = None,
    format: Annotated[str, typer.Option("--format", "-f", help="jsonl (one photo a line) or csv (one face a row).")] = "jsonl",
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", dir_okay=False, help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write every photo and its faces (boxes in displayed pixels) for scripts.

    Each face's age in the photo (age in years, age_months) is given where
    its person has a birth date and the photo a capture date.

    Example: facesort export --format jsonl > faces.jsonl
    """
    if format not in WRITERS:
        raise FacesortError(f"unknown format {format!r}: choose jsonl or csv")
    write = WRITERS[format]
    with open_library(db) as store:
        pack = library_pack(store, model)
        photos = store.export_photos(store.find_pack(pack)) if pack is not None else iter(())
        born = store.birth_dates_by_name()
        if output is None:
            write(photos, sys.stdout, born)
        else:
            with atomic_write(output, "w", parents=True) as out:  # as 'show -o' does
                write(photos, out, born)
