"""Damaged camera RAWs (issue 19): the user sees facesort's one line per bad
file, not LibRaw's libjpeg warnings, and nothing else written to stderr
meanwhile is lost."""

from __future__ import annotations

import builtins
import os
import sys
import threading

from PIL import Image

from facesort.scanning.libjpeg_quiet import quiet_libjpeg
from test_raw import raw_with_preview


def test_libjpegs_warnings_from_a_damaged_dng_stay_off_the_terminal(cli, tmp_path, capfd):
    """The real DNG's sensor data is JPEG-compressed: cut short, LibRaw's
    libjpeg wrote "Premature end of JPEG file" to descriptor 2, once per tile."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    whole = raw_with_preview(Image.new("RGB", (300, 200), "red"), tmp_path / "whole.dng")
    # A preview too small: the sensor data is developed, and it ends early.
    (folder / "cut.dng").write_bytes(whole.read_bytes()[:300_000])
    result = cli("scan", str(folder))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{folder / 'cut.dng'}: corrupt or truncated"), lines
    written = capfd.readouterr().err
    assert "JPEG" not in written, written


def test_what_other_threads_write_meanwhile_still_reaches_stderr(capfd):
    """Descriptor 2 is the process's: while it is a pipe, everything but
    libjpeg's warnings goes through, from any thread, unfinished lines too."""
    inside = threading.Barrier(2)
    done = threading.Barrier(2)

    def libraw_like(name: str) -> None:
        with quiet_libjpeg():
            inside.wait()
            os.write(2, b"Premature end of JPEG file\n")
            os.write(2, f"{name}: a message of its own\n".encode())
            done.wait()

    threads = [threading.Thread(target=libraw_like, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    with quiet_libjpeg():
        # A progress bar's unfinished line with a warning right behind it,
        # as the pipe gives them when one follows the other.
        os.write(2, b"scanning 3/10\rCorrupt JPEG data: bad Huffman code\n")
    for thread in threads:
        thread.join()
    os.write(2, b"after\n")
    written = capfd.readouterr().err
    assert "JPEG" not in written
    assert sorted(written.replace("\r", "\n").splitlines()) == [
        "after", "one: a message of its own", "scanning 3/10", "two: a message of its own"]
    assert written.endswith("after\n")


def test_stderr_survives_a_raw_decoded_while_onnxruntime_is_imported(capfd, monkeypatch, tmp_path):
    """A rescan loads the model while worker threads decode RAWs: onnxruntime's
    import and LibRaw each point descriptor 2 elsewhere for a while. A RAW
    entered during the import once saved the import's stand-in as the real
    stderr and put it back on leaving, and every later message was lost."""
    from facesort.engine import face_engine

    inside = threading.Event()

    def decode_a_raw():
        with quiet_libjpeg():
            inside.set()
            threading.Event().wait(0.6)  # leaves after the import is done

    worker = threading.Thread(target=decode_a_raw)
    (tmp_path / "onnxruntime.py").write_text(
        "import time\n"
        "_worker.start()\n"
        "time.sleep(0.3)  # the import takes a while; the worker enters LibRaw meanwhile\n"
        "def set_default_logger_severity(level):\n"
        "    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "onnxruntime", raising=False)
    monkeypatch.setattr(builtins, "_worker", worker, raising=False)
    face_engine._onnxruntime.__wrapped__()
    worker.join(5)
    assert inside.is_set()
    os.write(2, b"a later message\n")
    assert "a later message" in capfd.readouterr().err
