"""The face engine: load a model pack, detect faces, align and embed them.

insightface and onnxruntime are imported only when a pack is loaded: they take
about a second to import, which read-only commands should not pay.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import warnings
from dataclasses import dataclass

import numpy as np

from facesort.config import DEFAULT_DET_SIZE, PackRef, insightface_root
from facesort.errors import ModelLoadError, ModelNotFoundError

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


class FaceEngine:
    def __init__(self, pack: PackRef, det_size: int = DEFAULT_DET_SIZE, det_threshold: float = 0.5):
        self.pack = pack
        self.det_size = det_size
        self.det_threshold = det_threshold
        app = _load_face_analysis(pack)
        if "recognition" not in app.models:
            raise ModelLoadError(pack.path, "it has no face recognition model (.onnx)")
        self._detector = app.det_model
        self._detector.det_thresh = det_threshold
        self._recognizer = app.models["recognition"]
        self.crop_size = int(self._recognizer.input_size[0])
        self.fingerprint = pack.fingerprint()

    @property
    def name(self) -> str:
        return self.pack.name

    def _input_size(self, height: int, width: int) -> tuple[int, int]:
        # Never upscale: a face too small to find at the photo's own size is
        # below any useful minimum face size anyway.
        long_side = min(self.det_size, math.ceil(max(height, width) / _STRIDE) * _STRIDE)
        factor = long_side / max(height, width)
        return (
            max(_STRIDE, round(width * factor / _STRIDE) * _STRIDE),
            max(_STRIDE, round(height * factor / _STRIDE) * _STRIDE),
        )

    def detect(self, rgb: np.ndarray, min_side: float = 0.0) -> list[Detection]:
        """The faces in ``rgb`` whose box's shorter side is at least ``min_side`` pixels."""
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        boxes, landmarks = self._detector.detect(bgr, input_size=self._input_size(*rgb.shape[:2]))
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


def _load_face_analysis(pack: PackRef):
    if pack.is_folder and not pack.exists:
        raise ModelNotFoundError(pack.name, pack.path, "no such folder")
    # insightface prints its download steps on stdout, which belongs to
    # results; a failure is summed up in one line below instead.
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            from insightface.app import FaceAnalysis

            return FaceAnalysis(
                name=str(pack.path) if pack.is_folder else pack.name,
                root=str(insightface_root()),
                allowed_modules=["detection", "recognition"],
            )
        except Exception as exc:  # insightface and requests raise many kinds
            cause = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            if not pack.exists or not any(pack.path.glob("*.onnx")):
                raise ModelNotFoundError(pack.name, pack.path, cause) from exc
            raise ModelLoadError(pack.path, cause) from exc


@functools.lru_cache(maxsize=4)
def load_engine(pack: PackRef, det_size: int = DEFAULT_DET_SIZE) -> FaceEngine:
    """One engine per pack and size for the life of the process."""
    return FaceEngine(pack, det_size=det_size)
