"""Reading the text in a picture: RapidOCR's PP-OCR models from its wheel, on ONNX Runtime.

OCR runs on every picture at ingest, and most seized pictures hold no text, so the cost of
saying "nothing here" sets the price. Why it is built this way (2-core box, one ONNX Runtime
thread, ``.venv/bin/python -m bench.quality_text``):

* **Probe first.** The text detector (a DB segmentation net) is run once on the picture
  shrunk to :attr:`OcrOptions.probe_side` pixels on its longer side, which costs a few tens of
  milliseconds. When no blob of its probability map clears the detector's own threshold,
  we stop there; only pictures that pass pay for the full detector at
  :attr:`OcrOptions.det_side` and the recogniser. On the corpus photos the probe stops half
  of them and cuts the median CPU per photo from 225 ms (same settings, no probe) to 81 ms
  (420 ms with RapidOCR's defaults; ``--compare``). The price is small text that the probe
  misses and the full pass would have read: on 312 generated signs pasted on corpus photos
  (``--signs``), 84 % instead of 89 % of the words were read at font size 11 px (capitals
  8 px high), the same at 14 and 18 px, 94 % either way at 24 px. A probe at 320 px costs
  half as much but reads only 72-90 % of those words. Flat, featureless areas (plain
  colours, smooth gradients) make the detector fire, so such pictures pay for the full pass
  and get no text from it.
* **No upscaling.** RapidOCR's default scales the *shorter* side up to 736 px; the decoded
  pictures are already 512-1023 px on the shorter side, so the detector gets them at their
  own size (capped on the longer side), which halved its cost on generated signs (207
  against 430 ms CPU per picture without the probe) for a few of the smallest words.
* **No angle classifier.** It only flips upside-down lines, which signs and screens rarely
  are, and it costs a model run per line.
* **Models from the wheel only.** Every model path is given explicitly, so RapidOCR never
  takes its "download the default model" branch; a missing file is an error, not a fetch.
* **Lines below :attr:`OcrOptions.min_score` are dropped**: on textures, hair and foliage the
  recogniser returns short garbage, mostly with low confidence (two thirds of the garbage
  reads on the corpus photos scored 0.3-0.66; real words scored 0.74 and up). Some garbage
  scores higher ("23R", "ess"): text is evidence to be checked, not a verdict.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from vident.media.errors import MediaError

#: Model files shipped inside the rapidocr 3.10 wheel (``rapidocr/models``).
DET_MODEL: Final = "PP-OCRv6_det_small.onnx"
REC_MODEL: Final = "PP-OCRv6_rec_small.onnx"
CLS_MODEL: Final = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line of text: what it says, where (4 corner points, clockwise from top left, in
    full-image pixels) and the recogniser's confidence (0..1)."""

    text: str
    box: tuple[Point, Point, Point, Point]
    score: float


@dataclass(frozen=True, slots=True)
class OcrOptions:
    """The speed and accuracy knobs, with the values chosen on the shared corpus."""

    #: Longer side of the probe picture (the detector's "is there text at all" pass);
    #: 0 turns the probe off.
    probe_side: int = 480
    #: Probability above which a probe pixel counts as text (the detector's own ``thresh``).
    probe_thresh: float = 0.3
    #: Pixels a probe blob needs (in the probe picture) to count as text.
    probe_min_area: int = 6
    #: Longer side cap for the full detector pass.
    det_side: int = 1280
    #: "max": ``det_side`` caps the longer side; "min": the shorter side is scaled up to it.
    det_limit: str = "max"
    #: Recogniser confidence below which a line is dropped.
    min_score: float = 0.7


DEFAULT_OPTIONS: Final = OcrOptions()


