"""The command line: parse, call the core, render.

This is the only module that turns exceptions into messages and exit codes:
0 all went well, 1 some photos failed (each was named on stderr), 2 a usage or
setup error (bad option, missing model pack, busy, read-only or unusable
library, full disk), 130 interrupted.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
import os
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from facesort import __version__, console
from facesort.quality import best_first
from facesort.text import plural
from facesort.config import (
    APP_NAME,
    DB_ENV,
    DEFAULT_DET_SIZE,
    DEFAULT_MIN_FACE_SIZE,
    DEFAULT_MODEL,
    MODEL_ENV,
    default_db_path,
    resolve_pack,
)
from facesort.errors import (
    DiskFullError,
    FacesortError,
    LibraryBusyError,
    LibraryReadOnlyError,
    shown,
)
from facesort.export import WRITERS
from facesort.files import atomic_write
from facesort.lock import job_lock
from facesort.store import Store

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="facesort",
    help="Sort your photos by the people in them. Everything runs locally; "
    "your photos are never modified.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DbOption = Annotated[
    Optional[Path],
    typer.Option(
        "--db",
        envvar=DB_ENV,
        help=f"The library file. [default: {default_db_path()}]",
        show_default=False,
        dir_okay=False,
    ),
]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        envvar=MODEL_ENV,
        help="Model pack: yunet_sface (built into facesort, the default: needs no download), "
        "an insightface pack name (looked up in ~/.insightface/models, fetched when missing) "
        "or a folder with a detector and a recognizer .onnx.",
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar and no summary; errors still show.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
LibraryModelOption = Annotated[
    Optional[str],
    typer.Option("--model", "-m", envvar=MODEL_ENV,
                 help="Work on this pack's faces (needed only when the library has several)."),
]


def _paths_print_as_they_are() -> None:
    """A file name that is not valid UTF-8 goes to stdout as its bytes, as ls
    and find print it, so that a script can open it; in messages on stderr it
    gets escapes rather than stopping the command."""
    for stream, errors in ((sys.stdout, "surrogateescape"), (sys.stderr, "backslashreplace")):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=errors)


_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _environment_error(exc: Exception, db: Path | None) -> FacesortError | None:
    """The one-line error for a failure of the machine rather than of facesort
    (a full disk, a read-only or failing drive), or None for a bug."""
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", None) or ""
        library = _db_path(db)
        if name == "SQLITE_FULL":
            return DiskFullError(library, str(exc))
        if name.startswith("SQLITE_READONLY"):
            return LibraryReadOnlyError(library, str(exc))
        if name.startswith("SQLITE_BUSY"):
            return LibraryBusyError(library)
        if name.startswith("SQLITE_IOERR"):
            return FacesortError(
                f"{shown(library)}: the library could not be written ({exc}): is the disk "
                "full or failing? Everything finished so far is saved: run the same command "
                "again once the disk is fixed")
    elif isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        return DiskFullError(exc.filename or _db_path(db), (exc.strerror or str(exc)).lower())
    return None


def _command(*args, **kwargs):
    """``app.command`` that also maps facesort's errors, and a full or
    read-only disk, to one line and an exit code."""

    def register(fn):
        @functools.wraps(fn)
        def guarded(*call_args, **call_kwargs):
            _paths_print_as_they_are()
            try:
                try:
                    return fn(*call_args, **call_kwargs)
                except (sqlite3.Error, OSError) as exc:
                    mapped = _environment_error(exc, call_kwargs.get("db"))
                    if mapped is None:
                        raise
                    raise mapped from exc
            except FacesortError as exc:
                console.error_line(f"error: {exc}")
                raise typer.Exit(EXIT_USAGE) from None
            except KeyboardInterrupt:
                console.error_line(
                    "interrupted: everything finished so far is saved; "
                    "run the same command again to carry on"
                )
                raise typer.Exit(EXIT_INTERRUPTED) from None

        return app.command(*args, **kwargs)(guarded)

    return register


def _version(value: bool) -> None:
    if value:
        console.stdout.print(f"facesort {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Sort your photos by the people in them."""


def _db_path(db: Path | None) -> Path:
    return (db or default_db_path()).expanduser().absolute()


@contextmanager
def _library(db: Path | None, *, write: bool = False, create: bool = False,
             job: str | None = None) -> Iterator[Store]:
    """The library, opened for reading or for writing. A ``job`` ("scan" or
    "cluster") also holds that job's lock, so that a second one is refused;
    naming, fixing and writing sidecars go on beside a running job."""
    path = _db_path(db)
    with job_lock(path, job) if job else nullcontext(), \
            Store(path, create=create, write=write) as store:
        yield store


