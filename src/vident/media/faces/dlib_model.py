"""dlib's face pipeline: HOG detector, 5-point landmarks, ResNet embedder (128-d).

The weights are the files of the ``face_recognition_models`` wheel, found with
:func:`importlib.util.find_spec` because that package's ``__init__`` imports
``pkg_resources``. The ResNet (``dlib_face_recognition_resnet_model_v1``) was trained with a
Euclidean threshold of 0.6 between unit vectors, i.e. a cosine of about 0.82; dlib reports
99.38% on LFW. It aligns its own 150x150 chip from the 5 landmarks (``get_face_chip``).

The HOG detector only sees faces of about 80 px or more, so a small picture is upsampled
(dlib's pyramid ``upsample_num_times``) until its shorter side reaches ``UPSAMPLE_TO``. Each
doubling costs about four times the time, which is why pictures already at the analysed size
(shorter side 512 px and up) are scanned as they are.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path
from typing import Any, Final

import numpy as np

from vident.media.errors import MediaError
from vident.media.faces.base import (
    FaceModel,
    FaceResult,
    RgbArray,
    l2_normalise,
    rgb_array,
)
from vident.media.faces.quality import detected_face, scaled_score
from vident.media.types import DecodedImage

#: Shorter side (px) below which the picture is upsampled before HOG detection.
UPSAMPLE_TO: Final = 512
#: At most this many doublings (a 128 px picture is scanned at 512 px).
MAX_UPSAMPLE: Final = 2
#: HOG margins are about 0 (barely a face) to 3 (a frontal portrait).
SCORE_RANGE: Final = (0.0, 1.5)
#: Same-person cosine: just above the threshold at FAR 1% on faces/pairs.csv (2 of 295
#: different-identity pairs pass; every same-identity pair does). bench/quality_faces.py.
MIN_SIMILARITY: Final = 0.884


def models_dir() -> Path:
    """The model folder of ``face_recognition_models``, without importing it."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the face_recognition_models package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@functools.cache
def _dlib() -> Any:
    import dlib  # type: ignore[import-untyped,unused-ignore]

    return dlib


class _Nets:
    """The three dlib objects, loaded together on first use."""

    def __init__(self) -> None:
        dlib = _dlib()
        folder = models_dir()
        self.detector = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
        self.embedder = dlib.face_recognition_model_v1(
            str(folder / "dlib_face_recognition_resnet_model_v1.dat")
        )


class DlibModel(FaceModel):
    """HOG + 5 landmarks + ResNet, 128-d."""

    @property
    def name(self) -> str:
        return "dlib-resnet-v1"

    @property
    def min_similarity(self) -> float:
        return MIN_SIMILARITY

    @property
    def dim(self) -> int:
        return 128

    @functools.cached_property
    def _nets(self) -> _Nets:
        return _Nets()

    def detect_and_embed(self, image: DecodedImage) -> FaceResult:
        rgb, scale = rgb_array(image)
        try:
            return self._run(rgb, scale)
        except RuntimeError as exc:  # dlib raises RuntimeError on odd inputs
            raise MediaError(f"dlib face analysis failed: {exc}") from exc

    def _run(self, rgb: RgbArray, scale: float) -> FaceResult:
        nets, dlib = self._nets, _dlib()
        short = min(rgb.shape[:2])
        if short < 16:
            return []
        ups = min(MAX_UPSAMPLE, max(0, math.ceil(math.log2(UPSAMPLE_TO / short))))
        rects, scores, _ = nets.detector.run(rgb, ups, 0.0)
        if not rects:
            return []
        shapes = dlib.full_object_detections()
        for rect in rects:
            shapes.append(nets.landmarks(rgb, rect))
        vectors = l2_normalise(np.array(nets.embedder.compute_face_descriptor(rgb, shapes)))
        faces = []
        for rect, shape, score, vector in zip(rects, shapes, scores, vectors, strict=True):
            box = (float(rect.left()), float(rect.top()), float(rect.right()), float(rect.bottom()))
            points = [(float(p.x), float(p.y)) for p in shape.parts()]
            term = scaled_score(float(score), *SCORE_RANGE)
            faces.append((detected_face(rgb, scale, box, points, float(score), term), vector))
        faces.sort(key=lambda item: -(item[0].box[2] * item[0].box[3]))
        return faces
