"""Naming with few decisions: name (with suggestions), suggest, review, split."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Optional

import typer

from facesort.cli import console
from facesort.cli.preview import Preview
from facesort.scanning.quality import best_first
from facesort.text import plural
from facesort.errors import FacesortError
from facesort.store import Store
from facesort.cli.app import (
    DbOption,
    JsonOption,
    LibraryModelOption,
    PreviewOption,
    preview_or,
    SHEET_FACES,
    command,
    open_library,
    pack_or_empty,
    sheet_path,
    show_faces,
    ask,
    face_numbers,
)


# Why `facesort name` finds no group to show, by the state of the grouping.
_NOTHING_TO_NAME = {
    "never": "No groups yet: run 'facesort cluster' to group the faces first.",
    "stale": "No unnamed groups, but faces came or went since the last 'facesort cluster': "
             "run it to group them.",
    "current": "No unnamed groups. Run 'facesort cluster' after scanning new photos.",
}
PROMPT = ("Name (Ben *2015-03-02 adds a birth date; Enter skips, i ignores the group, "
          "x 3 7 leaves faces 3 and 7 out, q quits)")
PAGE_PROMPT = ("b Alice names group b, x b2 leaves face b2 out, i ignores the groups left, "
               "Enter skips them, q quits")


@command()
def name(
    group: Annotated[Optional[int], typer.Argument(help="A group id (from 'facesort clusters').")] = None,
    person: Annotated[Optional[str], typer.Argument(help="The person's name.")] = None,
    db: DbOption = None,
    model: LibraryModelOption = None,
    open_viewer: Annotated[bool, typer.Option("--open", help="Open each contact sheet in the system viewer.")] = False,
    preview: PreviewOption = None,
) -> None:
    """Name groups: interactively, showing each unnamed group, or GROUP NAME at once.

    Interactively, the unnamed groups come largest first. Each shows its best
    faces in the terminal and writes a contact sheet with all of them
    numbered. Type a name (an existing name, in any case, joins that person;
    a birth date after a star gives them one: Ben *2015-03-02), Enter to
    skip, i to ignore the group (strangers), x 3 7 to leave faces 3 and 7
    out, q to quit. Small groups (3 faces or fewer, mostly strangers)
    come six to a page, lettered a to f: b Alice names group b, i ignores
    the groups left on the page. After each name, and first for the people
    named before, the unnamed groups that look like that person are offered
    one at a time: "Also Alice? [y/n/q]". y names the group, n is remembered
    (that group is not offered as Alice again). Groups that the next
    'facesort cluster' names anyway come last. Every answer is saved at once.

    Example: facesort name 12 "Alice Smith"
    """
    from facesort.people import decisions
    from facesort.people.ages import split_born

    if (group is None) != (person is None):
        raise FacesortError("give both GROUP and NAME, or neither to name groups one by one")
    with open_library(db, write=True) as store:
        if group is not None:
            name, born = split_born(person)
            _said_named(group, decisions.name_group(store, group, name, born=born))
            return
        session = _NamingSession(store, pack_or_empty(store, model), open_viewer, preview_or(preview))
        session.run()
        if session.tally.asked:
            console.stdout.print(session.tally.summary(), highlight=False)


@dataclass
class _Tally:
    """What a naming session decided, for the line it ends with."""

    groups: int = 0
    faces: int = 0
    people: set[str] = field(default_factory=set)
    ignored: int = 0
    refused: int = 0
    asked: bool = False  # something was shown to decide on

    def named(self, naming) -> None:
        self.groups += 1
        self.faces += len(naming.named)
        self.people.add(naming.person.name)

    def summary(self) -> str:
        if not (self.groups or self.ignored or self.refused):
            return "nothing decided"
        return (f"named {plural(self.groups, 'group')} ({plural(self.faces, 'face')}, "
                f"{plural(len(self.people), 'person', 'people')}), ignored {plural(self.ignored, 'group')}, "
                f"refused {plural(self.refused, 'offer')}")


class _NamingSession:
    """The interactive `facesort name`: the unnamed groups, largest first,
    then the small ones a page at a time, with "Also Alice?" offers after
    each name."""

    def __init__(self, store: Store, pack: str, open_viewer: bool, preview: Preview):
        self.store, self.pack, self.open_viewer, self.preview = store, pack, open_viewer, preview
        self.tally = _Tally()
        self.offers = _Offers(store, pack, open_viewer, preview, self.tally)

    def run(self) -> None:
        from facesort.people import cluster_run, suggestions

        # Groups near people named before come first: one answer each.
        if not self.offers.run(None):
            return
        store = self.store
        todo = [c for c in store.clusters_summary(store.find_pack(self.pack))
                if not c.ignored and c.person is None and c.id not in self.offers.named]
        if not todo:
            if not self.offers.named:
                console.stdout.print(_NOTHING_TO_NAME[cluster_run.grouping_state(store, self.pack)])
            return
        self.later = self.offers.later
        remaining, shown = list(todo), 0
        while remaining:
            page = suggestions.next_to_name(remaining, self.later)
            for summary in page:
                remaining.remove(summary)
            page = [c for c in page if c.id not in self.offers.named]  # joined a person through a suggestion
            if not page:
                continue
            where = f"{shown + 1}{f'–{shown + len(page)}' if len(page) > 1 else ''} of {len(todo)}"
            shown += len(page)
            go_on = self._group(page[0], where) if len(page) == 1 else self._page(page, where)
            if not go_on:
                return

    def _named(self, group: int, naming_result) -> bool:
        """Say what a name did and offer the groups that look like that
        person; False when the user quits."""
        _said_named(group, naming_result)
        self.tally.named(naming_result)
        self.offers.named.add(group)
        if not self.offers.run(naming_result.person):
            return False
        self.later = self.offers.later
        return True

    def _group(self, summary, where: str) -> bool:
        from facesort.people import decisions

        store = self.store
        self.tally.asked = True
        faces = best_first(store.faces_in_cluster(summary.id))[:SHEET_FACES]
        title = f"Group {summary.id}: {summary.faces} faces in {summary.photos} photos{_years(store, summary.id)}"
        path = show_faces(faces, [str(i) for i in range(1, len(faces) + 1)], title,
                          sheet_path(store.path, f"group-{summary.id}"), self.open_viewer, self.preview)
        console.stdout.print(f"[bold]{title}[/bold] ({where}); contact sheet: {path}", highlight=False)
        if summary.id in self.later:
            console.stdout.print("it looks like someone you named: the next 'facesort cluster' "
                                 "names most of it; Enter skips it", highlight=False)
        left_out: list[int] = []
        while True:
            answer = ask(PROMPT)
            if answer is None or answer == "q":
                return False
            if answer == "":
                return True
            if answer == "i":
                try:
                    decisions.ignore(store, summary.id)
                except FacesortError as exc:
                    console.error_line(str(exc))
                    continue
                console.stdout.print(f"group {summary.id} ignored", highlight=False)
                self.tally.ignored += 1
                return True
            if answer == "x" or answer.startswith("x "):
                picked = face_numbers(answer[1:], len(faces))
                if picked is None:
                    console.error_line(f"after x, give face numbers from 1 to {len(faces)}")
                    continue
                chosen = [faces[i - 1].id for i in picked]
                store.detach_from_cluster(chosen)
                left_out += chosen
                console.stdout.print(f"left out: {', '.join(map(str, picked))}", highlight=False)
                continue
            named = _name_group(store, summary.id, answer, left_out)
            if named is None:
                continue
            return self._named(summary.id, named)

    def _page(self, page, where: str) -> bool:
        """Small groups side by side, lettered: one answer names one of them,
        or ignores all that are left."""
        from facesort.people import decisions

        store = self.store
        self.tally.asked = True
        letters = "abcdef"
        groups = {letter: summary for letter, summary in zip(letters, page)}
        faces = {letter: best_first(store.faces_in_cluster(summary.id))[:SHEET_FACES]
                 for letter, summary in groups.items()}
        labels = {f"{letter}{i}": face for letter, shown in faces.items()
                  for i, face in enumerate(shown, 1)}
        title = "Small groups " + ", ".join(f"{letter}: group {s.id}{_years(store, s.id)}"
                                            for letter, s in groups.items())
        path = show_faces(list(labels.values()), list(labels), title,
                          sheet_path(store.path, f"groups-{page[0].id}"), self.open_viewer, self.preview,
                          preview_picks=[list(labels).index(f"{letter}1") for letter in faces],
                          preview_labels=[f"{letter}: {plural(groups[letter].faces, 'face')}"
                                          for letter in faces])
        console.stdout.print(f"[bold]Small groups[/bold] ({where}): "
                             f"{', '.join(f'{letter} is group {s.id}' for letter, s in groups.items())}; "
                             f"the best face of each is above, every face on the contact sheet: {path}",
                             highlight=False)
        left_out: dict[str, list[int]] = {letter: [] for letter in groups}
        while groups:
            answer = ask(PAGE_PROMPT)
            if answer is None or answer == "q":
                return False
            if answer == "":
                return True
            if answer == "i":
                ignored = []
                for letter, summary in groups.items():
                    try:
                        decisions.ignore(store, summary.id)
                        ignored.append(f"{letter} (group {summary.id})")
                    except FacesortError as exc:  # it holds named faces: said why, and left as it is
                        console.error_line(str(exc))
                if ignored:
                    console.stdout.print(f"ignored: {', '.join(ignored)}", highlight=False)
                    self.tally.ignored += len(ignored)
                return True
            if answer == "x" or answer.startswith("x "):
                words = answer[1:].replace(",", " ").split()
                wrong = [w for w in words if w not in labels or w[0] not in groups]
                if not words or wrong:
                    console.error_line(f"after x, give faces as the contact sheet labels them "
                                       f"({', '.join(list(labels)[:3])} …)")
                    continue
                store.detach_from_cluster([labels[w].id for w in words])
                for w in words:
                    left_out[w[0]].append(labels[w].id)
                console.stdout.print(f"left out: {', '.join(words)}", highlight=False)
                continue
            letter, _, typed = answer.partition(" ")
            if letter not in groups or not typed.strip():
                console.error_line(f"start with a group's letter ({', '.join(groups)}), then the name: "
                                   f"{next(iter(groups))} Alice")
                continue
            summary = groups[letter]
            named = _name_group(store, summary.id, typed.strip(), left_out[letter])
            if named is None:
                continue
            del groups[letter]
            if not self._named(summary.id, named):
                return False
            for gone in [key for key, other in groups.items() if other.id in self.offers.named]:
                del groups[gone]
            if groups:
                console.stdout.print(f"left on this page: {', '.join(groups)}", highlight=False)
        return True


def _name_group(store: Store, group: int, typed: str, left_out: list[int]):
    """A typed answer taken as the group's name: what naming did, or None
    (said why) when it is a slip or a name naming cannot take: ask again."""
    from facesort.people import decisions
    from facesort.people.ages import split_born

    if slip := _slip(store, typed):
        console.error_line(slip)
        return None
    try:
        name, born = split_born(typed)
        return decisions.name_group(store, group, name, exclude=left_out, born=born)
    except FacesortError as exc:
        console.error_line(str(exc))
        return None


def _slip(store: Store, typed: str) -> str | None:
    """Why a one-character answer is not taken as a new person's name, or
    None. A "y" or "n" typed a moment after an "Also Alice?" question would
    otherwise make a person called y out of a whole group; someone already
    called that is joined as any name is."""
    if len(typed) != 1 or store.find_person(typed) is not None:
        return None
    return (f"{typed!r} is not an answer here: type the person's whole name "
            f"('facesort rename' gives a one-letter name afterwards)")


class _Offers:
    """"Also Alice? [y/n/q]": the unnamed groups near a person, one at a time,
    nearest first, until none is left or the user quits."""

    def __init__(self, store: Store, pack: str, open_viewer: bool, preview: Preview, tally: _Tally):
        self.store, self.pack, self.open_viewer, self.preview = store, pack, open_viewer, preview
        self.tally = tally
        self.named: set[int] = set()  # groups named in this session
        self.skipped: set[tuple[int, int]] = set()  # Enter: not now, but not refused
        self.later: set[int] = set()  # as the last offers were found: named by the next cluster run

    def run(self, person) -> bool:
        """Offer the groups near ``person`` (None: near anyone named); False when the user quits."""
        from facesort.people import suggestions

        while True:
            look = suggestions.outlook(self.store, self.pack, person, skip=self.skipped)
            self.later = look.later
            if not look.offers:
                return True
            offer = look.offers[0]
            self.tally.asked = True
            faces = best_first(self.store.faces_in_cluster(offer.group))[:SHEET_FACES]
            title = (f"Group {offer.group}: {plural(offer.faces, 'face')}, "
                     f"distance {offer.distance:.2f} to {offer.person.name}")
            path = show_faces(faces, [str(i) for i in range(1, len(faces) + 1)], title,
                               sheet_path(self.store.path, f"group-{offer.group}"), self.open_viewer, self.preview)
            console.stdout.print(f"{title}; contact sheet: {path}", style="bold", markup=False,
                                 highlight=False)
            while True:
                answer = ask(f"Also {offer.person.name}? [y/n/q] (Enter skips)")
                if answer is None or answer == "q":
                    return False
                if answer.lower() in ("y", "yes"):
                    accepted = suggestions.accept_suggestion(self.store, offer)
                    _said_named(offer.group, accepted)
                    self.tally.named(accepted)
                    self.named.add(offer.group)
                elif answer.lower() in ("n", "no"):
                    suggestions.refuse_suggestion(self.store, offer)
                    self.tally.refused += 1
                    console.stdout.print(f"group {offer.group} is not {offer.person.name}; "
                                         "it will not be offered as them again", highlight=False)
                elif answer == "":
                    self.skipped.add((offer.group, offer.person.id))
                else:
                    console.error_line("answer y, n, q, or Enter to skip")
                    continue
                break


def _years(store, group: int) -> str:
    """" · 2009–2014": the capture years a group spans; nothing when no photo says."""
    span = store.capture_span(group)
    if span is None:
        return ""
    return f" · {span[0]}" + (f"–{span[1]}" if span[1] != span[0] else "")


def _said_named(group: int, naming) -> None:
    born = f" (born {naming.born})" if naming.born else ""
    console.stdout.print(f"group {group} is {naming.person.name}{born}: {plural(len(naming.named), 'face')}",
                         highlight=False)
    left_out = sum(len(faces) for faces in naming.left_out.values())
    if left_out:
        why = "; ".join(f"{', '.join(map(str, faces))} ({reason})"
                        for reason, faces in naming.left_out.items())
        console.stdout.print(f"{plural(left_out, 'face')} left out: {why}; review with "
                             f"'facesort show {group}'", highlight=False)


REVIEW_PROMPT = "Enter accepts the page, x 3 7 rejects faces 3 and 7 (and accepts the rest), s skips, q quits"
SPLIT_PROMPT = "Enter keeps this part, a name moves it to that person, r rejects it, q quits"


@command()
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
    from facesort.people import suggestions
    from facesort.engine.thresholds import thresholds_for

    with open_library(db) as store:
        pack = pack_or_empty(store, model)
        groups = suggestions.group_suggestions(store, pack)
        pairs = suggestions.people_suggestions(store, pack)
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


@command()
def review(
    name: Annotated[Optional[str], typer.Argument(help="Only this person's automatic names.")] = None,
    db: DbOption = None,
    model: LibraryModelOption = None,
    page_size: Annotated[int, typer.Option("--page", min=1, max=SHEET_FACES, help="Faces a page.")] = 12,
    open_viewer: Annotated[bool, typer.Option("--open", help="Open each contact sheet in the system viewer.")] = False,
    preview: PreviewOption = None,
) -> None:
    """Check automatic names a page at a time, least certain first.

    Each page shows its faces in the terminal and writes a numbered contact
    sheet. Enter accepts the whole page as your own decisions; x 3 7 rejects
    faces 3 and 7 from their person for good (as 'facesort reject' does) and
    accepts the rest; s skips the page; q quits. Every answer is saved at once.

    Example: facesort review Alice
    """
    from facesort.people import suggestions

    with open_library(db, write=True) as store:
        queue = suggestions.review_queue(store, pack_or_empty(store, model), name)
        if not queue:
            console.stdout.print("No automatic names to review.")
            return
        pages = [queue[start:start + page_size] for start in range(0, len(queue), page_size)]
        for number, page in enumerate(pages, 1):
            labels = [f"{i} {face.person}" for i, face in enumerate(page, 1)]
            title = f"Automatic names, least certain first: page {number} of {len(pages)}"
            # A tile is 14 columns: its caption is the number, and whole names follow.
            path = show_faces(page, labels, title, sheet_path(store.path, "review"), open_viewer,
                              preview_or(preview),
                              preview_picks=list(range(len(page))),
                              preview_labels=[str(i) for i in range(1, len(page) + 1)])
            console.stdout.print(f"[bold]{title}[/bold]; contact sheet: {path}", highlight=False)
            console.stdout.print(_faces_by_person(page), markup=False, highlight=False)
            while True:
                answer = ask(REVIEW_PROMPT)
                if answer is None or answer == "q":
                    return
                if answer == "s":
                    break
                wrong: list[int] = []
                if answer == "x" or answer.startswith("x "):
                    picked = face_numbers(answer[1:], len(page))
                    if picked is None:
                        console.error_line(f"after x, give face numbers from 1 to {len(page)}")
                        continue
                    wrong = [page[i - 1].id for i in picked]
                elif answer != "":
                    console.error_line("answer Enter, x and face numbers, s or q")
                    continue
                accepted, rejected = suggestions.settle_page(store, page, wrong)
                console.stdout.print(f"accepted {plural(accepted, 'face')}, rejected {rejected}",
                                     highlight=False)
                break


def _faces_by_person(page) -> str:
    """"Alice: 1, 2, 5; Bob: 3": each whole name once, with its face numbers."""
    numbers: dict[str, list[str]] = {}
    for i, face in enumerate(page, 1):
        numbers.setdefault(face.person, []).append(str(i))
    return "; ".join(f"{person}: {', '.join(faces)}" for person, faces in numbers.items())


@command()
def split(
    name: Annotated[str, typer.Argument(help="The person whose faces may be two or more people.")],
    parts: Annotated[Optional[int], typer.Option("--parts", min=2, max=12, help="Split into this many parts (default: by the pack's distances).")] = None,
    db: DbOption = None,
    model: LibraryModelOption = None,
    open_viewer: Annotated[bool, typer.Option("--open", help="Open each contact sheet in the system viewer.")] = False,
    preview: PreviewOption = None,
) -> None:
    """Pull apart look-alikes named as one person (siblings, a child at different ages).

    The person's faces are grouped again (or into --parts parts): parts
    stay apart where they are as far apart as two look-alike people, and one
    person stays in one or two parts. Each part shows its best faces and
    capture years. For
    each part: Enter keeps it, a name gives it to that person (new or
    existing) as your decision, r rejects it from this person for good,
    q quits. Every answer is saved at once.

    Example: facesort split "Anna" --parts 2
    """
    from facesort.people import suggestions

    with open_library(db, write=True) as store:
        person, found = suggestions.split_person(store, pack_or_empty(store, model), name, parts)
        if len(found) < 2:
            console.stdout.print(f"{person.name}'s faces stay together at this distance; "
                                 "try --parts 2", highlight=False)
            return
        kept, moved_to, rejected = 0, [], 0
        for number, part in enumerate(found, 1):
            answered = _split_part(store, person, part, number, len(found), open_viewer,
                                   preview_or(preview))
            if answered is None:
                break
            if answered == "":
                kept += 1
            elif answered == "r":
                rejected += len(part.faces)
            else:
                moved_to.append(f"{plural(len(part.faces), 'face')} to {answered}")
        console.stdout.print(
            f"{person.name}: kept {plural(kept, 'part')}, "
            f"gave {', '.join(moved_to) if moved_to else 'none away'}, "
            f"rejected {plural(rejected, 'face')}", highlight=False)


def _split_part(store: Store, person, part, number: int, parts: int, open_viewer: bool,
                preview: int) -> str | None:
    """Show one part and ask: "" kept, "r" rejected, the name of the person
    it went to, or None when the user quits."""
    from facesort.people import suggestions

    faces = part.faces[:SHEET_FACES]
    years = (part.years[0] if len(part.years) == 1 else
             f"{part.years[0]}-{part.years[-1]}" if part.years else "no dates")
    title = f"{person.name}, part {number} of {parts}: {plural(len(part.faces), 'face')}, {years}"
    path = show_faces(faces, [str(f.id) for f in faces], title,
                      sheet_path(store.path, f"split-{number}"), open_viewer, preview)
    console.stdout.print(f"{title}; contact sheet: {path}", style="bold", markup=False,
                         highlight=False)
    while True:
        answer = ask(SPLIT_PROMPT)
        if answer is None or answer == "q":
            return None
        if answer == "":
            return ""
        if answer == "r":
            count = suggestions.reject_part(store, part, person)
            console.stdout.print(f"{plural(count, 'face')} rejected from {person.name}",
                                 highlight=False)
            return "r"
        if slip := _slip(store, answer):
            console.error_line(slip)
            continue
        try:
            moved = suggestions.move_part(store, part, answer)
        except FacesortError as exc:
            console.error_line(str(exc))
            continue
        console.stdout.print(f"{plural(len(part.faces), 'face is', 'faces are')} {moved.name}",
                             highlight=False)
        return moved.name
