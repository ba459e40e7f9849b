"""The ingest pipeline: walk, hash and decode in a process pool, commit in batches.

The walker runs lazily in this process; workers (a process pool, or the workers of a Dask
cluster: :mod:`vident.ingest.cluster`) turn work items into result records; this process is
the single writer and commits a batch per transaction, then brings the near-duplicate indexes
up to date. Occurrence rows double as the record of finished
items: a rerun skips them, so ingest is idempotent and resumes after a kill.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from vident.config import Limits, Settings
from vident.index.catalog import StoreCache, open_indexes
from vident.ingest.lock import clustering_lock, index_lock, source_lock
from vident.ingest.records import ItemResult, WorkItem
from vident.ingest.walk import SourceNotFound, measure_source, walk_source
from vident.ingest.worker import process_batch
from vident.media.runtime import ModelChoice, models_of, use_models
from vident.signals.base import SignalValue
from vident.signals.registry import image_kinds, parse_signal_names
from vident.store.base import utcnow
from vident.store.db import Store, StoreError
from vident.store.derived import write_signals
from vident.store.models import Source
from vident.store.previews import (
    Sealer,
    frame_subject,
    has_frame_preview,
    has_preview,
    lacking_previews,
    write_frame_preview,
    write_preview,
)
from vident.store.sources import done_paths, get_source, open_source, paths_with_signals
from vident.store.writer import media_ids, write_results

if TYPE_CHECKING:
    from distributed import Client

#: Work items sent to a worker at once, and the bytes of archive members that may ride along.
TASK_ITEMS = 4
TASK_BYTES = 32 * 1024 * 1024
#: Longest time results wait in memory before they are committed.
FLUSH_SECONDS = 2.0


class ProgressSink(Protocol):
    """Where the pipeline reports progress (a Rich bar in the CLI, nothing in scripts)."""

    def start(self, files: int, nbytes: int) -> None: ...

    def advance(self, files: int, nbytes: int) -> None: ...

    def finish(self, completed: bool = True) -> None:
        """Stop reporting; ``completed`` is False when the work stopped on a failure."""
        ...


class _NoProgress:
    def start(self, files: int, nbytes: int) -> None:
        pass

    def advance(self, files: int, nbytes: int) -> None:
        pass

    def finish(self, completed: bool = True) -> None:
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
    #: One-line remarks for the analyst (what was deliberately left out, and why).
    notes: list[str] = field(default_factory=list)


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


_LIMITS = Limits.model_construct()
_SIGNALS: tuple[str, ...] | None = None
_PREVIEWS = False


def _init_worker(
    limits: Limits, signals: tuple[str, ...] | None, models: ModelChoice, previews: bool = False
) -> None:
    """Give a worker its settings: limits, kinds and models come from the parent's Settings
    (a forkserver child inherits nothing of the parent's state)."""
    global _LIMITS, _SIGNALS, _PREVIEWS
    _LIMITS, _SIGNALS, _PREVIEWS = limits, signals, previews
    use_models(models)
    import cv2

    # One worker per core already: OpenCV's own thread pool would only fight the others.
    cv2.setNumThreads(1)


def _prepare_models(signals: tuple[str, ...] | None, models: ModelChoice) -> None:
    """Convert models needed on first use once, rather than in every worker at once.

    The conversion runs in a short-lived child process, so this process holds no native
    model state (or threads) when it forks the workers.
    """
    if signals is not None and "scene" not in signals:
        return
    from vident.media import effnet

    if not effnet.is_cached():
        context = multiprocessing.get_context("spawn")
        child = context.Process(target=_build_scene_model, args=(models,))
        child.start()
        child.join()


def _build_scene_model(models: ModelChoice) -> None:
    from vident.media import effnet

    use_models(models)
    effnet.load_session()


def _run_task(items: list[WorkItem]) -> list[ItemResult]:
    return process_batch(items, _LIMITS, _SIGNALS, preview=_PREVIEWS)


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to know before its first task: the pool's initializer arguments."""

    limits: Limits
    signals: tuple[str, ...] | None
    models: ModelChoice
    previews: bool = False


_SETUP: WorkerSetup | None = None


def run_configured(setup: WorkerSetup, items: list[WorkItem]) -> list[ItemResult]:
    """A task on a worker that no initializer prepared (a Dask worker): set up once, then run.

    A Dask worker process serves one job after another; it is set up again when a task of a
    job with other settings arrives.
    """
    global _SETUP
    if setup != _SETUP:
        _init_worker(setup.limits, setup.signals, setup.models, setup.previews)
        _SETUP = setup
    return _run_task(items)


def limits_of(settings: Settings) -> Limits:
    return Limits(**settings.model_dump(include=set(Limits.model_fields)))


class _Writer:
    """Buffers results and commits them in batches, then updates the indexes."""

    def __init__(
        self,
        store: Store,
        write: Callable[[Session, list[ItemResult]], None],
        indexes: list[StoreCache],
        batch_size: int,
        summary: IngestSummary,
        progress: ProgressSink,
    ) -> None:
        self.store, self.write, self.indexes = store, write, indexes
        self.index_dir: Path | None = None
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

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Commit and catch the indexes up as the only process doing so in this data directory.

        Committing under the same lock as the catch-up keeps row ids reaching the indexes in
        commit order when several ingests write to one PostgreSQL store: an id below an index's
        watermark is never committed after that index read past it. Walking and decoding, the
        long part, run outside it.
        """
        if self.index_dir is None:
            yield
            return
        with index_lock(self.index_dir):
            yield

    def catch_up(self, *, force: bool) -> None:
        """Bring every index up to the store's committed rows and save it (when due)."""
        with self.store.reader() as session:
            for index in self.indexes:
                index.sync(session)
                index.save(force=force)

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        with self.exclusive():
            with self.store.session() as session:
                self.write(session, batch)
            self.catch_up(force=False)
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
    signals: tuple[str, ...] | None = None,
    seal_preview: Sealer | None = None,
    cluster: str | None = None,
) -> IngestSummary:
    """Ingest ``root`` (folder, file or archive) as source ``source_name``.

    ``signals`` names the picture kinds to compute (default: the configured ones). With
    ``cluster`` (a Dask scheduler's address, or ``local``), the files are read on that
    cluster's workers instead of a local pool (:mod:`vident.ingest.cluster`). With
    ``seal_preview``, each picture also gets a preview (each video a strip of keyframe
    previews and a preview), sealed by it and stored in the data directory
    (:mod:`vident.store.previews`); a rerun then also reads again the finished pictures and
    videos whose preview is missing, to make it.
    """
    if not source_name.strip():
        raise StoreError("a source needs a name (the seizure or exhibit): give a non-empty one")
    if not os.path.lexists(root):
        raise SourceNotFound(f"{root} does not exist: give the path of a folder, file or archive")
    _check_not_data(root, settings.data)
    started = time.monotonic()
    summary = IngestSummary(source=source_name)
    kinds = signals if signals is not None else parse_signal_names(settings.signals)
    models = models_of(settings)
    with (
        source_lock(settings.data, source_name),
        _models_in_use(models),
        _cluster(cluster, workers, settings) as client,
    ):
        # Fork the workers before this process opens any connection, index or thread.
        crew = _crew(client, workers, settings, kinds, models, seal_preview is not None)
        pool = crew.start()
        with store.session() as session:
            source = open_source(session, source_name, str(root.resolve()), case)
            source_id = source.id
            skip = done_paths(session, source_id)
            if seal_preview is not None:
                skip -= lacking_previews(session, source_id, settings.data)
        unwritten: list[str] = []

        def write(session: Session, batch: list[ItemResult]) -> None:
            if seal_preview is not None:
                _store_previews(settings.data, batch, seal_preview, unwritten)
            summary.new_media += write_results(session, source_id, batch)

        _process(store, settings, crew, pool, root, skip, write, summary, progress)
        if unwritten:
            summary.notes.append(
                f"{len(unwritten)} previews could not be written ({unwritten[0]}); "
                "ingest the source again to make them"
            )
        _cluster_faces(store, settings.data, kinds)
        with store.session() as session:
            finished = session.get(Source, source_id)
            assert finished is not None
            finished.status = "complete"
            finished.finished_at = utcnow()
    summary.seconds = time.monotonic() - started
    return summary


