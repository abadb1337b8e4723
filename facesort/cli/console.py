"""The two consoles and the one progress bar.

Results that scripts read go to stdout; messages and progress go to stderr.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

stdout = Console(soft_wrap=True)
# Whether stderr is a terminal is decided once, here: rich asks again at every
# write, and while LibRaw decodes, descriptor 2 is briefly a pipe
# (facesort/scanning/libjpeg_quiet.py), which would cost the progress bar its
# cursor moves.
stderr = Console(stderr=True, soft_wrap=True, highlight=False,
                 force_terminal=Console(stderr=True).is_terminal)


class _RateColumn(ProgressColumn):
    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", self.unit)  # a task may count something else
        return Text(f"{speed:.1f} {unit}/s" if speed else f"- {unit}/s", style="cyan")


def progress(quiet: bool, unit: str = "photos", extra: str | None = None) -> Progress:
    """The progress bar every long job uses; silent with --quiet or when stderr
    is not a terminal, so logs and pipes get no control characters.

    ``extra`` names a task field shown after the counter (e.g. faces found).
    """
    columns: list[ProgressColumn | str] = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
    ]
    if extra:
        columns.append(TextColumn(f"{{task.fields[{extra}]}} {extra}"))
    columns += [_RateColumn(unit), TimeRemainingColumn()]
    return Progress(
        *columns,
        console=stderr,
        transient=True,
        disable=quiet or not stderr.is_terminal,
    )


def error_line(message: str) -> None:
    stderr.print(message, markup=False, highlight=False, style="red")


def warning_line(message: str) -> None:
    stderr.print(message, markup=False, highlight=False, style="yellow")



def table(headers: list[str], rows: list[list[str]]) -> None:
    """Columns on stdout, laid out as rich's ``Table(box=None)`` lays them
    out but written in one piece: rich renders a table cell by cell, which
    took 0.4 s for 500 groups."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows)]
    lines = ["".join(f" {cell:<{width}} " for cell, width in zip(row, widths)).rstrip()
             for row in [headers, *rows]]
    stdout.out("\n".join(lines), highlight=False)
