"""The command line's common ground: the typer app, the shared options, the
one place that turns exceptions into messages and exit codes, and the helpers
every command family uses (opening the library, choosing the pack, contact
sheets, prompts).

Exit codes: 0 all went well, 1 some photos failed (each was named on stderr),
2 a usage or setup error (bad option, missing model pack, busy, read-only or
unusable library, full disk), 130 interrupted.
"""

from __future__ import annotations

import codecs
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

from facesort import __version__
from facesort.cli import console, helptext, preview as previews
from facesort.config import (
    APP_NAME,
    DB_ENV,
    DEFAULT_MODEL,
    MODEL_ENV,
    default_db_path,
    resolve_pack,
)
from facesort.errors import (
    DiskFullError,
    FacesortError,
    LibraryBusyError,
    LibraryDamagedError,
    LibraryReadOnlyError,
    is_damage,
    shown,
)
from facesort.scanning.lock import job_lock
from facesort.store import Store


EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


app = typer.Typer(
    name="facesort",
    help="Sort your photos by the people in them. Everything runs locally; "
    "your photos are never modified.",
    cls=helptext.Group,
    no_args_is_help=True,
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


PreviewOption = Annotated[
    Optional[previews.Preview],
    typer.Option("--preview", parser=previews.parse, metavar="N|WAY",
                 help=f"Faces to draw in the terminal (0 to {previews.MAX_FACES}), or how to draw "
                 "them: auto (as the terminal can), blocks, kitty, iterm, sixel, none. "
                 f"{previews.PREVIEW_ENV} sets how for every command."),
]


LibraryModelOption = Annotated[
    Optional[str],
    typer.Option("--model", "-m", envvar=MODEL_ENV,
                 help="Work on this pack's faces (needed only when the library has several)."),
]


def _bytes_or_escapes(error: UnicodeError) -> tuple[str | bytes, int]:
    """The error handler for stdout: a file name's bytes that are not UTF-8
    (surrogate escapes) go out as they are; a letter the stream's encoding
    lacks (an ASCII or legacy-locale stdout) becomes a \\xNN escape."""
    bad = error.object[error.start:error.end]
    if all("\udc80" <= c <= "\udcff" for c in bad):
        return bytes(ord(c) - 0xDC00 for c in bad), error.end
    return codecs.backslashreplace_errors(error)


codecs.register_error("facesort-stdout", _bytes_or_escapes)


def _paths_print_as_they_are() -> None:
    """A file name that is not valid UTF-8 goes to stdout as its bytes, as ls
    and find print it, so that a script can open it; in messages on stderr it
    gets escapes rather than stopping the command. A stream whose encoding
    cannot hold a name (PYTHONIOENCODING=ascii, an old console) gets escapes."""
    for stream, errors in ((sys.stdout, "facesort-stdout"), (sys.stderr, "backslashreplace")):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=errors)


_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _environment_error(exc: Exception, db: Path | None) -> FacesortError | None:
    """The one-line error for a failure of the machine rather than of facesort
    (a full disk, a read-only or failing drive), or None for a bug."""
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", None) or ""
        library = db_path_of(db)
        if is_damage(exc):
            return LibraryDamagedError(library, str(exc))
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
        return DiskFullError(exc.filename or db_path_of(db), (exc.strerror or str(exc)).lower())
    elif isinstance(exc, OSError) and exc.filename:
        # A file the user named that cannot be written or read (a folder in
        # the way, no permission): the user can fix it.
        return FacesortError(f"{shown(exc.filename)}: {(exc.strerror or str(exc)).lower()}")
    return None


def command(*args, **kwargs):
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

        return app.command(*args, cls=helptext.Command, **kwargs)(guarded)

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


def db_path_of(db: Path | None) -> Path:
    return (db or default_db_path()).expanduser().absolute()


@contextmanager
def open_library(db: Path | None, *, write: bool = False, create: bool = False,
             job: str | None = None) -> Iterator[Store]:
    """The library, opened for reading or for writing. A ``job`` ("scan" or
    "cluster") also holds that job's lock, so that a second one is refused;
    naming, fixing and writing sidecars go on beside a running job."""
    path = db_path_of(db)
    with job_lock(path, job) if job else nullcontext(), \
            Store(path, create=create, write=write) as store:
        try:
            yield store
        finally:
            if write:
                _keep_decisions(store)


