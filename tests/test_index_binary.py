"""The binary index: the fast index answers exactly what the brute-force scan answers."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pdqhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from vident.index.binary import (
    FaissBinaryIndex,
    Hit,
    IndexTuning,
    NumpyBinaryIndex,
    load_index,
    save_index,
)
from vident.index.persist import FILE_NAME

Codes = npt.NDArray[np.uint8]
BITS = 256
BYTES = BITS // 8
# Tables even for small test sets, a small tail so that rebuilds happen within a test.
HASHED = IndexTuning(mih_min_size=0, tail_limit=500)
RADII = [0, 1, 8, 15, 16, 17, 31, 32, 40, 47, 48, 64]


def random_codes(n: int, seed: int) -> Codes:
    return np.random.default_rng(seed).integers(0, 256, size=(n, BYTES), dtype=np.uint8)


def flip(code: Codes, positions: list[int]) -> Codes:
    """A copy of one code with the given bit positions inverted."""
    out = code.copy()
    for bit in positions:
        out[bit // 8] ^= np.uint8(1 << (bit % 8))
    return out


def at_distance(code: Codes, distance: int, rng: np.random.Generator) -> Codes:
    return flip(code, rng.choice(BITS, size=distance, replace=False).tolist())


def spread(code: Codes, per_chunk: list[int]) -> Codes:
    """Flip ``per_chunk[h]`` bits inside 16-bit chunk h (bytes 2h, 2h+1): the worst case for
    multi-index hashing, where no chunk is closer than the pigeonhole bound."""
    positions = [16 * h + 5 * i for h, count in enumerate(per_chunk) for i in range(count)]
    return flip(code, positions)


def as_set(hits: list[Hit]) -> set[tuple[int, int, int]]:
    return {(h.query, h.ref, h.distance) for h in hits}


def both(
    codes: Codes, refs: npt.NDArray[np.int64], tuning: IndexTuning = HASHED
) -> tuple[NumpyBinaryIndex, FaissBinaryIndex]:
    brute, fast = NumpyBinaryIndex(BITS), FaissBinaryIndex(BITS, tuning)
    brute.add(codes, refs)
    fast.add(codes, refs)
    return brute, fast


@pytest.fixture(scope="module")
def planted() -> tuple[Codes, npt.NDArray[np.int64], Codes]:
    """6,000 random codes plus, for 60 queries, stored neighbours at distances 0..50."""
    rng = np.random.default_rng(7)
    queries = random_codes(60, 1)
    near = [at_distance(q, d, rng) for q in queries for d in range(0, 51, 3)]
    worst = [spread(q, [2] * 15 + [1]) for q in queries[:20]]  # 31 bits, one chunk at 1
    worst += [spread(q, [2] * 16) for q in queries[20:40]]  # 32 bits, no chunk under 2
    codes = np.concatenate([random_codes(6_000, 2), np.array(near), np.array(worst)])
    refs = rng.permutation(len(codes)).astype(np.int64) - len(codes) // 2  # some negative
    return codes, refs, queries


@pytest.mark.parametrize("tuning", [HASHED, IndexTuning(), IndexTuning(structure="flat")])
def test_radius_search_equals_brute_force(
    planted: tuple[Codes, npt.NDArray[np.int64], Codes], tuning: IndexTuning
) -> None:
    codes, refs, queries = planted
    brute, fast = both(codes, refs, tuning)
    for radius in RADII:
        expected = brute.search_radius(queries, radius)
        assert as_set(fast.search_radius(queries, radius)) == as_set(expected), radius
    assert len(as_set(brute.search_radius(queries, 31))) >= 60 * 11 + 20


def test_radius_is_inclusive_and_pigeonhole_worst_case_is_found() -> None:
    base = random_codes(1, 3)[0]
    far = random_codes(3_000, 4)
    exact31 = spread(base, [2] * 15 + [1])
    exact32 = spread(base, [2] * 16)
    codes = np.concatenate([far, np.array([exact31, exact32])])
    refs = np.arange(len(codes), dtype=np.int64)
    _, fast = both(codes, refs)
    fast.build()
    assert fast.indexed == len(codes)
    query = base[None, :]
    assert {(h.ref, h.distance) for h in fast.search_radius(query, 31)} == {(3_000, 31)}
    assert {(h.ref, h.distance) for h in fast.search_radius(query, 30)} == set()
    assert {h.ref for h in fast.search_radius(query, 32)} == {3_000, 3_001}


def test_results_are_sorted_and_carry_refs() -> None:
    codes = random_codes(2_000, 5)
    refs = -np.arange(1, 2_001, dtype=np.int64)  # hash-set style negative refs
    rng = np.random.default_rng(5)
    queries = np.array([at_distance(codes[10], 4, rng), codes[1_500]])
    _, fast = both(codes, refs)
    hits = fast.search_radius(queries, 31)
    assert hits[:1] == [Hit(query=0, ref=-11, distance=4)]
    assert Hit(query=1, ref=-1_501, distance=0) in hits
    assert hits == sorted(hits, key=lambda h: (h.query, h.distance, h.ref))


def test_correlated_codes_and_crowded_buckets_stay_exact() -> None:
    """Few base codes copied with small changes: crowded buckets, many true neighbours.

    ``scan_fraction`` sends every crowded query to the flat scan; the results must not move.
    """
    rng = np.random.default_rng(11)
    bases = random_codes(30, 12)
    copies = [at_distance(bases[i % 30], int(rng.integers(0, 40)), rng) for i in range(4_000)]
    codes = np.array(copies)
    refs = np.arange(len(codes), dtype=np.int64)
    queries = np.array([at_distance(b, 3, rng) for b in bases[:10]] + list(random_codes(5, 13)))
    brute = NumpyBinaryIndex(BITS)
    brute.add(codes, refs)
    expected = as_set(brute.search_radius(queries, 31))
    assert len(expected) > 1_000
    for fraction in (1.0, 1 / 16, 0.0):
        fast = FaissBinaryIndex(BITS, IndexTuning(mih_min_size=0, scan_fraction=fraction))
        fast.add(codes, refs)
        assert as_set(fast.search_radius(queries, 31)) == expected, fraction


def structured_picture(seed: int) -> Image.Image:
    """A gradient with a few shapes: pictures whose PDQ bits are correlated, like photos."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, 128, dtype=np.float64)
    pixels = np.stack(
        [np.add.outer(ramp * rng.random(), ramp * rng.random()) / 2 for _ in range(3)], axis=-1
    )
    image = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x, y = (int(v) for v in rng.integers(0, 100, size=2))
        colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
        draw.ellipse((x, y, x + 20 + seed % 17, y + 28), fill=colour)
    return image


