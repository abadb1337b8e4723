"""The command line as a user meets it: help, exit codes, messages, outputs."""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import subprocess
import sys

import pytest

from conftest import FACERES_PACK, GROUP, lfw_photo
from facesort.cli import app
from facesort.scanning.lock import job_lock

COMMANDS = sorted(command.name or command.callback.__name__ for command in app.registered_commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "Example: facesort " + command in result.stdout
    # Help shows metavars a user can read, not Python types or template fields.
    for artefact in ("<bool>", "<list[", "<str>", "<int", "{"):
        assert artefact not in result.stdout, f"{command} --help shows {artefact!r}"


def test_python_m_facesort_runs():
    result = subprocess.run([sys.executable, "-m", "facesort", "--version"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("facesort ")


def test_help_reads_as_options_and_values_not_python_types(cli):
    def usage(command: str) -> str:
        return next(line.strip() for line in cli(command, "--help").stdout.splitlines()
                    if "Usage:" in line)

    assert usage("scan") == "Usage: facesort scan [OPTIONS] ROOTS..."
    assert usage("assign") == "Usage: facesort assign [OPTIONS] FACE... NAME"
    assert usage("write") == "Usage: facesort write [OPTIONS] [PATH...]"
    # The flag is followed by its help, not by a type; the help may wrap in a narrow terminal.
    flat = " ".join(cli("scan", "--help").stdout.replace("│", " ").split())
    assert "--follow-symlinks Follow symbolic" in flat and "BOOL" not in flat.upper()


def _in_bash(*args: str, **env: str) -> subprocess.CompletedProcess:
    """facesort run from a bash, as a user's shell runs it."""
    command = " ".join([shlex.quote(sys.executable), "-m", "facesort", *map(shlex.quote, args)])
    # "; exit $?": bash runs facesort as its child, as an interactive shell does,
    # instead of becoming it; completion finds the shell among facesort's parents
    # however pytest itself was started.
    return subprocess.run(["bash", "--norc", "--noprofile", "-c", f"{command}; exit $?"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **env})


def test_shell_completion_script_completes_commands_and_options(isolated_home):
    script = _in_bash("--show-completion")
    assert script.returncode == 0, script.stderr
    assert "_FACESORT_COMPLETE=complete_bash" in script.stdout
    assert "complete -o default -F _facesort_completion facesort" in script.stdout
    # What bash asks when the user presses Tab after "facesort sc" and "facesort name --pre".
    assert _in_bash(_FACESORT_COMPLETE="complete_bash", COMP_WORDS="facesort sc",
                    COMP_CWORD="1").stdout.split() == ["scan"]
    assert "--preview" in _in_bash(_FACESORT_COMPLETE="complete_bash",
                                   COMP_WORDS="facesort name --pre", COMP_CWORD="2").stdout.split()
    installed = _in_bash("--install-completion")
    assert installed.returncode == 0, installed.stderr
    assert "facesort" in (isolated_home / ".bashrc").read_text()


def test_a_missing_model_pack_is_one_clear_line(cli, photos, isolated_home):
    result = cli("scan", str(photos), "--model", "no_such_pack")
    assert result.exit_code == 2
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert "'no_such_pack'" in message
    assert str(isolated_home / ".insightface" / "models" / "no_such_pack") in message
    assert "--model or FACESORT_MODEL" in message


def test_a_missing_pack_folder_is_one_clear_line(cli, photos, tmp_path):
    result = cli("scan", str(photos), "--model", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "nowhere" in result.stderr and "no such folder" in result.stderr


def test_a_second_writer_is_told_the_library_is_busy(cli, db_path, photos):
    with job_lock(db_path, "scan"):
        result = cli("scan", str(photos))
    assert result.exit_code == 2
    assert "library is busy" in result.stderr
    assert cli("scan", str(photos)).exit_code == 0


def test_status_before_any_scan_says_what_to_do(cli):
    result = cli("status")
    assert result.exit_code == 2
    assert "run 'facesort scan' first" in result.stderr


def test_scan_prints_a_summary_and_status_shows_the_library(cli, db_path):
    result = cli("scan", str(GROUP))
    assert result.exit_code == 0
    assert "5 photos: 5 new" in result.stdout and "42 faces found" in result.stdout
    status = cli("status")
    assert str(db_path) in status.stdout
    assert "Photos    5 (0 failed)" in status.stdout
    assert "sc_dlib: 5 photos, 42 faces, 128-d" in status.stdout
    # Not a terminal: no progress bar drawn into logs.
    assert "\x1b[" not in result.stderr


def test_quiet_prints_nothing_when_all_goes_well(cli):
    result = cli("scan", str(GROUP / "two_people.jpg"), "--quiet")
    assert result.exit_code == 0 and result.output == ""


def test_csv_export_has_one_row_per_face_in_displayed_pixels(cli, tmp_path):
    cli("scan", str(GROUP / "two_people.jpg"), str(GROUP / "kit_with_rose.jpg"))
    rows = list(csv.DictReader(io.StringIO(cli("export", "--format", "csv").stdout)))
    assert len(rows) == 4
    for row in rows:
        assert 0 <= float(row["x"]) < int(row["width"]) and 0 <= float(row["y"]) < int(row["height"])
        assert row["cluster"] == "" and row["person"] == ""
    out = tmp_path / "faces.jsonl"
    assert cli("export", "-o", str(out)).exit_code == 0
    assert [len(json.loads(line)["faces"]) for line in out.read_text().splitlines()] == [2, 2]


def test_an_unknown_export_format_is_a_usage_error(cli):
    cli("scan", str(GROUP / "two_people.jpg"))
    result = cli("export", "--format", "xml")
    assert result.exit_code == 2 and "choose jsonl or csv" in result.stderr


def test_two_packs_keep_their_faces_apart(cli, tmp_path, monkeypatch):
    photo = lfw_photo("Colin_Powell")
    assert cli("scan", str(photo)).exit_code == 0
    result = cli("scan", str(photo), "--model", str(FACERES_PACK), "--json")
    # The photo is unchanged, but this pack has not seen it yet.
    assert json.loads(result.stdout)["new"] == 1
    packs = {p["name"]: p for p in json.loads(cli("status", "--json").stdout)["packs"]}
    assert packs["sc_dlib"]["dimensions"] == 128 and packs["sc_faceres"]["dimensions"] == 1024
    assert json.loads(cli("export").stdout)["faces"][0]["id"] == 1  # FACESORT_MODEL says sc_dlib
    monkeypatch.delenv("FACESORT_MODEL")
    assert "choose one with --model" in cli("export").stderr
    dlib = json.loads(cli("export", "--model", "sc_dlib").stdout)
    faceres = json.loads(cli("export", "--model", str(FACERES_PACK)).stdout)
    assert {f["id"] for f in dlib["faces"]}.isdisjoint(f["id"] for f in faceres["faces"])
