"""Make docs/naming.png, the picture of `facesort name` in README, from a real run.

    python docs/picture.py

Run it from the repository root, with facesort's dependencies installed, tmux
on the PATH and the shared LFW photos in ../shared/data/lfw (or
$FACESORT_SHARED/data/lfw). It takes about 15 seconds.

It plays the scene of tests/test_naming_terminal.py: in a temporary folder
(its own HOME and library, the built-in pack) it scans some LFW portraits,
groups them, names three people, and runs the interactive `facesort name
--preview 6` in a tmux window of 120x45 cells, where a second group of
Jennifer Capriati is offered: "Also Jennifer Capriati?". It answers y,
captures the screen with its colours and draws it cell by cell (the faces are
"▀" cells: the top pixel is the foreground colour, the bottom one the
background). That is the half-block path, which tmux gets.

Below it, the same screen as a terminal with an image protocol (kitty,
iTerm2, sixel) shows it. That one is composed, not captured (no such
terminal runs here): each face's cells are covered with that face's
thumbnail, cropped from the contact sheet the run wrote, as facesort's
image escape sequences ask the terminal to draw it. Beside both, the contact
sheet. The faces at full resolution are LFW photos, which stay out of the
repository: they are blurred here. Then it runs the same session again on
the library as it was and answers n. Both answers are checked on the
screen's text, and the lines that show them are printed.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's facesort, and the test's scene
from facesort.search.sheets import COLUMNS as SHEET_COLUMNS, LABEL_HEIGHT, THUMB  # noqa: E402
from test_naming_terminal import answer_offer, prepare, terminal_env  # noqa: E402

OUTPUT = ROOT / "docs" / "naming.png"
COLUMNS, ROWS = 120, 45  # the test's terminal
FONT = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 15)
BOLD = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf", 15)
CELL_W, CELL_H = 9, 18  # a half-block cell is two square 9x9 pixels
BACKGROUND, FOREGROUND = (24, 24, 28), (210, 210, 210)
# The 16 basic colours (xterm's), for the few plain-coloured messages.
BASIC = [(0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16), (36, 114, 200), (188, 63, 188),
         (17, 168, 205), (229, 229, 229), (102, 102, 102), (241, 76, 76), (35, 209, 139),
         (245, 245, 67), (59, 142, 234), (214, 112, 214), (41, 184, 219), (255, 255, 255)]


def said(text: str) -> None:
    """The screen's text without the faces' rows."""
    print(*[line for line in text.rstrip().splitlines() if "▀" not in line], "", sep="\n")


def colour(params: list[int]) -> tuple[tuple[int, int, int], list[int]]:
    """The colour at the start of an SGR 38/48 tail (2;r;g;b or 5;n), and the params after it."""
    if params[0] == 2:
        return tuple(params[1:4]), params[4:]
    n = params[1]
    if n < 16:
        return BASIC[n], params[2:]
    if n < 232:
        r, g, b = ((n - 16) // 36, (n - 16) // 6 % 6, (n - 16) % 6)
        return tuple(0 if v == 0 else 55 + 40 * v for v in (r, g, b)), params[2:]
    return (8 + 10 * (n - 232),) * 3, params[2:]


def render(screen: str) -> Image.Image:
    """A tmux capture (capture-pane -e) drawn cell by cell, down to one empty row below the last line."""
    lines = screen.rstrip().split("\n")[:ROWS]
    image = Image.new("RGB", (COLUMNS * CELL_W, (len(lines) + 1) * CELL_H), BACKGROUND)
    draw = ImageDraw.Draw(image)
    fg, bg, bold = None, None, False
    for row, line in enumerate(lines):
        column = 0
        for escape, char in re.findall(r"\x1b\[([0-9;]*)m|(.)", line):
            if not char:
                params = [int(p or 0) for p in escape.split(";")]
                while params:
                    p, params = params[0], params[1:]
                    if p == 0:
                        fg, bg, bold = None, None, False
                    elif p == 1:
                        bold = True
                    elif p == 22:
                        bold = False
                    elif p in (38, 48):
                        rgb, params = colour(params)
                        fg, bg = (rgb, bg) if p == 38 else (fg, rgb)
                    elif p in (39, 49):
                        fg, bg = (None, bg) if p == 39 else (fg, None)
                    elif 30 <= p <= 37 or 90 <= p <= 97:
                        fg = BASIC[p - 30 if p < 90 else p - 82]
                    elif 40 <= p <= 47 or 100 <= p <= 107:
                        bg = BASIC[p - 40 if p < 100 else p - 92]
                continue
            x, y = column * CELL_W, row * CELL_H
            if char == "▀":
                draw.rectangle((x, y, x + CELL_W - 1, y + CELL_H // 2 - 1), fill=fg or FOREGROUND)
                draw.rectangle((x, y + CELL_H // 2, x + CELL_W - 1, y + CELL_H - 1), fill=bg or BACKGROUND)
            else:
                if bg:
                    draw.rectangle((x, y, x + CELL_W - 1, y + CELL_H - 1), fill=bg)
                draw.text((x, y), char, fill=fg or FOREGROUND, font=BOLD if bold else FONT)
            column += 1
    return image


def plain(line: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", line)


def sheet_faces(sheet: Image.Image, count: int) -> list[Image.Image]:
    """The first ``count`` faces of a contact sheet (facesort.search.sheets.contact_sheet's layout)."""
    return [sheet.crop(((i % SHEET_COLUMNS) * THUMB, LABEL_HEIGHT + (i // SHEET_COLUMNS) * (THUMB + LABEL_HEIGHT),
                        (i % SHEET_COLUMNS + 1) * THUMB,
                        LABEL_HEIGHT + (i // SHEET_COLUMNS) * (THUMB + LABEL_HEIGHT) + THUMB))
            for i in range(count)]


def with_images(screen: str, terminal: Image.Image) -> Image.Image:
    """``terminal`` (the half-block screen drawn) with each face's cells
    covered by that face as an image protocol draws it: the thumbnail,
    scaled to the cells, from the contact sheet named below its row."""
    lines = [plain(line) for line in screen.rstrip().split("\n")[:ROWS]]
    composed = terminal.copy()
    row = 0
    while row < len(lines):
        if "▀" not in lines[row]:
            row += 1
            continue
        height = next(n for n in range(len(lines) - row + 1)
                      if row + n == len(lines) or "▀" not in lines[row + n])
        tiles = [(m.start(), m.end() - m.start()) for m in re.finditer("▀+", lines[row])]
        named = next(re.search(r"contact sheet: (\S+)", line) for line in lines[row:] if "contact sheet:" in line)
        for (column, width), face in zip(tiles, sheet_faces(Image.open(named[1]).convert("RGB"), len(tiles))):
            size = (width * CELL_W, height * CELL_H)
            composed.paste(blurred_face(face).resize(size, Image.Resampling.LANCZOS),
                           (column * CELL_W, row * CELL_H))
        row += height
    return composed


def blurred_face(face: Image.Image) -> Image.Image:
    return face.filter(ImageFilter.GaussianBlur(16))


def blurred(sheet: Image.Image) -> Image.Image:
    """The contact sheet with every face blurred to a shape, labels and title kept
    (the layout of facesort.search.sheets.contact_sheet)."""
    sheet = sheet.convert("RGB")
    for top in range(LABEL_HEIGHT, sheet.height, THUMB + LABEL_HEIGHT):
        for left in range(0, sheet.width, THUMB):
            box = (left, top, left + THUMB, top + THUMB)
            sheet.paste(blurred_face(sheet.crop(box)), box)
    return sheet


def picture(blocks: Image.Image, images: Image.Image, sheet: Image.Image, sheet_name: str) -> Image.Image:
    """The half-block screen above the composed image-protocol one, with a
    caption over each, and the contact sheet beside them."""
    margin, caption = 16, 24
    sheet = blurred(sheet)
    panels = [(blocks, "Half-blocks: what tmux, screen, ssh and most terminals show (a real tmux capture)"),
              (images, "kitty, iTerm2, sixel: composed from the same run's thumbnails where facesort "
                       "draws them (not a capture; faces blurred: LFW photos)")]
    width = blocks.width + sheet.width + 3 * margin
    height = max(sum(panel.height + caption for panel, _ in panels) + margin, sheet.height + caption) + 2 * margin
    out = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    top = margin
    for panel, text in panels:
        draw.text((margin, top), text, fill=(60, 60, 60), font=FONT)
        out.paste(panel, (margin, top + caption))
        top += caption + panel.height + margin
    left = blocks.width + 2 * margin
    draw.text((left, margin), f"{sheet_name} (faces blurred: LFW photos)", fill=(60, 60, 60), font=FONT)
    out.paste(sheet, (left, margin + caption))
    return out


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="fs-") as tmp:
        folder = Path(tmp)
        env = terminal_env(folder)
        groups = prepare(folder, env)
        shutil.copy(folder / "library.db", folder / "prepared.db")
        print("groups:", ", ".join(f"{person} {group}" for person, group in sorted(groups.items())))

        screen, text = answer_offer(env, "y", "is Jennifer Capriati:")
        offered = re.search(r"Group (\d+): .* to Jennifer Capriati; contact sheet: (\S+)", text)
        group, sheet = offered[1], Path(offered[2])
        if f"group {group} is Jennifer Capriati" not in text:
            raise SystemExit(f"y did not name group {group}:\n{text}")
        said(text)
        blocks = render(screen)
        picture(blocks, with_images(screen, blocks), Image.open(sheet), sheet.name).save(OUTPUT, optimize=True)

        # The library as it was before y: the first session was stopped at a
        # prompt, so its write-ahead log is still there and must go too.
        for stale in ("library.db-wal", "library.db-shm"):
            (folder / stale).unlink(missing_ok=True)
        shutil.copy(folder / "prepared.db", folder / "library.db")
        _, text = answer_offer(env, "n", "will not be offered")
        if f"group {group} is not Jennifer Capriati; it will not be offered" not in text:
            raise SystemExit(f"n did not refuse group {group}:\n{text}")
        said(text)
    print(f"{OUTPUT.relative_to(ROOT)}: {OUTPUT.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
