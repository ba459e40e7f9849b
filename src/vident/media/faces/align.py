"""Cropping and aligning faces before they are embedded.

Embedders are trained on faces cut out in one particular way; the closer a crop is to that
way, the better the vector. :func:`warp` maps the five detected landmarks onto a template
with a similarity transform (rotation, uniform scale, translation: no shear, so the face
keeps its shape), which also levels tilted heads.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from vident.media.faces.base import RgbArray

Points = npt.NDArray[np.float32]

#: The five-point template of insightface's ArcFace models for a 112x112 crop (left eye,
#: right eye, nose tip, left and right mouth corner, as seen in the picture). Most ArcFace
#: ONNX exports expect exactly this crop.
ARCFACE_112: Final = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)


def warp(rgb: RgbArray, landmarks: Points, template: Points, size: int) -> RgbArray:
    """The ``size`` x ``size`` crop whose landmarks best fit ``template`` (least squares).

    A face much larger than the crop is first shrunk with area averaging, since the warp's
    bilinear sampling would alias.
    """
    src = np.asarray(landmarks, dtype=np.float32).reshape(-1, 2)
    dst = np.asarray(template, dtype=np.float32).reshape(-1, 2)
    matrix = _fit(src, dst)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 0.75:
        rgb = np.asarray(
            cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA),
            dtype=np.uint8,
        )
        matrix = _fit(src * scale, dst)
    out = cv2.warpAffine(
        rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return np.asarray(out, dtype=np.uint8)


def _fit(src: Points, dst: Points) -> npt.NDArray[np.float64]:
    """The least-squares similarity from ``src`` to ``dst`` points (Umeyama, 1991), 2x3.

    The same estimate as insightface's ``SimilarityTransform``; OpenCV's robust
    ``estimateAffinePartial2D`` gave the same accuracy but may return nothing.
    """
    source = np.asarray(src, dtype=np.float64)
    target = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = source.mean(axis=0), target.mean(axis=0)
    src_c, dst_c = source - src_mean, target - dst_mean
    spread = float((src_c**2).sum() / len(source))
    if spread < 1e-9:  # all landmarks on one point: centre the template there, no scaling
        return np.hstack([np.eye(2), (dst_mean - src_mean)[:, None]])
    u, sing, vt = np.linalg.svd(dst_c.T @ src_c / len(source))
    flip = np.diag([1.0, -1.0 if np.linalg.det(u) * np.linalg.det(vt) < 0 else 1.0])
    rotation = u @ flip @ vt
    scale = float(np.trace(np.diag(sing) @ flip)) / spread
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def box_crop(
    rgb: RgbArray, box: tuple[float, float, float, float], margin: float, size: int
) -> RgbArray:
    """The box (x1, y1, x2, y2) grown by ``margin`` of its size on each side and resized
    (area averaging) to a ``size`` square; parts outside the picture repeat its edge."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    left, top = round(x1 - margin * w), round(y1 - margin * h)
    right, bottom = round(x2 + margin * w), round(y2 + margin * h)
    height, width = rgb.shape[:2]
    pad = max(0, -left, -top, right - width, bottom - height)
    if pad:
        rgb = np.asarray(
            cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE), dtype=np.uint8
        )
    patch = rgb[top + pad : bottom + pad, left + pad : right + pad]
    if patch.size == 0:
        return np.zeros((size, size, 3), dtype=np.uint8)
    shrinking = patch.shape[0] > size and patch.shape[1] > size
    method = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(patch, (size, size), interpolation=method), dtype=np.uint8)
