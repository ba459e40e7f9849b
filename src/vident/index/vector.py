"""Nearest-neighbour search over float embeddings (faces, scenes) by cosine similarity.

Vectors are L2-normalised ``float32`` rows, so cosine similarity is their inner product. The
index is a cache of the store: it maps vectors to int64 store row ids and is rebuilt from the
store whenever its snapshot is missing or damaged.

It has two forms, chosen by size (``bench/vector_index.py`` measured both):

- **exact** up to ``exact_max`` vectors: every query is compared with every vector, batches
  by matrix products in NumPy, one to three queries by FAISS's single-threaded loop. FAISS's
  flat index would do the same sums, but FAISS 1.15 only uses BLAS for batches of about
  ``128000 / dim`` queries or more; the 16-256-query batches ingest sends ran 3-8x slower
  through its own loop than through NumPy's BLAS.
- **approximate** above it: a FAISS inverted file (``IndexIVFScalarQuantizer``, float16 codes,
  no residuals). The vectors are split into ``nlist`` clusters by spherical k-means and a query
  scans the ``nprobe`` clusters nearest to it. float16 halves the memory of float32 without a
  measurable loss of recall (similarities move by about 1e-4). HNSW was measured too: no better
  recall per query time on clustered embeddings, 5-10x the build time on two cores, and 256
  bytes of links per vector.

``nprobe`` is not a constant: whenever the clusters are trained, the index measures its own
recall@10 against exact search, with 256 of its stored vectors as queries, and keeps the
smallest ``nprobe`` that reaches :data:`RECALL_TARGET` plus a margin. Real embeddings are
clustered in ways a synthetic benchmark can only approximate, so the recall promise is checked
on the real data. Vectors with no close neighbours at all (uniform noise) need most clusters
scanned to rank their far-away "neighbours" exactly; the calibration then picks a large
``nprobe`` and the index becomes as slow as exact search rather than wrong.

The clusters are trained when the index outgrows ``exact_max`` and again each time it grows
:data:`GROWTH`-fold (``nlist`` follows the square root of the size), so total training work
stays proportional to the final size. Training reads the vectors back from the index in
chunks: a million 1280-d vectors never need a float32 copy in memory.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from vident.index.buffer import GrowingArray
from vident.index.hamming import as_refs
from vident.index.persist import CorruptSnapshot, _fsync_directory

Vectors = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]

#: Sizes up to this stay exact; measured with ``python -m bench.vector_index`` (the crossover
#: where the inverted file becomes clearly faster, on clustered data, at recall@10 >= 0.95).
EXACT_MAX = 10_000
#: recall@10 against exact search promised for queries that have neighbours among the data.
RECALL_TARGET = 0.95
#: Calibration aims this much higher: its estimate comes from a few hundred queries, new
#: queries score about 0.01 below stored ones, and the index grows after it is calibrated.
CALIBRATION_MARGIN = 0.02
#: Retrain the clusters when the index has doubled since the last training: lists then hold at
#: most twice the vectors they were calibrated for, and all trainings together cost about twice
#: the last one.
GROWTH = 2
#: Training vectors per cluster (FAISS warns below 39; more costs time, not recall).
TRAIN_PER_LIST = 40
#: Stored vectors used as queries when calibrating ``nprobe``.
CALIBRATION_QUERIES = 256
#: Neighbours that recall is measured over.
CALIBRATION_K = 10
#: Rows read back or scanned at once: bounds the temporary memory of training and search.
CHUNK_ROWS = 65_536
#: Batches smaller than this are searched exactly one query at a time by FAISS's own loop on
#: one thread: a matrix-vector product through BLAS wakes its threads for little work, and on
#: a loaded two-core machine one of them waits for a core (single queries measured 8-24 ms
#: instead of 0.1-0.5 ms at 5,000-20,000 x 128).
SERIAL_QUERIES = 4
#: Scores computed at once by an exact search (floats): 16 MB, whatever the batch size.
SCORE_BUDGET = 1 << 22
FORMAT_VERSION = 1
_MEMBERS = frozenset({"header", "ids", "payload", "meta_keys", "meta_values"})
_DIGEST = "digest"
_EXACT, _IVF = 0, 1


class IndexCorrupt(CorruptSnapshot):
    """A saved vector index exists but cannot be trusted: rebuild it from the store."""


@dataclass(frozen=True, slots=True)
class VectorHit:
    """One stored vector found for a query: its store row id and cosine similarity."""

    id: int
    score: float


def _as_vectors(vectors: npt.ArrayLike, dim: int) -> Vectors:
    """Finite, non-zero rows of length ``dim`` as L2-normalised C-contiguous float32.

    One vector alone is accepted as a batch of one. The rows are normalised here (a copy)
    because the inner product is only cosine similarity for unit vectors; a zero or
    non-finite row has no direction and is refused.
    """
    array = np.asarray(vectors)
    if array.dtype.kind != "f":
        raise ValueError(f"vectors must be floating point, got {array.dtype}")
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != dim:
        raise ValueError(f"vectors must have shape (n, {dim}), got {array.shape}")
    out = np.array(array, dtype=np.float32, order="C", copy=True)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ValueError("vectors must be finite and non-zero")
    out /= norms
    return out


def nlist_for(count: int) -> int:
    """Clusters for ``count`` vectors: the power of two nearest to sqrt(count), with at least
    :data:`TRAIN_PER_LIST` training vectors per cluster.

    More clusters make each query cheaper but training and adding dearer (both scale with
    ``count * nlist * dim``); near the square root the two balance on a two-core machine.
    """
    if count < 2 * TRAIN_PER_LIST:
        return 1
    nearest = 2 ** round(math.log2(math.sqrt(count)))
    most = 2 ** int(math.log2(count // TRAIN_PER_LIST))
    return int(max(1, min(nearest, most)))


class _TopK:
    """The ``k`` best (score, row) pairs per query, merged block by block."""

    def __init__(self, count: int, k: int) -> None:
        self.k = k
        self.scores = np.full((count, 0), -np.inf, dtype=np.float32)
        self.rows = np.zeros((count, 0), dtype=np.int64)

    def merge(self, scores: Vectors, rows: Rows) -> None:
        scores = np.concatenate([self.scores, scores], axis=1)
        rows = np.concatenate([self.rows, rows], axis=1)
        if scores.shape[1] > self.k:
            keep = np.argpartition(-scores, self.k - 1, axis=1)[:, : self.k]
            scores = np.take_along_axis(scores, keep, axis=1)
            rows = np.take_along_axis(rows, keep, axis=1)
        self.scores, self.rows = scores, rows


def exact_search(
    chunks: Iterator[tuple[int, Vectors]], queries: Vectors, k: int, skip: Rows | None = None
) -> tuple[Vectors, Rows]:
    """Exact top-``k`` by inner product over row blocks; rows ``skip[i]`` are left out for
    query ``i`` (a stored vector used as a query must not find itself)."""
    top = _TopK(len(queries), k)
    for start, block in chunks:
        scores = queries @ block.T
        if skip is not None:
            inside = (skip >= start) & (skip < start + len(block))
            scores[np.flatnonzero(inside), skip[inside] - start] = -np.inf
        rows = np.broadcast_to(np.arange(start, start + len(block), dtype=np.int64), scores.shape)
        if scores.shape[1] > k:
            keep = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            scores = np.take_along_axis(scores, keep, axis=1)
            rows = np.take_along_axis(rows, keep, axis=1)
        top.merge(scores, np.ascontiguousarray(rows))
    return top.scores, top.rows


def _serial_search(stored: Vectors, queries: Vectors, k: int) -> tuple[Vectors, Rows]:
    """Exact top-``k`` of a few queries, each on one thread (see :data:`SERIAL_QUERIES`)."""
    scores = np.empty((len(queries), k), dtype=np.float32)
    rows = np.empty((len(queries), k), dtype=np.int64)
    for i in range(len(queries)):
        found = faiss.knn(queries[i : i + 1], stored, k, metric=faiss.METRIC_INNER_PRODUCT)
        scores[i], rows[i] = found[0][0], found[1][0]
    return scores, rows


def _block_rows(queries: int) -> int:
    """Stored rows per block of an exact search, so that its scores fit :data:`SCORE_BUDGET`."""
    return max(1024, min(CHUNK_ROWS, SCORE_BUDGET // max(1, queries)))


class VectorIndex:
    """Cosine-similarity search over stored embeddings, exact while small (see module doc).

    Ids are the caller's (store row ids, any int64, any order, each added once). Safe to
    share between threads: every call holds one lock.
    """

    def __init__(self, dim: int, *, exact_max: int = EXACT_MAX) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        if exact_max < 0:
            raise ValueError(f"exact_max must be >= 0, got {exact_max}")
        self.dim = int(dim)
        self.exact_max = int(exact_max)
        self._ids = GrowingArray((), np.int64)
        self._flat: GrowingArray | None = GrowingArray((self.dim,), np.float32)
        self._ivf: Any = None  # faiss.IndexIVFScalarQuantizer once trained
        self._trained_at = 0
        self._lock = threading.RLock()
        #: The caller's bookkeeping, saved and loaded with the index in the same file (for the
        #: store watermarks it reflects, so that index and watermarks never disagree).
        self.meta: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def exact(self) -> bool:
        """True while searches compare every stored vector."""
        return self._ivf is None

    @property
    def nlist(self) -> int:
        """Clusters of the inverted file (0 while exact)."""
        return 0 if self._ivf is None else int(self._ivf.nlist)

    @property
    def nprobe(self) -> int:
        """Clusters scanned per query, as calibrated (0 while exact)."""
        return 0 if self._ivf is None else int(self._ivf.nprobe)

    @property
    def trained_size(self) -> int:
        """How many vectors the index held when its clusters were last trained (0: exact)."""
        return 0 if self._ivf is None else self._trained_at

    @property
    def nbytes(self) -> int:
        """Memory held by vectors, codes, ids and centroids (not allocator slack)."""
        with self._lock:
            if self._flat is not None:
                return self._flat.nbytes + self._ids.nbytes
            codes = int(self._ivf.ntotal) * (int(self._ivf.code_size) + 8)  # + FAISS's ids
            centroids = int(self._ivf.nlist) * self.dim * 4
            return codes + centroids + self._ids.nbytes

    def add(self, ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        """Add vectors with their store ids; may train (or retrain) the clusters."""
        checked = _as_vectors(vectors, self.dim)
        checked_ids = as_refs(ids, len(checked))
        if len(checked) == 0:
            return
        with self._lock:
            if self._flat is not None:
                self._flat.extend(checked)
                self._ids.extend(checked_ids)
                if len(self) > self.exact_max:
                    self._train()
            else:
                self._ivf.add(checked)  # FAISS numbers them ntotal, ntotal + 1, ...: our rows
                self._ids.extend(checked_ids)
                if len(self) >= GROWTH * self._trained_at:
                    self._train()

    def _chunks(self, size: int = CHUNK_ROWS) -> Iterator[tuple[int, Vectors]]:
        """Every stored vector, in row order, ``size`` rows at a time (float16 decoded)."""
        count = len(self)
        for start in range(0, count, size):
            stop = min(count, start + size)
            if self._flat is not None:
                yield start, self._flat.view[start:stop]
            else:
                yield start, self._ivf.reconstruct_n(start, stop - start)

    def _gather(self, rows: Rows) -> Vectors:
        """The stored vectors of sorted ``rows``, read chunk by chunk."""
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        for start, block in self._chunks():
            lo, hi = np.searchsorted(rows, [start, start + len(block)])
            out[lo:hi] = block[rows[lo:hi] - start]
        return out

    def _train(self) -> None:
        """Cluster every stored vector anew, re-add them all and calibrate ``nprobe``.

        Three passes over the stored vectors, a chunk at a time: one for the training sample
        and the calibration queries, then k-means on the sample, then one that adds each chunk
        to the new index while it scores the calibration queries against it (exactly).
        """
        count = len(self)
        nlist = nlist_for(count)
        rng = np.random.default_rng(count)
        sample = rng.choice(count, size=min(count, TRAIN_PER_LIST * nlist), replace=False)
        probes = np.sort(rng.choice(count, size=min(count, CALIBRATION_QUERIES), replace=False))
        wanted = np.union1d(sample, probes)
        gathered = self._gather(wanted)
        quantizer: Any = faiss.IndexFlatIP(self.dim)
        ivf = faiss.IndexIVFScalarQuantizer(
            quantizer,
            self.dim,
            nlist,
            faiss.ScalarQuantizer.QT_fp16,
            faiss.METRIC_INNER_PRODUCT,
            False,  # codes are the vectors themselves, not residuals: cheaper to scan
        )
        quantizer.this.disown()
        ivf.own_fields = True
        ivf.cp.spherical = True  # centroids on the unit sphere, as the data are
        ivf.train(gathered[np.searchsorted(wanted, np.sort(sample))])
        queries = gathered[np.searchsorted(wanted, probes)]
        del gathered

        def added(chunks: Iterator[tuple[int, Vectors]]) -> Iterator[tuple[int, Vectors]]:
            for start, block in chunks:
                ivf.add(block)  # in row order, so FAISS numbers them by row
                yield start, block

        k = min(CALIBRATION_K, count - 1)
        chunks = added(self._chunks(_block_rows(len(queries))))
        truth_scores, truth = exact_search(chunks, queries, max(k, 1), skip=probes)
        if k == 0:  # one vector: nothing to calibrate against
            truth_scores, truth = truth_scores[:, :0], truth[:, :0]
        ivf.nprobe = self._calibrate(ivf, queries, truth, truth_scores)
        self._ivf = ivf
        self._flat = None
        self._trained_at = count

    @staticmethod
    def _calibrate(ivf: Any, queries: Vectors, truth: Rows, truth_scores: Vectors) -> int:
        """The smallest ``nprobe`` at which ``queries`` find the target share of their exact
        top-k (``truth``, rows; -inf scores mark no neighbour).

        A true neighbour is found exactly when its cluster is among the ``nprobe`` nearest to
        the query (inside the scanned clusters it is in the top k of all candidates), so one
        ranking of every cluster per query gives the recall of every ``nprobe`` at once, at
        the cost of one query against ``nlist`` centroids instead of a search per setting.
        """
        nlist = int(ivf.nlist)
        valid = np.isfinite(truth_scores)
        if not valid.any():
            return 1
        list_of = np.empty(int(ivf.ntotal), dtype=np.int64)
        invlists = ivf.invlists
        for cluster in range(nlist):
            size = int(invlists.list_size(cluster))
            if size:
                list_of[faiss.rev_swig_ptr(invlists.get_ids(cluster), size)] = cluster
        _, order = ivf.quantizer.search(queries, nlist)
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(nlist)[None, :], axis=1)
        needed = np.take_along_axis(rank, list_of[truth], axis=1)[valid]  # nprobe - 1 for each
        aim = RECALL_TARGET + CALIBRATION_MARGIN
        index = min(len(needed) - 1, math.ceil(aim * len(needed)) - 1)
        return int(np.sort(needed)[index]) + 1

    def _search_rows(self, queries: Vectors, k: int) -> tuple[Vectors, Rows]:
        """Best ``k`` (score, row) per query; rows -1 where fewer exist. Caller holds the lock."""
        if self._flat is None:
            scores, rows = self._ivf.search(queries, k)
            return scores, rows.astype(np.int64, copy=False)
        if len(queries) < SERIAL_QUERIES:
            return _serial_search(self._flat.view, queries, k)
        return exact_search(self._chunks(_block_rows(len(queries))), queries, k)

    def _hits(self, scores: Vectors, rows: Rows, min_score: float) -> list[list[VectorHit]]:
        """Per query: hits with score >= ``min_score``, best first, ties by id."""
        ids = self._ids.view
        out: list[list[VectorHit]] = []
        for row_scores, row_rows in zip(scores, rows, strict=True):
            valid = (row_rows >= 0) & (row_scores >= min_score)
            hit_ids = ids[row_rows[valid]]
            hit_scores = row_scores[valid]
            order = np.lexsort((hit_ids, -hit_scores))
            out.append(
                [
                    VectorHit(i, s)
                    for i, s in zip(
                        hit_ids[order].tolist(), hit_scores[order].tolist(), strict=True
                    )
                ]
            )
        return out

    def search(self, queries: npt.NDArray[np.float32], k: int) -> list[list[VectorHit]]:
        """The ``k`` most similar stored vectors of each query, most similar first."""
        return self._search(queries, k, -math.inf)

    def search_range(
        self, queries: npt.NDArray[np.float32], min_score: float, k_max: int = 1000
    ) -> list[list[VectorHit]]:
        """Every stored vector with similarity >= ``min_score`` to each query, best first,
        at most ``k_max`` per query (the ``k_max`` best when more qualify)."""
        return self._search(queries, k_max, float(min_score))

    def _search(
        self, queries: npt.NDArray[np.float32], k: int, min_score: float
    ) -> list[list[VectorHit]]:
        checked = _as_vectors(queries, self.dim)
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        with self._lock:
            k = min(int(k), len(self))
            if k == 0 or len(checked) == 0:
                return [[] for _ in range(len(checked))]
            scores, rows = self._search_rows(checked, k)
            return self._hits(scores, rows, min_score)

    def save(self, path: Path) -> None:
        """Write the index and :attr:`meta` to ``path`` atomically, with a SHA-256 over the
        contents so that :meth:`load` can tell a damaged file (see :func:`write_snapshot`)."""
        with self._lock:
            mode = _EXACT if self._flat is not None else _IVF
            header = [FORMAT_VERSION, self.dim, self.exact_max, mode, self._trained_at]
            keys = list(self.meta)
            for key, value in self.meta.items():
                if not isinstance(key, str) or type(value) is not int:
                    raise ValueError(f"meta must map str to int, got {key!r}: {value!r}")
            arrays: dict[str, npt.NDArray[Any]] = {
                "header": np.array(header, dtype=np.int64),
                "ids": self._ids.view,
                "payload": (
                    self._flat.view if self._flat is not None else faiss.serialize_index(self._ivf)
                ),
                "meta_keys": np.array(keys, dtype=np.str_),
                "meta_values": np.array([self.meta[k] for k in keys], dtype=np.int64),
            }
            write_snapshot(path, arrays)

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        """The index saved at ``path``, :attr:`meta` included; :class:`IndexCorrupt` if the file
        cannot be trusted (then rebuild from the store), ``FileNotFoundError`` if there is none.
        """
        arrays = read_snapshot(path, _MEMBERS)
        header, ids, payload = arrays["header"], arrays["ids"], arrays["payload"]
        keys, values = arrays["meta_keys"], arrays["meta_values"]
        if header.dtype != np.int64 or header.shape != (5,) or int(header[0]) != FORMAT_VERSION:
            raise IndexCorrupt("unknown format")
        _, dim, exact_max, mode, trained_at = (int(v) for v in header.tolist())
        if dim <= 0 or exact_max < 0 or mode not in (_EXACT, _IVF):
            raise IndexCorrupt("bad header")
        if ids.dtype != np.int64 or ids.ndim != 1:
            raise IndexCorrupt(f"bad ids array {ids.dtype} {ids.shape}")
        if keys.dtype.kind != "U" or values.dtype != np.int64 or keys.shape != values.shape:
            raise IndexCorrupt("bad meta arrays")
        index = cls(dim, exact_max=exact_max)
        index.meta = dict(zip(keys.tolist(), values.tolist(), strict=True))
        index._ids.extend(ids)
        if mode == _EXACT:
            if payload.dtype != np.float32 or payload.shape != (len(ids), dim):
                raise IndexCorrupt(f"bad vectors {payload.dtype} {payload.shape}")
            flat = GrowingArray((dim,), np.float32, capacity=len(ids))
            flat.extend(payload)
            index._flat = flat
            return index
        try:
            ivf = faiss.deserialize_index(payload)
        except RuntimeError as exc:
            raise IndexCorrupt(f"bad FAISS index: {exc}") from exc
        if not isinstance(ivf, faiss.IndexIVFScalarQuantizer) or ivf.d != dim:
            raise IndexCorrupt("FAISS index of the wrong kind or dimension")
        if int(ivf.ntotal) != len(ids):
            raise IndexCorrupt(f"{ivf.ntotal} vectors for {len(ids)} ids")
        index._ivf = ivf
        index._flat = None
        index._trained_at = trained_at
        return index


def _digest(arrays: dict[str, npt.NDArray[Any]]) -> npt.NDArray[np.uint8]:
    """SHA-256 over every array's name, type, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        part = arrays[name]
        h.update(f"{name}:{part.dtype.str}{part.shape};".encode())
        if part.size:
            h.update(np.ascontiguousarray(part).data.cast("B"))  # no copy of the payload
    return np.frombuffer(h.digest(), dtype=np.uint8)


