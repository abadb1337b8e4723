"""Commands on groups and people: cluster, people, clusters, rename, merge,
reject, confirm, ignore, unignore, assign, show."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer

from facesort.cli import console
from facesort.cli.preview import MAX_FACES
from facesort.scanning.quality import best_first
from facesort.text import plural
from facesort.errors import FacesortError
from facesort.cli.app import (
    DbOption,
    QuietOption,
    JsonOption,
    LibraryModelOption,
    command,
    open_library,
    db_path_of,
    pack_or_empty,
    pack_id_of,
    sheet_path,
    show_faces,
    PreviewOption,
    preview_or,
)


@command()
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
    from facesort.people.grouping import SELECTION_METHODS, ClusterParams
    from facesort.people.cluster_run import update_groups
    from facesort.people.tune import new_decisions

    if selection not in SELECTION_METHODS:
        raise FacesortError(f"unknown selection {selection!r}: choose eom or leaf")
    params = ClusterParams(min_cluster_size=min_cluster_size, min_samples=min_samples,
                           selection=selection)
    with open_library(db, write=True, job="cluster") as store:
        pack = pack_or_empty(store, model)
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


@command()
def people(
    db: DbOption = None,
    model: LibraryModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the named people: faces you named (imported names count as
    yours), faces facesort named automatically, and photos.

    Example: facesort people --json
    """
    with open_library(db) as store:
        rows = store.people_summary(pack_id_of(store, model))
    if json_output:
        console.stdout.print_json(data=[vars(row) for row in rows])
        return
    if not rows:
        console.stdout.print("No people named yet: 'facesort name' starts.")
        return
    console.table(["name", "named by you", "automatic", "photos", "born"],
                  [[row.name, str(row.faces), str(row.auto_faces), str(row.photos), row.born or ""]
                   for row in rows])


