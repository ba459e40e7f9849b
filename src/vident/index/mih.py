"""Multi-index hashing: exact Hamming range search that reads a few thousand codes, not all.

Norouzi, Punjani and Fleet, "Fast exact search in Hamming space with multi-index hashing"
(TPAMI 2014). A code is cut into ``m`` chunks of ``w`` bits and every chunk gets its own
table (codes sorted by that chunk's value, plus where each value's run starts). If two codes
are within ``r`` bits, their differences are spread over the chunks, so some chunk differs by
few bits (pigeonhole): writing ``r = q * m + a`` with ``0 <= a < m``, one of the first
``a + 1`` chunks is within ``q`` bits or one of the others within ``q - 1`` (else the
differences would add up to at least ``r + 1``). Looking up, in every table, the query's
chunk value and every value within those flips therefore finds every code within ``r``:
recall is exact by construction, for any distribution of codes. Candidates are then checked
against the full code, so the answer is exact too. Bits left over when ``m * w`` is below the
code length belong to no chunk; they can only loosen the bound, never break it.

Why the width grows with the index: a probe reads ``n / 2**w`` candidates, so 16-bit chunks
read about ``272 * n / 65536`` per query at radius 31 (41,500 at ten million), a cost that
grows with ``n``. Chunks of about ``log2(n)`` bits keep a probe near one candidate, at the
price of more probes (two flips of a 23-bit chunk are 277 values) and bigger bucket tables.
:func:`choose_width` picks, from ``n``, the width with the fewest probes plus expected
candidates whose tables take no more memory than the 16 x 16-bit layout did (4 bytes per code
and chunk plus 8 per bucket): 16 bits up to about 600,000 codes, 19 at a million, 23 (11
chunks, about 2,800 probes and 3,300 candidates per query) at ten million.

Skewed codes make some buckets big; :meth:`MultiIndexHash.estimate` says how many probes and
candidates a query would cost, and :meth:`MultiIndexHash.search_within` leaves out, in the
same pass, the rare query that would cost more than a plain scan. The tables hold 4 bytes per
code and chunk plus about 2.2 per bucket, cost one sort per chunk to build, and are rebuilt,
never updated.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from vident.index.hamming import Codes, Rows, Words, pair_distances

MIN_WIDTH = 16
MAX_WIDTH = 28
DESIGN_RADIUS = 31
"""The radius the layout is tuned for (PDQ near duplicates); every radius stays exact."""
MAX_ROWS = 2**31 - 1  # row numbers are kept as int32 to halve the tables
MAX_ENTRIES = 2**32 - 1  # bucket starts point into all chunks' rows as uint32
GROUP_BITS = 5
"""Buckets come in groups of 32: one 4-byte start per group, a 2-byte offset per bucket."""
OLD_BYTES_PER_CODE = 64
OLD_BYTES_FIXED = 16 * (2**16 + 1) * 8
"""Memory of the 16 x 16-bit layout (int32 rows, int64 starts): the budget for every width."""
Found = tuple[Rows, Rows, Rows]


def chunk_flips(chunks: int, radius: int) -> list[int]:
    """Flips to probe in each chunk for an exact search within ``radius``; -1: not probed."""
    whole, extra = divmod(radius, chunks)
    return [whole if chunk <= extra else whole - 1 for chunk in range(chunks)]


def probes_per_query(width: int, chunks: int, radius: int) -> int:
    """Bucket lookups one query makes: every value within each chunk's flips."""
    return sum(
        math.comb(width, k) for f in chunk_flips(chunks, radius) for k in range(max(f + 1, 0))
    )


def table_bytes(size: int, width: int, chunks: int) -> int:
    """Row numbers plus bucket starts of ``chunks`` tables of ``width`` bits (when every
    group of buckets holds under 65,536 codes, see :class:`MultiIndexHash`)."""
    groups = chunks * (1 << (width - _group_bits(width)))
    return chunks * 4 * size + groups * (4 + 2 * ((1 << _group_bits(width)) + 1))


def _group_bits(width: int) -> int:
    return min(GROUP_BITS, width)


