"""Ingest work on a Dask cluster: files are read and decoded there, walked and written here.

One machine's cores stop being enough for a national unit's seizures; Dask spreads the same
work items over the workers of a cluster (``vident ingest --cluster tcp://host:8786``), or
over a local cluster of processes (``--cluster local``). Only the computing moves: the walk,
the single writer, the resumable record of finished items and the indexes stay in the
command's process exactly as with the local pool, so a store filled through a cluster equals
one filled locally.

A worker that dies mid-task (killed, out of memory, a decoder crash) is Dask's to recover:
the scheduler gives its tasks to another worker. A task that keeps killing workers comes
back as :class:`distributed.KilledWorker`, which the pipeline treats like a broken local pool
(its files are retried one at a time, and the one that kills alone is recorded as such).

Workers read ``fs_path`` items themselves, so on a real cluster the seized source and the
data directory's scratch folder must be mounted at the same paths on every machine (see
``docs/deployment.md``); archive members travel with the task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

if TYPE_CHECKING:
    from distributed import Client

#: ``--cluster`` value that starts a cluster of local processes for the length of the job.
LOCAL = "local"
#: Seconds to wait for the scheduler of a remote cluster before giving up.
CONNECT_SECONDS = 20
#: Deaths of workers that a task may cause before Dask gives up on it: one retry on another
#: worker, then the pipeline isolates its files (each further try costs a worker restart).
ALLOWED_FAILURES = 1

P = ParamSpec("P")
T = TypeVar("T")


class ClusterUnreachable(Exception):
    """The cluster named could not be reached or started; the message says what to do."""


class ClusterPool(Executor):
    """The executor the pipeline's task loop needs, with tasks run on a Dask cluster.

    Every submission is a new task (``pure=False``): the same batch sent again after a lost
    worker must run again, not be answered from the scheduler's memory of the first try.
    """

    def __init__(self, client: Client) -> None:
        self._executor = client.get_executor(pure=False)  # type: ignore[no-untyped-call]

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = self._executor.submit(fn, *args, **kwargs)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop using the cluster (which stays up): wait for the tasks, or cancel them."""
        self._executor.shutdown(wait=wait and not cancel_futures)


def lost_worker_errors() -> tuple[type[BaseException], ...]:
    """What a task's future raises when the workers running it kept dying."""
    from distributed import KilledWorker

    return (KilledWorker,)


@contextmanager
def cluster_client(address: str, workers: int, scratch: Path) -> Iterator[Client]:
    """A client of the cluster at ``address``, or of a local cluster of ``workers`` processes.

    A local cluster keeps its spill and scratch files in ``scratch`` (inside the data
    directory, like every other file vident writes) and listens on loopback only, its status
    page included (on a free port: a fixed one may be taken).
    """
    import dask
    from distributed import Client, LocalCluster

    scratch.mkdir(parents=True, exist_ok=True)
    config = {
        "temporary-directory": str(scratch),
        "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
        "distributed.worker.daemon": False,
    }
    with dask.config.set(config):
        if address == LOCAL:
            with (
                LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address="127.0.0.1:0",
                    host="127.0.0.1",
                    local_directory=str(scratch),
                ) as cluster,
                Client(cluster) as client,  # type: ignore[no-untyped-call]
            ):
                yield client
            return
        try:
            client = Client(address, timeout=CONNECT_SECONDS)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterUnreachable(
                f"cannot reach the Dask scheduler at {address} ({_reason(exc)}): start it "
                "(dask scheduler), check the address, or run without a cluster"
            ) from None
        with client:
            if not client.scheduler_info(n_workers=-1).get("workers"):
                raise ClusterUnreachable(
                    f"the Dask scheduler at {address} has no workers: start some "
                    f"(dask worker {address} --nthreads 1) and run the same command again"
                )
            yield client


def cluster_workers(client: Client) -> int:
    """How many tasks the cluster runs at once (its worker threads), at least one."""
    info = client.scheduler_info(n_workers=-1)
    threads = sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())
    return max(threads, 1)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
