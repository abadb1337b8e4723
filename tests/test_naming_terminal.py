"""A real run of `facesort name` in a terminal (tmux), read from the screen a
user sees: an "Also Jennifer Capriati?" offer answered y names the group,
and in the same library as it was, answered n, is refused for good.

docs/picture.py draws README's picture from this scene."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from conftest import LFW
from facesort.config import DEFAULT_MODEL
from terminal import Terminal

PHOTOS = {  # LFW person: photo numbers
    "Colin_Powell": range(1, 9), "Tony_Blair": range(1, 9), "Jean_Chretien": range(1, 7),
    "Jennifer_Capriati": [*range(1, 12), 17, 32, 40],
    "Silvia_Farina_Elia": range(1, 4), "Natalie_Coughlin": range(1, 7),
}
# With the built-in pack a second group of Jennifer Capriati (three photos)
# is offered once two people near her are named too: the next cluster run
# cannot then tell that group from them and leaves it to the user.
NAMED_BEFORE = ["Jennifer_Capriati", "Silvia_Farina_Elia", "Natalie_Coughlin"]
OFFER = "Also Jennifer Capriati? [y/n/q]"
PROMPT_END = "q quits):"


def terminal_env(folder: Path) -> dict[str, str]:
    """A user's shell: `facesort` on the PATH runs this checkout with this
    Python, the built-in pack, a library and home of its own."""
    (folder / "bin").mkdir()
    (folder / "home").mkdir()
    command = folder / "bin" / "facesort"
    command.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m facesort "$@"\n')
    command.chmod(0o755)
    return {"PATH": f"{folder / 'bin'}:{os.environ['PATH']}", "HOME": str(folder / "home"),
            "FACESORT_DB": str(folder / "library.db"), "FACESORT_MODEL": DEFAULT_MODEL,
            "TERM": "xterm-256color", "COLORTERM": "truecolor", "LANG": "C.UTF-8", "PS1": "$ "}


def facesort(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "facesort", *args], env={**os.environ, **env},
                          check=True, capture_output=True, text=True).stdout


def prepare(folder: Path, env: dict[str, str]) -> dict[str, int]:
    """The scene's library, scanned, grouped and with NAMED_BEFORE named;
    each person's largest group by LFW name."""
    photos = folder / "photos"
    photos.mkdir()
    for person, numbers in PHOTOS.items():
        for n in numbers:
            shutil.copy(LFW / person / f"{person}_{n:04d}.jpg", photos)
    facesort(env, "scan", str(photos))
    facesort(env, "cluster")
    sizes = Counter()
    for line in facesort(env, "export").splitlines():
        photo = json.loads(line)
        person = Path(photo["path"]).stem.rsplit("_", 1)[0]
        sizes.update((person, face["cluster"]) for face in photo["faces"] if face["cluster"])
    groups: dict[str, int] = {}
    for (person, group), _ in sizes.most_common():
        groups.setdefault(person, group)
    for person in NAMED_BEFORE:
        facesort(env, "name", str(groups[person]), person.replace("_", " "))
    return groups


def answer_offer(env: dict[str, str], answer: str, until: str) -> tuple[str, str]:
    """Type `facesort name` in the terminal, wait for the offer and answer
    it; the screen (with its colours) and its text at the next prompt."""
    with Terminal(env) as terminal:
        terminal.type("facesort name --preview 6")
        terminal.wait_for(lambda text: OFFER in text)
        terminal.type(answer)
        text = terminal.wait_for(lambda text: until in text and text.rstrip().endswith(PROMPT_END))
        return terminal.screen(colours=True), text


def test_an_offer_answered_y_and_n_on_a_real_terminal(tmp_path):
    env = terminal_env(tmp_path)
    prepare(tmp_path, env)
    shutil.copy(tmp_path / "library.db", tmp_path / "prepared.db")

    _, text = answer_offer(env, "y", "is Jennifer Capriati:")
    group = re.search(r"Group (\d+): .* to Jennifer Capriati; contact sheet: ", text)[1]
    assert f"group {group} is Jennifer Capriati" in text
    assert "▀" in text, "the offered group's faces are drawn on the screen"
    named = [face for line in facesort(env, "export").splitlines()
             for face in json.loads(line)["faces"] if face["cluster"] == int(group)]
    assert named and all(f["person"] == "Jennifer Capriati" and f["person_source"] == "user"
                         for f in named)

    # The library as it was before y (the session stopped at a prompt, so its
    # write-ahead log must go too), answered n this time.
    for stale in ("library.db-wal", "library.db-shm"):
        (tmp_path / stale).unlink(missing_ok=True)
    shutil.copy(tmp_path / "prepared.db", tmp_path / "library.db")
    _, text = answer_offer(env, "n", "will not be offered")
    assert f"group {group} is not Jennifer Capriati; it will not be offered as them again" in text
    assert json.loads(facesort(env, "suggest", "--json"))["groups"] == []
