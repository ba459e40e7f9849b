"""PDQ, the perceptual hash of python-threatexchange and the Java and C++ references.

Computed by the PyPI ``pdqhash`` package on the draft-decoded picture (see
:mod:`vident.media.image`). The value is the 256-bit hash, packed most significant bit first
so that its hex form equals the reference implementations'. All eight rotations and flips are
computed at once (``compute_dihedral``) and kept as query variants: a rotated or mirrored copy
then finds its original without any extra decode.
"""

from __future__ import annotations

import numpy as np
import pdqhash

from vident.media.bits import pack_bits
from vident.media.types import DecodedImage
from vident.signals.base import ImageSignal, MatchRule, SignalValue


class Pdq(ImageSignal):
    name = "pdq"
    version = 1
    match = MatchRule.NEAR
    value_bytes = 32
    threshold = 31
    min_quality = 50

    def compute(self, image: DecodedImage) -> SignalValue | None:
        pixels = np.asarray(image.pixels.convert("RGB"))
        hashes, quality = pdqhash.compute_dihedral(pixels)
        packed = [pack_bits(h) for h in hashes]
        return SignalValue(
            kind=self.name,
            version=self.version,
            value=packed[0],
            quality=int(quality),
            variants=tuple(packed[1:]),
        )
