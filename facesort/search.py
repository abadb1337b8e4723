"""Finding photos by the people in them, and by when they were taken."""

from __future__ import annotations

from dataclasses import dataclass

from facesort.errors import FacesortError
from facesort.people import find_person
from facesort.store import PhotoRecord, Store


@dataclass(frozen=True)
class PhotoQuery:
    names: list[str]
    any_of: bool = False  # any of the names, instead of all of them
    without: tuple[str, ...] = ()
    only: bool = False  # nobody else named in the photo
    year: int | None = None
    since: str | None = None  # ISO date, inclusive, on the capture time
    until: str | None = None


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


def find_photos(store: Store, pack_id: int, query: PhotoQuery) -> list[Hit]:
    """Photos with all (or any) of the people, none of ``without``, taken
    within the dates; by path. A person counts when the user, an import or
    facesort's automatic naming put them on a face in the photo."""
    if not query.names:
        raise FacesortError("name at least one person")
    since, until = _valid_date(query.since, "--since"), _valid_date(query.until, "--until")
    wanted = {find_person(store, name).id for name in query.names}
    unwanted = {find_person(store, name).id for name in query.without}
    sets = [store.photos_of_person(person, pack_id) for person in wanted]
    photos = set.union(*sets) if query.any_of else set.intersection(*sets)
    for person in unwanted:
        photos -= store.photos_of_person(person, pack_id)
    people = store.people_in_photos(photos, pack_id)
    if query.only:
        photos = {p for p in photos if people.get(p, set()) <= wanted}
    hits = []
    names = {}
    for photo in store.photo_records(photos):
        taken = (photo.taken_at or "")[:10]
        if (query.year or since or until) and not taken:
            continue  # no capture time: no way to tell when it was taken
        if query.year and not taken.startswith(f"{query.year:04d}-"):
            continue
        if (since and taken < since) or (until and taken > until):
            continue
        for person in people.get(photo.id, ()):
            names.setdefault(person, store.person_by_id(person).name)
        hits.append(Hit(photo, sorted((names[p] for p in people.get(photo.id, ())), key=str.casefold)))
    return hits
