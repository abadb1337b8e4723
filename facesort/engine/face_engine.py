"""The face engine: load a model pack, detect faces, align and embed them.

insightface, onnxruntime and OpenCV are imported only when a pack is loaded:
they take about a second to import, which read-only commands should not pay.
Every pack goes through the same steps: its detector gives boxes and five
landmarks (SCRFD through insightface, YuNet through OpenCV), insightface's
norm_crop aligns, its ArcFaceONNX wrapper embeds.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import sys
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facesort import stderr_fd
from facesort.config import BUILTIN_PACKS, DEFAULT_DET_SIZE, PackRef, insightface_root
from facesort.errors import DeviceError, ModelLoadError, ModelNotFoundError

EMBED_BATCH = 32
# Input sizes are rounded to this so that a collection's many slightly
# different aspect ratios share a few detector sessions.
_STRIDE = 32


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x, y, w, h in the given image's pixels
    landmarks: np.ndarray  # (5, 2): eyes, nose, mouth corners
    score: float

    def scaled(self, factor: float) -> Detection:
        """The same face in pixels ``factor`` times larger (a decoded image's
        pixels → the photo's displayed pixels), to a tenth of a pixel."""
        return Detection(
            box=tuple(round(v * factor, 1) for v in self.box),
            landmarks=np.round(self.landmarks.astype(np.float64) * factor, 1),
            score=self.score,
        )


# What --device accepts, and the onnxruntime execution provider each names.
DEVICES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}
# What "auto" takes, best first. TensorRT is left to those who ask for it:
# onnxruntime-gpu lists it whether or not TensorRT itself is installed, and it
# spends minutes building an engine for each new input size.
AUTO_DEVICES = ("cuda", "rocm", "coreml", "directml", "openvino")
# How to get each device's provider, for the message when it is missing.
DEVICE_INSTALL = {
    "cuda": "pip install onnxruntime-gpu (with CUDA and cuDNN)",
    "tensorrt": "pip install onnxruntime-gpu and TensorRT",
    "rocm": "install onnxruntime built for ROCm (AMD's wheels)",
    "coreml": "pip install onnxruntime on macOS",
    "directml": "pip install onnxruntime-directml on Windows",
    "openvino": "pip install onnxruntime-openvino",
}


def choose_providers(available: Sequence[str], wish: str = "auto") -> tuple[list[str], str]:
    """The onnxruntime providers to ask for, best first, and the device they
    name, for the user's ``wish`` (a DEVICES key or "auto") given the
    providers this onnxruntime has. The CPU always comes last, as the
    fallback onnxruntime uses for operations an accelerator lacks."""
    wish = wish.lower()
    if wish != "auto" and wish not in DEVICES:
        raise DeviceError(f"unknown device {wish!r}: choose auto, {', '.join(DEVICES)}")
    if wish == "auto":
        device = next((d for d in AUTO_DEVICES if DEVICES[d] in available), "cpu")
    elif wish == "cpu" or DEVICES[wish] in available:
        device = wish
    else:
        have = ", ".join(d for d, provider in DEVICES.items() if provider in available) or "none"
        raise DeviceError(f"--device {wish}: this onnxruntime has no {DEVICES[wish]} "
                          f"(it has: {have}); {DEVICE_INSTALL[wish]}")
    providers = [DEVICES[device]]
    if device != "cpu":
        providers.append(DEVICES["cpu"])
    return providers, device


