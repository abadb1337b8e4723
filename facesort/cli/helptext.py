"""Help text a user can read on any typer release.

From 0.27 on, typer prints a Python type beside every option and argument
("<bool>" beside each flag, "<list[Path]>") and braces around required
arguments in the usage line ("{roots}..."). facesort's commands use these
classes instead, which print what click-style help prints: nothing beside a
flag, the metavar or TEXT, INTEGER, FILE, PATH beside a value, and ROOTS...
in the usage line (tests/test_cli.py checks every command's help).
"""

from __future__ import annotations

import re

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

# typer's type labels, as click names them.
_CLICK_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN"}


def _type_label(param, ctx: typer.Context) -> str | None:
    """What the help shows beside ``param``: None for a flag."""
    if getattr(param, "is_flag", False):
        return None
    if param.metavar is not None and not isinstance(param, TyperArgument):
        return param.metavar
    label = param.display_type(ctx).strip("<>")
    if item := re.fullmatch(r"list\[(.*)\]", label):
        label = item[1]
    if "|" in label:  # choices
        return f"[{label}]"
    words = label.split(" ")
    return " ".join([_CLICK_NAMES.get(words[0], words[0].upper()), *(w.upper() for w in words[1:])])


class _ReadableHelp:
    def get_params(self, ctx: typer.Context):
        params = super().get_params(ctx)
        for param in params:
            # typer asks each parameter for its label; a plain attribute on
            # the instance answers first.
            param.display_type_rich = lambda ctx, param=param: _type_label(param, ctx)
        return params

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if not isinstance(param, TyperArgument):
                continue
            name = param.metavar or param.name.upper() + ("..." if param.nargs != 1 else "")
            pieces.append(name if param.required else f"[{name}]")
        if isinstance(self, TyperGroup):
            pieces.append(self.subcommand_metavar)
        return pieces


class Command(_ReadableHelp, TyperCommand):
    """A facesort command (``app.command(cls=Command)``)."""


class Group(_ReadableHelp, TyperGroup):
    """The facesort app (``typer.Typer(cls=Group)``)."""