def model_dir() -> Path:
    """The rapidocr wheel's model folder, found without importing rapidocr."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise MediaError("OCR unavailable: the rapidocr package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _model(name: str) -> Path:
    path = model_dir() / name
    if not path.is_file():
        raise MediaError(f"OCR unavailable: model {name} is missing from the rapidocr wheel")
    return path


def _session_options() -> Any:
    import onnxruntime  # type: ignore[import-untyped]

    options = onnxruntime.SessionOptions()
    # Ingest runs one worker process per core: more threads per worker only contend.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return options


@functools.cache
def _probe_session() -> Any:
    import onnxruntime

    return onnxruntime.InferenceSession(
        str(_model(DET_MODEL)), _session_options(), providers=["CPUExecutionProvider"]
    )


@functools.cache
def _engine(det_side: int, det_limit: str) -> Any:
    """RapidOCR configured for ingest; loaded once per process (per detector size)."""
    from rapidocr import RapidOCR
    from rapidocr.utils.log import logger as rapid_logger

    params: dict[str, Any] = {
        "Global.log_level": "error",
        "Global.use_cls": False,
        # RapidOCR's own floor; ours (OcrOptions.min_score) is applied afterwards.
        "Global.text_score": 0.3,
        "EngineConfig.onnxruntime.intra_op_num_threads": 1,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        "Det.model_path": str(_model(DET_MODEL)),
        "Det.limit_type": det_limit,
        "Det.limit_side_len": det_side,
        "Rec.model_path": str(_model(REC_MODEL)),
        "Cls.model_path": str(_model(CLS_MODEL)),
    }
    engine = RapidOCR(params=params)
    # "The text detection result is empty" is a normal answer here, not a warning.
    rapid_logger.setLevel(logging.ERROR)
    return engine


def _bgr(pixels: Image.Image) -> npt.NDArray[np.uint8]:
    rgb = np.asarray(pixels.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def has_text(pixels: Image.Image, options: OcrOptions = DEFAULT_OPTIONS) -> bool:
    """The detector's quick answer on a shrunk copy: could this picture hold any text?"""
    bgr = _bgr(pixels)
    height, width = bgr.shape[:2]
    ratio = min(1.0, options.probe_side / max(height, width))
    # The detector needs sides that are multiples of 32.
    new_h = max(32, round(height * ratio / 32) * 32)
    new_w = max(32, round(width * ratio / 32) * 32)
    small = cv2.resize(bgr, (new_w, new_h), interpolation=cv2.INTER_AREA)
    tensor = (small.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[np.newaxis]
    session = _probe_session()
    output = session.run(None, {session.get_inputs()[0].name: tensor})[0]
    mask = (np.asarray(output)[0, 0] > options.probe_thresh).astype(np.uint8)
    if int(mask.sum()) < options.probe_min_area:
        return False
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    areas = stats[1:count, cv2.CC_STAT_AREA]
    return bool((areas >= options.probe_min_area).any())


def _box(points: Any, scale_x: float, scale_y: float) -> tuple[Point, Point, Point, Point]:
    corners = [(round(float(x) * scale_x, 1), round(float(y) * scale_y, 1)) for x, y in points]
    return corners[0], corners[1], corners[2], corners[3]


def read_text(
    pixels: Image.Image,
    full_size: tuple[int, int] | None = None,
    options: OcrOptions = DEFAULT_OPTIONS,
) -> list[TextLine]:
    """Lines of text in reading order (top to bottom, left to right), boxes in full-image px.

    ``full_size`` is the stored picture's (width, height) when ``pixels`` is a reduced copy;
    boxes are scaled to it. Raises :class:`MediaError` when OCR itself fails.
    """
    if pixels.width < 8 or pixels.height < 8:
        return []
    rgb = pixels if pixels.mode == "RGB" else pixels.convert("RGB")
    scale_x = full_size[0] / rgb.width if full_size else 1.0
    scale_y = full_size[1] / rgb.height if full_size else 1.0
    try:
        if options.probe_side and not has_text(rgb, options):
            return []
        result = _engine(options.det_side, options.det_limit)(rgb)
        texts = getattr(result, "txts", None)
        boxes = getattr(result, "boxes", None)
        scores = getattr(result, "scores", None)
        if not texts or boxes is None or scores is None:
            return []
        lines = []
        for text, points, score in zip(texts, boxes, scores, strict=True):
            clean = " ".join(str(text).split())
            if clean and float(score) >= options.min_score:
                box = _box(points, scale_x, scale_y)
                lines.append(TextLine(clean, box, round(float(score), 4)))
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(f"OCR failed: {type(exc).__name__}: {exc}") from exc
    return lines
