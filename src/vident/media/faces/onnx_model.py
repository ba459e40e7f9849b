"""A user-supplied ONNX face embedder (e.g. an ArcFace export) behind the FaceModel interface.

Faces are found by MTCNN (:mod:`vident.media.faces.mtcnn`), whose five landmarks are the ones
ArcFace-style models are aligned with: each face is warped onto insightface's 112 px template
(:data:`~vident.media.faces.align.ARCFACE_112`, scaled to ``size``), converted to the model's
channel order, scaled as ``(pixel - mean) / std`` and fed in NCHW or NHWC as the model's
input shape says. The first output, L2-normalised, is the embedding.

The model's name carries a short SHA-256 of the file and the preprocessing, so vectors from
another file or another normalisation are never compared with these.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped]

from vident.media.errors import MediaError
from vident.media.faces.align import ARCFACE_112, warp
from vident.media.faces.base import FaceModel, FaceResult, RgbArray, l2_normalise, rgb_array
from vident.media.faces.facenet_model import mtcnn_results
from vident.media.faces.mtcnn import Mtcnn
from vident.media.types import DecodedImage


@dataclass(frozen=True, slots=True)
class OnnxSpec:
    """Where the model is and how its input is prepared (insightface ArcFace defaults)."""

    path: Path
    size: int = 112
    mean: tuple[float, float, float] = (127.5, 127.5, 127.5)
    std: tuple[float, float, float] = (127.5, 127.5, 127.5)
    order: str = "rgb"  # or "bgr"
    #: Same-person cosine: a common starting point for ArcFace-style models, to be measured
    #: on the user's own data (``python -m bench.quality_faces PATH``).
    threshold: float = 0.35

    def __post_init__(self) -> None:
        if self.order not in {"rgb", "bgr"}:
            raise ValueError(f"channel order must be rgb or bgr, not {self.order!r}")
        if not 16 <= self.size <= 1024:
            raise ValueError(f"input size must be 16 to 1024 px, not {self.size}")
        if any(s == 0 for s in self.std):
            raise ValueError("std must not be 0")
        if not -1.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold is a cosine between -1 and 1, not {self.threshold}")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fmt(values: tuple[float, float, float]) -> str:
    return ",".join(f"{v:g}" for v in values) if len(set(values)) > 1 else f"{values[0]:g}"


class OnnxModel(FaceModel):
    """MTCNN + ArcFace-style alignment + the user's embedder."""

    def __init__(self, spec: OnnxSpec) -> None:
        if not spec.path.is_file():
            raise ValueError(f"face model file not found: {spec.path}")
        self.spec = spec
        self.detector = Mtcnn()
        self._sha = file_sha256(spec.path)

    @property
    def name(self) -> str:
        s = self.spec
        return f"onnx-{self._sha[:12]}-{s.size}-{_fmt(s.mean)}-{_fmt(s.std)}-{s.order}"

    @property
    def dim(self) -> int:
        return self._layout[2]

    @property
    def min_similarity(self) -> float:
        return self.spec.threshold

    @functools.cached_property
    def _session(self) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one ingest worker per core
        try:
            return ort.InferenceSession(
                str(self.spec.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ValueError(f"cannot load face model {self.spec.path}: {exc}") from exc

    @functools.cached_property
    def _layout(self) -> tuple[bool, bool, int]:
        """(channels first, batches allowed, output length), read from the model itself."""
        inp = self._session.get_inputs()[0]
        shape = list(inp.shape)
        if len(shape) != 4:
            raise ValueError(f"face model input must be 4-d (NCHW or NHWC), got {shape}")
        channels_first = shape[1] == 3 or shape[3] != 3  # NCHW unless it is plainly NHWC
        sides = shape[2:] if channels_first else shape[1:3]
        if any(isinstance(side, int) and side != self.spec.size for side in sides):
            raise ValueError(
                f"face model input is {shape} but size={self.spec.size} was configured"
            )
        batches = not isinstance(shape[0], int) or shape[0] != 1
        probe = self._run(
            np.zeros((1, self.spec.size, self.spec.size, 3), np.uint8), channels_first
        )
        return channels_first, batches, int(probe.shape[1])

    def _run(self, crops: RgbArray, channels_first: bool) -> npt.NDArray[np.float32]:
        s = self.spec
        pixels = crops[..., ::-1] if s.order == "bgr" else crops
        mean, std = np.asarray(s.mean, np.float32), np.asarray(s.std, np.float32)
        batch = ((pixels.astype(np.float32) - mean) / std).astype(np.float32)
        if channels_first:
            batch = batch.transpose(0, 3, 1, 2)
        name = self._session.get_inputs()[0].name
        out = self._session.run(None, {name: np.ascontiguousarray(batch, dtype=np.float32)})[0]
        return np.asarray(out, dtype=np.float32).reshape(len(crops), -1)

    def embed_crops(self, crops: list[RgbArray]) -> npt.NDArray[np.float32]:
        """L2-normalised embeddings of aligned ``size`` x ``size`` RGB crops."""
        channels_first, batches, _ = self._layout
        stacked = np.stack(crops)
        if batches:
            return l2_normalise(self._run(stacked, channels_first))
        return l2_normalise(np.concatenate([self._run(c[None], channels_first) for c in stacked]))

    def detect_and_embed(self, image: DecodedImage) -> FaceResult:
        rgb, scale = rgb_array(image)
        template = ARCFACE_112 * (self.spec.size / 112.0)
        _ = self._layout  # a model that cannot load is a configuration error: ValueError
        try:
            found = self.detector.detect(rgb)
            if not found:
                return []
            crops = [warp(rgb, f.landmarks, template, self.spec.size) for f in found]
            vectors = self.embed_crops(crops)
        except MediaError:
            raise
        except Exception as exc:  # onnxruntime's own types; ingest must go on regardless
            raise MediaError(f"face model failed: {exc}") from exc
        return mtcnn_results(rgb, scale, found, vectors)
