"""The scene embedding: one global vector per picture for "same room, same bedding, same object".

A picture's value is the 1280-d output of EfficientNet-Lite0 (ImageNet weights, run by ONNX
Runtime; see :mod:`vident.media.effnet`) for the whole frame, L2-normalised. It finds
candidates that look alike as a whole: the same place shot again from elsewhere, the same
wallpaper or bedding. It does not prove they are the same place; the local-feature kind
re-ranks and verifies candidates geometrically.

Stored as little-endian float16 (2,560 bytes instead of 5,120): over the shared corpus's 139
pictures and 278 "other angle" queries (``python -m bench.quality_scene``), float16 changed no
top-1 or top-5 result, and no cosine by more than 5e-5. :meth:`Scene.vectors` widens to
float32 and re-normalises, so a dot product stays a cosine.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt

from vident.media import effnet
from vident.media.types import DecodedImage
from vident.signals.base import SignalValue, VectorSignal

_STORED = np.dtype("<f2")


class Scene(VectorSignal):
    name = "scene"
    version = 1
    #: Cosine at or above which two pictures are offered as "same scene" candidates.
    #: Measured with ``python -m bench.quality_scene`` (shared corpus, 139 pictures in 114
    #: scenes): a rotated, off-centre 50-60% crop reaches its source at median 0.80 (5th
    #: percentile 0.64); 0.75 links 72% of those queries and 95% of the 83 pairs of stored
    #: pictures of one scene. 22 of the 9,508 pairs of different scenes (0.23%) pass it: two
    #: pages printed from one test layout (0.94, in five file formats) and 17 pairs of
    #: head-and-shoulders portraits (up to 0.87). No threshold separates all of them (it would
    #: have to exceed 0.94 and would link 1% of the queries), so the local-feature kind must
    #: verify candidates; as a candidate floor before that check 0.70 links 83% of queries
    #: and every same-scene pair, with 79 false links (74 of them portrait pairs).
    min_similarity: ClassVar[float] = 0.75

    @property
    def model(self) -> str:
        return effnet.MODEL_NAME

    @property
    def dim(self) -> int:
        return effnet.DIM

    def compute(self, image: DecodedImage) -> SignalValue | None:
        """The picture's scene vector; raises MediaError if the model cannot run."""
        return SignalValue(
            kind=self.name,
            version=self.version,
            value=pack(effnet.embed(image.pixels)),
            model=self.model,
        )

    def vectors(self, value: bytes) -> npt.NDArray[np.float32]:
        """The stored float16 rows as unit-length float32, shape (n, 1280)."""
        rows = np.frombuffer(value, dtype=_STORED).reshape(-1, self.dim).astype(np.float32)
        return effnet.normalise(rows)


def pack(vector: npt.NDArray[np.float32]) -> bytes:
    """One or more vectors as stored: little-endian float16, row after row."""
    return np.asarray(vector, dtype=_STORED).tobytes()
