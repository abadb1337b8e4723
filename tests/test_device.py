"""Where the model runs: the choice of onnxruntime provider (--device), with
fake provider lists where this machine has no accelerator, and real scans on
the CPU."""

from __future__ import annotations

import json

import onnxruntime
import pytest
from insightface.model_zoo import model_zoo

from facesort.config import resolve_pack
from facesort.engine.face_engine import FaceEngine, choose_providers
from facesort.errors import DeviceError
from tests.conftest import DLIB_PACK, GROUP

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
GPU_WHEEL = ["TensorrtExecutionProvider", CUDA, CPU]  # what onnxruntime-gpu lists


def test_auto_takes_cuda_before_the_cpu():
    """auto picks the accelerator onnxruntime-gpu offers, with the CPU as fallback."""
    assert choose_providers(GPU_WHEEL, "auto") == ([CUDA, CPU], "cuda")


def test_auto_never_takes_tensorrt_on_its_own():
    """TensorRT, listed whether installed or not, is only used when asked for."""
    assert choose_providers(["TensorrtExecutionProvider", CPU], "auto") == ([CPU], "cpu")
    assert choose_providers(GPU_WHEEL, "tensorrt") == (["TensorrtExecutionProvider", CPU], "tensorrt")


@pytest.mark.parametrize("available, device", [
    (["CoreMLExecutionProvider", CPU], "coreml"),
    (["DmlExecutionProvider", CPU], "directml"),
    (["OpenVINOExecutionProvider", CPU], "openvino"),
    (["ROCMExecutionProvider", CPU], "rocm"),
    (["AzureExecutionProvider", CPU], "cpu"),
])
def test_auto_takes_each_accelerator_package(available, device):
    """auto finds the accelerator of each onnxruntime package, and the CPU where there is none."""
    providers, chosen = choose_providers(available, "auto")
    assert chosen == device and providers[-1] == CPU


def test_cpu_forces_the_cpu_beside_an_accelerator():
    """--device cpu asks onnxruntime for the CPU alone even where CUDA is there."""
    assert choose_providers(GPU_WHEEL, "cpu") == ([CPU], "cpu")


def test_a_missing_device_insisted_on_says_how_to_install_it():
    """--device cuda without onnxruntime-gpu fails with one line naming the package."""
    with pytest.raises(DeviceError) as caught:
        choose_providers([CPU], "CUDA")
    assert str(caught.value) == (f"--device cuda: this onnxruntime has no {CUDA} (it has: cpu); "
                                 "pip install onnxruntime-gpu (with CUDA and cuDNN)")


def test_an_unknown_device_lists_the_choices():
    """A device name facesort does not know is refused with the list of those it does."""
    with pytest.raises(DeviceError, match="unknown device 'gpu': choose auto, cpu, cuda"):
        choose_providers([CPU], "gpu")


@pytest.fixture
def fake_cuda(monkeypatch):
    """onnxruntime claims CUDA; the sessions are still made on the CPU (this
    machine has no GPU), and the providers facesort asked for are kept."""
    asked = []
    real_get_model = model_zoo.get_model

    def get_model(path, **kwargs):
        asked.append(kwargs["providers"])
        return real_get_model(path, providers=[CPU])

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CUDA, CPU])
    monkeypatch.setattr(model_zoo, "get_model", get_model)
    return asked


def test_the_engine_asks_every_session_for_the_chosen_provider(fake_cuda):
    """With CUDA offered, the detector and recognizer sessions are asked for CUDA, then the CPU."""
    engine = FaceEngine(resolve_pack(str(DLIB_PACK)))
    assert fake_cuda and all(providers == [CUDA, CPU] for providers in fake_cuda)
    # What the sessions really run on is what is reported.
    assert engine.device == "cpu" and engine.providers == [CPU]


def test_device_cpu_keeps_cuda_out_of_the_sessions(fake_cuda):
    """--device cpu asks no session for CUDA even where onnxruntime offers it."""
    FaceEngine(resolve_pack(str(DLIB_PACK)), device="cpu")
    assert fake_cuda and all(providers == [CPU] for providers in fake_cuda)


def test_a_device_that_will_not_start_is_a_usage_error(cli, fake_cuda):
    """--device cuda where CUDA is listed but falls back to the CPU fails with exit 2, one line."""
    result = cli("scan", str(GROUP / "two_people.jpg"), "--device", "cuda")
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1
    assert f"--device cuda: onnxruntime could not start {CUDA} and fell back to cpu" in lines[0]


def test_scan_says_it_ran_on_the_cpu(cli, tmp_path):
    """The default scan and --device cpu both work here and say they ran on the CPU."""
    photo = GROUP / "two_people.jpg"
    result = cli("scan", str(photo), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["device"] == "cpu"
    assert json.loads(result.stdout)["providers"] == [CPU]
    result = cli("scan", str(photo), "--device", "cpu", "--db", str(tmp_path / "other.db"))
    assert result.exit_code == 0 and result.stdout.strip().endswith(" s on cpu")


def test_a_missing_device_fails_a_rescan_too(cli):
    """--device cuda without CUDA fails even when no photo needs the model."""
    photo = GROUP / "two_people.jpg"
    assert cli("scan", str(photo)).exit_code == 0
    result = cli("scan", str(photo), "--device", "cuda")
    assert result.exit_code == 2 and "pip install onnxruntime-gpu" in result.stderr
    result = cli("scan", str(photo), "--json")
    assert json.loads(result.stdout)["device"] is None  # nothing needed the model
