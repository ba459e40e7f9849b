"""Ingest on a Dask cluster fills the store exactly as the local pool does, and loses nothing.

The clusters are real: Dask's own scheduler and worker processes on loopback, reached by
address as a remote cluster would be (``--cluster tcp://...``), or started by the command
(``--cluster local``).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client
from typer.testing import CliRunner

from tests.cluster_tasks import items_in_threes, slow_task, task_that_dies_on_poison
from tests.conftest import jpeg_bytes, transformed, write_jpeg
from vident.cli import app
from vident.ingest import cluster
from vident.ingest.cluster import LOCAL, ClusterPool, cluster_client, lost_worker_errors
from vident.ingest.pipeline import run_tasks
from vident.ingest.records import ItemResult

runner = CliRunner()
SIGNALS = "pdq,keypoints"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def seizure(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pictures, a near copy, a zip with pictures, a broken file and an empty one."""
    root = tmp_path_factory.mktemp("seizure")
    for i in range(12):
        write_jpeg(root / "DCIM" / f"IMG_{i:03d}.jpg", 700 + i, size=(320, 240))
    transformed(root / "DCIM" / "IMG_000.jpg", root / "copy" / "grey.jpg", "grey")
    with zipfile.ZipFile(root / "sent.zip", "w") as archive:
        for i in range(4):
            archive.writestr(f"chat/{i}.jpg", jpeg_bytes(800 + i, size=(320, 240)))
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "empty.bin").write_bytes(b"")
    return root


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a running two-worker cluster, as an operator would have started one.

    It is the cluster ``--cluster local`` starts, so its scheduler gives up on a task after the
    second worker it kills (Dask's default is four: slow to test); the tests then reach it by
    address, as a remote one.
    """
    with cluster_client(LOCAL, 2, tmp_path_factory.mktemp("dask")) as client:
        yield str(client.scheduler_info()["address"])


def _contents(data: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """What an ingest stored, without row ids: (occurrences, signal values)."""
    with sqlite3.connect(data / "vident.db") as db:
        occurrences = db.execute(
            "SELECT o.path, o.error, o.size, hex(m.sha256), m.width, m.height, m.decode_error "
            "FROM occurrence o LEFT JOIN media m ON m.id = o.media_id ORDER BY o.path"
        ).fetchall()
        signals = db.execute(
            "SELECT hex(m.sha256), s.kind, s.model, s.frame, hex(s.value), hex(s.variants) "
            "FROM signal s JOIN media m ON m.id = s.media_id "
            "ORDER BY hex(m.sha256), s.kind, s.frame"
        ).fetchall()
    return occurrences, signals


def _ingest(data: Path, seizure: Path, *extra: str) -> str:
    assert run("--data", str(data), "init")[0] == 0
    code, _, err = run(
        "--data", str(data), "ingest", str(seizure), "--source", "S", "--signals", SIGNALS,
        "-q", *extra,
    )  # fmt: skip
    assert code == 0, err
    return err


def test_a_cluster_by_address_stores_what_the_local_pool_stores(
    seizure: Path, scheduler: str, tmp_path: Path
) -> None:
    _ingest(tmp_path / "pool", seizure, "--workers", "2")
    _ingest(tmp_path / "cluster", seizure, "--cluster", scheduler)

    pooled, on_cluster = _contents(tmp_path / "pool"), _contents(tmp_path / "cluster")
    occurrences, signals = on_cluster
    assert len(occurrences) == 12 + 1 + 4 + 2  # every file listed, the zip's members too
    assert {path for path, error, *_ in occurrences if error} >= {"broken.jpg"}
    assert {kind for _, kind, *_ in signals} >= {"sha256", "pdq", "keypoints"}
    assert on_cluster == pooled

    # The same command again finds everything done: resumable and idempotent on a cluster too.
    code, _, err = run(
        "--data", str(tmp_path / "cluster"), "ingest", str(seizure), "--source", "S",
        "--signals", SIGNALS, "--cluster", scheduler,
    )  # fmt: skip
    assert code == 0, err
    assert "0 files ingested" in err and "19 already done" in err
    assert _contents(tmp_path / "cluster") == pooled


def test_signals_computed_later_on_a_local_cluster(seizure: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run("--data", str(data), "init")[0] == 0
    code, _, err = run(
        "--data", str(data), "ingest", str(seizure), "--source", "S", "--signals", "pdq",
        "--workers", "1", "-q",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run(
        "--data", str(data), "signals", "compute", "--source", "S", "--signals", "keypoints",
        "--cluster", "local", "--workers", "2",
    )  # fmt: skip
    assert code == 0, err
    assert "keypoints computed for 18 files (1 errors), 1 already had them" in err
    _, signals = _contents(data)
    pictures = {sha for sha, kind, *_ in signals if kind == "pdq"}
    assert {sha for sha, kind, *_ in signals if kind == "keypoints"} == pictures
    assert len(pictures) == 12 + 1 + 4
    # The local cluster kept its scratch files inside the data directory and stopped.
    assert (data / "cluster").is_dir()


def test_an_unreachable_scheduler_is_one_line_and_nothing_is_stored(
    seizure: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 2)  # Dask keeps trying until then
    data = tmp_path / "data"
    assert run("--data", str(data), "init")[0] == 0
    code, out, err = run(
        "--data", str(data), "ingest", str(seizure), "--source", "S", "--cluster",
        "tcp://127.0.0.1:9",
    )  # fmt: skip
    assert code == 1
    assert "Traceback" not in out + err
    [line] = err.strip().splitlines()
    assert line.startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:9")
    with sqlite3.connect(data / "vident.db") as db:
        assert db.execute("SELECT count(*) FROM occurrence").fetchone() == (0,)


def _worker_pids(client: Client) -> list[int]:
    return sorted(client.run(os.getpid).values())


def test_a_worker_killed_mid_job_loses_nothing(scheduler: str, tmp_path: Path) -> None:
    names = [f"{i:03d}.jpg" for i in range(30)]
    delivered: list[ItemResult] = []
    killed: list[int] = []
    with cluster_client(scheduler, 2, tmp_path / "scratch") as client:
        pids = _worker_pids(client)

        def deliver(results: list[ItemResult]) -> None:
            delivered.extend(results)
            if not killed:  # the first results are in: others are running on both workers
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        run_tasks(
            ClusterPool(client),
            lambda: ClusterPool(client),
            items_in_threes(names),
            deliver,
            lambda: None,
            window=4,
            task=slow_task,
            lost=lost_worker_errors(),
        )
        client.wait_for_workers(2, timeout=30)  # the nanny started a new worker
        assert killed[0] not in _worker_pids(client)
    assert sorted(r.path for r in delivered) == names
    assert all(r.error is None for r in delivered)


def test_a_file_that_kills_its_workers_is_recorded_and_the_rest_done(
    scheduler: str, tmp_path: Path
) -> None:
    names = [f"{i:03d}.jpg" for i in range(6)]
    names[4] = "poison.jpg"
    delivered: list[ItemResult] = []
    with cluster_client(scheduler, 2, tmp_path / "scratch") as client:
        run_tasks(
            ClusterPool(client),
            lambda: ClusterPool(client),
            items_in_threes(names),
            delivered.extend,
            lambda: None,
            window=2,
            task=task_that_dies_on_poison,
            lost=lost_worker_errors(),
        )
    by_path = {r.path: r for r in delivered}
    assert sorted(by_path) == sorted(names) and len(delivered) == len(names)
    assert "died" in str(by_path["poison.jpg"].error)
    assert all(r.error is None for p, r in by_path.items() if p != "poison.jpg")
