"""Near-duplicate lookup of binary codes (PDQ): which stored codes lie within a radius.

The index is a cache of the store: it maps 256-bit codes to int64 references (the store
decides what a reference means) and can always be rebuilt from the store, so it is saved as
a snapshot with the watermarks it reflects and simply rebuilt when the snapshot is missing
or damaged.

Two implementations answer the same :class:`BinaryIndex` protocol with identical results:

- :class:`NumpyBinaryIndex` scans every code (``np.bitwise_count`` over 64-bit words). It is
  the plain reference that the fast one is tested against, and the baseline it is measured
  against.
- :class:`FaissBinaryIndex` keeps the codes in a FAISS ``IndexBinaryFlat`` (exact k-nearest
  search, exact scans) and answers radius queries with multi-index hashing
  (:mod:`vident.index.mih`), which reads a few thousand candidates instead of every code and
  is still exact. Codes added since the last build are scanned flat until enough of them
  pile up, and a query whose buckets are crowded (skewed codes) is scanned flat too, so
  correctness never depends on the distribution, only speed does.
  ``bench/pdq_index.py`` measured the choice; see :class:`IndexTuning`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import faiss
import numpy as np
import numpy.typing as npt

from vident.index.buffer import GrowingArray
from vident.index.hamming import (
    Codes,
    Rows,
    Words,
    as_codes,
    as_refs,
    as_words,
    check_bits,
    check_radius,
    order_hits,
    pair_distances,
)
from vident.index.mih import MultiIndexHash
from vident.index.persist import CorruptSnapshot, Snapshot, read_snapshot, write_snapshot

log = logging.getLogger(__name__)

PDQ_BITS = 256


@dataclass(frozen=True, slots=True)
class Hit:
    """One stored code within reach of one query: ``query`` is the query's row number."""

    query: int
    ref: int
    distance: int


class BinaryIndex(Protocol):
    """What the matcher needs from a binary-code index."""

    bits: int

    def add(self, codes: npt.NDArray[np.uint8], refs: npt.NDArray[np.int64]) -> None:
        """Add codes (uint8, shape (n, bits // 8)) with their references (int64, (n,))."""
        ...

    def search_radius(self, queries: npt.NDArray[np.uint8], radius: int) -> list[Hit]:
        """Every stored code within ``radius`` bits (inclusive) of each query."""
        ...

    def search_knn(self, queries: npt.NDArray[np.uint8], k: int) -> list[list[Hit]]:
        """The ``k`` nearest stored codes of each query, nearest first."""
        ...

    def entries(self) -> tuple[Codes, Rows]:
        """Copies of all stored codes and references, in insertion order (for snapshots)."""
        ...

    def __len__(self) -> int: ...


def _hits(qids: Rows, refs: Rows, dists: Rows) -> list[Hit]:
    order = order_hits(qids, refs, dists)
    return [
        Hit(q, r, d)
        for q, r, d in zip(
            qids[order].tolist(), refs[order].tolist(), dists[order].tolist(), strict=True
        )
    ]


def _knn_lists(count: int, qids: Rows, refs: Rows, dists: Rows) -> list[list[Hit]]:
    """Hits grouped per query, each group sorted by distance then reference."""
    lists: list[list[Hit]] = [[] for _ in range(count)]
    for hit in _hits(qids, refs, dists):
        lists[hit.query].append(hit)
    return lists


def _check_k(k: int) -> int:
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return int(k)