def compute_signals(
    store: Store,
    settings: Settings,
    source_name: str,
    signals: tuple[str, ...],
    *,
    workers: int | None = None,
    progress: ProgressSink | None = None,
    cluster: str | None = None,
) -> IngestSummary:
    """Add picture signals to the media of a source ingested before (``vident signals compute``).

    The source is walked again from its origin; files whose media already has every asked
    kind (for the configured model) are skipped, so the command is idempotent and resumable
    like ingest. New media are never created here. ``cluster`` is as for :func:`ingest_source`.
    """
    started = time.monotonic()
    summary = IngestSummary(source=source_name)
    models = models_of(settings)
    with (
        source_lock(settings.data, source_name),
        _models_in_use(models),
        _cluster(cluster, workers, settings) as client,
    ):
        crew = _crew(client, workers, settings, signals, models)
        pool = crew.start()
        with store.session() as session:
            source = get_source(session, source_name)
            root = Path(source.origin)
            skip = paths_with_signals(session, source.id, image_kinds(signals))
        if not os.path.lexists(root):
            pool.shutdown()
            raise SourceNotFound(
                f"the origin of source {source_name!r}, {root}, is not reachable: "
                "mount it at the same path and run again"
            )

        def write(session: Session, batch: list[ItemResult]) -> None:
            ids = media_ids(session, [r.sha256 for r in batch if r.sha256 is not None])
            pairs: list[tuple[int, SignalValue]] = []
            frames: list[tuple[int, int, float, bool]] = []
            for result in batch:
                media_id = ids.get(result.sha256) if result.sha256 is not None else None
                if media_id is None:
                    continue
                pairs.extend((media_id, s) for s in result.signals if s.kind in signals)
                frames.extend((media_id, seq, ts, key) for seq, ts, key in result.frames)
            write_signals(session, pairs, frames)

        _process(store, settings, crew, pool, root, skip, write, summary, progress)
        _cluster_faces(store, settings.data, signals)
    summary.seconds = time.monotonic() - started
    return summary


