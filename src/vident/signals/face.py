"""The ``face`` kind: one L2-normalised vector per face found in a picture.

The value is the concatenation of the face vectors (float32, ``n * dim * 4`` bytes; empty
when the picture shows no face, which is a valid answer and is stored like any other), and
``detail["faces"]`` lists each face's box, five landmarks, detector score and quality in full
-image pixels, in the same order as the vectors. The model comes from
:func:`vident.media.faces.select.configured_face_model`; its name is stored with every
value, so vectors of different models are never compared.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from vident.media.errors import MediaError
from vident.media.faces.select import configured_face_model
from vident.media.types import DecodedImage
from vident.signals.base import SignalValue, VectorSignal

#: Clustering thresholds of the bundled models (see :attr:`Face.cluster_similarity`).
CLUSTER_SIMILARITY: dict[str, float] = {"facenet-mtcnn-v1": 0.55, "dlib-resnet-v1": 0.91}


class Face(VectorSignal):
    name = "face"
    version = 1
    #: The default model's (FaceNet) same-person cosine at FAR 1% on faces/pairs.csv, equal to
    #: ``facenet_model.MIN_SIMILARITY`` (a test checks; not imported, to keep cv2 and
    #: onnxruntime out of the registry's import). Another configured model brings its own:
    #: :attr:`model_min_similarity`.
    min_similarity: ClassVar[float] = 0.445

    @property
    def model(self) -> str:
        return configured_face_model().name

    @property
    def dim(self) -> int:
        return configured_face_model().dim

    @property
    def model_min_similarity(self) -> float:
        """The same-person cosine of the configured model (equals ``min_similarity`` for the
        default one)."""
        return configured_face_model().min_similarity

    @property
    def cluster_similarity(self) -> float:
        """The average cosine at which clustering joins faces into one person candidate.

        Stricter than a link: one wrong join merges two people for every later face. For the
        bundled models it sits between the lowest same-person score (FaceNet 0.585, dlib
        0.927) and the highest different-person score (0.526, 0.897) on faces/pairs.csv.
        """
        return CLUSTER_SIMILARITY.get(self.model, self.model_min_similarity)

    def compute(self, image: DecodedImage) -> SignalValue | None:
        """Every face's vector and description; an empty value when there is none.

        None only when the face model itself fails on this picture: the item's other kinds
        keep their values, and the failure is not stored as "no face".
        """
        model = configured_face_model()
        try:
            found = model.detect_and_embed(image)
        except MediaError:
            return None
        vectors = [np.asarray(vector, dtype=np.float32).reshape(-1) for _, vector in found]
        return SignalValue(
            kind=self.name,
            version=self.version,
            value=b"".join(v.tobytes() for v in vectors),
            quality=None,
            model=model.name,
            detail={"faces": [face.to_json() for face, _ in found]},
        )
