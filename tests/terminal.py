"""A real terminal for interactive commands: a shell in tmux, driven by keys,
read back as the screen a user sees. Used by the tmux test of `facesort name`
and by docs/picture.py, which draws README's picture from the same run."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable


class Terminal:
    """A shell of ``columns`` x ``rows`` cells in a tmux server of its own
    (no user configuration), its environment this process's with ``env`` on top."""

    def __init__(self, env: dict[str, str], columns: int = 120, rows: int = 45):
        self.tmux = ["tmux", "-L", f"facesort-{os.getpid()}-{id(self)}", "-f", "/dev/null"]
        shell = shlex.join(["env", *(f"{k}={v}" for k, v in env.items()),
                            "bash", "--norc", "--noprofile"])
        subprocess.run([*self.tmux, "new-session", "-d", "-x", str(columns), "-y", str(rows), shell],
                       check=True)
        self.wait_for(lambda text: text.rstrip().endswith("$"))

    def type(self, line: str) -> None:
        """Type ``line`` and Enter."""
        subprocess.run([*self.tmux, "send-keys", "-l", line], check=True)
        subprocess.run([*self.tmux, "send-keys", "Enter"], check=True)

    def screen(self, colours: bool = False) -> str:
        """The screen's text, wrapped lines joined (with ``colours``: as
        drawn, with its escape sequences)."""
        return subprocess.run([*self.tmux, "capture-pane", "-p", "-e" if colours else "-J"],
                              check=True, capture_output=True, text=True).stdout

    def wait_for(self, shown: Callable[[str], bool], seconds: float = 90) -> str:
        """The screen's text once ``shown`` says yes to it; an AssertionError
        with the screen when it does not within ``seconds``."""
        deadline = time.monotonic() + seconds
        while not shown(text := self.screen()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the terminal never showed what was expected; it showed:\n{text}")
            time.sleep(0.2)
        return text

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], check=False, capture_output=True)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