def _human_bytes(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


@_command()
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
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Find every face in the photos under ROOTS and keep them in the library.

    Later runs read only new and changed photos; moved photos keep their faces.
    Photos that disappeared are dropped only when their folder was scanned and
    is present, so an unmounted drive never empties the library.

    Example: facesort scan ~/Pictures /mnt/nas/photos
    """
    from facesort.scan import ScanEvents, ScanOptions, scan as scan_photos

    # A root that is not there is warned about by the scan, which goes on with
    # the others (an unmounted drive must not stop the rest), then exits 1;
    # with no root there, there is nothing to do: a usage error.
    missing = [shown(os.path.abspath(root)) for root in roots if not os.path.exists(root)]
    if len(missing) == len(roots):
        raise FacesortError(f"{', '.join(missing)}: not found, so there is nothing to scan "
                            "(a typing error, or an unmounted drive?)")
    pack = resolve_pack(model)
    if not _db_path(db).exists():
        from facesort.engine import load_engine

        # A first scan needs the model anyway; loading it before the library
        # is created leaves no empty library behind when the pack is missing.
        load_engine(pack, det_size)
    options = ScanOptions(det_size=det_size, min_face_size=min_face_size,
                          follow_symlinks=follow_symlinks)
    with _library(db, write=True, create=True, job="scan") as store, \
            console.progress(quiet, extra="faces") as bar:
        task = bar.add_task("Scanning", total=None, faces=0)
        found = 0

        def photo_done(faces: int) -> None:
            nonlocal found
            found += faces
            bar.update(task, advance=1, faces=found)

        events = ScanEvents(
            on_total=lambda total: bar.update(task, total=total),
            on_photo=photo_done,
            on_error=console.error_line,
            on_warning=console.warning_line,
        )
        report = scan_photos(store, roots, pack, options, events)
    if json_output:
        console.stdout.print_json(data=report.as_dict())
    elif not quiet:
        console.stdout.print(
            f"{plural(report.photos, 'photo')}: {report.new} new, {report.changed} changed, "
            f"{report.unchanged} unchanged, {report.moved} moved, {report.removed} removed, "
            f"{report.failed} failed; {plural(report.faces, 'face')} found in {report.seconds:.1f} s",
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


@_command()
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
    with _library(db) as store:
        summary = store.summary()
        failed = store.failed_photos() if errors else []
        orphaned = store.orphans() if orphans else []
        adapters = store.adapters()
        poor_faces = store.poor_faces()
    if json_output:
        data = {
            "database": summary.db_path,
            "database_bytes": summary.db_bytes,
            "photos": summary.photos,
            "failed": summary.failed,
            "faces": summary.faces,
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
        data["poor_faces"] = len(poor_faces)
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
    out.print(f"Library   {summary.db_path} ({_human_bytes(summary.db_bytes)})", highlight=False)
    out.print(f"Photos    {summary.photos} ({summary.failed} failed)", highlight=False)
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
    if poor_faces:
        out.print(f"Too poor  {plural(len(poor_faces), 'face')} too small or too blurred to judge, "
                  "kept out of grouping", highlight=False)
    for photo in failed:
        out.print(f"{photo.path}: {photo.error}", markup=False, highlight=False)
    for face in poor_faces if poor else []:
        x, y, w, h = face.box
        out.print(f"face {face.id}: {face.path}: {w:.0f}x{h:.0f} px at {x:.0f},{y:.0f}, quality "
                  f"{face.quality:.2f}{f' ({face.person})' if face.person else ''}",
                  markup=False, highlight=False)
    for orphan in orphaned:
        out.print(f"orphan {orphan.id}: {orphan.path}: {_orphan_words(orphan)}", markup=False,
                  highlight=False)
    if summary.failed and not errors:
        out.print("See which photos failed and why: facesort status --errors", style="dim")
    if summary.orphans and not orphans:
        out.print("See them: facesort status --orphans", style="dim")
    if poor_faces and not poor:
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


@_command()
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
    from facesort.forget import forget_folders, forget_orphans

    if not folders and not orphan:
        raise FacesortError("give the folders to forget, or --orphan ID")
    verb = "would forget" if dry_run else "forgot"
    with _library(db, write=True) as store:
        if folders:
            gone = forget_folders(store, folders, dry_run)
            console.stdout.print(
                f"{verb} {plural(gone.photos, 'photo')} ({plural(gone.faces, 'face')}, "
                f"{plural(gone.decisions, 'decision')} of yours on them); every person is kept",
                highlight=False)
        if orphan:
            count = forget_orphans(store, orphan, dry_run)
            console.stdout.print(f"{verb} {plural(count, 'orphaned decision')}", highlight=False)


def _library_pack(store: Store, model: str | None) -> str | None:
    """The pack whose faces a command works on: ``--model``/FACESORT_MODEL, or
    the library's only pack, or the default pack among several."""
    if model:
        from facesort.people import require_pack

        name = resolve_pack(model).name
        require_pack(store, name)
        return name
    names = store.pack_names()
    if len(names) > 1 and DEFAULT_MODEL not in names:
        raise FacesortError(
            "the library holds faces from several model packs (" + ", ".join(names)
            + "); choose one with --model"
        )
    return DEFAULT_MODEL if DEFAULT_MODEL in names else (names[0] if names else None)


@_command()
def export(
    db: DbOption = None,
    model: LibraryModelOption = None,
    format: Annotated[str, typer.Option("--format", "-f", help="jsonl (one photo a line) or csv (one face a row).")] = "jsonl",
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", dir_okay=False, help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write every photo and its faces (boxes in displayed pixels) for scripts.

    Example: facesort export --format jsonl > faces.jsonl
    """
    if format not in WRITERS:
        raise FacesortError(f"unknown format {format!r}: choose jsonl or csv")
    write = WRITERS[format]
    with _library(db) as store:
        pack = _library_pack(store, model)
        photos = store.export_photos(store.find_pack(pack)) if pack is not None else iter(())
        if output is None:
            write(photos, sys.stdout)
        else:
            with atomic_write(output, "w") as out:
                write(photos, out)

# -- groups and people ---------------------------------------------------------------

SHEET_FACES = 48
PROMPT = "Name (Enter skips, i ignores the group, x 3 7 leaves faces 3 and 7 out, q quits)"


def _pack_or_empty(store: Store, model: str | None) -> str:
    pack = _library_pack(store, model)
    if pack is None:
        raise FacesortError("the library has no faces yet: run 'facesort scan' first")
    return pack


def _pack_id(store: Store, model: str | None) -> int:
    return store.find_pack(_pack_or_empty(store, model))


def _sheet_path(library: Path, name: str) -> Path:
    """Contact sheets go beside the library whose faces they show, or to the
    config folder where the library's folder is read-only."""
    folder = library.parent if os.access(library.parent, os.W_OK) else Path(typer.get_app_dir(APP_NAME))
    return folder / f"{library.stem}-sheets" / f"{name}.png"


def _show_faces(faces, labels, title: str, output: Path, open_viewer: bool, preview: int) -> Path:
    from facesort import sheets

    thumbs = sheets.face_thumbnails(faces)
    path = sheets.save_sheet(sheets.contact_sheet(thumbs, labels, title), output)
    if preview:
        console.stdout.print(sheets.terminal_preview(thumbs[:preview], labels[:preview]))
    if open_viewer and typer.launch(str(path)) != 0:
        console.warning_line(f"no viewer could open the contact sheet; it is at {path}")
    return path


@_command()
def cluster(
    db: DbOption = None,
    model: LibraryModelOption = None,
    min_cluster_size: Annotated[int, typer.Option(min=2, help="Fewest faces that make a group.")] = 2,
    min_samples: Annotated[int, typer.Option(min=1, help="HDBSCAN's min_samples: higher leaves more faces unknown.")] = 1,
    selection: Annotated[str, typer.Option(help="HDBSCAN's cluster selection: eom or leaf.")] = "eom",
    full: Annotated[bool, typer.Option("--full", help="Group every face again, not only what changed.")] = False,
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Group the faces into people, and name new faces of people you named.

    Faces too far from every group stay unknown. Group ids stay the same
    between runs where the groups mostly do, and your decisions are never
    changed; run it again after every scan. Only what changed is done
    again: new faces join the groups they clearly belong to, and with
    nothing new it is done at once.

    Example: facesort cluster
    """
    from facesort.cluster import SELECTION_METHODS, ClusterParams
    from facesort.people import update_groups
    from facesort.tune import new_decisions

    if selection not in SELECTION_METHODS:
        raise FacesortError(f"unknown selection {selection!r}: choose eom or leaf")
    params = ClusterParams(min_cluster_size=min_cluster_size, min_samples=min_samples,
                           selection=selection)
    with _library(db, write=True, job="cluster") as store:
        pack = _pack_or_empty(store, model)
        busy = console.stderr.status("Grouping faces…") if not quiet and console.stderr.is_terminal else nullcontext()
        with busy:
            report = update_groups(store, pack, params, full=full)
        retune = new_decisions(store, store.find_pack(pack))
    if json_output:
        console.stdout.print_json(data=report.as_dict())
        return
    if quiet:
        return
    if report.thresholds is None:
        console.warning_line(
            f"no measured thresholds for pack {pack!r}: no automatic names were given"
        )
    if retune:
        console.stdout.print(f"{plural(retune, 'decision')} of yours since 'facesort tune' last "
                             "learned from them: run it again to learn from them too", style="dim")
    largest = ", ".join(map(str, sorted(report.group_sizes, reverse=True)[:8])) or "none"
    changes = {"unchanged": "Nothing changed since the last run: ",
               "incremental": f"Only what changed was grouped again ({plural(report.new_faces, 'new face')}): "}
    console.stdout.print(
        changes.get(report.run, "")
        + f"{plural(report.groups, 'group')} with {plural(report.grouped_faces, 'face')} "
        f"(largest: {largest}); {plural(report.unknown_faces, 'face')} unknown; "
        f"{plural(report.ignored_groups, 'group')} ignored; "
        f"{plural(report.named_people, 'named person', 'named people')}, "
        f"{plural(report.auto_named_faces, 'face')} named automatically ({report.seconds:.1f} s)",
        highlight=False,
    )


@_command()
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
    from facesort.people import update_groups
    from facesort.tune import TrainParams, tune_library

    with _library(db, write=True, job="cluster") as store:
        pack = _pack_or_empty(store, model)
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


@_command()
def name(
    group: Annotated[Optional[int], typer.Argument(help="A group id (from 'facesort clusters').")] = None,
    person: Annotated[Optional[str], typer.Argument(help="The person's name.")] = None,
    db: DbOption = None,
    model: LibraryModelOption = None,
    open_viewer: Annotated[bool, typer.Option("--open", help="Open each contact sheet in the system viewer.")] = False,
    preview: Annotated[int, typer.Option(min=0, max=12, help="Faces to draw in the terminal.")] = 6,
) -> None:
    """Name groups: interactively, showing each unnamed group, or GROUP NAME at once.

    Interactively, the unnamed groups come largest first. Each shows its best
    faces in the terminal and writes a contact sheet with all of them
    numbered. Type a name (an existing name, in any case, joins that person),
    Enter to skip, i to ignore the group (strangers), x 3 7 to leave faces 3
    and 7 out, q to quit. After each name, and first for the people named
    before, the unnamed groups that look like that person are offered one at
    a time: "Also Alice? [y/n/q]". y names the group, n is remembered (that
    group is not offered as Alice again). Groups that the next 'facesort
    cluster' names anyway come last. Every answer is saved at once.

    Example: facesort name 12 "Alice Smith"
    """
    from facesort import naming as naming_ops
    from facesort import people

    if (group is None) != (person is None):
        raise FacesortError("give both GROUP and NAME, or neither to name groups one by one")
    with _library(db, write=True) as store:
        if group is not None:
            _said_named(group, people.name_group(store, group, person))
            return
        pack = _pack_or_empty(store, model)
        offers = _Offers(store, pack, open_viewer, preview)
        # Groups near people named before come first: one answer each.
        if not offers.run(None):
            return
        todo = [c for c in store.clusters_summary(store.find_pack(pack)) if not c.ignored and c.person is None]
        todo = [c for c in todo if c.id not in offers.named]
        if not todo:
            if not offers.named:
                console.stdout.print("No unnamed groups. Run 'facesort cluster' after scanning new photos.")
            return
        # Groups that the next cluster run names anyway (they look like
        # someone named) come last: an answer spent on them names nobody new.
        later = naming_ops.named_by_next_cluster(store, pack)
        remaining = list(todo)
        number = 0
        while remaining:
            summary = next((c for c in remaining if c.id not in later), remaining[0])
            remaining.remove(summary)
            if summary.id in offers.named:  # joined a person through a suggestion
                continue
            number += 1
            faces = best_first(store.faces_in_cluster(summary.id))[:SHEET_FACES]
            title = f"Group {summary.id}: {summary.faces} faces in {summary.photos} photos"
            path = _show_faces(faces, [str(i) for i in range(1, len(faces) + 1)], title,
                               _sheet_path(store.path, f"group-{summary.id}"), open_viewer, preview)
            console.stdout.print(f"[bold]{title}[/bold] ({number} of {len(todo)}); contact sheet: {path}",
                                 highlight=False)
            if summary.id in later:
                console.stdout.print("it looks like someone you named: the next 'facesort cluster' "
                                     "names most of it; Enter skips it", highlight=False)
            left_out: list[int] = []
            while True:
                answer = _ask(PROMPT)
                if answer is None or answer == "q":
                    return
                if answer == "":
                    break
                if answer == "i":
                    try:
                        people.ignore(store, summary.id)
                    except FacesortError as exc:
                        console.error_line(str(exc))
                        continue
                    console.stdout.print(f"group {summary.id} ignored", highlight=False)
                    break
                if answer == "x" or answer.startswith("x "):
                    picked = _face_numbers(answer[1:], len(faces))
                    if picked is None:
                        console.error_line(f"after x, give face numbers from 1 to {len(faces)}")
                        continue
                    chosen = [faces[i - 1].id for i in picked]
                    store.detach_from_cluster(chosen)
                    left_out += chosen
                    console.stdout.print(f"left out: {', '.join(map(str, picked))}", highlight=False)
                    continue
                try:
                    named = people.name_group(store, summary.id, answer, exclude=left_out)
                except FacesortError as exc:  # a name it cannot take: ask again
                    console.error_line(str(exc))
                    continue
                _said_named(summary.id, named)
                offers.named.add(summary.id)
                if not offers.run(named.person):
                    return
                later = naming_ops.named_by_next_cluster(store, pack)
                break


def _ask(prompt: str) -> str | None:
    """One answer, stripped; None at the end of input. Ctrl-C ends the line
    the prompt left the cursor on and raises KeyboardInterrupt (exit 130)."""
    try:
        return typer.prompt(prompt, default="", show_default=False).strip()
    except typer.Abort as abort:
        console.stdout.print()  # the prompt left the cursor mid-line
        if isinstance(abort.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        return None


class _Offers:
    """"Also Alice? [y/n/q]": the unnamed groups near a person, one at a time,
    nearest first, until none is left or the user quits."""

    def __init__(self, store: Store, pack: str, open_viewer: bool, preview: int):
        self.store, self.pack, self.open_viewer, self.preview = store, pack, open_viewer, preview
        self.named: set[int] = set()  # groups named in this session
        self.skipped: set[tuple[int, int]] = set()  # Enter: not now, but not refused

    def run(self, person) -> bool:
        """Offer the groups near ``person`` (None: near anyone named); False when the user quits."""
        from facesort import naming

        while True:
            found = naming.group_suggestions(self.store, self.pack, person, skip=self.skipped)
            if not found:
                return True
            offer = found[0]
            faces = best_first(self.store.faces_in_cluster(offer.group))[:SHEET_FACES]
            title = (f"Group {offer.group}: {plural(offer.faces, 'face')}, "
                     f"distance {offer.distance:.2f} to {offer.person.name}")
            path = _show_faces(faces, [str(i) for i in range(1, len(faces) + 1)], title,
                               _sheet_path(self.store.path, f"group-{offer.group}"), self.open_viewer, self.preview)
            console.stdout.print(f"{title}; contact sheet: {path}", style="bold", markup=False,
                                 highlight=False)
            while True:
                answer = _ask(f"Also {offer.person.name}? [y/n/q] (Enter skips)")
                if answer is None or answer == "q":
                    return False
                if answer.lower() in ("y", "yes"):
                    _said_named(offer.group, naming.accept_suggestion(self.store, offer))
                    self.named.add(offer.group)
                elif answer.lower() in ("n", "no"):
                    naming.refuse_suggestion(self.store, offer)
                    console.stdout.print(f"group {offer.group} is not {offer.person.name}; "
                                         "it will not be offered as them again", highlight=False)
                elif answer == "":
                    self.skipped.add((offer.group, offer.person.id))
                else:
                    console.error_line("answer y, n, q, or Enter to skip")
                    continue
                break


def _said_named(group: int, naming) -> None:
    console.stdout.print(f"group {group} is {naming.person.name}: {plural(len(naming.named), 'face')}",
                         highlight=False)
    left_out = sum(len(faces) for faces in naming.left_out.values())
    if left_out:
        why = "; ".join(f"{', '.join(map(str, faces))} ({reason})"
                        for reason, faces in naming.left_out.items())
        console.stdout.print(f"{plural(left_out, 'face')} left out: {why}; review with "
                             f"'facesort show {group}'", highlight=False)


def _face_numbers(text: str, count: int) -> list[int] | None:
    words = text.replace(",", " ").split()
    if not words or not all(w.isdigit() and 1 <= int(w) <= count for w in words):
        return None
    return sorted({int(w) for w in words})


REVIEW_PROMPT = "Enter accepts the page, x 3 7 rejects faces 3 and 7 (and accepts the rest), s skips, q quits"
SPLIT_PROMPT = "Enter keeps this part, a name moves it to that person, r rejects it, q quits"


@_command()
def suggest(
    db: DbOption = None,
    model: LibraryModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """List what 'facesort name' would offer: groups that may be a named person,
    and named people who may be one, with their distances. Changes nothing.

    Distances are the pack's (smaller is more alike); a suggestion is within
    the pack's verification distance. Groups you answered n to for a person,
    or with a face in a photo where that person already is, are left out.

    Example: facesort suggest --json
    """
    from facesort import naming
    from facesort.thresholds import thresholds_for

    with _library(db) as store:
        pack = _pack_or_empty(store, model)
        groups = naming.group_suggestions(store, pack)
        pairs = naming.people_suggestions(store, pack)
    if thresholds_for(pack) is None:
        console.warning_line(f"no measured distances for pack {pack!r}: no suggestions")
    if json_output:
        console.stdout.print_json(data={
            "groups": [{"group": g.group, "faces": g.faces, "person": g.person.name,
                        "distance": g.distance} for g in groups],
            "people": [{"person": p.first.name, "other": p.second.name, "distance": p.distance}
                       for p in pairs],
        })
        return
    out = console.stdout
    for g in groups:
        out.print(f"group {g.group} ({plural(g.faces, 'face')}) may be {g.person.name} "
                  f"(distance {g.distance:.3f}): facesort name {g.group} {_quoted(g.person.name)}",
                  markup=False, highlight=False)
    for p in pairs:
        out.print(f"{p.first.name} and {p.second.name} may be one person (distance {p.distance:.3f}): "
                  f"facesort merge {_quoted(p.first.name)} {_quoted(p.second.name)}",
                  markup=False, highlight=False)
    if not groups and not pairs:
        out.print("No suggestions.")


def _quoted(name: str) -> str:
    import shlex

    return shlex.quote(name)


@_command()
def review(
    name: Annotated[Optional[str], typer.Argument(help="Only this person's automatic names.")] = None,
    db: DbOption = None,
    model: LibraryModelOption = None,
    page_size: Annotated[int, typer.Option("--page", min=1, max=SHEET_FACES, help="Faces a page.")] = 12,
    open_viewer: Annotated[bool, typer.Option("--open", help="Open each contact sheet in the system viewer.")] = False,
    preview: Annotated[int, typer.Option(min=0, max=12, help="Faces to draw in the terminal.")] = 6,
) -> None:
    """Check automatic names a page at a time, least certain first.

    Each page shows its faces in the terminal and writes a numbered contact
    sheet. Enter accepts the whole page as your own decisions; x 3 7 rejects
    faces 3 and 7 from their person for good (as 'facesort reject' does) and
    accepts the rest; s skips the page; q quits. Every answer is saved at once.

    Example: facesort review Alice
    """
    from facesort import naming

    with _library(db, write=True) as store:
        queue = naming.review_queue(store, _pack_or_empty(store, model), name)
        if not queue:
            console.stdout.print("No automatic names to review.")
            return
        pages = [queue[start:start + page_size] for start in range(0, len(queue), page_size)]
        for number, page in enumerate(pages, 1):
            labels = [f"{i} {face.person}" for i, face in enumerate(page, 1)]
            title = f"Automatic names, least certain first: page {number} of {len(pages)}"
            path = _show_faces(page, labels, title, _sheet_path(store.path, "review"), open_viewer, preview)
            console.stdout.print(f"[bold]{title}[/bold]; contact sheet: {path}", highlight=False)
            while True:
                answer = _ask(REVIEW_PROMPT)
                if answer is None or answer == "q":
                    return
                if answer == "s":
                    break
                wrong: list[int] = []
                if answer == "x" or answer.startswith("x "):
                    picked = _face_numbers(answer[1:], len(page))
                    if picked is None:
                        console.error_line(f"after x, give face numbers from 1 to {len(page)}")
                        continue
                    wrong = [page[i - 1].id for i in picked]
                elif answer != "":
                    console.error_line("answer Enter, x and face numbers, s or q")
                    continue
                accepted, rejected = naming.settle_page(store, page, wrong)
                console.stdout.print(f"accepted {plural(accepted, 'face')}, rejected {rejected}",
                                     highlight=False)
                break


@_command()
def split(
    name: Annotated[str, typer.Argument(help="The person whose faces may be two or more people.")],
    parts: Annotated[Optional[int], typer.Option("--parts", min=2, max=12, help="Split into this many parts (default: by the pack's distances).")] = None,
    db: DbOption = None,
    model: LibraryModelOption = None,
    open_viewer: Annotated[bool, typer.Option("--open", help="Open each contact sheet in the system viewer.")] = False,
    preview: Annotated[int, typer.Option(min=0, max=12, help="Faces to draw in the terminal.")] = 6,
) -> None:
    """Pull apart look-alikes named as one person (siblings, a child at different ages).

    The person's faces are grouped again at a tighter distance (or into
    --parts parts); each part shows its best faces and capture years. For
    each part: Enter keeps it, a name gives it to that person (new or
    existing) as your decision, r rejects it from this person for good,
    q quits. Every answer is saved at once.

    Example: facesort split "Anna" --parts 2
    """
    from facesort import naming

    with _library(db, write=True) as store:
        person, found = naming.split_person(store, _pack_or_empty(store, model), name, parts)
        if len(found) < 2:
            console.stdout.print(f"{person.name}'s faces stay together at this distance; "
                                 "try --parts 2", highlight=False)
            return
        for number, part in enumerate(found, 1):
            faces = part.faces[:SHEET_FACES]
            years = (part.years[0] if len(part.years) == 1 else
                     f"{part.years[0]}-{part.years[-1]}" if part.years else "no dates")
            title = f"{person.name}, part {number} of {len(found)}: {plural(len(part.faces), 'face')}, {years}"
            path = _show_faces(faces, [str(f.id) for f in faces], title,
                               _sheet_path(store.path, f"split-{number}"), open_viewer, preview)
            console.stdout.print(f"{title}; contact sheet: {path}", style="bold", markup=False,
                                 highlight=False)
            while True:
                answer = _ask(SPLIT_PROMPT)
                if answer is None or answer == "q":
                    return
                if answer == "":
                    break
                if answer == "r":
                    count = naming.reject_part(store, part, person)
                    console.stdout.print(f"{plural(count, 'face')} rejected from {person.name}",
                                         highlight=False)
                    break
                try:
                    moved = naming.move_part(store, part, answer)
                except FacesortError as exc:
                    console.error_line(str(exc))
                    continue
                console.stdout.print(f"{plural(len(part.faces), 'face is', 'faces are')} {moved.name}",
                                     highlight=False)
                break


@_command()
def people(
    db: DbOption = None,
    model: LibraryModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the named people with their faces (yours and automatic) and photos.

    Example: facesort people --json
    """
    with _library(db) as store:
        rows = store.people_summary(_pack_id(store, model))
    if json_output:
        console.stdout.print_json(data=[vars(row) for row in rows])
        return
    if not rows:
        console.stdout.print("No people named yet: 'facesort name' starts.")
        return
    console.table(["name", "faces", "automatic", "photos"],
                  [[row.name, str(row.faces), str(row.auto_faces), str(row.photos)] for row in rows])


@_command()
def clusters(
    db: DbOption = None,
    model: LibraryModelOption = None,
    show_all: Annotated[bool, typer.Option("--all", help="Also list named and ignored groups.")] = False,
    json_output: JsonOption = False,
) -> None:
    """List the groups, largest first: unnamed ones, or all with --all.

    Example: facesort clusters --all
    """
    with _library(db) as store:
        rows = [c for c in store.clusters_summary(_pack_id(store, model))
                if show_all or (not c.ignored and c.person is None)]
    if json_output:
        console.stdout.print_json(data=[vars(row) for row in rows])
        return
    if not rows:
        console.stdout.print("No groups to show: run 'facesort cluster'.")
        return
    console.table(["group", "faces", "photos", "person", "ignored"],
                  [[str(row.id), str(row.faces), str(row.photos), row.person or "",
                    "yes" if row.ignored else ""] for row in rows])


@_command()
def rename(
    old: Annotated[str, typer.Argument(help="The current name.")],
    new: Annotated[str, typer.Argument(help="The new name.")],
    db: DbOption = None,
) -> None:
    """Rename a person.

    Example: facesort rename "Bob" "Robert Jones"
    """
    from facesort import people as people_ops

    with _library(db, write=True) as store:
        person = people_ops.rename(store, old, new)
    console.stdout.print(f"renamed to {person.name}", highlight=False)


@_command()
def merge(
    person: Annotated[str, typer.Argument(help="The person to keep.")],
    other: Annotated[str, typer.Argument(help="The person whose faces join PERSON; the name goes away.")],
    db: DbOption = None,
) -> None:
    """Make two people one: OTHER's faces and decisions move to PERSON.

    Example: facesort merge "Alice Smith" "Alice S"
    """
    from facesort import people as people_ops

    with _library(db, write=True) as store:
        kept = people_ops.merge(store, person, other)
    console.stdout.print(f"{other} merged into {kept.name}", highlight=False)


@_command()
def reject(
    faces: Annotated[list[int], typer.Argument(help="Face ids (shown by 'facesort show').")],
    from_person: Annotated[Optional[str], typer.Option("--from", help="The person to take them from (default: their current person).")] = None,
    db: DbOption = None,
) -> None:
    """Take faces away from a person; they are never given back to that person automatically.

    Example: facesort reject 1043 1187 --from Alice
    """
    from facesort import people as people_ops

    with _library(db, write=True) as store:
        count = people_ops.reject(store, faces, from_person)
    console.stdout.print(f"rejected {plural(count, 'face')}", highlight=False)


@_command()
def confirm(
    person: Annotated[str, typer.Argument(help="The person whose automatic names you checked.")],
    faces: Annotated[Optional[list[int]], typer.Argument(help="Only these face ids (default: all of them).")] = None,
    db: DbOption = None,
) -> None:
    """Accept automatic names as your own decisions, after checking them with 'facesort show'.

    Example: facesort confirm Alice
    """
    from facesort import people as people_ops

    with _library(db, write=True) as store:
        count = people_ops.confirm(store, person, faces or ())
    console.stdout.print(f"confirmed {plural(count, 'face')}", highlight=False)


@_command()
def ignore(
    group: Annotated[int, typer.Argument(help="A group id (from 'facesort clusters').")],
    unnamed: Annotated[bool, typer.Option("--unnamed", help="Only the group's faces nobody is named on.")] = False,
    db: DbOption = None,
) -> None:
    """Mark a group as strangers: it is not offered for naming again.

    A group with named faces is a person and is not ignored whole (that would
    stop naming the person in new photos); --unnamed ignores only its faces
    nobody is named on. 'facesort unignore' takes it back.

    Example: facesort ignore 31
    """
    from facesort import people as people_ops

    with _library(db, write=True) as store:
        count = people_ops.ignore(store, group, unnamed_only=unnamed)
    what = f"{plural(count, 'unnamed face')} of group {group}" if unnamed else f"group {group}"
    console.stdout.print(f"{what} ignored", highlight=False)


@_command()
def unignore(
    group: Annotated[int, typer.Argument(help="A group id (from 'facesort clusters --all').")],
    db: DbOption = None,
) -> None:
    """Take back 'facesort ignore': the group is offered for naming again.

    Example: facesort unignore 31
    """
    from facesort import people as people_ops

    with _library(db, write=True) as store:
        people_ops.unignore(store, group)
    console.stdout.print(f"group {group} is no longer ignored", highlight=False)


@_command()
def assign(
    faces_and_name: Annotated[list[str], typer.Argument(metavar="FACE... NAME", help="Face ids (shown by 'facesort show'), then the person's name (created if new).")],
    db: DbOption = None,
) -> None:
    """Say who these faces are; this is your decision and overrides automatic names.

    Example: facesort assign 1043 1187 Alice
    """
    from facesort import people as people_ops

    *faces, person = faces_and_name
    if not faces or not all(face.isdigit() for face in faces):
        raise FacesortError("give one or more face ids, then the name: facesort assign 1043 1187 Alice")
    with _library(db, write=True) as store:
        named = people_ops.assign(store, [int(face) for face in faces], person)
    console.stdout.print(f"{plural(len(set(faces)), 'face is', 'faces are')} {named.name}", highlight=False)


@_command()
def show(
    target: Annotated[str, typer.Argument(help="A person's name or a group id.")],
    db: DbOption = None,
    model: LibraryModelOption = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", dir_okay=False, help="Where to write the contact sheet (PNG).")] = None,
    open_viewer: Annotated[bool, typer.Option("--open", help="Open the contact sheet in the system viewer.")] = False,
    preview: Annotated[int, typer.Option(min=0, max=12, help="Faces to draw in the terminal.")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="List the faces as JSON instead of drawing them.")] = False,
) -> None:
    """Write a contact sheet of a person's or a group's faces, labelled with face ids.

    Automatic names are marked with "?" so you can check them, then fix them
    with 'facesort reject' or accept them with 'facesort confirm'.

    Example: facesort show Alice --open
    """
    from facesort import people as people_ops

    with _library(db) as store:
        if target.isdigit():
            people_ops.require_group(store, int(target))
            faces = store.faces_in_cluster(int(target))
            title = f"Group {target}: {plural(len(faces), 'face')}"
            slug = f"group-{target}"
        else:
            person = people_ops.find_person(store, target)
            faces = store.faces_of_person(person.id, _pack_id(store, model))
            title = f"{person.name}: {plural(len(faces), 'face')} (? = automatic)"
            slug = "person-" + "".join(c if c.isalnum() else "_" for c in person.name)
    if not faces:
        raise FacesortError(f"{target}: no faces to show")
    faces = best_first(faces)
    if json_output:
        console.stdout.print_json(data=[
            {"id": f.id, "path": f.path, "box": list(f.box), "group": f.cluster, "person": f.person,
             "person_source": f.person_source} for f in faces])
        return
    labels = [f"{f.id}{'?' if f.person_source == 'auto' else ''}" for f in faces]
    path = _show_faces(faces, labels, title, output or _sheet_path(_db_path(db), slug), open_viewer, preview)
    console.stdout.print(str(path), highlight=False)

# -- other apps, search, and the FaceNet verbs ----------------------------------------


def _photos_in_scope(store: Store, paths: list[Path] | None):
    if not paths:
        return store.photos_in(None)
    return store.photos_in([os.path.abspath(p) for p in paths])


@_command()
def write(
    paths: Annotated[Optional[list[Path]], typer.Argument(metavar="PATH...", help="Photos or folders (default: the whole library).")] = None,
    person: Annotated[Optional[str], typer.Option("--person", help="Only photos with this person.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="List what would change; write nothing.")] = False,
    sidecar_name: Annotated[str, typer.Option(help="For new sidecars: 'ext' gives photo.jpg.xmp (digiKam, darktable, Immich), 'stem' gives photo.xmp (Lightroom, exiftool).")] = "ext",
    confirmed_only: Annotated[bool, typer.Option("--confirmed-only", help="Leave out facesort's automatic names.")] = False,
    db: DbOption = None,
    model: LibraryModelOption = None,
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Write the names into XMP sidecars that other photo apps read.

    Each sidecar gets face regions (MWG and Microsoft Photo) and person
    keywords (digiKam, Lightroom, dc:subject, IPTC PersonInImage). An existing
    sidecar is merged into: what other apps wrote is kept, and only what
    facesort wrote before is replaced. Photos are never touched. A name with
    '/' or '|' is left out of digiKam's and Lightroom's keyword trees, where
    those characters separate levels.

    Example: facesort write --dry-run ~/Pictures/2024
    """
    from facesort import metadata
    from facesort import people as people_ops

    if sidecar_name not in ("ext", "stem"):
        raise FacesortError(f"unknown --sidecar-name {sidecar_name!r}: choose ext or stem")
    with _library(db, write=True) as store:
        pack_id = _pack_id(store, model)
        person_id = people_ops.find_person(store, person).id if person else None
        verb = "would be " if dry_run else ""

        def changed(kind: str, path: str, names: list[str]) -> None:
            if not quiet and not json_output:
                console.stdout.print(f"{verb}{kind}: {path} ({', '.join(names) or 'no names'})",
                                     markup=False, highlight=False)

        report = metadata.write_sidecars(
            store, pack_id, _photos_in_scope(store, paths), person_id=person_id,
            include_auto=not confirmed_only, stem_names=sidecar_name == "stem", dry_run=dry_run,
            on_change=changed, on_error=console.error_line,
        )
    for name in sorted(report.left_out_of_trees if not quiet else (), key=str.casefold):
        console.error_line(f"note: {name!r} is left out of digiKam's and Lightroom's keyword "
                           "trees, where '/' and '|' separate levels; its face regions and "
                           "flat keywords carry it")
    if json_output:
        console.stdout.print_json(data=dict(report.as_dict(), dry_run=dry_run))
    elif not quiet:
        failed = f", {len(report.errors)} failed" if report.errors else ""
        nothing = (" (nothing to change)"
                   if not report.created and not report.updated and not report.errors else "")
        console.stdout.print(
            f"{len(report.created)} sidecars {verb}created, {len(report.updated)} {verb}updated, "
            f"{report.unchanged} unchanged{failed}{nothing}", highlight=False)
    if report.errors:
        raise typer.Exit(EXIT_SOME_FAILED)


@_command("import")
def import_(
    paths: Annotated[Optional[list[Path]], typer.Argument(metavar="PATH...", help="Photos or folders (default: the whole library).")] = None,
    people_tag: Annotated[str, typer.Option("--people-tag", help="The keyword under which digiKam and Lightroom file people: People/Ann, People|Ann. Nested: 'Tags/People'.")] = "People",
    db: DbOption = None,
    model: LibraryModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Take over face names tagged in digiKam, Lightroom, Windows Photos and others.

    Reads MWG and Microsoft Photo face regions from sidecars and from the XMP
    inside the photos, matches them to the faces facesort found by overlap,
    and keeps their names as your own decisions. On a photo with one face and
    no regions, a person keyword names that face: IPTC PersonInImage, digiKam
    People/NAME, Lightroom People|NAME, or a dc:subject keyword that is a
    person in your library or the photo's only keyword. What facesort wrote
    itself is never taken back. Scan the photos first.

    Example: facesort import ~/Pictures --people-tag Persons
    """
    from facesort import metadata

    with _library(db, write=True) as store:
        pack_id = _pack_id(store, model)
        report = metadata.import_names(store, pack_id, _photos_in_scope(store, paths),
                                       people_tag=people_tag, on_error=console.error_line)
    if json_output:
        console.stdout.print_json(data=report.as_dict())
    else:
        failed = f"; {len(report.errors)} failed" if report.errors else ""
        console.stdout.print(
            f"{report.faces_named} faces named from {report.photos} photos with tags "
            f"({len(report.people)} people); {report.regions_unmatched} regions matched no face"
            f"{failed}", highlight=False)
    if report.errors:
        raise typer.Exit(EXIT_SOME_FAILED)


@_command()
def find(
    names: Annotated[list[str], typer.Argument(metavar="NAME...", help="People who must all be in the photo.")],
    any_of: Annotated[bool, typer.Option("--any", help="Any of the people, not all of them.")] = False,
    without: Annotated[Optional[list[str]], typer.Option("--not", help="Leave out photos with this person (repeatable).")] = None,
    only: Annotated[bool, typer.Option("--only", help="Nobody else named in the photo.")] = False,
    year: Annotated[Optional[int], typer.Option(help="Taken in this year.")] = None,
    since: Annotated[Optional[str], typer.Option(help="Taken on or after this date (YYYY-MM-DD).")] = None,
    until: Annotated[Optional[str], typer.Option(help="Taken on or before this date (YYYY-MM-DD).")] = None,
    null: Annotated[bool, typer.Option("-0", "--null", help="End each path with NUL, for xargs -0.")] = False,
    db: DbOption = None,
    model: LibraryModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Find photos by the people in them: one path per line.

    --year, --since and --until go by the capture date in the photo's EXIF;
    a photo without one goes by its file's modification date instead.

    Example: facesort find Alice Bob --not Carol --year 2024 -0 | xargs -0 open
    """
    from facesort.search import PhotoQuery, find_photos

    query = PhotoQuery(list(names), any_of=any_of, without=tuple(without or ()), only=only,
                       year=year, since=since, until=until)
    with _library(db) as store:
        hits = find_photos(store, _pack_id(store, model), query,
                           with_people=json_output)
    if json_output:
        console.stdout.print_json(data=[
            {"path": h.photo.path, "taken_at": h.photo.taken_at, "people": h.people} for h in hits])
        return
    end = "\0" if null else "\n"
    sys.stdout.write("".join(h.photo.path + end for h in hits))


def _engine_and_thresholds(model: str, purpose: str):
    from facesort.engine import load_engine
    from facesort.thresholds import thresholds_for

    pack = resolve_pack(model)
    thresholds = thresholds_for(pack.name)
    if thresholds is None:
        raise FacesortError(f"no {purpose} threshold is known for model pack {pack.name!r}")
    return pack, load_engine(pack), thresholds


@_command()
def who(
    photos: Annotated[list[Path], typer.Argument(metavar="PHOTO...", help="Photos, in the library or not.", exists=True, dir_okay=False)],
    db: DbOption = None,
    model: ModelOption = DEFAULT_MODEL,
    min_face_size: Annotated[int, typer.Option(min=0, help="Ignore faces smaller than this many pixels.")] = DEFAULT_MIN_FACE_SIZE,
    json_output: JsonOption = False,
) -> None:
    """Say who is in photos: each face's box, the named person, and the distance.

    A face farther than the pack's recognition threshold from everyone you
    named is "unknown"; the nearest person is still shown.

    Example: facesort who party.jpg
    """
    from facesort.identify import NamedGallery, who as identify
    from facesort.people import require_pack

    pack, engine, thresholds = _engine_and_thresholds(model, "recognition")
    with _library(db) as store:
        people_named = NamedGallery.of_library(store, require_pack(store, pack.name))
    thresholds = people_named.thresholds(thresholds)
    results = []
    failed = False
    for photo in photos:
        try:
            results.append((photo, identify(engine, people_named, thresholds, photo, min_face_size)))
        except FacesortError as exc:
            console.error_line(str(exc))
            failed = True
    if json_output:
        console.stdout.print_json(data=[
            {"path": str(photo), "threshold": thresholds.recognize, "faces": [
                {"face": f.face.number, "box": list(f.face.box), "person": f.person,
                 "nearest": f.nearest, "distance": f.distance} for f in faces]}
            for photo, faces in results])
    else:
        for photo, faces in results:
            if not faces:
                console.stdout.print(f"{photo}: no face found", markup=False, highlight=False)
            for f in faces:
                box = ",".join(f"{v:.0f}" for v in f.face.box)
                if f.person:
                    said = f"{f.person} (distance {f.distance:.3f})"
                elif f.nearest:
                    said = f"unknown (nearest {f.nearest}, distance {f.distance:.3f} > {thresholds.recognize})"
                else:
                    said = "unknown (nobody is named yet)"
                console.stdout.print(f"{photo}  face {f.face.number}  box {box}  {said}",
                                     markup=False, highlight=False)
    if failed:
        raise typer.Exit(EXIT_SOME_FAILED)


@_command()
def verify(
    photo_a: Annotated[Path, typer.Argument(metavar="PHOTO_A", help="A photo of one person (or pick a face with --face-a).", exists=True, dir_okay=False)],
    photo_b: Annotated[Path, typer.Argument(metavar="PHOTO_B", help="Another photo (or pick a face with --face-b).", exists=True, dir_okay=False)],
    face: Annotated[Optional[int], typer.Option("--face", min=1, metavar="N", help="Use face N (1 = leftmost) in each photo with several faces.")] = None,
    face_a: Annotated[Optional[int], typer.Option("--face-a", min=1, metavar="N", help="Use face N of PHOTO_A (1 = leftmost).")] = None,
    face_b: Annotated[Optional[int], typer.Option("--face-b", min=1, metavar="N", help="Use face N of PHOTO_B (1 = leftmost).")] = None,
    model: ModelOption = DEFAULT_MODEL,
    min_face_size: Annotated[int, typer.Option(min=0, help="Ignore faces smaller than this many pixels.")] = DEFAULT_MIN_FACE_SIZE,
    json_output: JsonOption = False,
) -> None:
    """Say whether two photos show the same person. Exit 0 same, 1 different, 2 error.

    In a photo with several faces, pick one by its number from the left
    ('facesort who' lists them): --face-a for PHOTO_A, --face-b for PHOTO_B,
    --face for whichever photo has several. Face 4 of a group photo against a
    portrait:

    Example: facesort verify group.jpg portrait.jpg --face-a 4
    """
    from facesort.identify import verify as compare

    pack, engine, thresholds = _engine_and_thresholds(model, "verification")
    verdict = compare(engine, thresholds, photo_a, photo_b, min_face_size, face=face,
                      face_a=face_a, face_b=face_b)
    if json_output:
        console.stdout.print_json(data={"same": verdict.same, "distance": verdict.distance,
                                        "threshold": verdict.threshold, "pack": pack.name,
                                        "box_a": list(verdict.box_a), "box_b": list(verdict.box_b)})
    else:
        word = "same person" if verdict.same else "different people"
        relation = "<=" if verdict.same else ">"
        console.stdout.print(f"{word}: distance {verdict.distance:.4f} {relation} threshold "
                             f"{verdict.threshold} ({pack.name})", highlight=False)
    if not verdict.same:
        raise typer.Exit(EXIT_SOME_FAILED)


def main() -> None:
    app(prog_name="facesort")
