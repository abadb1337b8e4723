"""Forgetting what the user no longer has: the photos of a folder that is gone
for good, and decisions kept as orphans that the user does not want back.

A scan never does this by itself: a missing or empty folder may be an
unmounted drive. People are never forgotten, only their faces in these photos.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from facesort.errors import FacesortError
from facesort.store import Store


@dataclass(frozen=True)
class Forgotten:
    photos: int
    faces: int
    decisions: int  # the user's decisions on those photos' faces, and their orphans


def forget_folders(store: Store, folders: list[Path], dry_run: bool = False) -> Forgotten:
    """Drop the photos under ``folders`` (or those exact photos) from the library."""
    photos = store.photos_in([os.path.abspath(folder) for folder in folders], failed_too=True)
    if not photos:
        raise FacesortError(
            "no photos in the library under " + ", ".join(str(f) for f in folders)
            + " ('facesort status' shows the library)")
    ids = [photo.id for photo in photos]
    faces = store.face_count(ids)
    decisions = store.decisions_on_photos(ids)
    if not dry_run:
        store.delete_photos(ids)
    return Forgotten(len(ids), faces, decisions)


def forget_orphans(store: Store, orphan_ids: list[int], dry_run: bool = False) -> int:
    known = {orphan.id for orphan in store.orphans()}
    unknown = [i for i in orphan_ids if i not in known]
    if unknown:
        raise FacesortError(
            f"no orphan {', '.join(map(str, unknown))}: 'facesort status --orphans' lists them")
    return len(orphan_ids) if dry_run else store.drop_orphans(orphan_ids)
