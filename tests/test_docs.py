"""README.md and docs/*.md tell the truth about the command line: every
`facesort COMMAND` they name exists, every `--option` exists (on the command
named beside it, or on some command where the text does not say which),
every `python SCRIPT.py --option` is an option of that script, every
repository path they name is there, and every link leads to a file and a
heading that exist. No model is loaded: the command tree is read from the
typer app."""

from __future__ import annotations

import glob
import re
from functools import cache
from pathlib import Path

import pytest
import typer

from facesort.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
SPAN = re.compile(r"`([^`\n]+(?:\n[^`\n]+)*)`")
LONG = re.compile(r"(?<![\w-])--[A-Za-z0-9][\w-]*")
SHORT = re.compile(r"(?<![\w-])-[A-Za-z0-9](?![\w-])")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)
REPO_PATH = re.compile(r"(?:facesort|bench|tests|docs|\.ci)/[\w/*.-]*")


class Cli:
    """The commands and options of the typer app, walked through its click
    tree (nested groups become "group sub")."""

    def __init__(self) -> None:
        group = typer.main.get_command(app)
        ctx = group.make_context("facesort", [], resilient_parsing=True)
        self.help = set(group.get_help_option_names(ctx))
        self.root = self._options(group)
        self.commands: dict[str, set[str]] = {}
        self._walk(group, "")

    def _options(self, command) -> set[str]:
        names = set(self.help)
        for param in command.params:
            if param.param_type_name == "option":
                names.update(param.opts)
                names.update(param.secondary_opts)
        return names

    def _walk(self, group, prefix: str) -> None:
        for name, command in getattr(group, "commands", {}).items():
            path = f"{prefix}{name}"
            self.commands[path] = self._options(command)
            self._walk(command, path + " ")

    @property
    def every_option(self) -> set[str]:
        return self.root.union(*self.commands.values())


@cache
def cli() -> Cli:
    return Cli()


def _options_in(text: str) -> list[str]:
    return LONG.findall(text) + SHORT.findall(text)


def _check_command_line(line: str, found: list[str]) -> None:
    """One shell command as a doc shows it: `facesort ...`, a bare command
    name (`status --poor`), `python bench/x.py ...` or options alone."""
    line = re.sub(r"\s+", " ", line).strip()
    line = line.split(" | ")[0]  # what a shell pipe feeds is another program
    words = line.split(" ")
    if not words or not words[0]:
        return
    known = cli()
    if words[0] == "facesort":
        rest = words[1:]
        if not rest or rest[0].startswith("-"):
            for option in _options_in(line):
                if option not in known.root:
                    found.append(f"`{line}`: facesort has no option {option}")
            return
        command = None
        for size in range(len(rest), 0, -1):  # the longest known path wins: "group sub"
            if " ".join(rest[:size]) in known.commands:
                command = " ".join(rest[:size])
                break
        if command is None:
            if re.fullmatch(r"[a-z][a-z-]*", rest[0]):
                found.append(f"`{line}`: facesort has no command {rest[0]!r}")
            return
        for option in _options_in(line):
            if option not in known.commands[command]:
                found.append(f"`{line}`: facesort {command} has no option {option}")
    elif words[0] in known.commands:
        for option in _options_in(line):
            if option not in known.commands[words[0]]:
                found.append(f"`{line}`: facesort {words[0]} has no option {option}")
    elif words[0] in ("python", "python3") and len(words) > 1 and words[1].endswith(".py"):
        script = ROOT / words[1]
        if not script.is_file():
            found.append(f"`{line}`: no script {words[1]}")
            return
        source = script.read_text(encoding="utf-8")
        for option in LONG.findall(line):
            if f'"{option}"' not in source:
                found.append(f"`{line}`: {words[1]} has no option {option}")
    elif words[0].startswith("-"):
        for option in _options_in(line):
            if option not in known.every_option:
                found.append(f"`{line}`: no facesort command has an option {option}")
    # Anything else is another program (pip, xargs, face_recognition), a
    # path or a value: not ours to check.


def _without_code(text: str) -> str:
    return SPAN.sub(" ", FENCE.sub("\n", text))


def command_problems(text: str) -> list[str]:
    """Commands and options a doc names that the command line does not have."""
    found: list[str] = []
    for block in FENCE.findall(text):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("facesort "):
                _check_command_line(line.split(" #")[0], found)
            elif line.startswith(("python ", "python3 ")):
                _check_command_line(line, found)
    for span in SPAN.findall(FENCE.sub("\n", text)):
        _check_command_line(span, found)
    for option in LONG.findall(_without_code(text)):
        if option not in cli().every_option:
            found.append(f"{option} (in the text): no facesort command has it")
    return found


