"""Faces drawn in the terminal, beside the contact sheet.

Where the terminal has an image protocol, the faces are drawn with it at the
screen's own resolution: kitty's graphics protocol (kitty, Ghostty, Konsole),
iTerm2's inline images (iTerm2, WezTerm) or sixel (foot, Windows Terminal,
mlterm; xterm when started as a VT340). Everywhere else they are half-block
cells: each "▀" is two pixels, its colour and its background, which any
truecolor terminal draws, also through tmux and screen. With TERM=dumb no
face is drawn: the text says the rest.

The protocol is told by the environment alone (TERM, TERM_PROGRAM,
KITTY_WINDOW_ID, ...). Asking the terminal would mean reading its answer
from standard input, where the user types answers (and a terminal that does
not answer leaves the question waiting). FACESORT_PREVIEW or --preview
choose one where the environment does not tell.

The escape sequences are written here (textual-image, made for this, asks
the terminal on import, draws kitty images with placeholders that only kitty
shows, and has no iTerm2 images): all three are a base64 or sixel payload
between two escapes.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from typing import TYPE_CHECKING

import typer
from rich.console import Group
from rich.segment import Segment, Segments
from rich.text import Text

if TYPE_CHECKING:  # Pillow is loaded only when faces are drawn: completion runs facesort at each Tab
    from PIL.Image import Image

WAYS = ("auto", "blocks", "kitty", "iterm", "sixel", "none")
PREVIEW_ENV = "FACESORT_PREVIEW"
MAX_FACES = 12
TILE = 14  # cells a face is wide at most; a cell is about half as wide as tall, so 7 rows
MIN_TILE = 8  # below this a face is not worth drawing: fewer to a row instead
_CELL_PIXELS = (10, 20)  # a VT340's, where the terminal does not say its own
_KITTY_CHUNK = 4096


@dataclass(frozen=True)
class Preview:
    """What --preview asked: how faces are drawn (None: as the terminal
    can) and how many (None: the command's default)."""

    way: str | None = None
    faces: int | None = None


def parse(value: str) -> Preview:
    word = value.strip().lower()
    if word.isdigit() and int(word) <= MAX_FACES:
        return Preview(faces=int(word))
    if word in WAYS:
        return Preview(way=None if word == "auto" else word)
    raise typer.BadParameter(f"{value!r}: give a number of faces from 0 to {MAX_FACES} "
                             f"or one of {', '.join(WAYS)}")


def detect(environ: Mapping[str, str], terminal: bool) -> str:
    """How faces are drawn here, from the environment: ``terminal`` says
    whether standard output is one."""
    chosen = environ.get(PREVIEW_ENV, "").strip().lower()
    if chosen in WAYS and chosen != "auto":
        return chosen
    term, program = environ.get("TERM", ""), environ.get("TERM_PROGRAM", "")
    if term == "dumb":
        return "none"
    # Images written into a file or a pipe are noise; tmux and screen keep
    # images from the terminal unless set up to pass them through.
    if (not terminal or "TMUX" in environ or "STY" in environ
            or term.startswith(("screen", "tmux"))):
        return "blocks"
    if (term in ("xterm-kitty", "xterm-ghostty") or "KITTY_WINDOW_ID" in environ
            or program == "ghostty" or "KONSOLE_VERSION" in environ):
        return "kitty"
    # WezTerm's kitty images are incomplete (placements replace each other); its iTerm2 ones are not.
    if (program in ("iTerm.app", "WezTerm") or environ.get("LC_TERMINAL") == "iTerm2"
            or term == "wezterm" or "WEZTERM_PANE" in environ):
        return "iterm"
    if term.startswith(("foot", "mlterm")) or "WT_SESSION" in environ:
        return "sixel"
    return "blocks"


def layout(count: int, columns: int) -> tuple[int, int]:
    """Faces a row and cells a face, so that ``count`` faces side by side
    (a space between two) fit ``columns``: as wide as TILE, narrower down to
    MIN_TILE, then over more rows. Widths are even: a face is as many rows
    as half its width, square on the screen."""
    per_row = max(1, min(count, (columns + 1) // (MIN_TILE + 1)))
    rows = -(-count // per_row)
    per_row = -(-count // rows)  # the same number of rows, filled evenly
    width = min(TILE, (columns + 1) // per_row - 1)
    return per_row, max(2, width - width % 2)


def render(thumbs: Sequence[Image], labels: Sequence[str], way: str, columns: int):
    """The faces with their labels under them, for a console of ``columns``
    cells, drawn ``way`` (blocks, kitty, iterm or sixel)."""
    per_row, width = layout(len(thumbs), columns)
    height = width // 2
    draw = _blocks if way == "blocks" else _images
    rows = []
    for start in range(0, len(thumbs), per_row):
        rows.append(draw(thumbs[start:start + per_row], width, height, way))
        rows.append(Text(" ".join(label[:width].center(width) for label in labels[start:start + per_row])))
    return Group(*rows)


def _blocks(thumbs, width: int, height: int, way: str) -> Group:
    from PIL.Image import Resampling

    small = [t.convert("RGB").resize((width, height * 2), Resampling.BOX) for t in thumbs]
    lines = []
    for row in range(height):
        line = Text()
        for index, image in enumerate(small):
            if index:
                line.append(" ")
            for column in range(width):
                top = "#%02x%02x%02x" % image.getpixel((column, row * 2))
                bottom = "#%02x%02x%02x" % image.getpixel((column, row * 2 + 1))
                line.append("▀", style=f"{top} on {bottom}")
        lines.append(line)
    return Group(*lines)


def _images(thumbs, width: int, height: int, way: str) -> Segments:
    """A row of images: blank lines make room for them (scrolling the screen
    if need be), then each is drawn from its top-left cell, the cursor kept
    where it was (ESC 7, ESC 8) as each protocol moves it its own way."""
    cell = _cell_pixels() if way == "sixel" else None  # one ioctl a row, not one a tile
    out = ["\n" * height, f"\x1b[{height}A"]
    for index, thumb in enumerate(thumbs):
        out.append("\r" + (f"\x1b[{index * (width + 1)}C" if index else ""))
        out += ["\x1b7", image_escape(thumb, width, height, way, cell), "\x1b8"]
    out.append(f"\r\x1b[{height}B")
    return Segments([Segment("".join(out))])


def image_escape(image: Image, width: int, height: int, way: str,
                 cell: tuple[int, int] | None = None) -> str:
    """``image`` drawn over ``width`` x ``height`` cells from the cursor, in
    the escape sequence of protocol ``way`` (kitty, iterm or sixel); ``cell``
    is a cell's size in pixels for sixel (asked of the terminal when None)."""
    from PIL.Image import Resampling

    if way == "sixel":
        cell_w, cell_h = cell or _cell_pixels()
        # Whole bands of six pixel rows that fit the cells: never a row more.
        pixels_h = max(6, height * cell_h // 6 * 6)
        return sixel(image.convert("RGB").resize((width * cell_w, pixels_h), Resampling.LANCZOS))
    png = io.BytesIO()
    image.convert("RGB").save(png, format="PNG")
    data = base64.standard_b64encode(png.getvalue()).decode("ascii")
    if way == "iterm":
        return (f"\x1b]1337;File=inline=1;size={png.tell()};width={width};height={height};"
                f"preserveAspectRatio=1:{data}\x07")
    if way != "kitty":
        raise ValueError(f"no image protocol {way!r}")
    # a=T: send and show; f=100: PNG; c, r: the cells it fills; C=1: the
    # cursor stays; q=2: no answer, which would land in standard input.
    chunks = [data[i:i + _KITTY_CHUNK] for i in range(0, len(data), _KITTY_CHUNK)]
    escapes = []
    for index, chunk in enumerate(chunks):
        keys = f"a=T,f=100,c={width},r={height},C=1,q=2," if index == 0 else "q=2,"
        escapes.append(f"\x1b_G{keys}m={int(index < len(chunks) - 1)};{chunk}\x1b\\")
    return "".join(escapes)


def sixel(image: Image, colours: int = 64) -> str:
    """``image`` as one sixel sequence: a palette, then each band of six
    pixel rows as one run per colour, run-length coded."""
    from PIL.Image import Quantize

    indexed = image.convert("RGB").quantize(colours, method=Quantize.MEDIANCUT)
    width, height = indexed.size
    pixels = indexed.tobytes()
    palette = indexed.getpalette()[:3 * colours]
    out = [f'\x1bPq"1;1;{width};{height}']
    out += [f"#{i};2;{r * 100 // 255};{g * 100 // 255};{b * 100 // 255}"
            for i, (r, g, b) in enumerate(zip(palette[0::3], palette[1::3], palette[2::3]))]
    bands = []
    for top in range(0, height, 6):
        bits: dict[int, bytearray] = {}
        for dy in range(min(6, height - top)):
            row = pixels[(top + dy) * width:(top + dy + 1) * width]
            for x, colour in enumerate(row):
                line = bits.get(colour)
                if line is None:
                    line = bits[colour] = bytearray(width)
                line[x] |= 1 << dy
        runs = []
        for colour, line in bits.items():
            chars = line.translate(_SIXEL_CHARS).decode("ascii")
            runs.append(f"#{colour}" + re.sub(r"(.)\1{3,}", lambda m: f"!{len(m[0])}{m[1]}", chars))
        bands.append("$".join(runs))
    # "-" starts the next band; none after the last, which would move the cursor a line on.
    return "".join(out) + "-".join(bands) + "\x1b\\"


_SIXEL_CHARS = bytes(63 + (b & 63) for b in range(256))


def _cell_pixels() -> tuple[int, int]:
    """A cell's size in pixels, as the terminal tells the kernel (no question
    on the line); a VT340's where it does not."""
    try:
        import fcntl
        import termios

        with open(os.ctermid(), "rb") as tty:
            rows, columns, width, height = struct.unpack(
                "HHHH", fcntl.ioctl(tty.fileno(), termios.TIOCGWINSZ, bytes(8)))
    except (ImportError, OSError):
        return _CELL_PIXELS
    if not (rows and columns and width and height):
        return _CELL_PIXELS
    return width // columns, height // rows


def columns() -> int:
    """The terminal's width in cells: COLUMNS where set, else what the
    terminal says, else 80."""
    return shutil.get_terminal_size().columns