@functools.cache
def _onnxruntime():
    """onnxruntime, imported with what its C++ side writes to stderr held
    back: where HOME cannot be written it warns at import, before any of its
    settings can quiet it, that it keeps its telemetry id in memory (noise to
    a user of a local tool). Any other line it writes is passed on."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as held:
        with stderr_fd.lock:  # a RAW decoding meanwhile has pointed it elsewhere too
            saved = os.dup(2)
            os.dup2(held.fileno(), 2)
            try:
                import onnxruntime
            finally:
                os.dup2(saved, 2)
                os.close(saved)
        held.seek(0)
        for line in held.read().decode("utf-8", "replace").splitlines():
            if "telemetry" not in line:
                print(line, file=sys.stderr)
    # As FaceAnalysis does: onnxruntime's warnings about unused weights in
    # the published models are noise to a user.
    onnxruntime.set_default_logger_severity(3)
    return onnxruntime


def available_providers() -> list[str]:
    return list(_onnxruntime().get_available_providers())


class FaceEngine:
    def __init__(self, pack: PackRef, det_size: int = DEFAULT_DET_SIZE, device: str = "auto"):
        self.pack = pack
        self.det_size = det_size
        providers, wanted = choose_providers(available_providers(), device)
        self._detector, self._recognizer = _load_models(_pack_folder(pack), providers)
        self.providers = list(self._recognizer.session.get_providers())
        if self.providers[0] == DEVICES["cpu"]:
            _cpu_session(self._recognizer, self.providers)
        # What the recognizer really runs on: onnxruntime quietly falls back
        # to the CPU when an accelerator's libraries (CUDA, cuDNN) are missing.
        self.device = next((d for d, p in DEVICES.items() if p == self.providers[0]), self.providers[0])
        if device.lower() not in ("auto", "cpu") and self.device != wanted:
            raise DeviceError(f"--device {wanted}: onnxruntime could not start {DEVICES[wanted]} "
                              f"and fell back to {self.device} ({DEVICE_INSTALL[wanted]})")
        self.crop_size = int(self._recognizer.input_size[0])
        self.fingerprint = pack.fingerprint()

    @property
    def name(self) -> str:
        return self.pack.name

    @property
    def detector_threshold(self) -> float:
        """The lowest detection score kept: each detector has its own scale
        (insightface's SCRFD 0.5, YuNet see YuNetDetector)."""
        return self._detector.det_thresh

    @detector_threshold.setter
    def detector_threshold(self, value: float) -> None:
        self._detector.det_thresh = value

    def _input_size(self, height: int, width: int, det_size: int | None = None) -> tuple[int, int]:
        # Never upscale: a face too small to find at the photo's own size is
        # below any useful minimum face size anyway.
        long_side = min(det_size or self.det_size, math.ceil(max(height, width) / _STRIDE) * _STRIDE)
        factor = long_side / max(height, width)
        return (
            max(_STRIDE, round(width * factor / _STRIDE) * _STRIDE),
            max(_STRIDE, round(height * factor / _STRIDE) * _STRIDE),
        )

    def detect(self, rgb: np.ndarray, min_side: float = 0.0, det_size: int | None = None) -> list[Detection]:
        """The faces in ``rgb`` whose box's shorter side is at least ``min_side``
        pixels, searched at ``det_size`` (the engine's own by default)."""
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        boxes, landmarks = self._detector.detect(bgr, input_size=self._input_size(*rgb.shape[:2], det_size))
        return [
            Detection(
                box=(float(x1), float(y1), float(x2 - x1), float(y2 - y1)),
                landmarks=np.asarray(points, dtype=np.float32),
                score=float(score),
            )
            for (x1, y1, x2, y2, score), points in zip(boxes, landmarks)
            if min(x2 - x1, y2 - y1) >= min_side
        ]

    def align(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The face warped onto the recognizer's template, as insightface does it."""
        from insightface.utils import face_align

        with warnings.catch_warnings():
            # scikit-image deprecates the estimate() call insightface makes.
            warnings.simplefilter("ignore", FutureWarning)
            crop = face_align.norm_crop(rgb, landmark=landmarks, image_size=self.crop_size)
        # The recognizer takes BGR, as OpenCV reads it; flipping the small crop
        # rather than the whole photo saves a full-image copy per face.
        return np.ascontiguousarray(crop[:, :, ::-1])

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        """L2-normalised float32 embeddings, one row per aligned crop."""
        if not crops:
            return np.zeros((0, 0), dtype=np.float32)
        parts = [
            self._recognizer.get_feat(crops[start : start + EMBED_BATCH])
            for start in range(0, len(crops), EMBED_BATCH)
        ]
        vectors = np.concatenate(parts).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


class YuNetDetector:
    """OpenCV's YuNet, answering as insightface's SCRFD does: ``detect`` gives
    boxes (x1, y1, x2, y2, score) and five landmarks per face in the input
    image's pixels, landmarks in SCRFD's order (the eye and mouth corner on the
    image's left first), so stored faces mean the same whatever the pack."""

    # Measured on the shared group photos and LFW (bench/detect.py): the
    # lowest score that adds no false face there. 0.6 adds a 30th face to the
    # 29 of the Solvay photo at 960 px; OpenCV's own 0.9 loses 15 of them.
    DEFAULT_THRESHOLD = 0.7

    def __init__(self, model_file: Path):
        import cv2

        with _opencv_errors_only(cv2):
            self._net = cv2.FaceDetectorYN.create(str(model_file), "", (_STRIDE, _STRIDE),
                                                  self.DEFAULT_THRESHOLD, 0.3, 5000)
        # The network's input size is state: one detection at a time.
        self._lock = threading.Lock()

    @property
    def det_thresh(self) -> float:
        return self._net.getScoreThreshold()

    @det_thresh.setter
    def det_thresh(self, value: float) -> None:
        self._net.setScoreThreshold(value)

    def detect(self, bgr: np.ndarray, input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        width, height = input_size
        resized = cv2.resize(bgr, (width, height))
        with self._lock:
            self._net.setInputSize((width, height))
            _, faces = self._net.detect(resized)
        if faces is None:
            return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
        scale = np.array([bgr.shape[1] / width, bgr.shape[0] / height], dtype=np.float32)
        corners = np.concatenate([faces[:, 0:2], faces[:, 0:2] + faces[:, 2:4]], axis=1)
        boxes = np.concatenate([corners * np.tile(scale, 2), faces[:, 14:15]], axis=1)
        return boxes, faces[:, 4:14].reshape(-1, 5, 2) * scale


@contextlib.contextmanager
def _opencv_errors_only(cv2):
    """OpenCV 5 warns on stderr, for every detector made, that its new graph
    engine ignores targets; OpenCV 4 has neither that warning nor this API."""
    logging = getattr(cv2.utils, "logging", None)
    if logging is None:
        yield
        return
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        logging.setLogLevel(level)


def _pack_folder(pack: PackRef) -> Path:
    """The folder holding the pack's files, fetched first for an insightface
    name that is not installed yet."""
    if pack.kind == "builtin":
        missing = [name for name in BUILTIN_PACKS[pack.name] if not (pack.path / name).is_file()]
        if missing:
            raise ModelLoadError(pack.path, f"{missing[0]} of the built-in pack is missing "
                                 "(reinstall facesort)")
        return pack.path
    if pack.kind == "folder":
        if not pack.path.is_dir():
            what = "this is a file, not a folder" if pack.path.exists() else "no such folder"
            raise ModelNotFoundError(str(pack.path), pack.path, what)
        return pack.path
    if pack.exists:
        return pack.path
    # insightface prints its download steps on stdout, which belongs to
    # results; a failure is summed up in one line below instead.
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            _onnxruntime()  # before insightface imports it
            from insightface.utils.storage import ensure_available

            return Path(ensure_available("models", pack.name, root=str(insightface_root())))
        except Exception as exc:  # requests, zipfile and insightface raise many kinds
            raise ModelNotFoundError(pack.name, pack.path, _download_failure(pack, exc)) from exc


def _download_failure(pack: PackRef, exc: Exception) -> str:
    import requests

    where = f"it is not in {pack.path}"
    if isinstance(exc, requests.ConnectionError):
        return (f"{where} and cannot be downloaded without a network connection "
                "(connect once to let insightface fetch it)")
    if isinstance(exc, RuntimeError) and "Failed downloading" in str(exc):
        return f"{where} and insightface has no pack of that name to download"
    if isinstance(exc, zipfile.BadZipFile):
        return f"{where} and its download is damaged (delete {pack.path}.zip and try again)"
    return f"{where} and downloading it failed ({type(exc).__name__})"


def _load_models(folder: Path, providers: list[str]):
    """The pack's detector and recognizer: the first .onnx of each kind, by
    name, as insightface's FaceAnalysis picks them, on onnxruntime's
    ``providers`` (YuNet runs on OpenCV, on the CPU)."""
    files = sorted(folder.glob("*.onnx"))
    if not files:
        raise ModelLoadError(folder, "the folder has no .onnx model files")
    # insightface's loader may print, and stdout belongs to results.
    _onnxruntime()
    with contextlib.redirect_stdout(io.StringIO()):
        from insightface.model_zoo import model_zoo

        detector = recognizer = None
        found = []
        for path in files:
            try:
                model = model_zoo.get_model(str(path), providers=providers)
                kind = getattr(model, "taskname", None)
                if kind == "detection" and _is_yunet(model):
                    model = YuNetDetector(path)
            except Exception as exc:  # onnx, onnxruntime and OpenCV raise many kinds
                raise ModelLoadError(path, _load_failure(exc)) from exc
            found.append(f"{path.name}, a {_KIND_NAMES.get(kind, 'model of another kind')}")
            if kind == "detection" and detector is None:
                detector = model
            elif kind == "recognition" and recognizer is None:
                recognizer = model
    for model, kind in ((detector, "detection"), (recognizer, "recognition")):
        if model is None:
            raise ModelLoadError(folder, f"no face {_KIND_NAMES[kind]} .onnx in it "
                                 f"(found only {'; '.join(found)})")
    return detector, recognizer


def _cpu_session(recognizer, providers: list[str], threads: int = 0) -> None:
    """Give the recognizer a session tuned for onnxruntime's CPU provider
    (accelerators keep insightface's):

    - PRelu split into operations the CPU runs in its blocked layout
      (cpugraph.py): SFace embeds twice as fast, to the same vectors;
    - intra-op threads that sleep instead of spinning when a run ends: the
      scan's decoding threads and OpenCV's detector threads need those cores
      between runs (bench/scan.py: 7% more photos a second on two idle cores,
      about 20% on two cores busy with other work).

    ``threads``: onnxruntime's intra-op threads, 0 for its default (one per
    core); bench/scan.py weighs them against photo-level threads."""
    import onnx

    from facesort.engine.cpugraph import split_prelu

    onnxruntime = _onnxruntime()
    model = onnx.load(recognizer.model_file)
    split_prelu(model)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        recognizer.session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                                          providers=providers)
    except Exception:  # onnxruntime raises many kinds; insightface's session still works
        pass


def _load_failure(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if "INVALID_PROTOBUF" in text or "protobuf" in text.lower():
        return "this file is not an ONNX model (damaged, or cut short by a download?)"
    if len(text) > 160:
        text = text[:160].rsplit(" ", 1)[0] + " …"
    return f"this file cannot be loaded ({type(exc).__name__}: {text})" if text else (
        f"this file cannot be loaded ({type(exc).__name__})")


_KIND_NAMES = {"detection": "detector", "recognition": "recognizer"}


def _is_yunet(model) -> bool:
    """YuNet by its outputs (score, objectness, box and landmarks at three
    strides), whatever the file is called: insightface routes it to SCRFD,
    which cannot decode them."""
    outputs = {o.name for o in model.session.get_outputs()}
    return {"cls_8", "obj_8", "bbox_8", "kps_8"} <= outputs


@functools.lru_cache(maxsize=4)
def load_engine(pack: PackRef, det_size: int = DEFAULT_DET_SIZE, device: str = "auto") -> FaceEngine:
    """One engine per pack, size and device for the life of the process."""
    return FaceEngine(pack, det_size=det_size, device=device)