def _store_previews(
    data: Path, batch: list[ItemResult], seal: Sealer, unwritten: list[str]
) -> None:
    """Seal and store the previews that came with ``batch``, then drop them from memory.

    A video's keyframe strip is stored the same way, each frame sealed for the media and its
    frame number. Written before the batch commits, so a committed picture has its preview
    unless writing it failed; a failure (a full disk, say) costs that preview only and is noted in
    ``unwritten``, and the next run of the same ingest makes it.
    """
    for result in batch:
        jpeg, result.preview = result.preview, None
        frames, result.frame_previews = result.frame_previews, []
        sha = result.sha256
        if sha is None:
            continue
        try:
            # The strip first: a video whose preview exists is not read again for its frames.
            for seq, frame_jpeg in frames:
                if not has_frame_preview(data, sha, seq):
                    sealed = seal(frame_subject(sha, seq), frame_jpeg)
                    write_frame_preview(data, sha, seq, sealed)
            if jpeg is not None and not has_preview(data, sha):
                write_preview(data, sha, seal(sha, jpeg))
        except OSError as exc:
            unwritten.append(exc.strerror or str(exc))


def _cluster_faces(store: Store, data_dir: Path, signals: tuple[str, ...]) -> None:
    """New faces join person candidates as soon as they are stored (an incremental step)."""
    if "face" not in signals:
        return
    from vident.cases.people import cluster_configured

    with clustering_lock(data_dir), store.session() as session:
        cluster_configured(session)


