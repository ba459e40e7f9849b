"""Computing picture kinds on one decoded picture, for ingest and for queries alike.

Ingest workers and query probes (``vident similar``, ``vident search``) call the same function,
so a query's values are comparable with the stored ones by construction.
"""

from __future__ import annotations

from collections.abc import Sequence

from vident.media.types import DecodedImage
from vident.signals.base import ImageSignal, SignalValue


def compute_image_signals(decoded: DecodedImage, kinds: Sequence[ImageSignal]) -> list[SignalValue]:
    """Every kind's value for one picture or keyframe (kinds with nothing to say are left out)."""
    values = []
    for kind in kinds:
        value = kind.compute(decoded)
        if value is not None:
            values.append(value)
    return values
