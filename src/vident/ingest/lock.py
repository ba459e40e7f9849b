"""Exclusion between vident processes sharing a data directory, only where it is needed.

* :func:`source_lock`: one job per source. Two ingests of the same source would skip and
  write the same files; ingests of different sources may run together. Their writes to the
  store are serialised by the database itself (PostgreSQL's row locks; SQLite's single write
  lock, waited for up to the store's busy timeout).
* :func:`index_lock`: the index files under ``<data>/index`` are read, caught up with the store
  and saved by one process at a time. It is held only for that step, and waited for, since
  the step is short. :func:`clustering_lock` does the same for clustering new faces.
* :func:`writer_lock`: the whole data directory, for jobs that rewrite what every other job
  uses (a hash-set import, an index rebuild). Ingests take it shared, so such a job waits
  for no ingest and no ingest starts while it runs.

All are ``flock`` locks on files in the data directory: released by the kernel when the
process ends, however it ends, so a killed job never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class DataDirBusy(Exception):
    """Another vident process holds what this job needs; running it again later will work."""


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


@contextmanager
def _flock(path: Path, mode: int, busy: str | None) -> Iterator[None]:
    """Hold ``path`` locked in ``mode``; without ``busy`` wait for it, else fail at once."""
    fd = _open(path)
    try:
        if busy is None:
            fcntl.flock(fd, mode)
        else:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DataDirBusy(busy) from None
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def _writer_path(data_dir: Path) -> Path:
    return data_dir / ".writer.lock"


@contextmanager
def writer_lock(data_dir: Path) -> Iterator[None]:
    """The whole data directory, exclusively: refused while any other job runs in it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    busy = f"another vident process is writing to {data_dir}; wait for it to finish"
    with _flock(_writer_path(data_dir), fcntl.LOCK_EX, busy):
        yield


@contextmanager
def source_lock(data_dir: Path, source_name: str) -> Iterator[None]:
    """One job on ``source_name`` at a time; jobs on other sources run alongside.

    Also holds the data directory shared, so that a job needing all of it (:func:`writer_lock`)
    is refused while this one runs, and this one while it runs.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    shared_busy = f"another vident process is writing to {data_dir}; wait for it to finish"
    # Names may hold any character: the lock file is named by a digest of the name.
    digest = hashlib.sha256(source_name.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    path = data_dir / "locks" / f"source-{digest}.lock"
    busy = (
        f"source {source_name!r} is busy: another vident process is writing it; "
        "wait for it to finish and run again"
    )
    with (
        _flock(_writer_path(data_dir), fcntl.LOCK_SH, shared_busy),
        _flock(path, fcntl.LOCK_EX, busy),
    ):
        yield


@contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """The index files of ``index_dir``, for one catch-up-and-save at a time (waits)."""
    with _flock(index_dir / ".index.lock", fcntl.LOCK_EX, None):
        yield


@contextmanager
def clustering_lock(data_dir: Path) -> Iterator[None]:
    """Face clustering into person candidates, one process at a time (waits).

    Two ingests clustering the same new faces at once would each make persons for them.
    """
    with _flock(data_dir / "locks" / "clustering.lock", fcntl.LOCK_EX, None):
        yield