def test_pdq_of_generated_pictures_with_all_rotations() -> None:
    """Real PDQ codes (8 rotations and flips per picture) stored; the variants queried."""
    stored: list[Codes] = []
    variants: list[Codes] = []
    for seed in range(40):
        hashes, _quality = pdqhash.compute_dihedral(np.asarray(structured_picture(seed)))
        packed = [np.packbits(h.astype(np.uint8)) for h in hashes]
        stored.append(packed[0])
        variants.extend(packed)
    codes = np.concatenate([np.array(stored), random_codes(3_000, 14)])
    refs = np.arange(len(codes), dtype=np.int64)
    brute, fast = both(codes, refs)
    queries = np.array(variants)
    for radius in (31, 48, 90):
        expected = as_set(brute.search_radius(queries, radius))
        assert as_set(fast.search_radius(queries, radius)) == expected
    found = {(h.query, h.ref) for h in fast.search_radius(queries, 0)}
    assert {(8 * i, i) for i in range(40)} <= found


def test_incremental_adds_between_searches() -> None:
    """Ingest adds each committed batch; searches in between see everything added so far."""
    rng = np.random.default_rng(21)
    brute = NumpyBinaryIndex(BITS)
    fast = FaissBinaryIndex(BITS, IndexTuning(mih_min_size=1_000, tail_limit=700))
    queries = random_codes(25, 22)
    indexed_sizes = set()
    for batch in range(12):
        codes = random_codes(300, 100 + batch)
        codes[:25] = [at_distance(q, int(rng.integers(0, 35)), rng) for q in queries]
        refs = np.arange(batch * 300, batch * 300 + 300, dtype=np.int64)
        brute.add(codes, refs)
        fast.add(codes, refs)
        for radius in (0, 31, 40):
            expected = as_set(brute.search_radius(queries, radius))
            assert as_set(fast.search_radius(queries, radius)) == expected
        indexed_sizes.add(fast.indexed)
        assert len(fast) == len(brute) == 300 * (batch + 1)
    assert len(indexed_sizes) >= 3  # no tables, then tables, then rebuilt tables


def test_knn_equals_brute_force_up_to_ties(
    planted: tuple[Codes, npt.NDArray[np.int64], Codes],
) -> None:
    codes, refs, queries = planted
    brute, fast = both(codes, refs)
    truth = dict(zip(refs.tolist(), codes, strict=True))
    for k in (1, 5, 20):
        expected = brute.search_knn(queries, k)
        got = fast.search_knn(queries, k)
        assert len(got) == len(queries)
        for number, (want, have) in enumerate(zip(expected, got, strict=True)):
            assert [h.distance for h in have] == [h.distance for h in want]
            for hit in have:
                assert hit.query == number
                diff = np.unpackbits(truth[hit.ref] ^ queries[number]).sum()
                assert hit.distance == diff
            below_ties = {h.ref for h in want if h.distance < want[-1].distance}
            assert below_ties <= {h.ref for h in have}


