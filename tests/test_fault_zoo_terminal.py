"""Faces in the terminal: each terminal's own image protocol where it has
one, half-blocks elsewhere, nothing with TERM=dumb, and always as wide as the
terminal is, not wider."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from PIL import Image

from conftest import lfw_photo
from facesort.cli import preview

# Variables that tell a terminal apart: the tests set the ones they need.
TERMINAL_VARIABLES = ("TERM", "TERM_PROGRAM", "LC_TERMINAL", "KITTY_WINDOW_ID", "KONSOLE_VERSION",
                      "WEZTERM_PANE", "WT_SESSION", "TMUX", "STY", "COLUMNS", preview.PREVIEW_ENV)


@pytest.fixture
def terminal(monkeypatch):
    """A truecolor terminal of ``columns`` cells (set it as COLUMNS)."""
    for name in TERMINAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    return monkeypatch


def face(size: int = 128) -> Image.Image:
    return Image.open(lfw_photo("Colin_Powell")).convert("RGB").resize((size, size))


def drawn_faces(stdout: str) -> tuple[list[str], list[str]]:
    """The half-block rows of a preview, and the captions under them."""
    lines = stdout.splitlines()
    rows = [line for line in lines if "▀" in line]
    captions = [word for above, line in zip(lines, lines[1:]) if "▀" in above and "▀" not in line
                for word in line.split()]
    return rows, captions


@pytest.mark.parametrize("columns", [80, 40, 20])
def test_the_naming_preview_fits_the_terminal(cli, library, terminal, columns):
    """Six faces of 14 cells needed 89 columns: at 80, 40 and 20 every row wrapped."""
    cli("cluster")
    terminal.setenv("COLUMNS", str(columns))
    session = cli("name", "--preview", "6", input="q\n")
    assert session.exit_code == 0
    rows, captions = drawn_faces(session.stdout)
    assert rows and all(len(row) <= columns for row in rows)
    assert captions == ["1", "2", "3", "4", "5", "6"]  # every face, in order
    # Faces stay square: half as many rows as columns, in every row of faces.
    width = len(rows[0].split(" ")[0])
    assert len(rows) == -(-6 // ((columns + 1) // (width + 1))) * width // 2


def test_a_dumb_terminal_gets_text_only(cli, library, terminal):
    cli("cluster")
    terminal.setenv("TERM", "dumb")
    session = cli("name", input="q\n")
    assert session.exit_code == 0
    assert "contact sheet:" in session.stdout and "q quits" in session.stdout
    assert "▀" not in session.stdout and "\x1b" not in session.stdout


def test_preview_chooses_how_and_keeps_taking_a_number(cli, library, terminal):
    cli("cluster")
    kitty = cli("name", "--preview", "kitty", input="q\n").stdout
    assert kitty.count("\x1b_Ga=T,f=100,") == 6 and "▀" not in kitty
    terminal.setenv(preview.PREVIEW_ENV, "iterm")
    assert cli("name", input="q\n").stdout.count("\x1b]1337;File=inline=1;") == 6
    assert cli("name", "--preview", "blocks", input="q\n").stdout.count("\x1b]1337;") == 0
    terminal.delenv(preview.PREVIEW_ENV)
    assert drawn_faces(cli("name", "--preview", "2", input="q\n").stdout)[1] == ["1", "2"]
    assert "▀" not in cli("name", "--preview", "none", input="q\n").stdout
    group = json.loads(cli("clusters", "--json").stdout)[0]["id"]
    assert "\x1bPq" in cli("show", str(group), "--preview", "sixel").stdout  # a way alone: all faces
    assert "▀" not in cli("show", str(group)).stdout  # show draws none unless asked
    wrong = cli("name", "--preview", "pixels")
    assert wrong.exit_code == 2 and "auto, blocks, kitty, iterm, sixel, none" in wrong.stderr


@pytest.mark.parametrize("environment, way", [
    ({"TERM": "xterm-kitty", "KITTY_WINDOW_ID": "1"}, "kitty"),
    ({"TERM": "xterm-kitty"}, "kitty"),  # kitty over ssh: only TERM comes along
    ({"TERM": "xterm-ghostty", "TERM_PROGRAM": "ghostty"}, "kitty"),
    ({"TERM": "xterm-256color", "KONSOLE_VERSION": "240202"}, "kitty"),
    ({"TERM": "xterm-256color", "TERM_PROGRAM": "iTerm.app"}, "iterm"),
    ({"TERM": "xterm-256color", "LC_TERMINAL": "iTerm2"}, "iterm"),  # iTerm2 over ssh
    ({"TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm", "WEZTERM_PANE": "0"}, "iterm"),
    ({"TERM": "foot"}, "sixel"),
    ({"TERM": "xterm-256color", "WT_SESSION": "b5d0"}, "sixel"),
    ({"TERM": "xterm-256color"}, "blocks"),  # GNOME Terminal, xterm, an unknown ssh client
    ({"TERM": "tmux-256color", "TMUX": "/tmp/tmux-0/default,1,0", "KITTY_WINDOW_ID": "1"}, "blocks"),
    ({"TERM": "screen", "STY": "1.pts-0", "TERM_PROGRAM": "iTerm.app"}, "blocks"),
    ({"TERM": "dumb"}, "none"),
    ({"TERM": "xterm-256color", preview.PREVIEW_ENV: "sixel"}, "sixel"),  # xterm -ti vt340
    ({"TERM": "xterm-kitty", preview.PREVIEW_ENV: "blocks"}, "blocks"),
])
def test_the_protocol_is_told_by_the_environment(environment, way):
    assert preview.detect(environment, terminal=True) == way


def test_no_images_into_a_pipe_unless_asked():
    assert preview.detect({"TERM": "xterm-kitty"}, terminal=False) == "blocks"
    assert preview.detect({"TERM": "xterm-kitty", preview.PREVIEW_ENV: "kitty"}, terminal=False) == "kitty"


def test_kitty_escape_sequence():
    image = face()
    escape = preview.image_escape(image, 14, 7, "kitty")
    chunks = re.findall(r"\x1b_G([^;]*);([^\x1b]*)\x1b\\", escape)
    assert "".join(f"\x1b_G{keys};{data}\x1b\\" for keys, data in chunks) == escape
    first = dict(pair.split("=") for pair in chunks[0][0].split(","))
    assert first == {"a": "T", "f": "100", "c": "14", "r": "7", "C": "1", "q": "2",
                     "m": "1" if len(chunks) > 1 else "0"}
    assert [keys for keys, _ in chunks[1:]] == ["q=2,m=1"] * (len(chunks) - 2) + ["q=2,m=0"]
    assert all(len(data) <= 4096 for _, data in chunks)
    png = Image.open(io.BytesIO(base64.b64decode("".join(data for _, data in chunks))))
    assert png.format == "PNG" and png.convert("RGB").tobytes() == image.tobytes()


def test_iterm2_escape_sequence():
    image = face()
    escape = preview.image_escape(image, 12, 6, "iterm")
    found = re.fullmatch(r"\x1b\]1337;File=([^:]*):([A-Za-z0-9+/=]*)\x07", escape)
    keys = dict(pair.split("=") for pair in found[1].split(";"))
    data = base64.b64decode(found[2])
    assert keys == {"inline": "1", "size": str(len(data)), "width": "12", "height": "6",
                    "preserveAspectRatio": "1"}
    assert Image.open(io.BytesIO(data)).convert("RGB").tobytes() == image.tobytes()


def decode_sixel(escape: str) -> Image.Image:
    """The picture a terminal draws from a sixel sequence (the subset facesort writes)."""
    found = re.fullmatch(r'\x1bPq"1;1;(\d+);(\d+)(.*)\x1b\\', escape, re.S)
    width, height, body = int(found[1]), int(found[2]), found[3]
    picture = Image.new("RGB", (width, height))
    colours, colour, x, top = {}, 0, 0, 0
    for command in re.findall(r"#\d+;2;\d+;\d+;\d+|#\d+|!\d+.|[$-]|[?-~]", body):
        if command.startswith("#") and ";" in command:
            number, _, r, g, b = map(int, command[1:].split(";"))
            colours[number] = tuple(round(v * 255 / 100) for v in (r, g, b))
        elif command.startswith("#"):
            colour = int(command[1:])
        elif command in "$-":
            x, top = 0, top + (6 if command == "-" else 0)
        else:
            repeat, char = (int(command[1:-1]), command[-1]) if command[0] == "!" else (1, command)
            for _ in range(repeat):
                for dy in range(6):
                    if (ord(char) - 63) >> dy & 1:
                        picture.putpixel((x, top + dy), colours[colour])
                x += 1
    return picture


def test_sixel_escape_sequence():
    image = face()
    escape = preview.image_escape(image, 12, 6, "sixel")
    assert escape.startswith("\x1bPq") and escape.endswith("\x1b\\")
    width, height = 12 * 10, 6 * 20  # a VT340's cells: no terminal tells its own here
    drawn = decode_sixel(escape)
    assert drawn.size == (width, height)
    expected = image.resize((width, height), Image.Resampling.LANCZOS)
    # 64 colours of a face: close to it, pixel by pixel.
    error = sum(abs(a - b) for a, b in zip(drawn.tobytes(), expected.tobytes())) / (width * height * 3)
    assert error < 6, error


@pytest.mark.parametrize("way", ["kitty", "iterm", "sixel"])
def test_a_row_of_images_keeps_the_cursor_where_the_text_goes_on(way):
    """Room is made first, each image drawn from its own cell with the cursor
    saved and restored, and the captions go under them."""
    drawn = preview._images([face()] * 3, 12, 6, way).segments[0].text
    assert drawn.startswith("\n" * 6 + "\x1b[6A")
    assert re.findall(r"\r(?:\x1b\[(\d+)C)?\x1b7", drawn) == ["", "13", "26"]
    assert drawn.count("\x1b8") == 3 and drawn.endswith("\r\x1b[6B")
