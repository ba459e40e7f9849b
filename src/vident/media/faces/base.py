"""What every face model gives back, and the one interface the rest of vident uses.

A face model finds every face in a decoded picture and turns each into an L2-normalised
vector; two faces of one person have a high cosine similarity. The backends (dlib, MTCNN +
FaceNet, a user's ONNX embedder) differ inside, but all of them answer
:meth:`FaceModel.detect_and_embed` with :class:`DetectedFace` records in full-image pixels,
so stored boxes can be drawn on the original picture whatever size it was analysed at.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vident.media.types import DecodedImage

FloatArray = npt.NDArray[np.float32]
RgbArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class DetectedFace:
    """One face found in a picture, in the stored picture's full-size pixel coordinates.

    ``box`` is (x, y, width, height). ``landmarks`` holds five (x, y) points whose meaning is
    the detector's (MTCNN: left eye, right eye, nose tip, left and right mouth corner as seen
    in the picture; dlib: outer and inner corner of the eye on the picture's right, outer and
    inner corner of the other eye, base of the nose).
    ``score`` is the detector's own confidence (MTCNN: a probability; dlib HOG: an SVM margin,
    about 0 to 3). ``quality`` (0-100) says how much a match on this face can be trusted; its
    definition is in :mod:`vident.media.faces.quality`. The box is clipped to the picture.
    """

    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]
    score: float
    quality: int

    def to_json(self) -> dict[str, Any]:
        """The JSON kept in the signal's detail (coordinates rounded to 0.1 px)."""
        return {
            "box": [round(v, 1) for v in self.box],
            "landmarks": [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
            "score": round(float(self.score), 4),
            "quality": int(self.quality),
        }


FaceResult = list[tuple[DetectedFace, FloatArray]]


class FaceModel(ABC):
    """A face detector and embedder behind one name.

    Implementations load their weights lazily, on the first call, never in ``__init__``: the
    ingest pool forks workers, and each loads only what it uses.
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """A stable identity including the weights' version: vectors of different names are
        never compared (e.g. ``"dlib-resnet-v1"``)."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of one embedding."""

    @property
    @abstractmethod
    def min_similarity(self) -> float:
        """Cosine similarity from which two faces are reported as the same person (measured
        on the shared corpus at a false-accept rate of 1%; see bench/quality_faces.py)."""

    @abstractmethod
    def detect_and_embed(self, image: DecodedImage) -> FaceResult:
        """Every face found, each with its L2-normalised float32 embedding of length ``dim``,
        largest face first. An empty list when the picture shows no face."""


def rgb_array(image: DecodedImage) -> tuple[RgbArray, float]:
    """The analysed pixels as a contiguous RGB array, and the factor from them to full size."""
    pixels = image.pixels if image.pixels.mode == "RGB" else image.pixels.convert("RGB")
    array = np.ascontiguousarray(np.asarray(pixels, dtype=np.uint8))
    scale = image.width / pixels.width if pixels.width else 1.0
    return array, scale


def l2_normalise(vectors: npt.NDArray[np.floating[Any]]) -> FloatArray:
    """Rows scaled to unit length (a zero row stays zero rather than turning into NaN)."""
    rows = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.asarray(rows / np.maximum(norms, 1e-12), dtype=np.float32)