def _process(
    store: Store,
    settings: Settings,
    crew: _Crew,
    pool: Executor,
    root: Path,
    skip: set[str],
    write: Callable[[Session, list[ItemResult]], None],
    summary: IngestSummary,
    progress: ProgressSink | None,
) -> None:
    """Walk ``root``, compute in ``pool``, hand batches to ``write``, keep the indexes in step."""
    sink: ProgressSink = progress or _NoProgress()
    limits = crew.limits
    tmp_dir = settings.tmp_dir
    exclude = _data_inside(root, settings.data)
    if exclude:
        summary.notes.append(
            f"left out vident's own data directory inside the source: {settings.data}"
        )
    # Scratch space left by a killed run is garbage: nobody else writes here now.
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with store.reader() as session:
        indexes = open_indexes(session, settings).all()
    files, nbytes = measure_source(root, exclude)
    sink.start(files, nbytes)
    writer = _Writer(store, write, indexes, settings.batch_size, summary, sink)
    writer.index_dir = settings.index_dir
    spooled: dict[str, str] = {}

    def deliver(results: list[ItemResult]) -> None:
        writer.add(results)
        for result in results:  # a rerun extracts the member again if need be
            if (copy := spooled.pop(result.path, None)) is not None:
                Path(copy).unlink(missing_ok=True)

    completed = False
    try:
        try:
            items = walk_source(root, limits, tmp_dir, exclude)
            tasks = _tasks(items, skip, summary, sink, spooled)
            run_tasks(
                pool,
                crew.start,
                tasks,
                deliver,
                writer.flush_if_due,
                window=crew.count * 3,
                task=crew.task(),
                lost=crew.lost(),
            )
        except BaseException:
            _keep_what_can_be_kept(writer, indexes)
            raise
        writer.flush()
        with writer.exclusive():
            writer.catch_up(force=True)
        completed = True
    finally:
        sink.finish(completed)


def _keep_what_can_be_kept(writer: _Writer, indexes: list[StoreCache]) -> None:
    """After a failure, commit the results in hand and save the indexes, as far as possible.

    An interrupt keeps the finished work this way. When the failure is the disk itself (full,
    or gone), these attempts fail the same way; they are given up silently so that the error
    reported is the first one, and the store and the index snapshots stay as the last commit
    and the last complete save left them (a rerun redoes the rest).
    """
    with suppress(Exception):
        writer.flush()
    with suppress(Exception), writer.exclusive():
        for index in indexes:
            with suppress(Exception):
                index.save()


def _check_not_data(root: Path, data: Path) -> None:
    """Refuse vident's own data directory as a source (a folder kept inside it is fine)."""
    if os.path.realpath(root) == os.path.realpath(data):
        raise SourceNotFound(
            f"{root} is vident's own data directory, not a seizure: give the seized folder"
        )


def _data_inside(root: Path, data: Path) -> list[Path]:
    """The data directory, when it lies inside the source folder (the walk leaves it out)."""
    real_root, real_data = os.path.realpath(root), os.path.realpath(data)
    if real_data.startswith(real_root.rstrip(os.sep) + os.sep) and Path(real_data).is_dir():
        return [Path(real_data)]
    return []


@dataclass(frozen=True)
class _Crew:
    """What a pool of workers is made of, so a broken pool can be replaced by an equal one."""

    count: int
    limits: Limits
    signals: tuple[str, ...] | None
    models: ModelChoice
    #: Whether workers make a preview rendition of each picture.
    previews: bool = False
    #: The Dask cluster that runs the tasks instead of a local pool, if any.
    client: Client | None = None

    def start(self) -> Executor:
        _prepare_models(self.signals, self.models)
        if self.client is not None:
            from vident.ingest.cluster import ClusterPool

            return ClusterPool(self.client)
        return _start_pool(self.count, self.limits, self.signals, self.models, self.previews)

    def task(self) -> Callable[[list[WorkItem]], list[ItemResult]]:
        """What runs a task: a local pool's workers were set up by its initializer."""
        if self.client is None:
            return _run_task
        setup = WorkerSetup(self.limits, self.signals, self.models, self.previews)
        return functools.partial(run_configured, setup)

    def lost(self) -> tuple[type[BaseException], ...]:
        """What a task's future raises when the worker running it died."""
        if self.client is None:
            return (BrokenProcessPool,)
        from vident.ingest.cluster import lost_worker_errors

        return lost_worker_errors()


