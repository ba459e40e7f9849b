"""The ingest pipeline: walk, hash and decode in a process pool, commit in batches.

The walker runs lazily in this process; workers (a process pool) turn work items into result
records; this process is the single writer and commits a batch per transaction, then brings
the near-duplicate indexes up to date. Occurrence rows double as the record of finished
items: a rerun skips them, so ingest is idempotent and resumes after a kill.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from vident.config import Limits, Settings
from vident.index.near import NearIndex, open_all
from vident.ingest.lock import writer_lock
from vident.ingest.records import ItemResult, WorkItem
from vident.ingest.walk import SourceNotFound, measure_source, walk_source
from vident.ingest.worker import process_batch
from vident.store.db import Store
from vident.store.models import Source, utcnow
from vident.store.sources import done_paths, open_source
from vident.store.writer import write_results

#: Work items sent to a worker at once, and the bytes of archive members that may ride along.
TASK_ITEMS = 4
TASK_BYTES = 32 * 1024 * 1024
#: Longest time results wait in memory before they are committed.
FLUSH_SECONDS = 2.0


class ProgressSink(Protocol):
    """Where the pipeline reports progress (a Rich bar in the CLI, nothing in scripts)."""

    def start(self, files: int, nbytes: int) -> None: ...

    def advance(self, files: int, nbytes: int) -> None: ...

    def finish(self) -> None: ...


class _NoProgress:
    def start(self, files: int, nbytes: int) -> None:
        pass

    def advance(self, files: int, nbytes: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass
class IngestSummary:
    source: str
    files: int = 0
    errors: int = 0
    skipped: int = 0
    new_media: int = 0
    bytes: int = 0
    seconds: float = 0.0
    error_samples: list[tuple[str, str]] = field(default_factory=list)


def _tasks(
    items: Iterable[WorkItem],
    skip: set[str],
    summary: IngestSummary,
    progress: ProgressSink,
    spooled: dict[str, str],
) -> Iterator[list[WorkItem]]:
    """Group work items into tasks, skipping finished ones and noting spooled copies."""
    batch: list[WorkItem] = []
    carried = 0
    for item in items:
        if item.path in skip:
            summary.skipped += 1
            progress.advance(1, item.size or 0)
            if item.spooled and item.fs_path:
                Path(item.fs_path).unlink(missing_ok=True)
            continue
        if item.spooled and item.fs_path:
            spooled[item.path] = item.fs_path
        batch.append(item)
        carried += len(item.data) if item.data is not None else 0
        if len(batch) >= TASK_ITEMS or carried >= TASK_BYTES:
            yield batch
            batch, carried = [], 0
    if batch:
        yield batch


_LIMITS = Limits()


def _init_worker(limits: Limits) -> None:
    global _LIMITS
    _LIMITS = limits


def _run_task(items: list[WorkItem]) -> list[ItemResult]:
    return process_batch(items, _LIMITS)


def limits_of(settings: Settings) -> Limits:
    return Limits(**settings.model_dump(include=set(Limits.model_fields)))


class _Writer:
    """Buffers results and commits them in batches, then updates the indexes."""

    def __init__(
        self,
        store: Store,
        source_id: int,
        indexes: list[NearIndex],
        batch_size: int,
        summary: IngestSummary,
        progress: ProgressSink,
    ) -> None:
        self.store, self.source_id, self.indexes = store, source_id, indexes
        self.batch_size, self.summary, self.progress = batch_size, summary, progress
        self.pending: list[ItemResult] = []
        self.last_flush = time.monotonic()

    def add(self, results: list[ItemResult]) -> None:
        self.pending.extend(results)
        self.flush_if_due()

    def flush_if_due(self) -> None:
        """Commit when a batch is full, or when results have waited long enough."""
        if len(self.pending) >= self.batch_size or (
            time.monotonic() - self.last_flush >= FLUSH_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        with self.store.session() as session:
            self.summary.new_media += write_results(session, self.source_id, batch)
        with self.store.reader() as session:
            for index in self.indexes:
                index.sync(session)
                index.save(force=False)
        for result in batch:
            self.summary.files += 1
            self.summary.bytes += result.size or 0
            if result.error is not None:
                self.summary.errors += 1
                if len(self.summary.error_samples) < 20:
                    self.summary.error_samples.append((result.path, result.error))
        self.progress.advance(len(batch), sum(r.size or 0 for r in batch))


def ingest_source(
    store: Store,
    settings: Settings,
    root: Path,
    source_name: str,
    *,
    case: str | None = None,
    workers: int | None = None,
    progress: ProgressSink | None = None,
) -> IngestSummary:
    """Ingest ``root`` (folder, file or archive) as source ``source_name``."""
    sink: ProgressSink = progress or _NoProgress()
    if not os.path.lexists(root):
        raise SourceNotFound(f"{root} does not exist: give the path of a folder, file or archive")
    started = time.monotonic()
    summary = IngestSummary(source=source_name)
    limits = limits_of(settings)
    tmp_dir = settings.tmp_dir
    count = workers or settings.workers or os.cpu_count() or 1
    with writer_lock(settings.data):
        # Fork the workers before this process opens any connection, index or thread.
        pool = _start_pool(count, limits)
        # Scratch space left by a killed run is garbage: nobody else writes here now.
        shutil.rmtree(tmp_dir, ignore_errors=True)
        tmp_dir.mkdir(parents=True, exist_ok=True)
        with store.session() as session:
            source = open_source(session, source_name, str(root.resolve()), case)
            source_id = source.id
            skip = done_paths(session, source_id)
        with store.reader() as session:
            indexes = list(open_all(session, settings.index_dir, settings.pdq_min_quality).values())
        files, nbytes = measure_source(root)
        sink.start(files, nbytes)
        writer = _Writer(store, source_id, indexes, settings.batch_size, summary, sink)
        spooled: dict[str, str] = {}

        def deliver(results: list[ItemResult]) -> None:
            writer.add(results)
            for result in results:  # a rerun extracts the member again if need be
                if (copy := spooled.pop(result.path, None)) is not None:
                    Path(copy).unlink(missing_ok=True)

        try:
            tasks = _tasks(walk_source(root, limits, tmp_dir), skip, summary, sink, spooled)
            run_tasks(
                pool,
                lambda: _start_pool(count, limits),
                tasks,
                deliver,
                writer.flush_if_due,
                window=count * 3,
            )
        finally:
            writer.flush()
            for index in indexes:
                index.save()
            sink.finish()
        with store.session() as session:
            finished = session.get(Source, source_id)
            assert finished is not None
            finished.status = "complete"
            finished.finished_at = utcnow()
    summary.seconds = time.monotonic() - started
    return summary


def _noop() -> None:
    pass


def _start_pool(workers: int, limits: Limits) -> ProcessPoolExecutor:
    """A process pool whose workers are already running.

    On Linux the workers are forked at once, so they start in milliseconds with every module
    already imported. Elsewhere: forkserver.
    """
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "forkserver"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["vident.ingest.worker"])
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(limits,)
    )
    pool.submit(_noop).result()
    return pool


def crashed(item: WorkItem) -> ItemResult:
    """The record of a file that killed the worker decoding it (a decoder bug, not ours)."""
    return ItemResult(
        path=item.path,
        size=item.size,
        times=item.times,
        error="the worker process died while reading this file (a decoder crash); not retried",
    )


def run_tasks(
    pool: ProcessPoolExecutor,
    new_pool: Callable[[], ProcessPoolExecutor],
    tasks: Iterator[list[WorkItem]],
    deliver: Callable[[list[ItemResult]], None],
    idle: Callable[[], None],
    *,
    window: int,
    task: Callable[[list[WorkItem]], list[ItemResult]] = _run_task,
) -> None:
    """Keep ``window`` tasks in flight on the pool; hand each finished one to ``deliver``.

    A hostile file can crash a native decoder and with it the whole pool, and then it is not
    known which file did it. The items of every task lost with the pool are retried one at a
    time on a new pool, nothing else in flight; an item that breaks the pool again on its own
    is recorded as such, and the job goes on.
    """
    running: dict[Future[list[ItemResult]], list[WorkItem]] = {}
    suspects: deque[WorkItem] = deque()
    tried_alone: set[str] = set()
    exhausted = False
    try:
        while True:
            isolating = suspects or any(
                len(b) == 1 and b[0].path in tried_alone for b in running.values()
            )
            while len(running) < (1 if isolating else window):
                if suspects:
                    suspect = suspects.popleft()
                    tried_alone.add(suspect.path)
                    batch: list[WorkItem] | None = [suspect]
                else:
                    batch = None if exhausted else next(tasks, None)
                    exhausted = batch is None
                if batch is None:
                    break
                running[pool.submit(task, batch)] = batch
            if not running:
                break
            done, _ = wait(running, timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED)
            lost: list[list[WorkItem]] = []
            for future in done:
                batch = running.pop(future)
                try:
                    deliver(future.result())
                except BrokenProcessPool:
                    lost.append(batch)
            if not done:
                idle()
            if lost:
                lost.extend(running.values())
                running.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                pool = new_pool()
                culprit = lost[0][0] if len(lost) == 1 and len(lost[0]) == 1 else None
                if culprit is not None and culprit.path in tried_alone:
                    deliver([crashed(culprit)])
                else:
                    suspects.extend(item for batch in lost for item in batch)
    finally:
        for future in running:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