@command()
def person(
    name: Annotated[str, typer.Argument(help="The person's name (or the start of it).")],
    born: Annotated[Optional[str], typer.Option("--born", help="Birth date: YYYY-MM-DD, YYYY-MM or YYYY.")] = None,
    forget_born: Annotated[bool, typer.Option("--forget-born", help="Clear the birth date.")] = False,
    db: DbOption = None,
    model: LibraryModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a person, or give them a birth date.

    With a birth date, a face in a photo taken before it is never named as
    the person (automatically, in a suggestion, or when you name a whole
    group), and 'show', 'export' and 'find --age' give the person's age in
    each photo. A year alone (2015) is compared as a year.

    Example: facesort person Alice --born 2015-03-02
    """
    from facesort.people import decisions as people_ops
    from facesort.people.ages import parse_born

    if born is not None and forget_born:
        raise FacesortError("give --born DATE or --forget-born, not both")
    writing = born is not None or forget_born
    with open_library(db, write=writing) as store:
        if writing:
            people_ops.set_born(store, name, None if forget_born else parse_born(born))
        who = people_ops.find_person(store, name)
        row = next(r for r in store.people_summary(pack_id_of(store, model)) if r.id == who.id)
    if json_output:
        console.stdout.print_json(data=vars(row))
        return
    console.stdout.print(
        f"{row.name}: born {row.born or 'unknown'}; {plural(row.faces, 'face')} named by you, "
        f"{row.auto_faces} automatically, in {plural(row.photos, 'photo')}", highlight=False)
    if born is not None:
        console.stdout.print("run 'facesort cluster' to apply it to automatic names", style="dim")


@command()
def clusters(
    db: DbOption = None,
    model: LibraryModelOption = None,
    show_all: Annotated[bool, typer.Option("--all", help="Also list named and ignored groups.")] = False,
    json_output: JsonOption = False,
) -> None:
    """List the groups, largest first: unnamed ones, or all with --all.

    Example: facesort clusters --all
    """
    with open_library(db) as store:
        rows = [c for c in store.clusters_summary(pack_id_of(store, model))
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


@command()
def rename(
    old: Annotated[str, typer.Argument(help="The current name.")],
    new: Annotated[str, typer.Argument(help="The new name.")],
    db: DbOption = None,
) -> None:
    """Rename a person.

    Example: facesort rename "Bob" "Robert Jones"
    """
    from facesort.people import decisions as people_ops

    with open_library(db, write=True) as store:
        person = people_ops.rename(store, old, new)
    console.stdout.print(f"renamed to {person.name}", highlight=False)


@command()
def merge(
    person: Annotated[str, typer.Argument(help="The person to keep.")],
    other: Annotated[str, typer.Argument(help="The person whose faces join PERSON; the name goes away.")],
    db: DbOption = None,
) -> None:
    """Make two people one: OTHER's faces and decisions move to PERSON.

    Example: facesort merge "Alice Smith" "Alice S"
    """
    from facesort.people import decisions as people_ops

    with open_library(db, write=True) as store:
        kept = people_ops.merge(store, person, other)
    console.stdout.print(f"{other} merged into {kept.name}", highlight=False)


@command()
def reject(
    faces: Annotated[list[int], typer.Argument(help="Face ids (shown by 'facesort show').")],
    from_person: Annotated[Optional[str], typer.Option("--from", help="The person to take them from (default: their current person).")] = None,
    db: DbOption = None,
) -> None:
    """Take faces away from a person; they are never given back to that person automatically.

    Example: facesort reject 1043 1187 --from Alice
    """
    from facesort.people import decisions as people_ops

    with open_library(db, write=True) as store:
        count = people_ops.reject(store, faces, from_person)
    console.stdout.print(f"rejected {plural(count, 'face')}", highlight=False)


@command()
def confirm(
    person: Annotated[str, typer.Argument(help="The person whose automatic names you checked.")],
    faces: Annotated[Optional[list[int]], typer.Argument(help="Only these face ids (default: all of them).")] = None,
    db: DbOption = None,
) -> None:
    """Accept automatic names as your own decisions, after checking them with 'facesort show'.

    Example: facesort confirm Alice
    """
    from facesort.people import decisions as people_ops

    with open_library(db, write=True) as store:
        count = people_ops.confirm(store, person, faces or ())
    console.stdout.print(f"confirmed {plural(count, 'face')}", highlight=False)


@command()
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
    from facesort.people import decisions as people_ops

    with open_library(db, write=True) as store:
        count = people_ops.ignore(store, group, unnamed_only=unnamed)
    what = f"{plural(count, 'unnamed face')} of group {group}" if unnamed else f"group {group}"
    console.stdout.print(f"{what} ignored", highlight=False)


@command()
def unignore(
    group: Annotated[int, typer.Argument(help="A group id (from 'facesort clusters --all').")],
    db: DbOption = None,
) -> None:
    """Take back 'facesort ignore': the group is offered for naming again.

    Example: facesort unignore 31
    """
    from facesort.people import decisions as people_ops

    with open_library(db, write=True) as store:
        people_ops.unignore(store, group)
    console.stdout.print(f"group {group} is no longer ignored", highlight=False)


@command()
def assign(
    faces_and_name: Annotated[list[str], typer.Argument(metavar="FACE... NAME", help="Face ids (shown by 'facesort show'), then the person's name (created if new).")],
    db: DbOption = None,
) -> None:
    """Say who these faces are; this is your decision and overrides automatic names.

    Example: facesort assign 1043 1187 Alice
    """
    from facesort.people import decisions as people_ops

    *faces, person = faces_and_name
    if not faces or not all(face.isdigit() for face in faces):
        raise FacesortError("give one or more face ids, then the name: facesort assign 1043 1187 Alice")
    with open_library(db, write=True) as store:
        named = people_ops.assign(store, [int(face) for face in faces], person)
        early = people_ops.taken_before_birth(store, [int(face) for face in faces], named)
    console.stdout.print(f"{plural(len(set(faces)), 'face is', 'faces are')} {named.name}", highlight=False)
    if early:
        console.warning_line(
            f"face {', '.join(map(str, early))} is in a photo taken before {named.name} was born: "
            f"kept as you said; check the birth date with 'facesort person {named.name!r}'")


@command()
def show(
    target: Annotated[str, typer.Argument(help="A person's name or a group id.")],
    db: DbOption = None,
    model: LibraryModelOption = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", dir_okay=False, help="Where to write the contact sheet (PNG).")] = None,
    open_viewer: Annotated[bool, typer.Option("--open", help="Open the contact sheet in the system viewer.")] = False,
    preview: PreviewOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="List the faces as JSON instead of drawing them.")] = False,
) -> None:
    """Write a contact sheet of a person's or a group's faces, labelled with face ids.

    Automatic names are marked with "?" so you can check them, then fix them
    with 'facesort reject' or accept them with 'facesort confirm'. Where the
    person has a birth date ('facesort person') and the photo a capture
    date, the label gives the age then: months under two ("14 mo"), else
    years ("3 y").

    Example: facesort show Alice --open
    """
    from facesort.people import decisions as people_ops
    from facesort.people.ages import age_fields, age_in_months, describe_age

    with open_library(db) as store:
        born = store.birth_dates_by_name()
        if target.isdigit():
            people_ops.require_group(store, int(target))
            faces = store.faces_in_cluster(int(target))
            title = f"Group {target}: {plural(len(faces), 'face')}"
            slug = f"group-{target}"
        else:
            person = people_ops.find_person(store, target)
            faces = store.faces_of_person(person.id, pack_id_of(store, model))
            title = f"{person.name}: {plural(len(faces), 'face')} (? = automatic)"
            slug = "person-" + "".join(c if c.isalnum() else "_" for c in person.name)
        taken = store.capture_times(f.id for f in faces)
    if not faces:
        raise FacesortError(f"{target}: no faces to show")
    faces = best_first(faces)
    months = {f.id: age_in_months(born.get(f.person), taken.get(f.id)) for f in faces}
    if json_output:
        console.stdout.print_json(data=[
            {"id": f.id, "path": f.path, "box": list(f.box), "group": f.cluster, "person": f.person,
             "person_source": f.person_source, "time": f.time, "taken_at": taken.get(f.id),
             **age_fields(months[f.id])}
            for f in faces])
        return
    labels = [f"{f.id}{'?' if f.person_source == 'auto' else ''}"
              + (f" {describe_age(months[f.id], short=True)}" if months[f.id] is not None else "")
              for f in faces]
    # No faces in the terminal unless --preview asks, for as many as it says or them all.
    drawn = preview_or(preview, MAX_FACES if preview and preview.way else 0)
    path = show_faces(faces, labels, title, output or sheet_path(db_path_of(db), slug), open_viewer, drawn)
    console.stdout.print(str(path), highlight=False)
