"""The command line: parse, call the core, render.

A thin layer over the library, one module a command family (as beets'
ui/commands): ``library`` (scan, status, forget, export), ``people`` (groups
and people), ``naming`` (name, suggest, review, split), ``sidecars`` (write,
import) and ``search`` (find and the FaceNet verbs: who, verify, tune).
``app`` holds what they share, and is the only place that turns exceptions
into messages and exit codes.
"""

from facesort.cli import library, people, naming, sidecars, search, safety  # noqa: F401  (registers the commands)
from facesort.cli.app import app, main

__all__ = ["app", "main"]