def choose_width(size: int, bits: int, radius: int = DESIGN_RADIUS) -> int:
    """Chunk width for ``size`` codes of ``bits`` bits: fewest probes plus expected
    candidates (uniform codes) among the widths within the 16 x 16-bit layout's memory."""
    budget = OLD_BYTES_PER_CODE * size + OLD_BYTES_FIXED
    best, best_cost = MIN_WIDTH, math.inf
    for width in range(MIN_WIDTH, min(MAX_WIDTH, bits) + 1):
        chunks = bits // width
        if width > MIN_WIDTH and (
            chunks * size > MAX_ENTRIES or table_bytes(size, width, chunks) > budget
        ):
            continue
        cost = probes_per_query(width, chunks, radius) * (1 + size / (1 << width))
        if cost < best_cost:
            best, best_cost = width, cost
    return best


@functools.lru_cache(maxsize=32)
def flip_masks(width: int, nflip: int) -> Rows:
    """Every ``width``-bit mask with at most ``nflip`` bits set (0 first): one chunk's probes."""
    masks = [0]
    for count in range(1, min(nflip, width) + 1):
        masks.extend(sum(1 << b for b in on) for on in itertools.combinations(range(width), count))
    out = np.array(masks, dtype=np.int64)
    out.setflags(write=False)
    return out


def chunk_column(words: Words, width: int, chunk: int) -> Rows:
    """Value of chunk ``chunk`` of every code: bits ``chunk * width`` onwards of the code read
    as one little-endian integer of 64-bit words (a chunk may straddle two words)."""
    word, shift = divmod(chunk * width, 64)
    value = words[:, word] >> np.uint64(shift)
    if shift + width > 64:
        value |= words[:, word + 1] << np.uint64(64 - shift)
    value &= np.uint64((1 << width) - 1)
    return value.astype(np.int64)


def _row_distances_mod256(diff: Words) -> npt.NDArray[np.uint32]:
    """Popcount of each row of 64-bit words, exact below 256 (only a full 256 wraps to 0).

    For four words (PDQ), the four byte-sized popcounts are summed with one multiply instead
    of a slow ``sum(axis=1)``; a complement (distance 256) reads as 0 and is removed by the
    exact check on the few survivors.
    """
    counts = np.bitwise_count(diff)
    if counts.shape[1] == 4:
        packed = counts.view(np.uint32).reshape(-1)
        packed *= np.uint32(0x01010101)
        packed >>= np.uint32(24)
        return packed
    summed: npt.NDArray[np.uint32] = counts.sum(axis=1, dtype=np.uint32)
    return summed


