"""Text read in a picture (signs, screens, school names, packaging), for full-text search.

The value is the UTF-8 text, one recognised line per ``\\n`` line in reading order; ``detail``
keeps each line's box (full-image pixels) and confidence so that a hit can be shown where it
is. A picture where OCR ran and found nothing gets an empty value, so "looked, nothing there"
is stored and never recomputed. The store derives a ``media_text`` row from a non-empty value
(:mod:`vident.store.derived`), which the backend's full-text index covers.
"""

from __future__ import annotations

import functools
import logging
from importlib.metadata import PackageNotFoundError, version

from vident.media.errors import MediaError
from vident.media.ocr import TextLine, read_text
from vident.media.types import DecodedImage
from vident.signals.base import ImageSignal, MatchRule, SignalValue

log = logging.getLogger(__name__)


@functools.cache
def ocr_model() -> str:
    """Names the OCR behind the values: texts of different models are kept apart."""
    try:
        release = version("rapidocr")
    except PackageNotFoundError:
        release = "missing"
    return f"rapidocr-{release}-ppocrv6-small"


def _useful(line: TextLine) -> bool:
    """A lone character is almost always a false read of texture; nobody searches for one."""
    return sum(ch.isalnum() for ch in line.text) >= 2


class Text(ImageSignal):
    name = "text"
    version = 1
    match = MatchRule.STORED
    value_bytes = 0

    @property
    def model(self) -> str:
        return ocr_model()

    def compute(self, image: DecodedImage) -> SignalValue | None:
        try:
            lines = read_text(image.pixels, (image.width, image.height))
        except MediaError as exc:
            # The picture's other signals still count: leave text "not computed" instead.
            log.warning("no text signal: %s", exc)
            return None
        lines = [line for line in lines if _useful(line)]
        quality = round(100 * sum(ln.score for ln in lines) / len(lines)) if lines else None
        return SignalValue(
            kind=self.name,
            version=self.version,
            value="\n".join(line.text for line in lines).encode("utf-8"),
            quality=quality,
            model=self.model,
            detail={
                "lines": [
                    {"text": ln.text, "box": [list(p) for p in ln.box], "score": ln.score}
                    for ln in lines
                ]
            },
        )
