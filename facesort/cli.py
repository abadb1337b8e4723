"""The command line: parse, call the core, render.

This is the only module that turns exceptions into messages and exit codes:
0 all went well, 1 some photos failed (each was named on stderr), 2 a usage or
setup error (bad option, missing model pack, busy or unusable library),
130 interrupted.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from facesort import __version__, console
from facesort.config import (
    DB_ENV,
    DEFAULT_DET_SIZE,
    DEFAULT_MIN_FACE_SIZE,
    DEFAULT_MODEL,
    MODEL_ENV,
    default_db_path,
    resolve_pack,
)
from facesort.errors import FacesortError
from facesort.export import WRITERS
from facesort.lock import writer_lock
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
        help="Model pack: an insightface pack name (looked up in ~/.insightface/models, "
        "fetched when missing) or a folder with a detector and a recognizer .onnx.",
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar and no summary; errors still show.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


def _command(*args, **kwargs):
    """``app.command`` that also maps facesort's errors to a message and an exit code."""

    def register(fn):
        @functools.wraps(fn)
        def guarded(*call_args, **call_kwargs):
            try:
                return fn(*call_args, **call_kwargs)
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

    db_path = _db_path(db)
    pack = resolve_pack(model)
    options = ScanOptions(det_size=det_size, min_face_size=min_face_size,
                          follow_symlinks=follow_symlinks)
    with writer_lock(db_path), Store(db_path) as store, console.progress(quiet, extra="faces") as bar:
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
            f"{report.photos} photos: {report.new} new, {report.changed} changed, "
            f"{report.unchanged} unchanged, {report.moved} moved, {report.removed} removed, "
            f"{report.failed} failed; {report.faces} faces found in {report.seconds:.1f} s",
            highlight=False,
        )
    if report.failed:
        raise typer.Exit(EXIT_SOME_FAILED)


@_command()
def status(
    db: DbOption = None,
    errors: Annotated[bool, typer.Option("--errors", help="List the photos that failed and why.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Show what is in the library: photos, faces, failed files, model packs.

    Example: facesort status --errors
    """
    with Store(_db_path(db), create=False) as store:
        summary = store.summary()
        failed = store.failed_photos() if errors else []
    if json_output:
        data = {
            "database": summary.db_path,
            "database_bytes": summary.db_bytes,
            "photos": summary.photos,
            "failed": summary.failed,
            "faces": summary.faces,
            "packs": [vars(pack) for pack in summary.packs],
        }
        if errors:
            data["errors"] = [vars(photo) for photo in failed]
        console.stdout.print_json(data=data)
        return
    out = console.stdout
    out.print(f"Library   {summary.db_path} ({_human_bytes(summary.db_bytes)})", highlight=False)
    out.print(f"Photos    {summary.photos} ({summary.failed} failed)", highlight=False)
    out.print(f"Faces     {summary.faces}", highlight=False)
    for pack in summary.packs:
        dims = f", {pack.dimensions}-d" if pack.dimensions else ""
        out.print(f"Pack      {pack.name}: {pack.photos} photos, {pack.faces} faces{dims}",
                  highlight=False)
    for photo in failed:
        out.print(f"{photo.path}: {photo.error}", markup=False, highlight=False)
    if summary.failed and not errors:
        out.print("See which photos failed and why: facesort status --errors", style="dim")


def _export_pack(store: Store, model: str | None) -> int | None:
    if model:
        name = resolve_pack(model).name
        pack_id = store.find_pack(name)
        if pack_id is None:
            known = ", ".join(store.pack_names()) or "none yet"
            raise FacesortError(f"no faces from model pack {name!r} in the library (packs: {known})")
        return pack_id
    names = store.pack_names()
    if len(names) > 1 and DEFAULT_MODEL not in names:
        raise FacesortError(
            "the library holds faces from several model packs (" + ", ".join(names)
            + "); choose one with --model"
        )
    name = DEFAULT_MODEL if DEFAULT_MODEL in names else (names[0] if names else None)
    return store.find_pack(name) if name else None


def _write_atomically(path: Path, write) -> int:
    """Write through a temporary file beside ``path``, so a reader never sees
    half a file and an interruption leaves the old one."""
    path = path.expanduser()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            count = write(out)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return count


@_command()
def export(
    db: DbOption = None,
    model: Annotated[
        Optional[str],
        typer.Option("--model", "-m", envvar=MODEL_ENV,
                     help="Export this pack's faces (needed only when the library has several)."),
    ] = None,
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
    with Store(_db_path(db), create=False) as store:
        pack_id = _export_pack(store, model)
        photos = store.export_photos(pack_id) if pack_id is not None else iter(())
        if output is None:
            write(photos, sys.stdout)
        else:
            _write_atomically(output, lambda out: write(photos, out))


def main() -> None:
    app(prog_name="facesort")
