"""Choosing the face model from one configuration string.

``"facenet"`` (the default), ``"dlib"``, or the path of an ONNX embedder, optionally with
its preprocessing as a query string::

    /models/arcface_r100.onnx?size=112&mean=127.5&std=127.5&order=rgb&threshold=0.3

``mean`` and ``std`` take one number or three (``mean=123.7,116.3,103.5``); ``threshold`` is
the cosine similarity from which two faces are reported as one person (measure it on your
data with ``python -m bench.quality_faces PATH``).

Why FaceNet is the default (``.venv/bin/python -m bench.quality_faces``, shared corpus):
both backends separate every same/different pair of ``faces/pairs.csv`` (TAR 100% at FAR
1%, ROC AUC 1.0) and pass the degraded-search target, but MTCNN + FaceNet finds more of
the faces there are (84 against 71 in the corpus, 3 of the extra ones false: background,
turned and small faces that HOG misses), ranks harder degradations better (1/8 size: 96%
against 91% top-1; blur of radius 1/130: 98% against 96%; quarter size at JPEG 10: 95%
against 93%) and was a little faster per picture (336 against 399 ms, median of 5 on a
busy 2-core machine). dlib's 128-d vectors are a quarter of the size, which is why it
stays available.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs

from vident.media.faces.base import FaceModel

if TYPE_CHECKING:  # imported lazily at run time: onnxruntime is not needed for the others
    from vident.media.faces.onnx_model import OnnxSpec

DEFAULT_FACE_MODEL: Final = "facenet"
_ONNX_KEYS: Final = frozenset({"size", "mean", "std", "order", "threshold"})

#: The face model of this process, set from the settings by :func:`use_face_model` (the
#: command line does it at start through :func:`vident.media.runtime.keep_inside`; ingest
#: workers in their initialisation). Never read from the environment here.
_configured: str = DEFAULT_FACE_MODEL


@functools.cache
def load_face_model(spec: str) -> FaceModel:
    """The model named by ``spec``, one instance per process (weights load on first use).

    Raises ValueError for an unknown name, a missing file or bad preprocessing parameters.
    """
    text = spec.strip()
    if text.lower() == "facenet":
        from vident.media.faces.facenet_model import FacenetModel

        return FacenetModel()
    if text.lower() == "dlib":
        from vident.media.faces.dlib_model import DlibModel

        return DlibModel()
    from vident.media.faces.onnx_model import OnnxModel

    return OnnxModel(parse_onnx_spec(text))


def parse_onnx_spec(text: str) -> OnnxSpec:
    """``PATH.onnx[?size=..&mean=..&std=..&order=rgb|bgr&threshold=..]`` to an OnnxSpec."""
    from vident.media.faces.onnx_model import OnnxSpec

    path_text, _, query = text.partition("?")
    path = Path(path_text).expanduser()
    if path.suffix.lower() != ".onnx":
        raise ValueError(
            f"face model must be 'facenet', 'dlib' or the path of a .onnx file, not {text!r}"
        )
    try:
        params = {k: v[-1] for k, v in parse_qs(query, strict_parsing=bool(query)).items()}
    except ValueError as exc:
        raise ValueError(f"bad face model parameters {query!r}: {exc}") from exc
    unknown = set(params) - _ONNX_KEYS
    if unknown:
        raise ValueError(
            f"unknown face model parameter(s) {sorted(unknown)}; known: {sorted(_ONNX_KEYS)}"
        )
    try:
        spec = OnnxSpec(path=path)
        return OnnxSpec(
            path=path,
            size=int(params.get("size", spec.size)),
            mean=_triple(params["mean"]) if "mean" in params else spec.mean,
            std=_triple(params["std"]) if "std" in params else spec.std,
            order=params.get("order", spec.order).lower(),
            threshold=float(params.get("threshold", spec.threshold)),
        )
    except ValueError as exc:
        raise ValueError(f"bad face model parameters {query!r}: {exc}") from exc


def _triple(text: str) -> tuple[float, float, float]:
    values = [float(v) for v in text.split(",")]
    if len(values) == 1:
        return (values[0], values[0], values[0])
    if len(values) == 3:
        return (values[0], values[1], values[2])
    raise ValueError(f"expected one or three numbers, got {text!r}")


def use_face_model(spec: str) -> str:
    """Make ``spec`` (the ``face_model`` setting) this process's face model; returns the
    previous one, so a caller can put it back. A blank spec means the default model.

    The model itself loads on first use, and a bad spec raises ValueError there.
    """
    global _configured
    previous = _configured
    _configured = spec.strip() or DEFAULT_FACE_MODEL
    return previous


def configured_face_model() -> FaceModel:
    """The model given to :func:`use_face_model`, else :data:`DEFAULT_FACE_MODEL`."""
    return load_face_model(_configured)
