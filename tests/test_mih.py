"""Multi-index hashing with chunks that widen with the index: still exact, never bigger."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from bench import pdq_index

from vident.index.binary import FaissBinaryIndex, Hit, IndexTuning, NumpyBinaryIndex
from vident.index.mih import (
    OLD_BYTES_FIXED,
    OLD_BYTES_PER_CODE,
    MultiIndexHash,
    choose_width,
    chunk_flips,
    probes_per_query,
    table_bytes,
)

Codes = npt.NDArray[np.uint8]
BITS = 256


def random_codes(n: int, seed: int) -> Codes:
    return np.random.default_rng(seed).integers(0, 256, size=(n, BITS // 8), dtype=np.uint8)


def flipped(code: Codes, positions: list[int]) -> Codes:
    """A copy of ``code`` with the given bits inverted; bit i is bit i % 64 of 64-bit word
    i // 64, the numbering the chunks use."""
    words = code.copy().view(np.uint64)
    for bit in positions:
        words[bit // 64] ^= np.uint64(1 << (bit % 64))
    return words.view(np.uint8)


def spread(code: Codes, width: int, per_chunk: list[int], leftover: int = 0) -> Codes:
    """Flip ``per_chunk[c]`` bits inside chunk c of ``width`` bits, plus ``leftover`` bits
    past the last whole chunk: the cases where only the pigeonhole bound finds a code."""
    positions = [c * width + 2 * i for c, count in enumerate(per_chunk) for i in range(count)]
    positions += [(BITS // width) * width + i for i in range(leftover)]
    return flipped(code, positions)


def brute(codes: Codes, queries: Codes, radius: int) -> set[tuple[int, int, int]]:
    words, query_words = codes.view(np.uint64), queries.view(np.uint64)
    dists = np.bitwise_count(query_words[:, None, :] ^ words[None, :, :]).sum(axis=2)
    q, r = np.nonzero(dists <= radius)
    return set(zip(q.tolist(), r.tolist(), dists[q, r].tolist(), strict=True))


def as_set(found: tuple[npt.NDArray[np.int64], ...]) -> set[tuple[int, int, int]]:
    q, r, d = found
    return set(zip(q.tolist(), r.tolist(), d.tolist(), strict=True))


@pytest.fixture(scope="module")
def planted() -> tuple[Codes, Codes]:
    """4,000 random codes, neighbours of 40 queries at 0..40 bits, and worst cases for the
    11 x 22-bit layout: ten chunks at 3 flips and the last at 1 (31 bits), and 32 bits
    that no chunk bound catches."""
    rng = np.random.default_rng(3)
    queries = random_codes(40, 4)
    near = [
        flipped(q, rng.choice(BITS, size=d, replace=False).tolist())
        for q in queries
        for d in range(0, 41, 4)
    ]
    worst = [spread(q, 22, [3] * 10 + [1]) for q in queries[:10]]
    worst += [spread(q, 22, [3] * 10 + [0], leftover=1) for q in queries[10:20]]
    worst += [spread(q, 22, [3] * 10 + [2]) for q in queries[20:30]]  # 32 bits: not at 31
    worst += [spread(q, 16, [2] * 15 + [1]) for q in queries[30:]]
    codes = np.concatenate([random_codes(4_000, 5), np.array(near), np.array(worst)])
    return codes, queries


@pytest.mark.parametrize("width", [16, 17, 19, 21, 22])
@pytest.mark.parametrize("radius", [0, 7, 21, 31, 32, 40])
def test_every_width_finds_exactly_what_a_scan_finds(
    planted: tuple[Codes, Codes], width: int, radius: int
) -> None:
    codes, queries = planted
    tables = MultiIndexHash(codes, width)
    assert tables.width == width and tables.chunks == BITS // width
    found = tables.search(queries, codes.view(np.uint64), radius, threads=2, budget=3_000)
    assert as_set(found) == brute(codes, queries, radius)


def test_worst_case_spreads_are_found_at_radius_31(planted: tuple[Codes, Codes]) -> None:
    codes, queries = planted
    worst = len(codes) - 40  # rows of the spread neighbours, query by query
    tables = MultiIndexHash(codes, 22)
    q, r, d = tables.search(queries, codes.view(np.uint64), 31)
    hits = set(zip(q.tolist(), r.tolist(), strict=True))
    assert {(i, worst + i) for i in range(20)} <= hits  # 31 bits, only the bound finds them
    assert not {(i, worst + i) for i in range(20, 30)} & hits  # 32 bits
    assert set(d[r >= worst].tolist()) <= {31}


def test_refined_pigeonhole_probes_fewer_flips_in_the_last_chunks() -> None:
    assert chunk_flips(11, 31) == [2] * 10 + [1]
    assert chunk_flips(16, 31) == [1] * 16
    assert chunk_flips(12, 5) == [0] * 6 + [-1] * 6  # radius under the chunk count
    assert probes_per_query(22, 11, 31) == 10 * (1 + 22 + 231) + (1 + 22)
    assert probes_per_query(16, 16, 31) == 16 * 17


def test_width_grows_with_the_index_within_the_old_memory() -> None:
    widths = [choose_width(n, BITS) for n in (1_000, 32_768, 10**5, 10**6, 4 * 10**6, 10**7)]
    assert widths[:3] == [16, 16, 16]
    assert widths == sorted(widths) and widths[-1] == 23
    for n in (32_768, 10**5, 2**19, 10**6, 2**21, 2**23, 10**7, 3 * 10**7, 10**8):
        width = choose_width(n, BITS)
        assert table_bytes(n, width, BITS // width) <= OLD_BYTES_PER_CODE * n + OLD_BYTES_FIXED
        # 16-bit chunks read n / 2**16 candidates per probe; the chosen ones a few at most.
        assert n / 2**width < 16


def test_tables_take_the_memory_they_promise() -> None:
    codes = random_codes(50_000, 9)
    narrow, wide = MultiIndexHash(codes, 16), MultiIndexHash(codes, 22)
    # Rows: 4 bytes per code and chunk; buckets: a 4-byte start per 32, 2 bytes per 32/33.
    assert narrow.nbytes == 16 * 4 * 50_000 + 16 * 2**11 * (4 + 2 * 33)
    assert wide.nbytes == table_bytes(50_000, 22, 11)
    assert MultiIndexHash(codes).width == choose_width(50_000, BITS) == 16


def test_massive_duplicates_widen_the_offsets_and_stay_exact() -> None:
    """70,000 copies of one code overflow a group's 2-byte offsets: they widen, still exact."""
    copies = np.repeat(random_codes(1, 17), 70_000, axis=0)
    codes = np.concatenate([random_codes(2_000, 18), copies, random_codes(2_000, 19)])
    tables = MultiIndexHash(codes, 18)
    assert tables.nbytes > table_bytes(len(codes), 18, 14)
    queries = np.concatenate([copies[:1], random_codes(3, 20), codes[:2]])
    found = tables.search(queries, codes.view(np.uint64), 31, budget=10_000)
    assert as_set(found) == brute(codes, queries, 31)


def test_search_within_leaves_costly_queries_to_the_caller() -> None:
    """Crowded buckets: a query is left out exactly when its estimate exceeds the limit."""
    rng = np.random.default_rng(11)
    base = random_codes(1, 12)[0]
    crowd = np.array(
        [flipped(base, rng.choice(BITS, size=3, replace=False).tolist()) for _ in range(3_000)]
    )
    codes = np.concatenate([random_codes(3_000, 13), crowd])
    queries = np.concatenate([random_codes(20, 14), crowd[:10], random_codes(20, 15)])
    tables = MultiIndexHash(codes, 20)
    words = codes.view(np.uint64)
    estimates = tables.estimate(queries, 31)
    limit = 2_000.0
    found, skipped = tables.search_within(queries, words, 31, limit, threads=2, budget=4_000)
    assert skipped.tolist() == np.flatnonzero(estimates > limit).tolist()
    assert 0 < len(skipped) < len(queries)
    kept = [q for q in brute(codes, queries, 31) if q[0] not in set(skipped.tolist())]
    assert as_set(found) == set(kept)
    assert as_set(tables.search(queries, words, 31, budget=500)) == brute(codes, queries, 31)


def test_empty_queries_and_bad_widths() -> None:
    codes = random_codes(100, 16)
    tables = MultiIndexHash(codes, 20)
    found, skipped = tables.search_within(codes[:0], codes.view(np.uint64), 31, 10.0)
    assert all(len(part) == 0 for part in found) and len(skipped) == 0
    assert len(tables.estimate(codes[:0], 31)) == 0
    with pytest.raises(ValueError, match="chunk width"):
        MultiIndexHash(codes, 29)
    with pytest.raises(ValueError, match="64-bit words"):
        MultiIndexHash(np.zeros((3, 4), dtype=np.uint8))


def hits(found: list[Hit]) -> set[tuple[int, int, int]]:
    return {(h.query, h.ref, h.distance) for h in found}


def test_index_with_wide_chunks_equals_the_scan_with_tail_and_fallback() -> None:
    """The binary index on 22-bit chunks: tables, the flat tail and crowded-bucket scans."""
    rng = np.random.default_rng(21)
    base = random_codes(1, 22)[0]
    crowd = np.array(
        [flipped(base, rng.choice(BITS, size=2, replace=False).tolist()) for _ in range(500)]
    )
    queries = np.concatenate([random_codes(30, 23), crowd[:5]])
    near = np.array(
        [
            flipped(q, rng.choice(BITS, size=d, replace=False).tolist())
            for q in queries
            for d in (0, 15, 31, 33)
        ]
    )
    first = np.concatenate([random_codes(5_000, 24), crowd, near[::2]])
    later = near[1::2]
    tuning = IndexTuning(mih_min_size=0, tail_limit=1_000, mih_width=22, scan_fraction=0.8)
    fast, slow = FaissBinaryIndex(BITS, tuning), NumpyBinaryIndex(BITS)
    for part, offset in ((first, 0), (later, len(first))):
        refs = np.arange(offset, offset + len(part), dtype=np.int64)
        fast.add(part, refs)
        slow.add(part, refs)
        if offset == 0:
            fast.build()
    assert fast.indexed == len(first)  # the later codes are in the flat tail
    for radius in (0, 31, 32, 40):
        assert hits(fast.search_radius(queries, radius)) == hits(
            slow.search_radius(queries, radius)
        )


def test_benchmark_measures_both_layouts_in_one_run(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    assert (
        pdq_index.main(
            ["--n", "40000", "--data", "uniform", "--repeats", "1", "--json", str(figures_path)]
        )
        == 0
    )
    figures = json.loads(figures_path.read_text())["uniform"]
    assert figures["recall"] == 1.0
    assert figures["equal_to_numpy"] == 1.0 and figures["narrow_equal"] == 1.0
    assert figures["chunk_bits"] == 16 and figures["narrow_qps"] > 0 and figures["over_narrow"] > 0
