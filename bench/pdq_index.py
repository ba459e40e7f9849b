"""PDQ near-duplicate lookup: vident's binary index against a NumPy scan, same run, same data.

    python -m bench.pdq_index                 # 1,000,000 codes, uniform and correlated
    python -m bench.pdq_index --n 100000 --repeats 3 --json figures.json

Builds ``n`` stored 256-bit codes and plants, for 1,000 query codes, one stored neighbour at
every distance 0..31. Queries go in the way triage sends them: 256 pictures x 8 rotations and
flips = 2,048 codes per call. Every timing is repeated and the median reported.

Data sets: ``uniform`` (independent random bits) and ``correlated`` (5,000 base codes with
correlated bits from a low-dimensional latent model, each copied with 0-64 random flips:
crowded hash buckets, families of near duplicates), so the figures do not rest on friendly
data; ``extreme`` is ``correlated`` with far stronger correlation than real PDQ shows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from vident.index.binary import FaissBinaryIndex, Hit, IndexTuning, NumpyBinaryIndex
from vident.index.mih import choose_width

BITS = 256
RADIUS = 31
PLANTED_QUERIES = 1_000
PICTURES_PER_CALL = 256
VARIANTS = 8
BASELINE_QUERIES = 256
SINGLE_QUERIES = 200
NOISE = {"correlated": 3.0, "extreme": 1.0}
Codes = npt.NDArray[np.uint8]


def uniform_codes(n: int, rng: np.random.Generator) -> Codes:
    return rng.integers(0, 256, size=(n, BITS // 8), dtype=np.uint8)


def latent_codes(
    n: int, rng: np.random.Generator, projection: npt.NDArray[np.float64], noise: float
) -> Codes:
    """Codes whose bits are correlated: signs of a fixed projection of an 8-d latent.

    The spread of distances between unrelated codes measures the correlation: 8.0 bits
    (standard deviation) for independent bits, 8.9 for PDQ of the shared corpus's distinct
    photos, 15 for ``noise=3`` ("correlated") and 27 for ``noise=1`` ("extreme").
    """
    latent = rng.standard_normal((n, projection.shape[1]))
    values = latent @ projection.T + noise * rng.standard_normal((n, BITS))
    return np.packbits(values > 0, axis=1)


def flip_bits(codes: Codes, flips: npt.NDArray[np.int64], rng: np.random.Generator) -> Codes:
    """Each row with ``flips[i]`` distinct random bits inverted (so at exactly that distance)."""
    out = codes.copy()
    order = np.argsort(rng.random((len(codes), BITS)), axis=1)
    chosen = order < flips[:, None]
    masks = np.packbits(chosen, axis=1)
    out ^= masks
    return out


def scatter_bits(codes: Codes, most: int, rng: np.random.Generator) -> Codes:
    """Each row with up to ``most`` random bits inverted (cheap; repeats cancel out)."""
    flips = rng.integers(0, most + 1, size=len(codes))
    bits = np.unpackbits(codes, axis=1)
    rows = np.arange(len(codes))
    for step in range(most):
        live = rows[flips > step]
        bits[live, rng.integers(0, BITS, size=len(live))] ^= 1
    return np.packbits(bits, axis=1)


def clustered_codes(
    n: int, fresh: int, noise: float, rng: np.random.Generator
) -> tuple[Codes, Codes, Codes]:
    """Correlated data: stored codes, planted query codes, and fresh triage codes.

    Stored: 5,000 bases from :func:`latent_codes`, each copied with 0-64 random flips
    (families of near duplicates, 200 per base at a million codes).
    Fresh: half new latent codes (new material), half stored codes with 0-40 flips (known
    material seen again).
    """
    projection = rng.standard_normal((BITS, 8))
    bases = latent_codes(5_000, rng, projection, noise)
    out = np.empty((n, BITS // 8), dtype=np.uint8)
    step = 100_000
    for start in range(0, n, step):
        count = min(step, n - start)
        picks = bases[rng.integers(0, len(bases), size=count)]
        out[start : start + count] = scatter_bits(picks, 64, rng)
    seen = scatter_bits(out[rng.integers(0, n, size=fresh // 2)], 40, rng)
    new = latent_codes(fresh - len(seen), rng, projection, noise)
    return out, latent_codes(PLANTED_QUERIES, rng, projection, noise), np.concatenate([new, seen])


def plant(stored: Codes, queries: Codes, rng: np.random.Generator) -> set[tuple[int, int]]:
    """Overwrite stored rows with neighbours of each query at distances 0..RADIUS."""
    per_query = RADIUS + 1
    rows = rng.choice(len(stored), size=len(queries) * per_query, replace=False)
    distances = np.tile(np.arange(per_query, dtype=np.int64), len(queries))
    sources = np.repeat(queries, per_query, axis=0)
    stored[rows] = flip_bits(sources, distances, rng)
    owners = np.repeat(np.arange(len(queries)), per_query)
    return set(zip(owners.tolist(), rows.tolist(), strict=True))


def triage_batch(queries: Codes, rng: np.random.Generator, data: Codes) -> Codes:
    """256 pictures x 8 variants: the planted queries first, the rest fresh codes alike."""
    total = PICTURES_PER_CALL * VARIANTS
    batch = np.concatenate([queries[:total], data[: max(0, total - len(queries))]])
    return batch[rng.permutation(len(batch))]


def median_time(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rss_bytes() -> int:
    with Path("/proc/self/statm").open() as fh:
        return int(fh.read().split()[1]) * 4096


def as_set(hits: list[Hit]) -> set[tuple[int, int, int]]:
    return {(h.query, h.ref, h.distance) for h in hits}


def run(
    n: int = 1_000_000, repeats: int = 5, data: str = "uniform", compare: bool = False
) -> dict[str, float]:
    """Measure both indexes on ``n`` codes; returns the figures (see ``main`` for names)."""
    rng = np.random.default_rng(20261124)
    fresh = PICTURES_PER_CALL * VARIANTS
    if data == "uniform":
        stored = uniform_codes(n, rng)
        queries = uniform_codes(PLANTED_QUERIES, rng)
        fresh_source = uniform_codes(fresh, rng)
    elif data in NOISE:
        stored, queries, fresh_source = clustered_codes(n, fresh, NOISE[data], rng)
    else:
        raise ValueError(f"unknown data set {data!r}")
    queries = queries[: max(1, min(len(queries), n // (4 * (RADIUS + 1))))]  # small --n
    planted = plant(stored, queries, rng)
    refs = np.arange(n, dtype=np.int64)
    batch = triage_batch(queries, rng, fresh_source)
    figures: dict[str, float] = {"n": float(n), "repeats": float(repeats)}

    baseline = NumpyBinaryIndex(BITS)
    baseline.add(stored, refs)
    small = batch[:BASELINE_QUERIES]
    figures["numpy_qps"] = BASELINE_QUERIES / median_time(
        lambda: baseline.search_radius(small, RADIUS), repeats
    )
    expected = as_set(baseline.search_radius(small, RADIUS))

    rss_before = rss_bytes()
    index = FaissBinaryIndex(BITS)
    index.add(stored, refs)
    index.build()
    figures["rss_per_hash"] = (rss_bytes() - rss_before) / n

    def build() -> None:
        fresh = FaissBinaryIndex(BITS)
        fresh.add(stored, refs)
        fresh.build()

    figures["build_s"] = median_time(build, repeats)
    figures["bytes_per_hash"] = index.nbytes / n
    figures["vident_qps"] = len(batch) / median_time(
        lambda: index.search_radius(batch, RADIUS), repeats
    )
    figures["speedup"] = figures["vident_qps"] / figures["numpy_qps"]
    figures["chunk_bits"] = float(choose_width(n, BITS))
    figures.update(narrow_chunks(stored, refs, batch, small, expected, repeats))
    figures["over_narrow"] = figures["vident_qps"] / figures["narrow_qps"]
    figures["equal_to_numpy"] = float(as_set(index.search_radius(small, RADIUS)) == expected)

    found = {(h.query, h.ref) for h in index.search_radius(queries, RADIUS)}
    figures["recall"] = len(planted & found) / len(planted)

    singles = [batch[i : i + 1] for i in range(SINGLE_QUERIES)]
    latencies = []
    for one in singles:
        start = time.perf_counter()
        index.search_radius(one, RADIUS)
        latencies.append(time.perf_counter() - start)
    figures["single_ms"] = 1000 * statistics.median(latencies)

    flat = FaissBinaryIndex(BITS, IndexTuning(structure="flat"))
    flat.add(stored, refs)
    flat_batch = batch[: 2 * BASELINE_QUERIES]
    figures["flat_qps"] = len(flat_batch) / median_time(
        lambda: flat.search_radius(flat_batch, RADIUS), repeats
    )
    figures["flat_equal"] = float(as_set(flat.search_radius(small, RADIUS)) == expected)
    figures["hits_per_query"] = len(index.search_radius(batch, RADIUS)) / len(batch)
    if compare:
        figures.update(faiss_multihash(stored, batch, small, expected, repeats))
    return figures


def narrow_chunks(
    stored: Codes,
    refs: npt.NDArray[np.int64],
    batch: Codes,
    small: Codes,
    expected: set[tuple[int, int, int]],
    repeats: int,
) -> dict[str, float]:
    """The same index with the fixed 16 x 16-bit layout used before chunks widened with
    the index (vident issue 13): the in-run baseline for the width choice."""
    index = FaissBinaryIndex(BITS, IndexTuning(mih_width=16))
    index.add(stored, refs)
    index.build()
    return {
        "narrow_qps": len(batch) / median_time(lambda: index.search_radius(batch, RADIUS), repeats),
        "narrow_equal": float(as_set(index.search_radius(small, RADIUS)) == expected),
        "narrow_bytes_per_hash": index.nbytes / len(stored),
    }


def faiss_multihash(
    stored: Codes, batch: Codes, small: Codes, expected: set[tuple[int, int, int]], repeats: int
) -> dict[str, float]:
    """FAISS's own multi-index hashing (16 x 16 bits, one flip: exact at radius 31)."""
    rss_before = rss_bytes()
    start = time.perf_counter()
    index = faiss.IndexBinaryMultiHash(BITS, 16, 16)
    index.nflip = RADIUS // 16
    index.add(stored)
    build_s = time.perf_counter() - start
    rss = (rss_bytes() - rss_before) / len(stored)

    def search(queries: Codes) -> set[tuple[int, int, int]]:
        lims, dists, labels = index.range_search(queries, RADIUS + 1)  # FAISS: strict <
        owners = np.repeat(np.arange(len(queries)), np.diff(lims.astype(np.int64)))
        return set(zip(owners.tolist(), labels.tolist(), dists.tolist(), strict=True))

    qps = len(batch) / median_time(lambda: search(batch), repeats)
    return {
        "multihash_qps": qps,
        "multihash_build_s": build_s,
        "multihash_rss_per_hash": rss,
        "multihash_equal": float(search(small) == expected),
    }