class MultiIndexHash:
    """Chunk tables over a fixed set of codes (rows ``0 .. size - 1`` of the store).

    ``width`` fixes the chunk width (16 gives the original 16 x 16-bit layout for PDQ); by
    default :func:`choose_width` picks it from the number of codes.
    """

    def __init__(self, codes: Codes, width: int | None = None) -> None:
        if codes.shape[1] % 8:
            raise ValueError("codes must be whole 64-bit words")
        if len(codes) > MAX_ROWS:
            raise ValueError(f"at most {MAX_ROWS} codes per table set")
        bits = codes.shape[1] * 8
        self.size = int(codes.shape[0])
        self.width = choose_width(self.size, bits) if width is None else int(width)
        if not 1 <= self.width <= min(MAX_WIDTH, bits):
            raise ValueError(f"chunk width must be 1..{min(MAX_WIDTH, bits)}, got {self.width}")
        self.chunks = bits // self.width
        if self.chunks * self.size > MAX_ENTRIES:
            raise ValueError(f"at most {MAX_ENTRIES // self.chunks:,} codes at this width")
        # Chunk c's rows sit at c * size onwards in one flat array. Bucket p = c * 2**width
        # + value (so a probe is (value + c * 2**width) ^ mask) belongs to group p >> 5,
        # which holds where its rows start (uint32) and 33 offsets from there (uint16: where
        # each of its 32 buckets starts, and where the last one ends). Half the memory of a
        # uint32 start per bucket, so chunks can be a bit wider; offsets widen to uint32 if
        # a group ever holds 65,536 codes or more (massive duplicates).
        self._group = _group_bits(self.width)
        per_group = 1 << self._group
        groups = 1 << (self.width - self._group)
        self._orders = np.empty(self.chunks * self.size, dtype=np.int32)
        self._bases = np.empty(self.chunks * groups, dtype=np.uint32)
        self._offsets: npt.NDArray[np.uint16 | np.uint32] = np.empty(
            self.chunks * groups * (per_group + 1), dtype=np.uint16
        )
        self._plans: dict[int, tuple[Rows, Rows, int]] = {}
        words = codes.view(np.uint64)
        rows = np.arange(self.size, dtype=np.uint64)
        for chunk in range(self.chunks):
            column = chunk_column(words, self.width, chunk)
            # One sort of (value, row) pairs: rows ascend within a bucket, for locality.
            keyed = np.sort((column.astype(np.uint64) << np.uint64(32)) | rows)
            first = chunk * self.size
            self._orders[first : first + self.size] = keyed & np.uint64(0xFFFFFFFF)
            counts = np.bincount(column, minlength=1 << self.width).reshape(groups, per_group)
            within = np.zeros((groups, per_group + 1), dtype=np.int64)
            np.cumsum(counts, axis=1, out=within[:, 1:])
            totals = within[:, -1]
            here = slice(chunk * groups, (chunk + 1) * groups)
            self._bases[here] = np.cumsum(totals) - totals + first
            if int(totals.max(initial=0)) > np.iinfo(self._offsets.dtype).max:
                self._offsets = self._offsets.astype(np.uint32)
            self._offsets[chunk * within.size : (chunk + 1) * within.size] = within.reshape(-1)

    @property
    def nbytes(self) -> int:
        return int(self._orders.nbytes + self._bases.nbytes + self._offsets.nbytes)

    def flips(self, radius: int) -> int:
        """Most flips any chunk is probed with for an exact search within ``radius``."""
        return max(chunk_flips(self.chunks, radius))

    def _plan(self, radius: int) -> tuple[Rows, Rows, int]:
        """The probes of one query at ``radius`` (cached): the chunk each reads and the bits
        it flips, plus how many there are."""
        plan = self._plans.get(radius)
        if plan is None:
            which: list[Rows] = []
            masks: list[Rows] = []
            for chunk, nflip in enumerate(chunk_flips(self.chunks, radius)):
                if nflip >= 0:
                    chunk_masks = flip_masks(self.width, nflip)
                    which.append(np.full(len(chunk_masks), chunk, dtype=np.int64))
                    masks.append(chunk_masks)
            plan = (np.concatenate(which), np.concatenate(masks), sum(map(len, masks)))
            self._plans[radius] = plan
        return plan

    def _probes(self, queries: Codes, radius: int) -> tuple[Rows, Rows]:
        """Where each probed bucket starts in the flat orders, and how long it is; both in
        (query, probe) order."""
        chunk_of, masks, _ = self._plan(radius)
        words = queries.view(np.uint64)
        keys = np.empty((len(queries), self.chunks), dtype=np.int64)
        for chunk in range(self.chunks):
            keys[:, chunk] = chunk_column(words, self.width, chunk) + (chunk << self.width)
        probes = keys[:, chunk_of]
        probes ^= masks
        flat = probes.reshape(-1)
        group = flat >> self._group
        flat += group  # the bucket's offset: 33 per group
        low = self._offsets[flat]
        flat += 1
        lengths = self._offsets[flat].astype(np.int64)
        lengths -= low
        starts = self._bases[group].astype(np.int64)
        starts += low
        return starts, lengths

    def estimate(self, queries: Codes, radius: int) -> Rows:
        """What each query would cost, known up front: bucket lookups plus candidates read
        (duplicates included), each some tens of nanoseconds."""
        if len(queries) == 0:
            return np.zeros(0, dtype=np.int64)
        _, lengths = self._probes(queries, radius)
        per_query: Rows = lengths.reshape(len(queries), -1).sum(axis=1)
        return per_query + lengths.size // len(queries)

    def _verify(
        self, queries: Codes, stored: Words, radius: int, starts: Rows, lengths: Rows
    ) -> Found:
        """Read the probed buckets of ``queries`` and keep the rows within ``radius``."""
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if len(ends) else 0
        if total == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        positions = np.repeat(starts - ends + lengths, lengths)
        positions += np.arange(total, dtype=np.int64)
        rows = np.take(self._orders, positions)
        probes = lengths.size // len(queries)
        per_query = ends[probes - 1 :: probes]
        query_words = queries.view(np.uint64)
        diff = np.take(stored, rows, axis=0)
        diff ^= np.repeat(query_words, np.diff(per_query, prepend=0), axis=0)
        close = np.flatnonzero(_row_distances_mod256(diff) <= radius)
        qids = np.searchsorted(per_query, close, side="right")
        # A near row is found through several chunks: one exact check per pair.
        pairs = np.unique(qids * self.size + rows[close])
        qids, found = np.divmod(pairs, self.size)
        dists = pair_distances(stored, found, query_words, qids)
        keep = dists <= radius
        return qids[keep], found[keep], dists[keep]

    def _search_block(
        self, queries: Codes, stored: Words, radius: int, limit: float | None, budget: int
    ) -> tuple[Found, Rows]:
        """Hits of one block of queries, and which of them cost more than ``limit``
        (skipped). Candidates are read in slices of about ``budget`` (bounded memory)."""
        starts, lengths = self._probes(queries, radius)
        probes = lengths.size // len(queries)
        table = lengths.reshape(len(queries), probes)
        per_query = table.sum(axis=1)
        skipped = np.zeros(0, dtype=np.int64)
        if limit is not None:
            skipped = np.flatnonzero(per_query + probes > limit)
            table[skipped] = 0
            per_query[skipped] = 0
        parts: list[Found] = []
        for low, high in itertools.pairwise(_blocks(per_query + probes, budget, len(queries))):
            q, r, d = self._verify(
                queries[low:high],
                stored,
                radius,
                starts[low * probes : high * probes],
                lengths[low * probes : high * probes],
            )
            parts.append((q + low, r, d))
        return _joined(parts), skipped

    def search(
        self,
        queries: Codes,
        stored: Words,
        radius: int,
        *,
        threads: int = 1,
        budget: int = 1 << 18,
    ) -> Found:
        """Every indexed row within ``radius`` of each query: (query numbers, rows, distances).

        ``stored`` holds at least the indexed rows as 64-bit words.
        """
        found, _ = self.search_within(queries, stored, radius, None, threads=threads, budget=budget)
        return found

    def search_within(
        self,
        queries: Codes,
        stored: Words,
        radius: int,
        limit: float | None,
        *,
        threads: int = 1,
        budget: int = 1 << 18,
    ) -> tuple[Found, Rows]:
        """Like :meth:`search`, but queries whose :meth:`estimate` exceeds ``limit`` are left
        out and returned as a second result (query numbers, ascending), for a flat scan.

        Doing both in one pass saves looking every bucket up twice. Queries go in blocks of
        about ``budget`` probes and candidates, spread over ``threads``.
        """
        if len(queries) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return (empty, empty, empty), empty
        _, _, probes = self._plan(radius)
        # Blocks sized for uniform codes; crowded ones are sliced again inside the block.
        per_query = probes * (1 + self.size / (1 << self.width))
        step = max(1, min(len(queries), int(budget // per_query)))
        spans = [(low, min(low + step, len(queries))) for low in range(0, len(queries), step)]

        def work(span: tuple[int, int]) -> tuple[Found, Rows]:
            low, high = span
            return self._search_block(queries[low:high], stored, radius, limit, budget)

        results: Iterable[tuple[Found, Rows]]
        if threads > 1 and len(spans) > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                results = list(pool.map(work, spans))
        else:
            results = [work(span) for span in spans]
        found: list[Found] = []
        skipped: list[Rows] = []
        for (low, _), ((q, r, d), skip) in zip(spans, results, strict=True):
            found.append((q + low, r, d))
            skipped.append(skip + low)
        return _joined(found), np.concatenate(skipped)


def _joined(parts: list[Found]) -> Found:
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def _blocks(estimates: Rows, budget: int, max_block: int) -> list[int]:
    """Query boundaries so that each block costs about ``budget`` at most."""
    before = np.cumsum(estimates) - estimates
    block_of = before // max(budget, 1) + np.arange(len(estimates)) // max_block
    cuts = np.flatnonzero(np.diff(block_of)) + 1
    return [0, *cuts.tolist(), len(estimates)]
