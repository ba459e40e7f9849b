"""The vector index: exact search equals a NumPy scan; the approximate form keeps recall."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vident.index.persist import CorruptSnapshot
from vident.index.vector import IndexCorrupt, VectorHit, VectorIndex, nlist_for

Vectors = npt.NDArray[np.float32]
DIM = 32


def unit(x: npt.NDArray[np.float64]) -> Vectors:
    out = x.astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def clustered(
    n: int, queries: int, seed: int, dim: int = DIM
) -> tuple[Vectors, Vectors, npt.NDArray[np.int64]]:
    """Stored vectors in gaussian clusters of about 20, new members of the same clusters as
    queries, and shuffled store ids (large, some negative: the index must not care)."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((max(1, n // 20), dim)))
    labels = rng.integers(0, len(centres), n + queries)
    points = unit(centres[labels] + 0.5 * rng.standard_normal((n + queries, dim)) / np.sqrt(dim))
    ids = (rng.permutation(n).astype(np.int64) - n // 2) * 1_000_000_007
    return points[:n], points[n:], ids


def brute_force(stored: Vectors, ids: npt.NDArray[np.int64], query: Vectors, k: int) -> list[int]:
    scores = stored @ query
    order = np.lexsort((ids, -scores))[:k]
    return [int(i) for i in ids[order]]


def hit_ids(hits: list[VectorHit]) -> list[int]:
    return [h.id for h in hits]


def recall_at(index: VectorIndex, stored: Vectors, ids: npt.NDArray[np.int64], q: Vectors) -> float:
    found = index.search(q, 10)
    shares = [
        len(set(hit_ids(f)) & set(brute_force(stored, ids, row, 10))) / 10
        for f, row in zip(found, q, strict=True)
    ]
    return float(np.mean(shares))


@pytest.fixture(scope="module")
def data() -> tuple[Vectors, Vectors, npt.NDArray[np.int64]]:
    return clustered(4_000, 200, seed=1)


@pytest.fixture(scope="module")
def approximate(data: tuple[Vectors, Vectors, npt.NDArray[np.int64]]) -> VectorIndex:
    """Grown in batches past a small ``exact_max`` (one switch, then one retraining)."""
    stored, _, ids = data
    index = VectorIndex(DIM, exact_max=600)
    for start in range(0, len(stored), 450):
        index.add(ids[start : start + 450], stored[start : start + 450])
    return index


def test_exact_equals_brute_force(data: tuple[Vectors, Vectors, npt.NDArray[np.int64]]) -> None:
    stored, queries, ids = data
    index = VectorIndex(DIM, exact_max=10_000)
    index.add(ids[:2_500], stored[:2_500])
    index.add(ids[2_500:], stored[2_500:])
    assert index.exact and len(index) == len(stored)
    results = index.search(queries, 10)
    for hits, query in zip(results, queries, strict=True):
        assert hit_ids(hits) == brute_force(stored, ids, query, 10)
        positions = [int(np.flatnonzero(ids == h.id)[0]) for h in hits]
        np.testing.assert_allclose([h.score for h in hits], stored[positions] @ query, atol=1e-5)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 300),
    k=st.integers(0, 40),
    dim=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_exact_property(n: int, k: int, dim: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    stored = unit(rng.standard_normal((n, dim)) + 1e-3)
    ids = rng.permutation(n).astype(np.int64)
    query = unit(rng.standard_normal((1, dim)) + 1e-3)
    index = VectorIndex(dim)
    index.add(ids, stored)
    hits = index.search(query, k)[0]
    assert len(hits) == min(k, n)
    scores = stored @ query[0]
    expected = np.sort(scores)[::-1][: len(hits)]
    np.testing.assert_allclose([h.score for h in hits], expected, atol=1e-5)


def test_switch_keeps_recall(
    approximate: VectorIndex, data: tuple[Vectors, Vectors, npt.NDArray[np.int64]]
) -> None:
    stored, queries, ids = data
    assert not approximate.exact
    assert len(approximate) == len(stored)
    assert approximate.trained_size == 3_600  # switched at 900, retrained at 1,800 and 3,600
    assert approximate.nlist == nlist_for(3_600)
    assert 1 <= approximate.nprobe <= approximate.nlist
    assert recall_at(approximate, stored, ids, queries) >= 0.95


def test_stored_vectors_find_themselves(
    approximate: VectorIndex, data: tuple[Vectors, Vectors, npt.NDArray[np.int64]]
) -> None:
    stored, _, ids = data
    picks = np.arange(0, len(stored), 97)
    results = approximate.search(stored[picks], 1)
    assert [hits[0].id for hits in results] == ids[picks].tolist()
    assert all(abs(hits[0].score - 1.0) < 1e-3 for hits in results)  # float16 codes


def test_cosine_of_unnormalised_input() -> None:
    index = VectorIndex(3)
    index.add(np.array([5, 6], dtype=np.int64), np.array([[3.0, 0, 0], [0, 0, 0.5]], np.float32))
    hits = index.search(np.array([[1.0, 0, 1.0]], dtype=np.float32), 2)[0]
    assert hit_ids(hits) == [5, 6]
    assert hits[0].score == pytest.approx(np.sqrt(0.5), abs=1e-6)
    assert hits[0].score == pytest.approx(hits[1].score, abs=1e-6)  # tie: smaller id first


@pytest.mark.parametrize("exact_max", [10_000, 600])
def test_search_range(exact_max: int, data: tuple[Vectors, Vectors, npt.NDArray[np.int64]]) -> None:
    stored, queries, ids = data
    index = VectorIndex(DIM, exact_max=exact_max)
    index.add(ids, stored)
    results = index.search_range(queries, 0.6)
    found = total = 0
    for hits, query in zip(results, queries, strict=True):
        scores = stored @ query
        wanted = set(ids[scores >= 0.6].tolist())
        assert all(h.score >= 0.6 for h in hits)
        assert set(hit_ids(hits)) <= wanted
        found += len(set(hit_ids(hits)) & wanted)
        total += len(wanted)
        if index.exact:
            assert set(hit_ids(hits)) == wanted
    assert total > 0 and found / total >= 0.95
    capped = index.search_range(queries, -1.0, k_max=7)
    assert all(len(hits) == 7 for hits in capped)
    assert [hit_ids(h) for h in capped] == [hit_ids(h) for h in index.search(queries, 7)]


def test_empty_index(tmp_path: Path) -> None:
    index = VectorIndex(DIM)
    queries = unit(np.ones((3, DIM)))
    assert len(index) == 0 and index.exact
    assert index.search(queries, 5) == [[], [], []]
    assert index.search_range(queries, 0.5) == [[], [], []]
    index.add(np.zeros(0, dtype=np.int64), np.zeros((0, DIM), dtype=np.float32))
    assert len(index) == 0
    index.save(tmp_path / "empty.npz")
    loaded = VectorIndex.load(tmp_path / "empty.npz")
    assert len(loaded) == 0 and loaded.search(queries, 5) == [[], [], []]


def test_k_limits(data: tuple[Vectors, Vectors, npt.NDArray[np.int64]]) -> None:
    stored, queries, ids = data
    index = VectorIndex(DIM)
    index.add(ids[:5], stored[:5])
    assert index.search(queries[:2], 0) == [[], []]
    assert [len(h) for h in index.search(queries[:2], 50)] == [5, 5]  # one by one
    assert [len(h) for h in index.search(queries[:6], 50)] == [5] * 6  # as a batch
    assert len(index.search(queries[0], 3)) == 1  # one vector alone is a batch of one
    with pytest.raises(ValueError):
        index.search(queries, -1)


@pytest.mark.parametrize(
    "vectors",
    [
        np.zeros((2, DIM + 1), dtype=np.float32),  # wrong dimension
        np.zeros((2, 2, DIM), dtype=np.float32),  # wrong shape
        np.zeros((2, DIM), dtype=np.float32),  # no direction
        np.full((2, DIM), np.nan, dtype=np.float32),
        np.ones((2, DIM), dtype=np.int64),  # not floating point
    ],
)
def test_bad_vectors_are_refused(vectors: npt.NDArray[np.generic]) -> None:
    index = VectorIndex(DIM)
    with pytest.raises(ValueError):
        index.add(np.arange(2, dtype=np.int64), vectors)  # type: ignore[arg-type]
    index.add(np.arange(2, dtype=np.int64), np.ones((2, DIM), dtype=np.float32))
    with pytest.raises(ValueError):
        index.search(vectors, 3)  # type: ignore[arg-type]
    assert len(index) == 2


def test_bad_ids_are_refused() -> None:
    index = VectorIndex(DIM)
    vectors = np.ones((3, DIM), dtype=np.float32)
    with pytest.raises(ValueError):
        index.add(np.arange(2, dtype=np.int64), vectors)
    with pytest.raises(ValueError):
        index.add(np.arange(3, dtype=np.float64), vectors)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        VectorIndex(0)
    assert len(index) == 0


@pytest.mark.parametrize("exact_max", [10_000, 600])
def test_save_load_round_trip(
    exact_max: int, tmp_path: Path, data: tuple[Vectors, Vectors, npt.NDArray[np.int64]]
) -> None:
    stored, queries, ids = data
    index = VectorIndex(DIM, exact_max=exact_max)
    index.add(ids[:3_000], stored[:3_000])
    index.meta = {"signal": 3_000, "min_quality": -1}
    path = tmp_path / "sub" / "faces.npz"
    index.save(path)
    loaded = VectorIndex.load(path)
    assert loaded.meta == {"signal": 3_000, "min_quality": -1}
    assert (len(loaded), loaded.exact, loaded.dim) == (len(index), index.exact, index.dim)
    assert (loaded.nlist, loaded.nprobe, loaded.exact_max) == (
        index.nlist,
        index.nprobe,
        index.exact_max,
    )
    assert loaded.search(queries, 10) == index.search(queries, 10)
    loaded.add(ids[3_000:], stored[3_000:])  # keeps growing after a load
    index.add(ids[3_000:], stored[3_000:])
    assert loaded.search(queries, 10) == index.search(queries, 10)
    assert [p.name for p in path.parent.iterdir()] == ["faces.npz"]  # no temporary left


def test_meta_must_be_integers(tmp_path: Path) -> None:
    index = VectorIndex(DIM)
    index.meta = {"signal": True}
    with pytest.raises(ValueError):
        index.save(tmp_path / "x.npz")
    index.meta = {"signal": 1.5}  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        index.save(tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def _damage_payload(path: Path) -> None:
    """Flip one byte inside the stored payload (not the zip bookkeeping)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("payload.npy")
    raw = bytearray(path.read_bytes())
    raw[info.header_offset + 100 + info.compress_size // 2] ^= 0x40
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("exact_max", [10_000, 600])
def test_damaged_file_is_detected(
    exact_max: int, tmp_path: Path, data: tuple[Vectors, Vectors, npt.NDArray[np.int64]]
) -> None:
    stored, _, ids = data
    index = VectorIndex(DIM, exact_max=exact_max)
    index.add(ids[:2_000], stored[:2_000])
    path = tmp_path / "scenes.npz"
    index.save(path)
    good = path.read_bytes()
    _damage_payload(path)
    with pytest.raises(IndexCorrupt):
        VectorIndex.load(path)
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(CorruptSnapshot):  # IndexCorrupt is persist's error too
        VectorIndex.load(path)
    path.write_bytes(b"not an index")
    with pytest.raises(IndexCorrupt):
        VectorIndex.load(path)
    np.savez(path, header=np.zeros(5, dtype=np.int64))
    with pytest.raises(IndexCorrupt):
        VectorIndex.load(path)
    with pytest.raises(FileNotFoundError):
        VectorIndex.load(tmp_path / "missing.npz")


def test_nlist_rule() -> None:
    assert nlist_for(10) == 1
    assert nlist_for(20_001) == 128
    assert nlist_for(1_000_000) == 1024
    for n in (100, 1_000, 5_000, 77_777):
        assert 40 * nlist_for(n) <= n


def test_tiny_approximate_index_grows_one_by_one() -> None:
    """exact_max=0: trained from the first vector on, retrained at every doubling."""
    stored, _, ids = clustered(300, 0, seed=3)
    index = VectorIndex(DIM, exact_max=0)
    for i in range(len(stored)):
        index.add(ids[i : i + 1], stored[i : i + 1])
        assert not index.exact
    assert index.trained_size == 256
    found = index.search(stored[::10], 1)
    assert [h[0].id for h in found] == ids[::10].tolist()
