"""The fault zoo, the library: scanning many copies, checking a library and
restoring its decisions, and the smaller things a new user meets on the way.

Each test is one case a tester reproduced; its docstring says what holds.
"""

from __future__ import annotations

import shutil

from conftest import lfw_photo
from facesort.scanning.scanner import Scanner
from facesort.store import Store


# -- copies of one photo ------------------------------------------------------------------

def test_copies_of_one_photo_look_at_each_earlier_copy_once(db_path, pack, tmp_path):
    """Each new copy used to load and stat every earlier one: 10,000 copies took 258 s."""
    folder = tmp_path / "copies"
    folder.mkdir()
    copies = 60
    for index in range(copies):
        shutil.copy(lfw_photo("Tony_Blair"), folder / f"copy_{index:03d}.jpg")
    with Store(db_path) as store:
        read = []
        real = store.photos_with_hash

        def counted(*args, **kwargs):
            twins = real(*args, **kwargs)
            read.extend(twins)
            return twins

        store.photos_with_hash = counted
        report = Scanner(store, pack).run([folder])
        assert report.new == copies and report.faces == copies
        assert len(read) <= 2 * copies  # before: about copies² / 2
