"""Packing hash bits into bytes, shared by the picture hash and the video frame hashes.

It lives with media, below the signals, because video keyframe hashing (media) and the PDQ
signal (signals) must pack bits identically and media may not import signals.
"""

from __future__ import annotations

import numpy as np


def pack_bits(bits: np.ndarray) -> bytes:
    """256 0/1 integers, most significant first, into 32 bytes."""
    return bytes(np.packbits(bits.astype(np.uint8)).tobytes())