def _crew(
    client: Client | None,
    workers: int | None,
    settings: Settings,
    signals: tuple[str, ...] | None,
    models: ModelChoice,
    previews: bool = False,
) -> _Crew:
    """The workers of a job: a local pool of ``workers`` processes, or the cluster's."""
    if client is not None:
        from vident.ingest.cluster import cluster_workers

        count = cluster_workers(client)
    else:
        count = workers or settings.workers or os.cpu_count() or 1
    return _Crew(count, limits_of(settings), signals, models, previews, client)


@contextmanager
def _cluster(
    address: str | None, workers: int | None, settings: Settings
) -> Iterator[Client | None]:
    """The Dask cluster at ``address`` for the length of a job, or None to use a local pool."""
    if address is None:
        yield None
        return
    from vident.ingest.cluster import cluster_client

    count = workers or settings.workers or os.cpu_count() or 1
    with cluster_client(address, count, settings.data / "cluster") as client:
        yield client


@contextmanager
def _models_in_use(models: ModelChoice) -> Iterator[None]:
    """This process uses the settings' models while a job runs (probes of its faces, the
    scene model check), and the previous ones afterwards."""
    undo = use_models(models)
    try:
        yield
    finally:
        undo()


def _noop() -> None:
    pass


def _single_threaded() -> bool:
    """Whether this process runs one OS thread (native threads included; Linux only)."""
    try:
        return sum(1 for _ in Path("/proc/self/task").iterdir()) == 1
    except OSError:
        return False


def _start_pool(
    workers: int,
    limits: Limits,
    signals: tuple[str, ...] | None,
    models: ModelChoice,
    previews: bool = False,
) -> ProcessPoolExecutor:
    """A process pool whose workers are already running.

    On Linux the workers are forked at once, so they start in milliseconds with every module
    already imported, provided this process has a single thread: forking a process in which
    native libraries (ONNX Runtime, OpenCV, OpenMP) run threads can leave a lock held forever
    in the child. A library caller that has used the models in-process, and platforms without
    fork, get forkserver.
    """
    usable = "fork" in multiprocessing.get_all_start_methods() and _single_threaded()
    method = "fork" if usable else "forkserver"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["vident.ingest.worker"])
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(limits, signals, models, previews),
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
        deleted=item.deleted,
    )


def run_tasks(
    pool: Executor,
    new_pool: Callable[[], Executor],
    tasks: Iterator[list[WorkItem]],
    deliver: Callable[[list[ItemResult]], None],
    idle: Callable[[], None],
    *,
    window: int,
    task: Callable[[list[WorkItem]], list[ItemResult]] = _run_task,
    lost: tuple[type[BaseException], ...] = (BrokenProcessPool,),
) -> None:
    """Keep ``window`` tasks in flight on the pool; hand each finished one to ``deliver``.

    A hostile file can crash a native decoder and with it the whole pool, and then it is not
    known which file did it. The items of every task lost with the pool (its future raises
    one of ``lost``) are retried one at a time on a new pool, nothing else in flight; an item
    that breaks the pool again on its own is recorded as such, and the job goes on.
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
            broken: list[list[WorkItem]] = []
            for future in done:
                batch = running.pop(future)
                try:
                    deliver(future.result())
                except lost:
                    broken.append(batch)
            if not done:
                idle()
            if broken:
                broken.extend(running.values())
                running.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                pool = new_pool()
                culprit = broken[0][0] if len(broken) == 1 and len(broken[0]) == 1 else None
                if culprit is not None and culprit.path in tried_alone:
                    deliver([crashed(culprit)])
                else:
                    suspects.extend(item for batch in broken for item in batch)
    finally:
        for future in running:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
