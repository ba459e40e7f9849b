"""Tasks for the Dask tests, in a module that Dask's worker processes import quickly.

A worker imports the module of every function it runs; the test module itself would bring
the whole command line with it, at every worker restart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from vident.ingest.records import ItemResult, WorkItem


def slow_task(items: list[WorkItem]) -> list[ItemResult]:
    """Work that takes long enough for a worker to be killed in the middle of it."""
    time.sleep(0.3)
    return [ItemResult(path=item.path, size=1) for item in items]


def task_that_dies_on_poison(items: list[WorkItem]) -> list[ItemResult]:
    """Stands in for a decoder that segfaults: the worker process dies without a word."""
    for item in items:
        if "poison" in item.path:
            os._exit(139)
    return [ItemResult(path=item.path, size=1) for item in items]


def items_in_threes(names: list[str]) -> Iterator[list[WorkItem]]:
    """Tasks of three work items each, as the pipeline would group them."""
    return iter([[WorkItem(path=n) for n in names[i : i + 3]] for i in range(0, len(names), 3)])
