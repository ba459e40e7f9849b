"""Constrained average-linkage clustering of face embeddings: the algorithm, no database.

Faces are L2-normalised float32 rows. Two clusters merge, best pair first, while their
*average* pairwise cosine similarity is at least ``threshold``. For unit vectors that average
is exact and cheap: ``mean(a_i . b_j) = (sum A) . (sum B) / (|A| |B|)``, so every cluster
carries only its sum vector and size, and a merged cluster's linkage to a neighbour is the
size-weighted mean of its parts' linkages. Average linkage tolerates the spread of real face
embeddings (a profile and a frontal shot of one person may be far apart, yet close to the
person's other pictures) without the chaining of single linkage (nearest member) or the
fragmentation of complete linkage.

Which pairs are tried comes from a k-nearest-neighbour graph (FAISS exact inner product,
queried in blocks), never from all pairs, so the work grows as ``n * k`` plus the index
scans that BLAS does. Constraints:

- ``seeds``: faces with the same seed (>= 0) start as one cluster and two different seeds are
  never merged: an analyst's person keeps its faces, and in incremental runs every existing
  person is a seed, so new faces join persons or form new ones without moving old faces.
  Free faces (seed -1) are compared with seeded clusters through their centroids.
- ``must``: pairs merged before anything else (skipped, and counted, where a merge would break
  a rule below: the analyst's later decisions are expected to have removed the contradiction).
- ``cannot`` and ``photos``: two faces of one photo (same ``photos`` value: media and frame),
  or a cannot-link pair, are never in one cluster. Each becomes a token on its faces and a
  merge is refused when the two clusters share a token.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import faiss
import numpy as np
import numpy.typing as npt

#: Cosine similarity at or above which two clusters are one person, until the face model's
#: own same-person threshold is measured (the face model helper reports it).
DEFAULT_THRESHOLD = 0.5
#: Neighbours per free face in the k-NN graph: candidate pairs, not a limit on cluster size
#: (a cluster's candidates are the union of its members').
NEIGHBOURS = 16
#: Persons (seeded clusters) each free face is compared with, by centroid.
SEED_NEIGHBOURS = 8
#: Query rows per FAISS search call: bounds the distance matrix held at once.
BLOCK = 4096

Vectors = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
Pairs = Sequence[tuple[int, int]]


@dataclass(frozen=True)
class Clusters:
    """The outcome: ``labels[i]`` is face i's cluster (0..m-1), ``seeds[c]`` cluster c's seed.

    A cluster holding a seeded face carries that seed (the person it belongs to); the others
    have seed -1 and are new persons. ``skipped_must`` counts must-links that could not be
    honoured because they contradicted a seed, a photo or a cannot-link.
    """

    labels: Ints
    seeds: Ints
    skipped_must: int = 0

    @property
    def count(self) -> int:
        return len(self.seeds)


def normalise(vectors: npt.ArrayLike) -> Vectors:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.ascontiguousarray(rows / np.maximum(norms, 1e-12), dtype=np.float32)


def nearest(
    queries: Vectors, base: Vectors, k: int, block: int = BLOCK
) -> tuple[npt.NDArray[np.float32], Ints]:
    """Exact top-``k`` inner products of each query row among ``base`` rows (FAISS, blocked).

    Missing neighbours (fewer than ``k`` rows in ``base``) have index -1.
    """
    k = min(k, len(base))
    if k == 0 or len(queries) == 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    index = faiss.IndexFlatIP(base.shape[1])
    index.add(np.ascontiguousarray(base, dtype=np.float32))
    sims = np.empty((len(queries), k), np.float32)
    ids = np.empty((len(queries), k), np.int64)
    for start in range(0, len(queries), block):
        part = np.ascontiguousarray(queries[start : start + block], dtype=np.float32)
        sims[start : start + len(part)], ids[start : start + len(part)] = index.search(part, k)
    return sims, ids


class _Forest:
    """Clusters being merged: sums, sizes, seeds and tokens.

    Cluster ids are the initial clusters' (seed groups first, then one per free face);
    a merged cluster keeps one of its parts' ids. Tokens (photos and cannot-links of the
    members) are built only for clusters that ever take part in a candidate pair, so an
    incremental run does not touch the members of persons no new face comes near.
    """

    def __init__(
        self,
        vectors: Vectors,
        initial: Ints,
        seed_of: list[int],
        photos: Ints,
        cannot: Pairs,
    ) -> None:
        m = len(seed_of)
        dim = vectors.shape[1]
        # Every initial cluster has at least one face, so no reduceat segment is empty.
        self._order = np.argsort(initial, kind="stable")
        self._starts = np.searchsorted(initial[self._order], np.arange(m + 1))
        self.sums: Vectors = np.zeros((m, dim), np.float32)
        if m:
            self.sums = np.add.reduceat(vectors[self._order], self._starts[:-1], axis=0)
        self.counts = np.bincount(initial, minlength=m).astype(np.float32)
        self.parent = list(range(m))
        self.seed = list(seed_of)
        self.version = [0] * m
        self._tokens: list[set[int] | None] = [None] * m
        self._photos = photos
        self._cannot: dict[int, list[int]] = {}
        for k, (i, j) in enumerate(cannot):
            # Negative tokens cannot collide with photo keys, which are >= 0.
            self._cannot.setdefault(int(i), []).append(-(k + 1))
            self._cannot.setdefault(int(j), []).append(-(k + 1))

    def find(self, c: int) -> int:
        parent = self.parent
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    def tokens(self, c: int) -> set[int]:
        """Tokens of a live cluster; built from its members on first use (initial ids only)."""
        found = self._tokens[c]
        if found is None:
            members = self._order[self._starts[c] : self._starts[c + 1]]
            found = {int(p) for p in self._photos[members]}
            for face in members.tolist():
                found.update(self._cannot.get(face, ()))
            self._tokens[c] = found
        return found

    def conflict(self, a: int, b: int) -> bool:
        sa, sb = self.seed[a], self.seed[b]
        if sa >= 0 and sb >= 0 and sa != sb:
            return True
        return not self.tokens(a).isdisjoint(self.tokens(b))

    def pair_linkage(self, a: int, b: int) -> float:
        """Average cosine similarity between the faces of clusters ``a`` and ``b``."""
        return float(self.sums[a] @ self.sums[b]) / float(self.counts[a] * self.counts[b])

    def merge(self, a: int, b: int) -> int:
        """Join two live clusters; returns the id that lives on."""
        keep, gone = (a, b) if self.counts[a] >= self.counts[b] else (b, a)
        self.sums[keep] += self.sums[gone]
        self.counts[keep] += self.counts[gone]
        self.seed[keep] = max(self.seed[keep], self.seed[gone])
        kept, other = self.tokens(keep), self.tokens(gone)
        if len(other) > len(kept):
            kept, other = other, kept
        kept |= other
        self._tokens[keep], self._tokens[gone] = kept, None
        self.parent[gone] = keep
        self.version[keep] += 1
        self.version[gone] += 1
        return keep


def _initial(seeds: Ints) -> tuple[Ints, list[int]]:
    """Initial cluster per face (seed groups first, then each free face) and their seeds."""
    seeded = seeds >= 0
    values, inverse = np.unique(seeds[seeded], return_inverse=True)
    initial = np.empty(len(seeds), np.int64)
    initial[seeded] = inverse
    free = np.flatnonzero(~seeded)
    initial[free] = len(values) + np.arange(len(free))
    return initial, [int(v) for v in values] + [-1] * len(free)


def _candidates(
    forest: _Forest,
    vectors: Vectors,
    initial: Ints,
    free: Ints,
    threshold: float,
    neighbours: int,
    seed_neighbours: int,
) -> tuple[Ints, Ints]:
    """Cluster pairs worth trying: free faces' neighbours among free faces and seed centroids."""
    roots = np.fromiter((forest.find(int(c)) for c in initial), np.int64, len(initial))
    left: list[Ints] = []
    right: list[Ints] = []
    if len(free) > 1:
        sims, ids = nearest(vectors[free], vectors[free], neighbours + 1)
        rows, cols = np.nonzero((sims >= threshold) & (ids >= 0))
        left.append(roots[free[rows]])
        right.append(roots[free[ids[rows, cols]]])
    live = np.unique(roots)
    seeded = live[np.fromiter((forest.seed[int(c)] >= 0 for c in live), bool, len(live))]
    if len(free) and len(seeded):
        means = (forest.sums[seeded] / forest.counts[seeded, None]).astype(np.float32)
        sims, ids = nearest(vectors[free], means, seed_neighbours)
        rows, cols = np.nonzero((sims >= threshold) & (ids >= 0))
        left.append(roots[free[rows]])
        right.append(seeded[ids[rows, cols]])
    if not left:
        empty = np.zeros(0, np.int64)
        return empty, empty
    a, b = np.concatenate(left), np.concatenate(right)
    pairs = np.unique(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return pairs[:, 0], pairs[:, 1]


def cluster(
    vectors: npt.ArrayLike,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    photos: npt.ArrayLike | None = None,
    seeds: npt.ArrayLike | None = None,
    must: Pairs = (),
    cannot: Pairs = (),
    neighbours: int = NEIGHBOURS,
    seed_neighbours: int = SEED_NEIGHBOURS,
) -> Clusters:
    """Cluster faces (rows of ``vectors``, normalised here) under the constraints above.

    ``photos[i]`` (>= 0) names face i's photo (default: every face its own photo);
    ``seeds[i]`` is the person face i must stay with, or -1 (default: all free). ``must`` and
    ``cannot`` are pairs of row numbers. Deterministic for given inputs.
    """
    given = np.asarray(vectors, np.float32)
    if given.ndim != 2:
        raise ValueError("vectors must be a 2-d array, one row per face")
    rows = normalise(given)
    n = len(rows)
    photo = np.arange(n, dtype=np.int64) if photos is None else np.asarray(photos, np.int64)
    seed = np.full(n, -1, np.int64) if seeds is None else np.asarray(seeds, np.int64)
    if photo.shape != (n,) or seed.shape != (n,):
        raise ValueError("photos and seeds need one value per face")
    if n and photo.min() < 0:
        raise ValueError("photo keys must be >= 0")
    initial, seed_of = _initial(seed)
    forest = _Forest(rows, initial, seed_of, photo, cannot)
    skipped = 0
    for i, j in must:
        a, b = forest.find(int(initial[i])), forest.find(int(initial[j]))
        if a == b:
            continue
        if forest.conflict(a, b):
            skipped += 1
        else:
            forest.merge(a, b)
    free = np.flatnonzero(seed < 0)
    left, right = _candidates(forest, rows, initial, free, threshold, neighbours, seed_neighbours)
    _agglomerate(forest, left, right, threshold)
    roots = np.fromiter((forest.find(int(c)) for c in initial), np.int64, n)
    unique, labels = np.unique(roots, return_inverse=True)
    cluster_seeds = np.fromiter((forest.seed[int(c)] for c in unique), np.int64, len(unique))
    return Clusters(labels.astype(np.int64), cluster_seeds, skipped)


def _agglomerate(forest: _Forest, left: Ints, right: Ints, threshold: float) -> None:
    """Merge best pair first while average linkage stays at or above ``threshold``.

    A heap entry holds a pair's linkage and both clusters' versions when it was computed.
    Entries are not updated when a cluster grows: a merged cluster's linkage to any other is
    the size-weighted mean of its parts' linkages, so it is never above the largest of their
    entries, and a stale entry is an upper bound. Popping the top entry therefore either
    finds it current (the true best pair: merge) or stale (recompute the pair as it is now
    and push it back, or drop it below the threshold). Each merge costs a few heap
    operations, however large the clusters, and the result is exactly greedy average
    linkage over the candidate pairs. Many stale entries lead to one pair of clusters (a
    face's edges to the members of a cluster that grew); ``fresh`` remembers which pairs
    already have a current entry, so each is recomputed once per change. A pair that
    conflicts stays conflicting (tokens and seeds only accumulate), so it is dropped.
    """
    if not len(left):
        return
    sims = np.einsum("ij,ij->i", forest.sums[left], forest.sums[right]) / (
        forest.counts[left] * forest.counts[right]
    )
    keep = sims >= threshold
    heap = [
        (-s, a, b, 0, 0)
        for s, a, b in zip(
            sims[keep].tolist(), left[keep].tolist(), right[keep].tolist(), strict=True
        )
    ]
    heapq.heapify(heap)
    version, find = forest.version, forest.find
    fresh: dict[tuple[int, int], tuple[int, int]] = {}
    while heap:
        _, a, b, va, vb = heapq.heappop(heap)
        if version[a] == va and version[b] == vb:
            if forest.conflict(a, b):
                continue
            forest.merge(a, b)
            continue
        a, b = find(a), find(b)
        if a == b:
            continue
        lo, hi = (a, b) if a < b else (b, a)
        now = (version[lo], version[hi])
        if fresh.get((lo, hi)) == now:
            continue
        fresh[(lo, hi)] = now
        s = forest.pair_linkage(lo, hi)
        if s >= threshold:
            heapq.heappush(heap, (-s, lo, hi, *now))