def path_problems(text: str) -> list[str]:
    """Repository paths in code spans (`facesort/engine/cpugraph.py`,
    `tests/test_fault_zoo_*.py`) that are not there."""
    found = []
    for span in SPAN.findall(FENCE.sub("\n", text)):
        span = span.strip()
        if REPO_PATH.fullmatch(span) and "/." not in span and not glob.glob(str(ROOT / span)):
            found.append(f"`{span}`: no such file in the repository")
    return found


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("\n", path.read_text(encoding="utf-8"))
    return {slug(h) for h in HEADING.findall(text)}


def link_problems(doc: Path, text: str) -> list[str]:
    """Links that are not relative, or lead to no file or no heading."""
    found = []
    for target in LINK.findall(_without_code(text)):
        if re.match(r"[a-z][a-z+.-]*:", target):  # https:, mailto:
            continue
        if target.startswith("/"):
            found.append(f"({target}): links must be relative")
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        if not path.exists():
            found.append(f"({target}): no such file")
        elif ROOT not in path.parents and path != ROOT:
            found.append(f"({target}): leads out of the repository")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            found.append(f"({target}): {path.name} has no heading #{anchor}")
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_and_option_named_exists(doc):
    assert command_problems(doc.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_named_exists(doc):
    assert path_problems(doc.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves(doc):
    assert link_problems(doc, doc.read_text(encoding="utf-8")) == []


def test_every_docs_page_is_linked_from_the_index():
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    linked = {target.partition("#")[0] for target in LINK.findall(index)}
    assert {p.name for p in (ROOT / "docs").glob("*.md")} - {"index.md"} <= linked


def test_readme_is_a_front_page_that_starts_with_install_run_and_test():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    first_block = FENCE.search(readme)
    before = readme[: first_block.start()].strip()
    assert re.fullmatch(r"# facesort", before), "nothing but the title comes before the commands"
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[0].startswith("pip install")
    assert commands[1].startswith("facesort scan")
    assert commands[2] == "python -m pytest"
    # CI runs the very command README gives.
    assert "\npython -m pytest\n" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "docs/index.md" in readme


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_page_has_one_title_and_no_skipped_heading_levels(doc):
    text = FENCE.sub("\n", doc.read_text(encoding="utf-8"))
    levels = [len(m.group(1)) for m in re.finditer(r"^(#{1,6})\s", text, re.M)]
    assert text.startswith("# ") and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), levels


# The checks above would catch a doc that drifts from the code:

def test_a_made_up_command_or_option_is_caught():
    assert command_problems("Run `facesort frobnicate` first.")
    assert command_problems("Run `facesort scan --no-such-option ~/Pictures`.")
    assert command_problems("```\n$ facesort cluster --made-up   # a comment --full\n```")
    assert command_problems("`--made-up-option` does it.")
    assert command_problems("Use --made-up-option for that.")
    assert command_problems("`status --no-such-flag` lists them.")
    # An option of another command is not enough when the command is named.
    assert command_problems("`facesort who x.jpg --face-a 1`")
    assert command_problems("```\npython bench/scan.py --no-such-option\n```")
    assert command_problems("`python bench/no_such_bench.py`")
    # What exists passes.
    assert command_problems(
        "`facesort verify a.jpg b.jpg --face-a 4`, `status --orphans`, `--det-size`,\n"
        "`facesort find Alice -0 | xargs -0 open`, `facesort --version`, `-0`,\n"
        "```\n$ facesort scan ~/Pictures --json   # --help\npython bench/scan.py --packs a,b\n```"
    ) == []


def test_a_broken_link_or_path_is_caught():
    doc = ROOT / "docs" / "index.md"
    assert link_problems(doc, "[x](no-such-page.md)")
    assert link_problems(doc, "[x](scanning.md#no-such-heading)")
    assert link_problems(doc, "[x](/work/docs/scanning.md)")
    assert link_problems(doc, "[x](../..)")  # the folder above the checkout
    assert link_problems(doc, "[x](scanning.md#bad-files) [y](#using-facesort) [z](naming.png)") == []
    assert path_problems("in `facesort/no_such_module.py`")
    assert path_problems("in `facesort/engine/cpugraph.py`, `tests/test_fault_zoo_*.py`") == []

