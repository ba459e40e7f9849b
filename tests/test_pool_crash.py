"""A file that kills its worker process (a native decoder crash) costs that file, not the job."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from vident.ingest.pipeline import run_tasks
from vident.ingest.records import ItemResult, WorkItem


def _task_that_dies_on_poison(items: list[WorkItem]) -> list[ItemResult]:
    """Stands in for a decoder that segfaults: the process dies without a word."""
    results = []
    for item in items:
        if "poison" in item.path:
            os._exit(139)
        results.append(ItemResult(path=item.path, size=1))
    return results


def _pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork"))


def test_a_crashing_file_is_recorded_and_every_other_file_still_done() -> None:
    names = [f"{i:03d}.jpg" for i in range(40)]
    names[7] = "poison-a.jpg"
    names[29] = "poison-b.jpg"
    tasks = iter([[WorkItem(path=n) for n in names[i : i + 4]] for i in range(0, 40, 4)])
    delivered: list[ItemResult] = []
    pools = []

    def new_pool() -> ProcessPoolExecutor:
        pools.append(_pool())
        return pools[-1]

    run_tasks(
        new_pool(),
        new_pool,
        tasks,
        delivered.extend,
        lambda: None,
        window=4,
        task=_task_that_dies_on_poison,
    )

    by_path = {r.path: r for r in delivered}
    assert sorted(by_path) == sorted(names) and len(delivered) == len(names)
    for poison in ("poison-a.jpg", "poison-b.jpg"):
        assert "died" in str(by_path[poison].error)
    assert all(r.error is None for p, r in by_path.items() if "poison" not in p)
    assert len(pools) >= 3  # the first pool and one new pool per crash, at least
