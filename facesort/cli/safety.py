"""Commands that keep the library safe: check and restore."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from facesort.cli import console
from facesort.cli.app import EXIT_SOME_FAILED, DbOption, JsonOption, command, db_path_of, open_library
from facesort.errors import shown
from facesort.text import plural


@command()
def check(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Check the library: SQLite's integrity check and facesort's own rules.

    Prints one line per problem and exits 1, or says the library is fine and
    exits 0. It only reads, so it also works on a read-only library.
    'facesort restore' puts your decisions back into a new library.

    Example: facesort check && cp ~/.local/share/facesort/library.db /backup/
    """
    from facesort.safety.check import check_library, restore_hint

    path = db_path_of(db)
    problems = list(check_library(path))
    if json_output:
        console.stdout.print_json(data={"library": str(path), "problems": problems})
    else:
        for line in problems:
            console.stdout.out(line, highlight=False)
        if problems:
            console.error_line(f"{plural(len(problems), 'problem')} in {shown(path)}; "
                               + restore_hint(path))
        else:
            console.stdout.print(f"{shown(path)}: no problems found", highlight=False)
    if problems:
        raise typer.Exit(EXIT_SOME_FAILED)


@command()
def restore(
    copy: Annotated[Optional[Path], typer.Argument(
        help="The copy of the decisions (default: the one beside the library, "
             "LIBRARY.decisions.jsonl.gz).", show_default=False, dir_okay=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Say what would be restored; change nothing.")] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Put your decisions back from the copy facesort keeps beside the library.

    After a loss, scan your photos into a new library, then restore: each
    name, rejection and ignore goes back to the face at its place in the photo
    of the same content, wherever the photo now is. A decision with no face at
    its place is kept as an orphan of its photo ('facesort status --orphans');
    one whose photo is not in the library is kept until it is: scan that
    folder and restore again. Restoring twice changes nothing. After
    'facesort scan ~/Pictures', see what would come back:

    Example: facesort restore --dry-run
    """
    from facesort.safety.decision_copy import restore as restore_copy

    with open_library(db, write=not dry_run) as store:
        path, report = restore_copy(store, copy, dry_run)
    if json_output:
        console.stdout.print_json(data={"copy": str(path), "dry_run": dry_run, **vars(report)})
        return
    verb = "would restore" if dry_run else "restored"
    console.stdout.print(
        f"{verb} from {shown(path)}: {plural(report.placed, 'decision')} on faces, "
        f"{report.orphaned} kept as orphans (no face at their place), "
        f"{report.waiting} waiting for photos not in the library, "
        f"{report.already} there already; {plural(report.people_added, 'person', 'people')} added",
        highlight=False)
    if report.waiting:
        console.warning_line(
            f"{plural(report.waiting, 'decision')} belong to photos not in the library: "
            "scan their folders and run 'facesort restore' again")
