"""Shared checks and exact Hamming arithmetic for the binary indexes.

Every index answers with exact distances, whatever structure found the candidates: the last
word on a match is always a popcount over the whole code, computed here once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Codes = npt.NDArray[np.uint8]
Words = npt.NDArray[np.uint64]
Rows = npt.NDArray[np.int64]

WORD_BITS = 64


def check_bits(bits: int) -> int:
    """Code length in bits; whole 64-bit words, so a code is a row of ``uint64``."""
    if bits <= 0 or bits % WORD_BITS:
        raise ValueError(f"code length must be a positive multiple of {WORD_BITS} bits, got {bits}")
    return bits


def as_codes(codes: npt.ArrayLike, bits: int) -> Codes:
    """Codes as a C-contiguous ``uint8`` array of shape (n, bits // 8).

    A single code (one row of bytes) is accepted as a batch of one. Anything else that does
    not have the exact byte width is refused: a truncated hash would silently match wrongly.
    """
    array = np.asarray(codes)
    if array.dtype != np.uint8:
        raise ValueError(f"codes must be uint8, got {array.dtype}")
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != bits // 8:
        raise ValueError(f"codes must have shape (n, {bits // 8}), got {array.shape}")
    return np.ascontiguousarray(array)


def as_refs(refs: npt.ArrayLike, count: int) -> Rows:
    """References as ``int64`` of shape (count,); only lossless integer input is accepted."""
    array = np.asarray(refs)
    if array.dtype.kind not in "iu" or not np.can_cast(array.dtype, np.int64):
        raise ValueError(f"refs must be int64 (or a narrower integer type), got {array.dtype}")
    if array.shape != (count,):
        raise ValueError(f"refs must have shape ({count},), got {array.shape}")
    return np.ascontiguousarray(array, dtype=np.int64)


def as_words(codes: Codes) -> Words:
    """The same bytes seen as 64-bit words, shape (n, bits // 64), without a copy."""
    return codes.view(np.uint64)


def check_radius(radius: int) -> int:
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    return int(radius)


def pair_distances(stored: Words, rows: Rows, queries: Words, qids: Rows) -> Rows:
    """Exact distances between ``stored[rows[i]]`` and ``queries[qids[i]]`` for every i."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    diff = np.take(stored, rows, axis=0) ^ np.take(queries, qids, axis=0)
    dists: Rows = np.bitwise_count(diff).sum(axis=1, dtype=np.int64)
    return dists


def order_hits(qids: Rows, refs: Rows, dists: Rows) -> Rows:
    """Permutation that sorts hits by query, then distance, then reference (deterministic)."""
    return np.lexsort((refs, dists, qids))