def _keep_decisions(store: Store) -> None:
    """After a command that may have changed decisions (also one that failed
    or was interrupted after some), bring the copy beside the library up to
    date. A copy that cannot be written is said, and does not fail the command."""
    from facesort.safety.decision_copy import keep_copy

    try:
        kept = keep_copy(store)
    except (FacesortError, OSError, sqlite3.Error) as exc:
        console.warning_line(f"the copy of your decisions beside the library could not be written: {exc}")
        return
    if kept is not None and kept.set_aside is not None:
        console.warning_line(
            f"the decisions of the library that was here before are kept in {shown(kept.set_aside)}: "
            f"'facesort restore {shown(kept.set_aside)}' puts them into this one")


def human_bytes(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def library_pack(store: Store, model: str | None) -> str | None:
    """The pack whose faces a command works on: ``--model``/FACESORT_MODEL, or
    the library's only pack, or the default pack among several."""
    if model:
        from facesort.people.cluster_run import require_pack

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


SHEET_FACES = 48


def pack_or_empty(store: Store, model: str | None) -> str:
    pack = library_pack(store, model)
    if pack is None:
        raise FacesortError("the library has no faces yet: run 'facesort scan' first")
    return pack


def pack_id_of(store: Store, model: str | None) -> int:
    return store.find_pack(pack_or_empty(store, model))


def sheet_path(library: Path, name: str) -> Path:
    """Contact sheets go beside the library whose faces they show, or to the
    config folder where the library's folder is read-only."""
    folder = library.parent if os.access(library.parent, os.W_OK) else Path(typer.get_app_dir(APP_NAME))
    return folder / f"{library.stem}-sheets" / f"{name}.png"


PREVIEW_FACES = 6  # faces the naming commands draw where --preview does not say


def preview_or(preview: previews.Preview | None, faces: int = PREVIEW_FACES) -> previews.Preview:
    """--preview as given, with ``faces`` where it gave no number."""
    given = preview or previews.Preview()
    return previews.Preview(given.way, faces if given.faces is None else given.faces)


def show_faces(faces, labels, title: str, output: Path, open_viewer: bool, preview: previews.Preview,
               preview_picks=None, preview_labels=None) -> Path:
    """Every face on a contact sheet, and the first ``preview.faces`` of them
    (or of the faces at ``preview_picks``, with ``preview_labels``) drawn in
    the terminal, ``preview.way`` or as the terminal can."""
    from facesort.search import sheets

    thumbs = sheets.face_thumbnails(faces)
    captions = [sheets.clip_caption(face) for face in faces]
    path = sheets.save_sheet(sheets.contact_sheet(thumbs, labels, title, captions), output)
    count = preview.faces or 0
    way = preview.way or previews.detect(os.environ, console.stdout.is_terminal)
    if count and way != "none":
        if preview_picks is None:
            shown, shown_labels = thumbs[:count], labels[:count]
        else:
            shown, shown_labels = [thumbs[i] for i in preview_picks[:count]], preview_labels[:count]
        console.stdout.print(previews.render(shown, shown_labels, way, previews.columns()))
    if open_viewer and typer.launch(str(path)) != 0:
        console.warning_line(f"no viewer could open the contact sheet; it is at {path}")
    return path


def ask(prompt: str) -> str | None:
    """One answer, stripped; None at the end of input. Ctrl-C ends the line
    the prompt left the cursor on and raises KeyboardInterrupt (exit 130)."""
    try:
        return typer.prompt(prompt, default="", show_default=False).strip()
    except typer.Abort as abort:
        console.stdout.print()  # the prompt left the cursor mid-line
        if isinstance(abort.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        return None


def face_numbers(text: str, count: int) -> list[int] | None:
    words = text.replace(",", " ").split()
    if not words or not all(w.isdigit() and 1 <= int(w) <= count for w in words):
        return None
    return sorted({int(w) for w in words})


def main() -> None:
    app(prog_name="facesort")