ROWS = [
    ("numpy_qps", "NumPy scan (bitwise_count), queries/s", "{:,.0f}"),
    ("vident_qps", "vident FaissBinaryIndex (MIH from 32,768 codes), queries/s", "{:,.0f}"),
    ("speedup", "speed-up over NumPy", "{:.1f}x"),
    ("chunk_bits", "bits per MIH chunk (chosen from n)", "{:.0f}"),
    ("narrow_qps", "same index with 16 x 16-bit chunks (before issue 13), queries/s", "{:,.0f}"),
    ("over_narrow", "chosen chunks over 16-bit chunks", "{:.2f}x"),
    ("narrow_equal", "16-bit chunk results equal to NumPy scan", "{:.0f}"),
    ("narrow_bytes_per_hash", "16-bit chunk index memory per hash, bytes", "{:.0f}"),
    ("flat_qps", "FAISS IndexBinaryFlat range search, queries/s", "{:,.0f}"),
    ("recall", "recall of planted neighbours (d <= 31)", "{:.4f}"),
    ("equal_to_numpy", "results equal to NumPy scan", "{:.0f}"),
    ("flat_equal", "flat results equal to NumPy scan", "{:.0f}"),
    ("hits_per_query", "hits per query", "{:.1f}"),
    ("single_ms", "latency of one query, ms", "{:.2f}"),
    ("build_s", "build time, s", "{:.2f}"),
    ("bytes_per_hash", "index memory per hash, bytes", "{:.0f}"),
    ("rss_per_hash", "process memory growth per hash, bytes", "{:.0f}"),
    ("multihash_qps", "FAISS IndexBinaryMultiHash (16x16, 1 flip), queries/s", "{:,.0f}"),
    ("multihash_equal", "multihash results equal to NumPy scan", "{:.0f}"),
    ("multihash_build_s", "multihash build time, s", "{:.2f}"),
    ("multihash_rss_per_hash", "multihash process memory growth per hash, bytes", "{:.0f}"),
]


def table(results: dict[str, dict[str, float]]) -> Table:
    names = list(results)
    first = results[names[0]]
    out = Table(
        title=f"PDQ radius {RADIUS} lookup, {int(first['n']):,} codes, "
        f"median of {int(first['repeats'])} runs, "
        f"{PICTURES_PER_CALL} pictures x {VARIANTS} variants per call"
    )
    out.add_column("figure")
    for name in names:
        out.add_column(name, justify="right")
    for key, label, fmt in ROWS:
        if all(key in results[name] for name in names):
            out.add_row(label, *(fmt.format(results[name][key]) for name in names))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pdq_index", description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="stored codes")
    parser.add_argument("--repeats", type=int, default=5, help="runs per timing (median)")
    parser.add_argument(
        "--data",
        choices=["uniform", "correlated", "extreme", "both"],
        default="both",
        help="data set (both: uniform and correlated)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also measure FAISS IndexBinaryMultiHash (about 10 s and 350 bytes/hash more)",
    )
    args = parser.parse_args(argv)
    sets = ["uniform", "correlated"] if args.data == "both" else [args.data]
    results = {name: run(args.n, args.repeats, name, args.compare) for name in sets}
    Console().print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