class NumpyBinaryIndex:
    """Brute force: every query is compared with every stored code.

    The scan runs over column-major 64-bit words in blocks that stay in cache, adding
    byte-sized popcounts (which wrap only at 256 and are re-checked exactly). Simple enough
    to trust, which is its job: the reference for tests and the baseline for benchmarks.
    """

    SCAN_BLOCK = 65_536

    def __init__(self, bits: int = PDQ_BITS) -> None:
        self.bits = check_bits(bits)
        self._words = GrowingArray((bits // 64,), np.uint64)
        self._refs = GrowingArray((), np.int64)
        self._columns: Words | None = None

    def __len__(self) -> int:
        return len(self._refs)

    def add(self, codes: npt.NDArray[np.uint8], refs: npt.NDArray[np.int64]) -> None:
        checked = as_codes(codes, self.bits)
        checked_refs = as_refs(refs, len(checked))
        self._words.extend(as_words(checked))
        self._refs.extend(checked_refs)
        self._columns = None

    def entries(self) -> tuple[Codes, Rows]:
        words: Words = self._words.view
        return words.copy().view(np.uint8), self._refs.view.copy()

    def _column_words(self) -> Words:
        if self._columns is None:
            self._columns = np.ascontiguousarray(self._words.view.T)
        return self._columns

    def search_radius(self, queries: npt.NDArray[np.uint8], radius: int) -> list[Hit]:
        query_words = as_words(as_codes(queries, self.bits))
        radius = check_radius(radius)
        columns = self._column_words()
        found_q: list[Rows] = []
        found_rows: list[Rows] = []
        block = self.SCAN_BLOCK
        scratch = np.empty(block, dtype=np.uint64)
        total = np.empty(block, dtype=np.uint8)
        part = np.empty(block, dtype=np.uint8)
        for start in range(0, columns.shape[1], block):
            chunk = columns[:, start : start + block]
            width = chunk.shape[1]
            x, acc, cnt = scratch[:width], total[:width], part[:width]
            for qid, words in enumerate(query_words):
                np.bitwise_xor(chunk[0], words[0], out=x)
                np.bitwise_count(x, out=acc)
                for w in range(1, len(words)):
                    np.bitwise_xor(chunk[w], words[w], out=x)
                    np.bitwise_count(x, out=cnt)
                    np.add(acc, cnt, out=acc)
                rows = np.flatnonzero(acc <= radius)
                if len(rows):
                    found_q.append(np.full(len(rows), qid, dtype=np.int64))
                    found_rows.append(rows + start)
        if not found_rows:
            return []
        qids = np.concatenate(found_q)
        rows = np.concatenate(found_rows)
        dists = pair_distances(self._words.view, rows, query_words, qids)
        keep = dists <= radius
        return _hits(qids[keep], self._refs.view[rows[keep]], dists[keep])

    def search_knn(self, queries: npt.NDArray[np.uint8], k: int) -> list[list[Hit]]:
        query_words = as_words(as_codes(queries, self.bits))
        k = min(_check_k(k), len(self))
        if k == 0:
            return [[] for _ in range(len(query_words))]
        columns = self._column_words()
        refs = self._refs.view
        parts: list[tuple[Rows, Rows, Rows]] = []
        for qid, words in enumerate(query_words):
            dists = np.zeros(columns.shape[1], dtype=np.int64)
            for w, word in enumerate(words):
                dists += np.bitwise_count(columns[w] ^ word)
            nearest = np.argpartition(dists, k - 1)[:k]
            parts.append((np.full(k, qid, dtype=np.int64), refs[nearest], dists[nearest]))
        return _knn_lists(
            len(query_words),
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )


@dataclass(frozen=True)
class IndexTuning:
    """How :class:`FaissBinaryIndex` answers radius queries; defaults measured on this project's
    2-core machines (``python -m bench.pdq_index``).

    ``structure``: ``"mih"`` (multi-index hashing, the default: 4-20x the throughput of a
    flat scan at a million codes) or ``"flat"`` (FAISS exact scan of every code for every
    query; no tables, about 70 bytes per code less memory).
    ``mih_min_size``: below this many codes a flat scan is about as fast, and no tables are
    built. ``tail_limit``: codes added since the last build that are scanned flat before the
    tables are rebuilt at the next search (a rebuild costs about 0.6 s per million codes).
    ``scan_fraction``: a query whose estimated lookups plus candidates exceed this share of
    the indexed codes is scanned flat instead (crowded buckets from skewed codes): a
    candidate costs 50-100 ns, a code in a flat scan 2-3 ns, so break-even lies near 1/30.
    ``threads``: worker threads for the table lookups, 0 for FAISS's OpenMP setting.
    ``mih_width``: bits per hash-table chunk; None lets :func:`vident.index.mih.choose_width`
    pick it from the number of codes (wider chunks for bigger indexes, same memory).
    """

    structure: Literal["mih", "flat"] = "mih"
    mih_min_size: int = 32_768
    tail_limit: int = 16_384
    scan_fraction: float = 1 / 32
    threads: int = 0
    mih_width: int | None = None


MAX_FLIPS = 2
"""Beyond two flips per 16-bit chunk (radius >= 48 for PDQ) the tables read more than a
flat scan would; such radii are scanned flat."""


class FaissBinaryIndex:
    """The fast exact index: FAISS for storage, k-NN and scans; multi-index hashing for radii.

    Safe to share between threads: every call holds one lock (searches themselves run on
    several threads inside FAISS and the table lookups).
    """

    def __init__(self, bits: int = PDQ_BITS, tuning: IndexTuning | None = None) -> None:
        self.bits = check_bits(bits)
        self.tuning = tuning or IndexTuning()
        self._code_bytes = bits // 8
        self._all = faiss.IndexBinaryFlat(bits)
        self._tail = faiss.IndexBinaryFlat(bits)
        self._refs = GrowingArray((), np.int64)
        self._mih: MultiIndexHash | None = None
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._refs)

    @property
    def _threads(self) -> int:
        return self.tuning.threads or max(1, int(faiss.omp_get_max_threads()))

    @property
    def indexed(self) -> int:
        """Codes covered by the hash tables (the rest are scanned flat)."""
        return self._mih.size if self._mih is not None else 0

    @property
    def nbytes(self) -> int:
        """Memory held: codes, references, the tail copy and the hash tables."""
        with self._lock:
            tables = self._mih.nbytes if self._mih is not None else 0
            codes = (int(self._all.ntotal) + int(self._tail.ntotal)) * self._code_bytes
            return codes + self._refs.nbytes + tables

    def _codes(self) -> Codes:
        """All stored codes, viewed in place inside FAISS (valid until the next add)."""
        count = int(self._all.ntotal)
        if count == 0:
            return np.empty((0, self._code_bytes), dtype=np.uint8)
        storage: Any = self._all  # the stubs leave out IndexBinaryFlat.xb
        flat = faiss.rev_swig_ptr(storage.xb.data(), count * self._code_bytes)
        codes: Codes = np.asarray(flat, dtype=np.uint8).reshape(count, self._code_bytes)
        return codes

    def add(self, codes: npt.NDArray[np.uint8], refs: npt.NDArray[np.int64]) -> None:
        checked = as_codes(codes, self.bits)
        checked_refs = as_refs(refs, len(checked))
        if len(checked) == 0:
            return
        with self._lock:
            self._all.add(checked)
            if self.tuning.structure == "mih":
                self._tail.add(checked)
            self._refs.extend(checked_refs)

    def build(self) -> None:
        """(Re)build the hash tables over every stored code; later adds go to the flat tail.

        Searches build on their own when the tail grows past ``tail_limit``; calling this
        after a bulk load moves that cost out of the first query.
        """
        with self._lock:
            if self.tuning.structure != "mih" or len(self) < max(1, self.tuning.mih_min_size):
                return
            self._mih = MultiIndexHash(self._codes(), self.tuning.mih_width)
            self._tail.reset()

    def _maybe_build(self) -> None:
        if self._mih is None or len(self) - self._mih.size > self.tuning.tail_limit:
            self.build()

    def entries(self) -> tuple[Codes, Rows]:
        with self._lock:
            return self._codes().copy(), self._refs.view.copy()

    @staticmethod
    def _range(
        index: faiss.IndexBinaryFlat, queries: Codes, radius: int, offset: int
    ) -> tuple[Rows, Rows, Rows]:
        """FAISS range search made inclusive (FAISS keeps only distances < radius)."""
        if index.ntotal == 0 or len(queries) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        lims, dists, labels = index.range_search(queries, radius + 1)
        counts = np.diff(lims.astype(np.int64))
        qids = np.repeat(np.arange(len(queries), dtype=np.int64), counts)
        return qids, labels.astype(np.int64) + offset, dists.astype(np.int64)

    def search_radius(self, queries: npt.NDArray[np.uint8], radius: int) -> list[Hit]:
        checked = as_codes(queries, self.bits)
        radius = check_radius(radius)
        with self._lock:
            if len(self) == 0 or len(checked) == 0:
                return []
            self._maybe_build()
            parts = self._search_parts(checked, radius)
            qids = np.concatenate([p[0] for p in parts])
            rows = np.concatenate([p[1] for p in parts])
            dists = np.concatenate([p[2] for p in parts])
            return _hits(qids, self._refs.view[rows], dists)

    def _search_parts(self, queries: Codes, radius: int) -> list[tuple[Rows, Rows, Rows]]:
        mih = self._mih
        if mih is None or mih.flips(radius) > MAX_FLIPS:
            return [self._range(self._all, queries, radius, 0)]
        # Queries whose buckets would cost more than a flat scan come back unsearched.
        limit = self.tuning.scan_fraction * mih.size
        words = as_words(self._codes())
        found, scanned = mih.search_within(queries, words, radius, limit, threads=self._threads)
        parts: list[tuple[Rows, Rows, Rows]] = [found]
        hashed = np.setdiff1d(np.arange(len(queries)), scanned)
        if len(hashed):
            q, r, d = self._range(self._tail, queries[hashed], radius, mih.size)
            parts.append((hashed[q], r, d))
        if len(scanned):
            q, r, d = self._range(self._all, queries[scanned], radius, 0)
            parts.append((scanned[q], r, d))
        return parts

    def search_knn(self, queries: npt.NDArray[np.uint8], k: int) -> list[list[Hit]]:
        checked = as_codes(queries, self.bits)
        with self._lock:
            k = min(_check_k(k), len(self))
            if k == 0:
                return [[] for _ in range(len(checked))]
            dists, labels = self._all.search(checked, k)
            valid = labels >= 0
            qids = np.nonzero(valid)[0].astype(np.int64)
            rows = labels[valid].astype(np.int64)
            return _knn_lists(
                len(checked), qids, self._refs.view[rows], dists[valid].astype(np.int64)
            )


def save_index(index: BinaryIndex, directory: Path, meta: dict[str, int]) -> None:
    """Snapshot ``index`` with the store watermarks ``meta`` it reflects, atomically."""
    codes, refs = index.entries()
    write_snapshot(directory, Snapshot(bits=index.bits, codes=codes, refs=refs, meta=dict(meta)))


def load_index(
    directory: Path, bits: int = PDQ_BITS, tuning: IndexTuning | None = None
) -> tuple[FaissBinaryIndex, dict[str, int]] | None:
    """The saved index and its watermarks; None when absent or damaged (then rebuild)."""
    try:
        snapshot = read_snapshot(directory)
    except CorruptSnapshot as exc:
        log.warning("binary index snapshot in %s is unusable, rebuild it: %s", directory, exc)
        return None
    if snapshot is None:
        return None
    if snapshot.bits != bits:
        log.warning(
            "binary index snapshot in %s has %d-bit codes, not %d", directory, snapshot.bits, bits
        )
        return None
    index = FaissBinaryIndex(bits, tuning)
    index.add(snapshot.codes, snapshot.refs)
    index.build()
    return index, snapshot.meta
