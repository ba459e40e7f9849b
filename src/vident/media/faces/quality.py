"""A 0-100 quality for each detected face: how far a match on it can be trusted.

Three things make a face vector unreliable, and each gives a term between 0 and 1:

* **size**: the shorter side of the face box in full-image pixels; 0 at 24 px or less, 1 at
  112 px or more (linear between). Below about 40 px both embedders lose most identity;
  above about 100 px they gain nothing more.
* **sharpness**: the variance of the Laplacian of the face box, resized to 64x64 grey, on a
  log scale: 0 at variance 100 or less, 1 at 1500 or more. On the corpus portraits the
  median is about 1200; blurred copies (radius 1/400 of the picture, JPEG 20) about 600,
  copies at a quarter size about 700. Fixed-size resampling makes it independent of the
  face's size, which the first term already counts.
* **detector**: the detector's own confidence mapped to 0-1 by the backend (MTCNN's
  probability from 0.9 to 1; dlib's HOG margin from 0 to 1.5).

``quality = round(100 * (0.4 * size + 0.4 * sharpness + 0.2 * detector))``. The weights
favour what the eye can check (a big, sharp face); the detector term mostly separates real
faces from face-like patterns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

import cv2

from vident.media.faces.align import box_crop
from vident.media.faces.base import DetectedFace, RgbArray

SIZE_RANGE: Final = (24.0, 112.0)
SHARPNESS_RANGE: Final = (100.0, 1500.0)
WEIGHTS: Final = (0.4, 0.4, 0.2)


def _ramp(value: float, low: float, high: float) -> float:
    return min(1.0, max(0.0, (value - low) / (high - low)))


def sharpness(rgb: RgbArray, box: tuple[float, float, float, float]) -> float:
    """Variance of the Laplacian of the face box (x1, y1, x2, y2) at 64x64 grey."""
    face = box_crop(rgb, box, 0.0, 64)
    grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def face_quality(side_px: float, sharp: float, detector: float) -> int:
    """Combine full-image face size, :func:`sharpness` and a 0-1 detector term."""
    size_term = _ramp(side_px, *SIZE_RANGE)
    low, high = SHARPNESS_RANGE
    sharp_term = _ramp(math.log(max(sharp, 1e-6)), math.log(low), math.log(high))
    det_term = min(1.0, max(0.0, detector))
    w_size, w_sharp, w_det = WEIGHTS
    return round(100 * (w_size * size_term + w_sharp * sharp_term + w_det * det_term))


def scaled_score(score: float, low: float, high: float) -> float:
    """A detector score mapped linearly onto 0-1 between ``low`` and ``high``."""
    return _ramp(score, low, high)


def detected_face(
    rgb: RgbArray,
    scale: float,
    box: tuple[float, float, float, float],
    landmarks: Iterable[tuple[float, float]],
    score: float,
    detector_term: float,
) -> DetectedFace:
    """A detection in analysed pixels (box as x1, y1, x2, y2) turned into full-image
    coordinates, clipped to the picture, with its quality."""
    height, width = rgb.shape[:2]
    x1, x2 = (min(max(v, 0.0), float(width)) for v in (box[0], box[2]))
    y1, y2 = (min(max(v, 0.0), float(height)) for v in (box[1], box[3]))
    side = min(x2 - x1, y2 - y1) * scale
    return DetectedFace(
        box=(x1 * scale, y1 * scale, (x2 - x1) * scale, (y2 - y1) * scale),
        landmarks=tuple((float(x) * scale, float(y) * scale) for x, y in landmarks),
        score=float(score),
        quality=face_quality(side, sharpness(rgb, (x1, y1, x2, y2)), detector_term),
    )
