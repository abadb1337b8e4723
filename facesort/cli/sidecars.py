"""Commands that talk to other photo apps: write (XMP sidecars) and import."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from facesort.cli import console
from facesort.errors import FacesortError
from facesort.store import Store
from facesort.cli.app import (
    EXIT_SOME_FAILED,
    DbOption,
    QuietOption,
    JsonOption,
    LibraryModelOption,
    command,
    open_library,
    pack_id_of,
)


def _photos_in_scope(store: Store, paths: list[Path] | None):
    if not paths:
        return store.photos_in(None)
    return store.photos_in([os.path.abspath(p) for p in paths])


@command()
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
    from facesort.sidecars import sync
    from facesort.people import decisions as people_ops

    if sidecar_name not in ("ext", "stem"):
        raise FacesortError(f"unknown --sidecar-name {sidecar_name!r}: choose ext or stem")
    with open_library(db, write=True) as store:
        pack_id = pack_id_of(store, model)
        person_id = people_ops.find_person(store, person).id if person else None
        verb = "would be " if dry_run else ""

        def changed(kind: str, path: str, names: list[str]) -> None:
            if not quiet and not json_output:
                console.stdout.print(f"{verb}{kind}: {path} ({', '.join(names) or 'no names'})",
                                     markup=False, highlight=False)

        scope = _photos_in_scope(store, paths)
        report = sync.write_sidecars(
            store, pack_id, scope, person_id=person_id,
            include_auto=not confirmed_only, stem_names=sidecar_name == "stem", dry_run=dry_run,
            library=None if paths else scope, on_change=changed, on_error=console.error_line,
        )
    for note in report.notes if not quiet else ():
        console.warning_line(f"note: {note}")
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


@command("import")
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
    from facesort.sidecars import sync

    with open_library(db, write=True) as store:
        pack_id = pack_id_of(store, model)
        report = sync.import_names(store, pack_id, _photos_in_scope(store, paths),
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
