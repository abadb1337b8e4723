"""Which files under the roots are photos (and video clips).

Hidden files and folders are skipped, symbolic links are not followed unless
asked, and a folder that cannot be read is reported without stopping the walk.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from facesort.config import PHOTO_EXTENSIONS, RAW_EXTENSIONS, VIDEO_EXTENSIONS


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    mtime_ns: int
    # The path with every symbolic link resolved: one photo, whatever path
    # reaches it ("" where not known: the path itself).
    real_path: str = ""


def is_photo_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in PHOTO_EXTENSIONS


def is_video_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def is_raw_name(name: str | os.PathLike) -> bool:
    return os.path.splitext(name)[1].lower() in RAW_EXTENSIONS


def walk_photos(
    root: Path,
    on_error: Callable[[str, str], None],
    follow_symlinks: bool = False,
    videos: bool = False,
) -> Iterator[FileEntry]:
    """Yield the photos (and with ``videos`` the clips) under ``root``, or
    ``root`` itself if it is a file, in a stable order so that progress and
    reports repeat between runs."""
    root_str = os.path.abspath(root)
    if os.path.isfile(root_str):
        if not videos and is_video_name(root_str):
            return
        st = os.stat(root_str)
        yield FileEntry(root_str, st.st_size, st.st_mtime_ns, os.path.realpath(root_str))
        return
    # (device, inode) of each folder entered, so a symlink loop ends.
    seen_dirs: set[tuple[int, int]] = set()
    stack = [root_str]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen_dirs:
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            # Resolved once a folder: a file in it that is no link is its name there.
            real_folder = os.path.realpath(folder)
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            on_error(folder, exc.strerror or str(exc))
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_symlink() and not follow_symlinks:
                    continue
                if entry.is_dir(follow_symlinks=follow_symlinks):
                    subfolders.append(entry.path)
                elif ((is_photo_name(entry.name) or (videos and is_video_name(entry.name)))
                      and entry.is_file(follow_symlinks=follow_symlinks)):
                    st = entry.stat(follow_symlinks=follow_symlinks)
                    real = (os.path.realpath(entry.path) if entry.is_symlink()
                            else os.path.join(real_folder, entry.name))
                    yield FileEntry(entry.path, st.st_size, st.st_mtime_ns, real)
            except OSError as exc:
                on_error(entry.path, exc.strerror or str(exc))
        # Reversed so that popping visits subfolders in name order.
        stack.extend(reversed(subfolders))