def write_snapshot(path: Path, arrays: dict[str, npt.NDArray[Any]]) -> None:
    """Named arrays and their digest in one ``.npz`` written beside ``path`` and renamed over
    it: a crash leaves the old file or the new one, never a mixture (as
    :mod:`vident.index.persist` does for binary codes)."""
    if _DIGEST in arrays:
        raise ValueError(f"{_DIGEST!r} is reserved")
    digest = _digest(arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, allow_pickle=False, **arrays, **{_DIGEST: digest})
            fh.flush()
            os.fsync(fh.fileno())
        temp.replace(path)  # os.replace: atomic on POSIX
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def read_snapshot(path: Path, members: frozenset[str]) -> dict[str, npt.NDArray[Any]]:
    """The arrays of a snapshot with exactly ``members`` whose digest matches;
    :class:`IndexCorrupt` if not, ``FileNotFoundError`` if there is no file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if set(npz.files) != members | {_DIGEST}:
                raise IndexCorrupt(f"unexpected members {sorted(npz.files)}")
            arrays = {name: npz[name] for name in members}
            digest = npz[_DIGEST]
    except (FileNotFoundError, IndexCorrupt):
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise IndexCorrupt(f"unreadable: {exc}") from exc
    if digest.dtype != np.uint8 or digest.tobytes() != _digest(arrays).tobytes():
        raise IndexCorrupt("digest mismatch")
    return arrays
