"""Model packs: the built-in default works offline, and every way a pack can be
missing or broken gives one line that says what is wrong and how to choose."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import tomllib
from pathlib import Path

import numpy as np
import pytest

from conftest import DLIB_PACK, GROUP, GROUP_FACES, SFACE_PACK, lfw_photo
from facesort import config
from facesort.scanning import decoding
from facesort.config import BUILTIN_PACKS, BUILTIN_ROOT, DEFAULT_MIN_FACE_SIZE, DEFAULT_MODEL, resolve_pack
from facesort.engine.face_engine import load_engine
from facesort.engine.thresholds import thresholds_for

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def offline(monkeypatch):
    """No network at all: any connection attempt fails as it does on a machine
    without one."""
    def refuse(*_args, **_kwargs):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: (_ for _ in ()).throw(
        socket.gaierror(-2, "Name or service not known")))


@pytest.fixture
def no_model_chosen(monkeypatch):
    monkeypatch.delenv("FACESORT_MODEL", raising=False)


def _model_error(result) -> str:
    assert result.exit_code == 2
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert "--model" in message and "FACESORT_MODEL" in message
    return message


def test_scan_with_no_model_chosen_uses_the_builtin_pack_offline(cli, photos, offline, no_model_chosen):
    """With neither --model nor FACESORT_MODEL and no network, a scan finds faces
    with the pack that ships inside facesort."""
    result = cli("scan", str(photos), "--json")
    assert result.exit_code == 0, result.stderr
    # Six portraits; two have a second, real face beside the person's.
    assert json.loads(result.stdout)["faces"] == 8
    assert "yunet_sface" in cli("status").stdout
    verdict = cli("verify", str(lfw_photo("Colin_Powell", 1)), str(lfw_photo("Colin_Powell", 2)))
    assert verdict.exit_code == 0 and "same person" in verdict.stdout


def test_builtin_pack_finds_every_face_of_the_group_photos():
    """The built-in detector finds the known number of faces on each group photo
    at the scanner's default size and minimum face size, the 29 of the 1927
    Solvay photo included."""
    engine = load_engine(resolve_pack(DEFAULT_MODEL))
    found = {}
    for name in GROUP_FACES:
        photo = decoding.read_and_decode(GROUP / name, engine.det_size)
        found[name] = len(engine.detect(photo.pixels, min_side=DEFAULT_MIN_FACE_SIZE / photo.scale))
    assert found == GROUP_FACES


def test_builtin_landmarks_mean_what_scrfd_landmarks_mean():
    """YuNet's five points come out in SCRFD's order (image-left eye first), so
    aligned crops and stored landmarks agree across packs."""
    photo = decoding.read_and_decode(GROUP / "obama_and_biden.jpg", 640)
    yunet = sorted(load_engine(resolve_pack(DEFAULT_MODEL)).detect(photo.pixels), key=lambda d: d.box[0])
    scrfd = sorted(load_engine(resolve_pack(str(DLIB_PACK))).detect(photo.pixels), key=lambda d: d.box[0])
    assert len(yunet) == len(scrfd) == 3
    for a, b in zip(yunet, scrfd):
        assert np.abs(a.landmarks - b.landmarks).max() < 0.15 * b.box[2]
        assert abs(a.box[0] - b.box[0]) < 0.2 * b.box[2]


def test_builtin_pack_embeds_as_the_published_sface_graph():
    """The recognizer's faster CPU graph (PRelu split, cpugraph.py) gives the
    embeddings of the SFace file as shipped, which the thresholds were measured on."""
    import onnxruntime

    engine = load_engine(resolve_pack(DEFAULT_MODEL))
    crops = []
    for person in ("Colin_Powell", "Tony_Blair"):
        photo = decoding.read_and_decode(lfw_photo(person), engine.det_size)
        crops += [engine.align(photo.pixels, d.landmarks) for d in engine.detect(photo.pixels)]
    recognizer = engine._recognizer
    original = onnxruntime.InferenceSession(recognizer.model_file, providers=["CPUExecutionProvider"])
    blob = np.stack([(c[:, :, ::-1].astype(np.float32) - 127.5) / 127.5 for c in crops]).transpose(0, 3, 1, 2)
    expected = original.run(None, {recognizer.input_name: np.ascontiguousarray(blob)})[0]
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert len(crops) >= 2
    assert np.abs(engine.embed(crops) - expected).max() < 1e-5


def test_split_prelu_keeps_the_function_and_leaves_what_it_cannot_split():
    """Per-channel PRelu on a 4-D tensor (slopes below 0, and above 1 too) is
    rewritten to the same outputs; a PRelu on a 2-D tensor is left as it is."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    from facesort.engine.cpugraph import split_prelu

    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("PRelu", ["c", "over_one"], ["p"]),
         helper.make_node("PRelu", ["p", "up_to_one"], ["q"]),
         helper.make_node("Flatten", ["q"], ["f"]),
         helper.make_node("PRelu", ["f", "slope2"], ["y"])],
        "prelus",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 100])],
        [numpy_helper.from_array(np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype(np.float32), "w"),
         numpy_helper.from_array(np.array([-0.4, 0.0, 0.3, 1.2], np.float32).reshape(4, 1, 1), "over_one"),
         numpy_helper.from_array(np.array([-0.6, 0.1, 0.5, 1.0], np.float32).reshape(1, 4, 1, 1), "up_to_one"),
         numpy_helper.from_array(np.full(100, 0.5, np.float32), "slope2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    before = model.SerializeToString()
    assert split_prelu(model) == 2
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node].count("PRelu") == 1
    x = np.random.default_rng(1).normal(size=(2, 3, 5, 5)).astype(np.float32)
    run = [onnxruntime.InferenceSession(m, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
           for m in (before, model.SerializeToString())]
    assert np.abs(run[0] - run[1]).max() < 1e-5


def test_builtin_pack_has_measured_thresholds():
    """who, verify and automatic naming work out of the box: the default pack's
    thresholds are measured, not borrowed."""
    measured = thresholds_for(DEFAULT_MODEL)
    assert measured is not None and "LFW" in measured.source
    assert thresholds_for("sc_sface") is not None and thresholds_for("sc_mfn_tf") is not None


def test_a_folder_named_like_the_builtin_pack_cannot_mix_embeddings(cli, photos, tmp_path, no_model_chosen):
    """A user's folder called yunet_sface with other model files is refused by
    the library instead of adding its faces to the built-in pack's."""
    assert cli("scan", str(photos)).exit_code == 0
    impostor = tmp_path / "yunet_sface"
    impostor.mkdir()
    for model in SFACE_PACK.glob("*.onnx"):
        (impostor / model.name).symlink_to(model)
    photos_too = tmp_path / "more"
    photos_too.mkdir()
    shutil.copy(lfw_photo("Hans_Blix"), photos_too / "hans.jpg")
    result = cli("scan", str(photos_too), "--model", str(impostor))
    assert result.exit_code == 2 and "yunet_sface" in result.stderr


def test_a_folder_with_a_yunet_detector_is_a_pack(cli, photos, tmp_path):
    """Any folder holding a YuNet detector and a recognizer loads as a pack,
    whatever the files are called."""
    folder = tmp_path / "my_pack"
    folder.mkdir()
    for name in BUILTIN_PACKS[DEFAULT_MODEL]:
        (folder / f"renamed_{name}").symlink_to(BUILTIN_ROOT / DEFAULT_MODEL / name)
    result = cli("scan", str(photos), "--model", str(folder), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["faces"] == 8


def test_an_insightface_pack_offline_says_there_is_no_network(cli, photos, offline, isolated_home):
    """A pack name that is not installed, with no network, says so in one whole
    line instead of a connection error cut mid-string."""
    message = _model_error(cli("scan", str(photos), "--model", "buffalo_l"))
    assert "'buffalo_l'" in message and "without a network connection" in message
    assert str(isolated_home / ".insightface" / "models" / "buffalo_l") in message
    assert "HTTPS" not in message and "(host" not in message


def test_an_unknown_insightface_pack_name_says_there_is_none(cli, photos, monkeypatch):
    """A mistyped pack name that insightface does not publish says that no such
    pack exists to download."""
    import insightface.utils.storage as storage

    def not_found(url, **_kwargs):
        raise RuntimeError(f"Failed downloading url {url}")

    monkeypatch.setattr(storage, "download_file", not_found)
    message = _model_error(cli("scan", str(photos), "--model", "bufalo_l"))
    assert "'bufalo_l'" in message and "no pack of that name" in message


def test_a_mistyped_pack_folder_says_no_such_folder(cli, photos):
    """A --model path that does not exist is named as a missing folder, not as
    a failed download."""
    message = _model_error(cli("scan", str(photos), "--model", "/no/such/folder"))
    assert "/no/such/folder" in message and "no such folder" in message
    assert "download" not in message


def test_an_empty_pack_folder_says_it_has_no_models(cli, photos, tmp_path):
    """An empty pack folder says it has no .onnx files instead of AssertionError."""
    (tmp_path / "empty").mkdir()
    message = _model_error(cli("scan", str(photos), "--model", str(tmp_path / "empty")))
    assert "no .onnx model files" in message and "AssertionError" not in message


@pytest.mark.parametrize("keep, missing", [("det_500m.onnx", "recognizer"),
                                           ("dlib_resnet_v1.onnx", "detector")])
def test_a_half_filled_pack_says_which_model_is_missing(cli, photos, tmp_path, keep, missing):
    """A pack folder with only a detector or only a recognizer names the kind
    that is missing and the file it did find."""
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / keep).symlink_to(DLIB_PACK / keep)
    message = _model_error(cli("scan", str(photos), "--model", str(folder)))
    assert f"no face {missing} .onnx" in message and keep in message


def test_a_damaged_model_file_is_named(cli, photos, tmp_path):
    """A .onnx file that is not a model (a cut-short download) is named with
    what is wrong with it."""
    folder = tmp_path / "damaged"
    shutil.copytree(DLIB_PACK, folder)
    (folder / "dlib_resnet_v1.onnx").write_bytes(b"not a model at all")
    message = _model_error(cli("scan", str(photos), "--model", str(folder)))
    assert str(folder / "dlib_resnet_v1.onnx") in message and "not an ONNX model" in message


def test_a_damaged_install_names_the_missing_builtin_file(cli, photos, tmp_path, monkeypatch, no_model_chosen):
    """A facesort install that lost one of its built-in model files names that
    file and says to reinstall."""
    broken = tmp_path / "models"
    (broken / DEFAULT_MODEL).mkdir(parents=True)
    detector, recognizer = BUILTIN_PACKS[DEFAULT_MODEL]
    (broken / DEFAULT_MODEL / detector).symlink_to(BUILTIN_ROOT / DEFAULT_MODEL / detector)
    monkeypatch.setattr(config, "BUILTIN_ROOT", broken)
    message = _model_error(cli("scan", str(photos)))
    assert recognizer in message and "reinstall facesort" in message


def test_the_wheel_carries_the_builtin_models_and_their_notices():
    """pyproject declares the model files and licence texts as package data, and
    the notice names each model file with its sha256."""
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = REPO / "facesort"
    shipped = {p for pattern in declared["facesort"] for p in package.glob(pattern)}
    folder = package / "models" / DEFAULT_MODEL
    assert set(folder.iterdir()) <= shipped
    notice = (folder / "NOTICE.txt").read_text()
    for name in BUILTIN_PACKS[DEFAULT_MODEL]:
        assert name in notice
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() in notice
    assert {"LICENSE-MIT.txt", "LICENSE-Apache-2.0.txt"} <= {p.name for p in shipped}
