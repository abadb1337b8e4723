"""Words for the messages users read."""

from __future__ import annotations


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 face``, ``2 faces``; ``words`` for plurals that are not word + s."""
    return f"{count} {word if count == 1 else (words or word + 's')}"
