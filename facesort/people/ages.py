"""Birth dates and ages: pure rules, no store and no numpy.

A birth date is kept at the precision the user gave: ``2015``,
``2015-03`` or ``2015-03-02``. A capture time is the library's
``taken_at`` (ISO, ``2015-03-02T10:00:00``, maybe with an offset).

- :func:`before_birth` is the one rule that keeps a person's name off the
  faces of photos taken before they were born: automatic names, suggestions
  and naming a group all ask it.
- Ages count from the birth date; a year alone counts from 1 July of that
  year and a year and month from the 15th, so an age is right to within half
  the precision given.
"""

from __future__ import annotations

import re
from datetime import date

from facesort.errors import FacesortError

# Children's faces are named with the distances measured on children under this age
# (thresholds.PackThresholds.child_recognize).
CHILD_AGE = 13
# Ages under this many months are shown in months.
MONTHS_UNTIL = 24

_BORN = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_AGES = re.compile(r"^(\d{1,3})(?:-(\d{1,3}))?$")
# A name typed with a birth date after a star, as genealogies mark births.
_NAME_AND_BORN = re.compile(r"^(.*?\S)\s+\*\s*(\S+)$")


def parse_born(text: str, today: date | None = None) -> str:
    """A birth date as the user typed it (``2015``, ``2015-03`` or
    ``2015-03-02``), checked and written zero-padded at the same precision."""
    match = _BORN.match(text.strip())
    if not match:
        raise FacesortError(f"birth date {text!r}: give YYYY-MM-DD, YYYY-MM or YYYY")
    year, month, day = match.groups()
    try:
        date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise FacesortError(f"birth date {text!r}: no such date") from None
    born = "-".join(part.zfill(2) for part in (year, month, day) if part)
    if born > (today or date.today()).isoformat()[:len(born)]:
        raise FacesortError(f"birth date {text!r} is in the future")
    return born


def split_born(typed: str) -> tuple[str, str | None]:
    """A name as typed when naming, with a birth date after a star or not
    ("Ben *2015-03-02", "Ben *2015"): the name and the checked date
    (parse_born), or the name and None."""
    match = _NAME_AND_BORN.match(typed.strip())
    if match:
        return match.group(1), parse_born(match.group(2))
    if typed.strip().endswith("*"):
        raise FacesortError(f"{typed.strip()!r}: give the birth date after the star, as in Ben *2015-03-02")
    return typed, None


def before_birth(born: str | None, taken_at: str | None) -> bool:
    """Whether a photo taken at ``taken_at`` was taken before someone born on
    ``born``, at the precision of ``born``: a photo of 2014 is before
    "2015", one of 2015 is not. Unknown either way: not before."""
    if not born or not taken_at:
        return False
    return taken_at[:len(born)] < born


def age_in_months(born: str | None, taken_at: str | None) -> int | None:
    """Whole months from birth to the photo (0 for a photo in the birth's
    year or month before its middle); None when either date is unknown."""
    if not born or not taken_at:
        return None
    try:
        year, month, day = (int(part) for part in taken_at[:10].split("-"))
    except ValueError:
        return None
    parts = [int(part) for part in born.split("-")]
    born_year, born_month, born_day = (parts + [7, 1])[:3] if len(parts) == 1 else (parts + [15])[:3]
    months = (year - born_year) * 12 + month - born_month - (day < born_day)
    return max(months, 0)


def age_years(months: int | None) -> int | None:
    return None if months is None else months // 12


def describe_age(months: int | None, short: bool = False) -> str | None:
    """How an age is shown: months under two years, else whole years;
    ``short`` for labels under faces ("14 mo", "3 y")."""
    if months is None:
        return None
    if months < MONTHS_UNTIL:
        return f"{months} mo" if short else f"{months} month{'s' if months != 1 else ''}"
    years = months // 12
    return f"{years} y" if short else f"{years} year{'s' if years != 1 else ''}"


def age_fields(months: int | None) -> dict:
    """An age for scripts (JSON, export): whole years, total months, and as shown."""
    return {"age": age_years(months), "age_months": months, "age_text": describe_age(months)}


def is_child(born: str | None, taken_at: str | None) -> bool:
    """Known to be under CHILD_AGE in the photo."""
    months = age_in_months(born, taken_at)
    return months is not None and months < CHILD_AGE * 12


def parse_age_range(text: str) -> tuple[int, int]:
    """``3-5`` (years, inclusive) or ``3``."""
    match = _AGES.match(text.strip())
    if not match:
        raise FacesortError(f"--age {text!r}: give years as 3-5 or 3")
    low = int(match[1])
    high = int(match[2]) if match[2] is not None else low
    if high < low:
        raise FacesortError(f"--age {text!r}: the first age is the youngest")
    return low, high
