"""Finding photos by the people in them, and by when they were taken."""

from __future__ import annotations

from dataclasses import dataclass

from facesort.errors import FacesortError
from facesort.people.ages import age_in_months, age_years
from facesort.people.decisions import find_person
from facesort.store import PhotoRecord, Store


@dataclass(frozen=True)
class PhotoQuery:
    names: list[str]
    any_of: bool = False  # any of the names, instead of all of them
    without: tuple[str, ...] = ()
    only: bool = False  # nobody else named in the photo
    year: int | None = None
    since: str | None = None  # ISO date, inclusive, on the capture (else file) date
    until: str | None = None
    ages: tuple[int, int] | None = None  # years, inclusive (people/ages.py parse_age_range)


@dataclass(frozen=True)
class Hit:
    photo: PhotoRecord
    people: list[str]


def _valid_date(text: str | None, option: str) -> str | None:
    if text is None:
        return None
    from datetime import date

    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise FacesortError(f"{option} {text!r}: give a date as YYYY-MM-DD") from None


def _aged(months: int | None, ages: tuple[int, int]) -> bool:
    return months is not None and ages[0] <= age_years(months) <= ages[1]


def find_photos(store: Store, pack_id: int, query: PhotoQuery, with_people: bool = False) -> list[Hit]:
    """Photos with all (or any) of the people, none of ``without``, taken
    within the dates; by path. A person counts when the user, an import or
    facesort's automatic naming put them on a face in the photo. A photo
    without a capture time goes by its file's modification date.
    ``with_people`` also lists who is in each photo. With ``ages``, each of
    the people (with ``any_of``: one of them in the photo) is of that age in
    the photo: photos without a capture date have no age and are left out."""
    if not query.names:
        raise FacesortError("name at least one person")
    since, until = _valid_date(query.since, "--since"), _valid_date(query.until, "--until")
    chosen = list({p.id: p for p in (find_person(store, name) for name in query.names)}.values())
    wanted = [p.id for p in chosen]
    without = [find_person(store, name).id for name in query.without]
    photos = store.search_photos(pack_id, wanted, any_of=query.any_of, without=without,
                                 only=query.only, year=query.year, since=since, until=until)
    people = store.people_in_photos([p.id for p in photos], pack_id) if with_people or query.ages else {}
    if query.ages:
        born = store.birth_dates()
        unknown = [p.name for p in chosen if p.id not in born]
        if unknown:
            raise FacesortError(f"--age needs a birth date for {', '.join(unknown)}: "
                                f"facesort person {unknown[0]!r} --born YYYY-MM-DD")
        photos = [photo for photo in photos if (any if query.any_of else all)(
            _aged(age_in_months(born[p.id], photo.taken_at), query.ages)
            for p in chosen if p.name in people.get(photo.id, ()))]
    return [Hit(photo, sorted(people.get(photo.id, []), key=str.casefold)) for photo in photos]