def test_knn_and_radius_on_small_and_empty_indexes() -> None:
    for index in (NumpyBinaryIndex(BITS), FaissBinaryIndex(BITS)):
        queries = random_codes(3, 30)
        assert index.search_radius(queries, 31) == []
        assert index.search_knn(queries, 4) == [[], [], []]
        index.add(random_codes(2, 31), np.array([5, 6], dtype=np.int64))
        assert [len(row) for row in index.search_knn(queries, 4)] == [2, 2, 2]
        assert index.search_knn(queries, 0) == [[], [], []]
        assert len(index) == 2


def test_bad_input_is_refused() -> None:
    index = FaissBinaryIndex(BITS)
    with pytest.raises(ValueError):
        index.add(random_codes(2, 1)[:, :31], np.array([1, 2], dtype=np.int64))
    with pytest.raises(ValueError):
        index.add(random_codes(2, 1).astype(np.int16), np.array([1, 2], dtype=np.int64))
    with pytest.raises(ValueError):
        index.add(random_codes(2, 1), np.array([1], dtype=np.int64))
    with pytest.raises(ValueError):
        index.add(random_codes(2, 1), np.array([1.0, 2.0]))
    with pytest.raises(ValueError):
        index.search_radius(random_codes(1, 1), -1)
    with pytest.raises(ValueError):
        FaissBinaryIndex(100)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    codes = random_codes(3_000, 40)
    refs = np.arange(3_000, dtype=np.int64) - 1_000
    meta = {"signal": 123, "hashset": 45}
    for source in both(codes, refs):
        directory = tmp_path / type(source).__name__
        save_index(source, directory, meta)
        loaded = load_index(directory)
        assert loaded is not None
        index, loaded_meta = loaded
        assert loaded_meta == meta
        assert len(index) == 3_000
        stored_codes, stored_refs = index.entries()
        assert np.array_equal(stored_codes, codes)
        assert np.array_equal(stored_refs, refs)
        queries = codes[:50]
        assert as_set(index.search_radius(queries, 31)) == as_set(source.search_radius(queries, 31))
        assert [p.name for p in directory.iterdir()] == [FILE_NAME]  # no temp files left


def test_save_replaces_previous_snapshot(tmp_path: Path) -> None:
    index = FaissBinaryIndex(BITS)
    index.add(random_codes(10, 41), np.arange(10, dtype=np.int64))
    save_index(index, tmp_path, {"signal": 10})
    index.add(random_codes(5, 42), np.arange(10, 15, dtype=np.int64))
    save_index(index, tmp_path, {"signal": 15})
    loaded = load_index(tmp_path)
    assert loaded is not None
    assert len(loaded[0]) == 15
    assert loaded[1] == {"signal": 15}
    empty = FaissBinaryIndex(BITS)
    save_index(empty, tmp_path / "empty", {})
    reloaded = load_index(tmp_path / "empty")
    assert reloaded is not None
    assert len(reloaded[0]) == 0
    assert reloaded[1] == {}


def test_missing_or_corrupt_snapshot_loads_as_none(tmp_path: Path) -> None:
    assert load_index(tmp_path / "absent") is None
    index = FaissBinaryIndex(BITS)
    index.add(random_codes(500, 50), np.arange(500, dtype=np.int64))
    save_index(index, tmp_path, {"signal": 500})
    path = tmp_path / FILE_NAME
    good = path.read_bytes()
    assert load_index(tmp_path, bits=64) is None  # another code length

    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0xFF  # inside the codes
    path.write_bytes(bytes(damaged))
    assert load_index(tmp_path) is None

    path.write_bytes(good[: len(good) // 3])  # truncated
    assert load_index(tmp_path) is None

    path.write_bytes(b"not a snapshot at all")
    assert load_index(tmp_path) is None

    with zipfile.ZipFile(path, "w") as archive:  # a valid archive with the wrong contents
        archive.writestr("codes.npy", b"\x93NUMPY")
    assert load_index(tmp_path) is None

    path.write_bytes(good)
    assert load_index(tmp_path) is not None


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    radius=st.integers(0, 70),
    flips=st.lists(st.integers(0, 60), min_size=1, max_size=12),
)
def test_property_fast_equals_brute(seed: int, radius: int, flips: list[int]) -> None:
    rng = np.random.default_rng(seed)
    queries = random_codes(len(flips), seed)
    near = np.array([at_distance(q, d, rng) for q, d in zip(queries, flips, strict=True)])
    codes = np.concatenate([random_codes(400, seed + 1), near, near[:3]])
    refs = rng.integers(-(2**62), 2**62, size=len(codes), dtype=np.int64)
    brute, fast = both(codes, refs)
    assert as_set(fast.search_radius(queries, radius)) == as_set(
        brute.search_radius(queries, radius)
    )
