"""How well a face can be judged, by a person or a model: one score in 0..1.

Four measures, each from what the scanner already has: the box's size, the
detector's score, how frontal the face is (from the five landmarks), and how
sharp it is (from the decoded pixels, at scan time). A face below the size or
sharpness floors gets 0: it is too small or too blurred to judge, so it is
kept out of grouping and suggestions (and listed by ``facesort status``),
never deleted. Scores order faces best first on contact sheets and previews.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Shorter box side, in displayed pixels: below MIN_SIDE a face is too small to
# judge; from GOOD_SIDE up size no longer counts.
MIN_SIDE = 32.0
GOOD_SIDE = 96.0
# Variance of the Laplacian on the face resized to SHARPNESS_SIDE pixels.
# Measured on 400 shared LFW faces: median 285, 1% below 30; after a 3-pixel
# Gaussian blur 92% are below 30.
SHARPNESS_SIDE = 64
MIN_SHARPNESS = 30.0
GOOD_SHARPNESS = 250.0
# A face whose score is below this is too poor to judge.
POOR = 0.05


def sharpness(gray_or_rgb: np.ndarray, box: Sequence[float]) -> float:
    """Variance of the Laplacian inside ``box`` (x, y, w, h in the array's
    pixels), on the face resized to a fixed size so that big and small faces
    compare."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(gray_or_rgb)
    x, y, w, h = box
    height, width = pixels.shape[:2]
    left, top = max(0, int(x)), max(0, int(y))
    right, bottom = min(width, int(np.ceil(x + w))), min(height, int(np.ceil(y + h)))
    if right - left < 3 or bottom - top < 3:
        return 0.0
    # Grey from the face alone: converting the whole photo once a face cost a
    # quarter of a scan's time (bench/scan.py).
    face_pixels = pixels[top:bottom, left:right]
    if face_pixels.ndim == 3:
        face_pixels = face_pixels[..., :3].mean(axis=2)
    crop = Image.fromarray(face_pixels.astype(np.float32), mode="F")
    face = np.asarray(crop.resize((SHARPNESS_SIDE, SHARPNESS_SIDE), Image.Resampling.BILINEAR))
    laplacian = (face[:-2, 1:-1] + face[2:, 1:-1] + face[1:-1, :-2] + face[1:-1, 2:]
                 - 4 * face[1:-1, 1:-1])
    return float(laplacian.var())


def frontalness(landmarks: Sequence[Sequence[float]]) -> float:
    """1 for a face looking at the camera, towards 0 for a profile: how
    centred the nose is between the eyes, and the mouth under it."""
    import numpy as np

    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (5, 2):
        return 1.0
    left_eye, right_eye, nose, mouth_left, mouth_right = points
    eyes = np.linalg.norm(right_eye - left_eye)
    if eyes <= 0:
        return 0.0
    axis = (right_eye - left_eye) / eyes
    eye_centre = (left_eye + right_eye) / 2
    mouth_centre = (mouth_left + mouth_right) / 2
    # Offsets along the eye line, in eye distances: 0 when frontal, about 0.5 in profile.
    nose_off = abs(float((nose - eye_centre) @ axis)) / eyes
    mouth_off = abs(float((mouth_centre - eye_centre) @ axis)) / eyes
    return float(np.clip(1.0 - 1.6 * max(nose_off, mouth_off), 0.0, 1.0))


def face_quality(box: Sequence[float], landmarks: Sequence[Sequence[float]], score: float,
                 sharp: float | None = None) -> float:
    """The face's quality in 0..1, rounded to 3 places; 0 when too small or
    too blurred to judge. ``sharp`` is :func:`sharpness`, None when unknown
    (faces scanned before facesort measured it)."""
    side = min(box[2], box[3])
    if side < MIN_SIDE or (sharp is not None and sharp < MIN_SHARPNESS):
        return 0.0
    size = min(1.0, (side - MIN_SIDE) / (GOOD_SIDE - MIN_SIDE) * 0.7 + 0.3)
    detector = min(1.0, max(0.1, (score - 0.4) / 0.5))
    clear = 1.0 if sharp is None else min(
        1.0, 0.5 + 0.5 * (sharp - MIN_SHARPNESS) / (GOOD_SHARPNESS - MIN_SHARPNESS))
    front = 0.2 + 0.8 * frontalness(landmarks)
    return round(max(POOR, size * detector * clear * front), 3)


def best_first(faces: Iterable) -> list:
    """Faces (anything with ``quality`` and ``id``) best first; faces never
    scored sit in the middle."""
    return sorted(faces, key=lambda f: (-(0.5 if f.quality is None else f.quality), f.id))
