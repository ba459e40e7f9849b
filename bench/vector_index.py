"""Embedding search: vident's VectorIndex (exact and inverted file) against a NumPy scan.

    python -m bench.vector_index              # 128-d to 1,000,000; 1280-d to 100,000; EXACT_MAX
    python -m bench.vector_index --quick      # small sizes (smoke test of the benchmark)
    python -m bench.vector_index --n 100000 --dim 512 --repeats 3 --json figures.json

Stored vectors are L2-normalised float32; similarity is the inner product (cosine). For each
size and data set the same run measures: a plain NumPy brute-force scan (the baseline, and
the ground truth), the index kept exact (``exact_max`` above the size) and the index in its
approximate form (``exact_max`` below the size, so it trains its clusters and calibrates
``nprobe`` on the data as it would in use). Queries go 256 at a time (a triage batch) and one
at a time (interactive look-ups). Timings are medians of ``repeats`` runs; builds run once.

Data sets: ``uniform`` (independent directions: no vector has a close neighbour, the worst
case for any approximate index) and ``clustered`` (skewed gaussian clusters on the sphere, an
average of 40 vectors each, their centres partly sharing a 16-d subspace, and 30 % of the
vectors near-duplicates of others, like several pictures of one face or one room). Clustered
queries are half new members of stored clusters, a quarter near-duplicates of stored vectors
("with neighbours") and a quarter members of clusters never stored ("fresh": their top ten
are unrelated vectors, as for uniform data).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from vident.index.vector import EXACT_MAX, VectorIndex

T = TypeVar("T")
Vectors = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]

K = 10
BATCH = 256
SINGLE = 50
#: Fewer one-query timings of a scan over more than this many vectors (each takes 0.1-0.5 s).
SINGLE_FEW_ABOVE = 200_000
SIZES = (10_000, 100_000, 1_000_000)
KINDS = ("uniform", "clustered")
#: (dim, largest size) of the default run: dlib-like faces to a million, scenes to 100,000.
DEFAULT_RUNS = ((128, 1_000_000), (1280, 100_000))
QUICK_RUNS = ((128, 20_000),)
#: The exact index is measured only while its float32 copy stays under this.
EXACT_BYTES_LIMIT = 2 << 30
CROSSOVER_SIZES = (2_000, 5_000, 10_000, 20_000, 50_000)
QUICK_CROSSOVER = (2_000, 10_000)
CROSSOVER_DIM = 128
_GEN_ROWS = 65_536
#: Vectors per ``add`` call when building the approximate index, as a growing store sends
#: them; the index switches and retrains on the way, so it is measured as it is in use.
ADD_BATCH = 10_000


def _normalise(x: Vectors) -> Vectors:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _gaussian(rows: int, dim: int, rng: np.random.Generator) -> Vectors:
    return rng.standard_normal((rows, dim), dtype=np.float32)


def uniform_vectors(n: int, dim: int, rng: np.random.Generator) -> Vectors:
    """Uniform directions on the sphere."""
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, _GEN_ROWS):
        stop = min(n, start + _GEN_ROWS)
        out[start:stop] = _normalise(_gaussian(stop - start, dim, rng))
    return out


def _centres(count: int, basis: Vectors, rng: np.random.Generator) -> Vectors:
    """Cluster centres: half their energy in a shared 16-d subspace, half anywhere."""
    low = _normalise(_gaussian(count, basis.shape[0], rng)) @ basis
    anywhere = _normalise(_gaussian(count, basis.shape[1], rng))
    return _normalise(np.sqrt(0.5, dtype=np.float32) * (low + anywhere))


def _around(centres: Vectors, spread: Vectors, rng: np.random.Generator) -> Vectors:
    """Points near ``centres``: cosine to the centre about 1 / sqrt(1 + spread**2)."""
    dim = centres.shape[1]
    noise = _gaussian(len(centres), dim, rng) * (spread[:, None] / np.float32(np.sqrt(dim)))
    return _normalise(centres + noise)


def clustered_vectors(
    n: int, dim: int, queries: int, rng: np.random.Generator
) -> tuple[Vectors, Vectors, int]:
    """Stored vectors, query vectors and how many leading queries have neighbours.

    n / 40 clusters with skewed sizes (the first ones far larger), member-to-centre cosine
    0.7-0.9; then 30 % of the rows replaced by near-duplicates (cosine 0.96-0.999) of others.
    """
    clusters = max(1, n // 40)
    basis = np.linalg.qr(_gaussian(dim, 16, rng))[0].T.astype(np.float32)
    centres = _centres(clusters, basis, rng)
    spreads = rng.uniform(0.5, 1.0, clusters).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, _GEN_ROWS):
        stop = min(n, start + _GEN_ROWS)
        label = (clusters * rng.random(stop - start) ** 2).astype(np.int64)
        out[start:stop] = _around(centres[label], spreads[label], rng)
    copies = rng.choice(n, size=int(0.3 * n), replace=False)
    sources = rng.integers(0, n, size=len(copies))
    for start in range(0, len(copies), _GEN_ROWS):
        part = slice(start, start + _GEN_ROWS)
        tight = rng.uniform(0.05, 0.3, len(copies[part])).astype(np.float32)
        out[copies[part]] = _around(out[sources[part]], tight, rng)
    known, dups = queries // 2, queries // 4
    fresh = queries - known - dups
    label = (clusters * rng.random(known) ** 2).astype(np.int64)
    near = _around(
        out[rng.integers(0, n, dups)], rng.uniform(0.05, 0.3, dups).astype(np.float32), rng
    )
    new = _around(_centres(fresh, basis, rng), rng.uniform(0.5, 1.0, fresh).astype(np.float32), rng)
    query = np.concatenate([_around(centres[label], spreads[label], rng), near, new])
    return out, query, known + dups


def numpy_topk(stored: Vectors, queries: Vectors, k: int) -> tuple[Vectors, Rows]:
    """The baseline: brute force, one matrix product per block of stored rows."""
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_r = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(stored), _GEN_ROWS):
        scores = queries @ stored[start : start + _GEN_ROWS].T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best_s = np.concatenate([best_s, np.take_along_axis(scores, top, axis=1)], axis=1)
        best_r = np.concatenate([best_r, top + start], axis=1)
        keep = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
        best_s = np.take_along_axis(best_s, keep, axis=1)
        best_r = np.take_along_axis(best_r, keep, axis=1)
    return best_s, best_r


def timed(action: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Median seconds of ``repeats`` runs, and the last run's result."""
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def median_time(action: Callable[[], object], repeats: int) -> float:
    return timed(action, repeats)[0]


