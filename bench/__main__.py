"""``make bench``: ingest, PDQ index, vector index, per-signal speed and the multi-user load
test on PostgreSQL, one after the other.

The quality figures (accuracy on the shared corpus) are ``python -m bench.quality``.

``--quick`` runs small versions of both (a smoke test of the benchmarks themselves, not
figures to quote); ``--json PATH`` writes every figure to one file.
"""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path
from typing import Any

#: (files, repeats) of the ingest benchmark, full and quick.
INGEST_FULL, INGEST_QUICK = (300, 3), (24, 1)
#: (codes, repeats) of the PDQ index benchmark when quick; a full run uses its own defaults.
PDQ_INDEX_QUICK = (20_000, 1)


def _pdq_index(n: int | None, repeats: int | None) -> dict[str, Any]:
    """Uniform random codes and codes with correlated bits (crowded buckets), side by side."""
    from rich.console import Console

    from bench import pdq_index

    defaults = inspect.signature(pdq_index.run).parameters
    n = n if n is not None else defaults["n"].default
    repeats = repeats if repeats is not None else defaults["repeats"].default
    print(f"PDQ index benchmark: {n:,} codes, {repeats} repeats, uniform and correlated...")
    figures = {data: pdq_index.run(n, repeats, data) for data in ("uniform", "correlated")}
    Console().print(pdq_index.table(figures))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small runs (smoke test)")
    parser.add_argument("--json", type=Path, help="write all figures to this file")
    args = parser.parse_args(argv)
    from rich.console import Console

    from bench import ingest

    results: dict[str, Any] = {"ingest": ingest.run(*(INGEST_QUICK if args.quick else INGEST_FULL))}
    print()
    results["pdq_index"] = _pdq_index(*(PDQ_INDEX_QUICK if args.quick else (None, None)))
    print()
    from bench import signal_speed
    from bench import vector_index as vi

    print("vector index benchmark...")
    results["vector_index"] = (
        vi.run_all(vi.QUICK_RUNS, 1, vi.QUICK_CROSSOVER) if args.quick else vi.run_all()
    )
    print()
    print("picture signals: throughput and ingest cost...")
    speed = signal_speed.run(*((1, 2, 8) if args.quick else (3, 2, 60)))
    Console().print(signal_speed.table(speed))
    results["signal_speed"] = speed
    print()
    from bench import camera_facts

    results["camera_facts"] = camera_facts.report(1 if args.quick else 5)
    print()
    from bench import load_pg

    plan = load_pg.QUICK if args.quick else load_pg.FULL
    print(f"multi-user load on PostgreSQL: {plan.clients} clients while an ingest runs...")
    outcome = load_pg.run(plan)
    status = load_pg.report(outcome)  # 1 when a request failed or a write was lost
    results["load_pg"] = load_pg.figures(outcome)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
