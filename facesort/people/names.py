"""People's names: what a name may hold, as every way a name comes in (typed,
imported from another app, an old library) stores it."""

from __future__ import annotations

import unicodedata

from facesort.errors import FacesortError

# Separators of tag hierarchies: digiKam's TagsList reads "People/A/B" and
# Lightroom's hierarchicalSubject "People|A|B" as a tag B inside a tag A.
NAME_SEPARATORS = "/|"


def clean_name(text: str, *, allow_separators: bool = False) -> str:
    """A person's name as facesort keeps it: Unicode NFC, every run of white
    space (tabs, newlines) one space, no control characters. A name typed by
    the user may not hold a tag separator; one read from another app's tags
    may (``allow_separators``), since refusing it would drop the user's tag."""
    name = " ".join(unicodedata.normalize("NFC", text).split())
    name = "".join(c for c in name if unicodedata.category(c) != "Cc")
    if not name:
        raise FacesortError("a name cannot be empty")
    if not allow_separators and any(c in name for c in NAME_SEPARATORS):
        raise FacesortError(
            f"{name!r}: a name cannot hold '/' or '|': digiKam and Lightroom read them as "
            "tag levels (People/Parent/Child); use another character, such as '-'")
    return name