def single_ms(index: VectorIndex, queries: Vectors, count: int = SINGLE) -> float:
    """Median latency of one-query searches, in milliseconds."""
    times = []
    for row in queries[:count]:
        start = time.perf_counter()
        index.search(row[None, :], K)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def rss_bytes() -> int:
    with Path("/proc/self/statm").open() as fh:
        return int(fh.read().split()[1]) * 4096


def recall(found: list[list[int]], truth: Rows) -> float:
    """Mean share of each query's true top ten that the index returned."""
    if not len(truth):
        return float("nan")
    shares = [len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)]
    return float(np.mean(shares))


def _dataset(n: int, dim: int, kind: str, rng: np.random.Generator) -> tuple[Vectors, Vectors, int]:
    if kind == "uniform":
        return uniform_vectors(n, dim, rng), uniform_vectors(BATCH, dim, rng), 0
    if kind == "clustered":
        return clustered_vectors(n, dim, BATCH, rng)
    raise ValueError(f"unknown data set {kind!r}")


def run_one(n: int, dim: int, kind: str, repeats: int) -> dict[str, float]:
    """Every figure for one size and data set (names: see :data:`ROWS`)."""
    rng = np.random.default_rng(20261124 + n + dim)
    stored, queries, with_neighbours = _dataset(n, dim, kind, rng)
    ids = rng.permutation(n).astype(np.int64) + 1_000_000  # store ids, in no particular order
    figures: dict[str, float] = {"n": float(n), "dim": float(dim), "repeats": float(repeats)}
    seconds, (truth_scores, truth_rows) = timed(lambda: numpy_topk(stored, queries, K), repeats)
    figures["numpy_qps"] = BATCH / seconds
    truth = ids[truth_rows]

    if n * dim * 4 <= EXACT_BYTES_LIMIT:
        exact = VectorIndex(dim, exact_max=n)
        exact.add(ids, stored)
        figures["exact_qps"] = BATCH / median_time(lambda: exact.search(queries, K), repeats)
        few = SINGLE // 5 if n > SINGLE_FEW_ABOVE else SINGLE
        figures["exact_single_ms"] = single_ms(exact, queries, few)
        figures["exact_recall"] = recall(
            [[h.id for h in r] for r in exact.search(queries, K)], truth
        )
        figures["exact_bytes"] = exact.nbytes / n
        del exact

    rss_before = rss_bytes()
    start = time.perf_counter()
    index = VectorIndex(dim, exact_max=min(EXACT_MAX, n // 2))
    for first in range(0, n, ADD_BATCH):  # as ingest and store sync add: switch, retrain
        index.add(ids[first : first + ADD_BATCH], stored[first : first + ADD_BATCH])
    figures["build_s"] = time.perf_counter() - start
    figures["trained_size"] = float(index.trained_size)
    if n >= 100_000:  # below, allocator slack drowns the figure
        figures["rss_bytes"] = (rss_bytes() - rss_before) / n
    figures["index_bytes"] = index.nbytes / n
    figures["nlist"] = float(index.nlist)
    figures["nprobe"] = float(index.nprobe)
    figures["approx_qps"] = BATCH / median_time(lambda: index.search(queries, K), repeats)
    figures["speedup"] = figures["approx_qps"] / figures["numpy_qps"]
    if "exact_qps" in figures:
        figures["batch_ratio"] = figures["approx_qps"] / figures["exact_qps"]
    figures["approx_single_ms"] = single_ms(index, queries)
    found = [[h.id for h in r] for r in index.search(queries, K)]
    figures["recall"] = recall(found, truth)
    if kind == "clustered":
        figures["recall_neighbours"] = recall(found[:with_neighbours], truth[:with_neighbours])
        figures["recall_fresh"] = recall(found[with_neighbours:], truth[with_neighbours:])
        best = truth_scores.max(axis=1)
        figures["best_neighbours"] = float(np.median(best[:with_neighbours]))
        figures["best_fresh"] = float(np.median(best[with_neighbours:]))
    return figures


def run(n: int = 1_000_000, dim: int = 128, repeats: int = 3) -> dict[str, dict[str, float]]:
    """Figures for each size of :data:`SIZES` up to ``n`` (and ``n`` itself) and each data
    set, keyed ``"<size> <data set>"``."""
    sizes = sorted({s for s in SIZES if s < n} | {n})
    return {f"{s:,} {kind}": run_one(s, dim, kind, repeats) for s in sizes for kind in KINDS}


def crossover(
    repeats: int = 3, sizes: tuple[int, ...] = CROSSOVER_SIZES
) -> dict[str, dict[str, float]]:
    """Exact against approximate on clustered data around :data:`EXACT_MAX`: the evidence for
    where the inverted file starts to pay. The approximate index is trained on all ``n``
    vectors at once, as right after the switch."""
    out: dict[str, dict[str, float]] = {}
    for n in sizes:
        rng = np.random.default_rng(7 + n)
        stored, queries, with_neighbours = clustered_vectors(n, CROSSOVER_DIM, BATCH, rng)
        ids = np.arange(n, dtype=np.int64)
        exact = VectorIndex(CROSSOVER_DIM, exact_max=n)
        exact.add(ids, stored)
        approx = VectorIndex(CROSSOVER_DIM, exact_max=n - 1)
        approx.add(ids, stored)
        truth = np.array([[h.id for h in r] for r in exact.search(queries, K)])
        found = [[h.id for h in r] for r in approx.search(queries, K)]
        figures = _compare(exact, approx, queries, repeats)
        figures["recall"] = recall(found, truth)
        figures["recall_neighbours"] = recall(found[:with_neighbours], truth[:with_neighbours])
        out[f"{n:,}"] = figures
    return out


def _compare(
    exact: VectorIndex, approx: VectorIndex, queries: Vectors, repeats: int
) -> dict[str, float]:
    """Speeds of both indexes on the same queries, single and batched, and their ratios."""
    figures = {
        "exact_single_ms": single_ms(exact, queries),
        "approx_single_ms": single_ms(approx, queries),
        "exact_qps": BATCH / median_time(lambda: exact.search(queries, K), repeats),
        "approx_qps": BATCH / median_time(lambda: approx.search(queries, K), repeats),
        "nlist": float(approx.nlist),
        "nprobe": float(approx.nprobe),
    }
    figures["single_ratio"] = figures["exact_single_ms"] / figures["approx_single_ms"]
    figures["batch_ratio"] = figures["approx_qps"] / figures["exact_qps"]
    return figures


ROWS = [
    ("numpy_qps", "NumPy brute force, queries/s", "{:,.0f}"),
    ("exact_qps", "exact index, queries/s", "{:,.0f}"),
    ("approx_qps", "approximate index, queries/s", "{:,.0f}"),
    ("speedup", "approximate / NumPy", "{:.1f}x"),
    ("batch_ratio", "approximate / exact", "{:.1f}x"),
    ("exact_single_ms", "one query, exact, ms", "{:.2f}"),
    ("approx_single_ms", "one query, approximate, ms", "{:.2f}"),
    ("recall", "recall@10, all queries", "{:.3f}"),
    ("recall_neighbours", "  with neighbours (3/4)", "{:.3f}"),
    ("recall_fresh", "  fresh (1/4)", "{:.3f}"),
    ("best_neighbours", "best cosine, with neighbours", "{:.2f}"),
    ("best_fresh", "best cosine, fresh", "{:.2f}"),
    ("exact_recall", "recall@10 of exact index", "{:.3f}"),
    ("trained_size", "vectors at last training", "{:,.0f}"),
    ("nlist", "nlist", "{:.0f}"),
    ("nprobe", "nprobe (calibrated)", "{:.0f}"),
    ("build_s", "approximate build, s", "{:.1f}"),
    ("index_bytes", "approximate, bytes/vector", "{:.0f}"),
    ("rss_bytes", "process growth, bytes/vector", "{:.0f}"),
    ("exact_bytes", "exact, bytes/vector", "{:.0f}"),
]

CROSSOVER_ROWS = [
    ("exact_single_ms", "one query, exact, ms", "{:.3f}"),
    ("approx_single_ms", "one query, approximate, ms", "{:.3f}"),
    ("single_ratio", "one query: approximate speed-up", "{:.1f}x"),
    ("exact_qps", "batch of 256, exact, queries/s", "{:,.0f}"),
    ("approx_qps", "batch of 256, approximate, queries/s", "{:,.0f}"),
    ("batch_ratio", "batch: approximate speed-up", "{:.1f}x"),
    ("recall_neighbours", "recall@10, with neighbours", "{:.3f}"),
    ("recall", "recall@10, all queries", "{:.3f}"),
    ("nlist", "nlist", "{:.0f}"),
    ("nprobe", "nprobe", "{:.0f}"),
]


def table(
    title: str, results: dict[str, dict[str, float]], rows: list[tuple[str, str, str]]
) -> Table:
    names = list(results)
    out = Table(title=title)
    out.add_column("figure")
    for name in names:
        out.add_column(name, justify="right")
    for key, label, fmt in rows:
        if any(key in results[name] for name in names):
            cells = [
                fmt.format(results[name][key]) if key in results[name] else "-" for name in names
            ]
            out.add_row(label, *cells)
    return out


Results = dict[str, dict[str, dict[str, float]]]


def run_all(
    runs: tuple[tuple[int, int], ...] = DEFAULT_RUNS,
    repeats: int = 3,
    crossover_sizes: tuple[int, ...] = CROSSOVER_SIZES,
    console: Console | None = None,
) -> Results:
    """Every ``(dim, largest size)`` run and the EXACT_MAX sweep, each table printed as it
    completes; the figures keyed ``"<dim>-d"`` and ``"crossover"`` (``make bench`` calls this:
    ``run_all(QUICK_RUNS, 1, QUICK_CROSSOVER)`` when quick)."""
    console = console or Console(width=max(Console().width, 120))
    results: Results = {}
    for dim, n in runs:
        figures = run(n, dim, repeats)
        results[f"{dim}-d"] = figures
        title = f"{dim}-d vectors, top {K}, median of {repeats} runs, EXACT_MAX {EXACT_MAX:,}"
        console.print(table(title, figures, ROWS))
    if crossover_sizes:
        figures = crossover(repeats, crossover_sizes)
        results["crossover"] = figures
        title = f"exact vs approximate, clustered {CROSSOVER_DIM}-d (EXACT_MAX = {EXACT_MAX:,})"
        console.print(table(title, figures, CROSSOVER_ROWS))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.vector_index", description=__doc__)
    parser.add_argument("--n", type=int, help="largest size (with --dim: one run)")
    parser.add_argument("--dim", type=int, help="vector length (with --n: one run)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--no-crossover", action="store_true", help="skip the EXACT_MAX sweep")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.n is not None or args.dim is not None:
        runs: tuple[tuple[int, int], ...] = ((args.dim or 128, args.n or 1_000_000),)
    else:
        runs = QUICK_RUNS if args.quick else DEFAULT_RUNS
    sizes = QUICK_CROSSOVER if args.quick else CROSSOVER_SIZES
    results = run_all(runs, args.repeats, () if args.no_crossover else sizes)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
