"""Shared fixtures. Every test gets its own home folder, so the user's real
library and insightface folder are never touched, and the real model packs and
photos from ../shared (or $FACESORT_SHARED)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facesort.cli import app
from facesort.config import DEFAULT_MODEL, resolve_pack
from facesort.scanning.scanner import scan
from facesort.store import Store

SHARED = Path(os.environ.get("FACESORT_SHARED", Path(__file__).resolve().parents[2] / "shared"))
MODELS = SHARED / "models"
DATA = SHARED / "data"
LFW = DATA / "lfw"
GROUP = DATA / "group"
FGNET = DATA / "fgnet"  # family photos from infancy on: identity and age in each name
DLIB_PACK = MODELS / "sc_dlib"
FACERES_PACK = MODELS / "sc_faceres"
SFACE_PACK = MODELS / "sc_sface"  # SCRFD-500MF + the same SFace as the built-in pack

# From ../shared/data/README.md: faces a good detector should find.
GROUP_FACES = {
    "solvay_conference_1927.png": 29,
    "insightface_t1.jpg": 6,
    "obama_and_biden.jpg": 3,
    "two_people.jpg": 2,
    "kit_with_rose.jpg": 2,
}


SHARED_MISSING = [p for p in (DLIB_PACK, FACERES_PACK, LFW, GROUP, FGNET) if not p.is_dir()]
MISSING_REASON = (
    "the shared models and data are missing: " + ", ".join(map(str, SHARED_MISSING))
    + " (set FACESORT_SHARED to the folder that holds models/ and data/)"
)
IN_CI = os.environ.get("CI", "").lower() in ("true", "1")
# Fixtures that read the shared photos or model packs.
NEEDS_SHARED = {"pack", "photos", "library", "scanned_template"}


def pytest_sessionstart(session):
    # In CI the tests that need the models must run, never skip: fail loudly.
    # On a fresh clone they skip, saying why, and the others run.
    if SHARED_MISSING and IN_CI:
        raise pytest.UsageError(MISSING_REASON)


# Names of this module a test that reads the shared data refers to.
SHARED_NAMES = {"SHARED", "MODELS", "DATA", "LFW", "GROUP", "FGNET", "GROUP_FACES", "DLIB_PACK", "FACERES_PACK",
                "SFACE_PACK", "lfw_photo", "copy_people"}


def pytest_runtest_setup(item):
    if not SHARED_MISSING:
        return
    code = getattr(getattr(item, "function", None), "__code__", None)
    names = set(code.co_names) if code is not None else set()
    if NEEDS_SHARED & set(item.fixturenames) or SHARED_NAMES & names:
        pytest.skip(MISSING_REASON)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Without the shared data, a test that failed on a shared path (a photo
    it copies, the model pack a scan needs) is skipped with the reason."""
    outcome = yield
    report = outcome.get_result()
    if SHARED_MISSING and report.failed and call.excinfo is not None \
            and str(SHARED) in str(report.longrepr):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {MISSING_REASON}")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.delenv("FACESORT_DB", raising=False)
    monkeypatch.setenv("FACESORT_MODEL", str(DLIB_PACK))
    # Faces are drawn as a terminal would get them, whatever terminal (or
    # none, TERM=dumb in CI) runs the tests.
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("FACESORT_PREVIEW", raising=False)
    return home


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "library.db"


@pytest.fixture
def pack():
    return resolve_pack(str(DLIB_PACK))


@pytest.fixture
def store(db_path):
    with Store(db_path) as opened:
        yield opened


@pytest.fixture
def cli(db_path):
    """Run facesort as a user would, against the test's library."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        result = runner.invoke(app, ["--help"] if not args else list(args),
                               env={"FACESORT_DB": str(db_path)}, input=input)
        if SHARED_MISSING and result.exit_code and str(SHARED) in result.output:
            pytest.skip(MISSING_REASON)  # the model pack a scan needs is not there
        return result

    return invoke


def lfw_photo(person: str, number: int = 1) -> Path:
    return LFW / person / f"{person}_{number:04d}.jpg"


@pytest.fixture
def photos(tmp_path) -> Path:
    """A small photo folder: six LFW portraits of three people, in subfolders."""
    root = tmp_path / "photos"
    for person, numbers in {"Junichiro_Koizumi": (1, 2), "Colin_Powell": (1, 2), "Tony_Blair": (1, 2)}.items():
        folder = root / person.split("_")[0].lower()
        folder.mkdir(parents=True, exist_ok=True)
        for n in numbers:
            shutil.copy(lfw_photo(person, n), folder / f"{person}_{n}.jpg")
    return root


# -- a small library of three people, for people, naming and decisions ------------

PEOPLE = {"Colin_Powell": 8, "Tony_Blair": 8, "Jean_Chretien": 6}


def person_of(path: str) -> str:
    return Path(path).stem.rsplit("_", 1)[0]


def copy_people(folder: Path, numbers: range | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for person, count in PEOPLE.items():
        for n in numbers or range(1, count + 1):
            shutil.copy(lfw_photo(person, n), folder / f"{person}_{n}.jpg")
    return folder


@pytest.fixture(scope="module")
def scanned_template(request, tmp_path_factory) -> tuple[Path, Path, str]:
    """A library of three people's photos, scanned once for the module with
    sc_dlib, or with the pack a test names (``indirect`` parametrization)."""
    pack = getattr(request, "param", str(DLIB_PACK))
    root = tmp_path_factory.mktemp("people")
    photos = copy_people(root / "photos")
    with Store(root / "template.db") as store:
        scan(store, [photos], resolve_pack(pack))
    return root / "template.db", photos, pack


@pytest.fixture
def library(scanned_template, db_path, tmp_path, monkeypatch) -> Path:
    """The three people's library, with photos of its own that a test may edit."""
    template, photos, pack = scanned_template
    monkeypatch.setenv("FACESORT_MODEL", pack)
    own = tmp_path / "people"
    shutil.copytree(photos, own)  # keeps the files' times: a rescan finds them unchanged
    shutil.copy(template, db_path)
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE photos SET path = ? || substr(path, ?)", (str(own), len(str(photos)) + 1))
    return own


# Grouping and naming quality is checked with the strong built-in pack as well.
BOTH_PACKS = pytest.mark.parametrize("scanned_template", [str(DLIB_PACK), DEFAULT_MODEL],
                                     indirect=True, ids=["sc_dlib", DEFAULT_MODEL])


def faces(cli) -> list[dict]:
    result = cli("export")
    assert result.exit_code == 0, result.output
    return [dict(face, path=photo["path"]) for line in result.stdout.splitlines()
            for photo in [json.loads(line)] for face in photo["faces"]]


def group_of(cli, person: str) -> int:
    """The group holding most of ``person``'s faces."""
    counts = Counter(f["cluster"] for f in faces(cli) if person_of(f["path"]) == person and f["cluster"])
    return counts.most_common(1)[0][0]


def one_line(result) -> str:
    """The one line a command printed on stderr, with no traceback anywhere."""
    assert "Traceback" not in result.output, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]
