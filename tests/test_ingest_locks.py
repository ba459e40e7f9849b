"""Exclusion only where needed: one job per source, the index files one process at a time.

Two ingests of different sources run together (PostgreSQL takes both; SQLite serialises their
commits with its own write lock); a second ingest of the same source is refused in one line.
The ingests are real ``vident`` processes on real stores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from tests.conftest import _fresh_pg_database, write_jpeg
from vident.ingest.lock import DataDirBusy, index_lock, source_lock, writer_lock
from vident.store.models import Occurrence, Source

#: Files of the ingest that is stopped half-way.
SLOW_FILES = 30
#: Hashes and PDQ only, small batches: these tests are about locking, not about the models.
ENV = {**os.environ, "VIDENT_BATCH_SIZE": "4", "VIDENT_SIGNALS": "pdq"}


def _command(data: Path, db: str | None, *args: str) -> list[str]:
    options = ["--data", str(data)] + (["--db", db] if db else [])
    return [sys.executable, "-m", "vident", *options, *args]


def _run(data: Path, db: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(data, db, *args), capture_output=True, text=True, env=ENV, check=False
    )


def _seizure(folder: Path, count: int, first_seed: int, size: tuple[int, int]) -> Path:
    for i in range(count):
        write_jpeg(folder / f"{i:03d}.jpg", first_seed + i, size=size)
    return folder


def _listed(url: str) -> dict[str, int]:
    """Files listed per source, read from the store itself."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Source.name, func.count(Occurrence.id))
                .join(Occurrence, Occurrence.source_id == Source.id)
                .group_by(Source.name)
            ).all()
    finally:
        engine.dispose()
    return {str(name): int(count) for name, count in rows}


def _committed(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM occurrence")).scalar_one())
    except Exception:  # the store may be locked or not yet written: nothing committed yet
        return 0
    finally:
        engine.dispose()


@pytest.fixture
def slow_ingest(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """Started ingest processes, killed at the end if a failed assertion left one running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # works on a stopped process too
            process.wait()


def _start_slow(
    started: list[subprocess.Popen[str]], data: Path, db: str | None, url: str, root: Path
) -> subprocess.Popen[str]:
    """Ingest ``root`` as source ``a``; once it has committed its first files (so it holds its
    locks), stop it where it is: it cannot finish before the other ingest has started."""
    process = subprocess.Popen(
        _command(data, db, "ingest", str(root), "--source", "a", "--workers", "1", "--quiet"),
        env=ENV,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.append(process)
    deadline = time.monotonic() + 120
    while _committed(url) < 4 and time.monotonic() < deadline:
        assert process.poll() is None, "the first ingest finished before the second started"
        time.sleep(0.05)
    assert process.poll() is None, "the first ingest finished before the second started"
    os.killpg(process.pid, signal.SIGSTOP)
    return process


def _resume(process: subprocess.Popen[str]) -> None:
    time.sleep(1)  # the other ingest is under way while this one holds its source
    os.killpg(process.pid, signal.SIGCONT)


def _check_one_line_busy(result: subprocess.CompletedProcess[str], source: str) -> None:
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "busy" in lines[0] and repr(source) in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_two_sources_ingest_at_once_into_one_postgresql_store(
    tmp_path: Path, pg_server: str, slow_ingest: list[subprocess.Popen[str]]
) -> None:
    url = _fresh_pg_database(pg_server)
    data = tmp_path / "data"
    assert _run(data, url, "init").returncode == 0
    first = _seizure(tmp_path / "a", SLOW_FILES, 0, (1600, 1200))
    second = _seizure(tmp_path / "b", 12, 500, (640, 480))

    running = _start_slow(slow_ingest, data, url, url, first)
    other = subprocess.Popen(
        _command(data, url, "ingest", str(second), "--source", "b", "--workers", "1", "--quiet"),
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _resume(running)
    _, other_err = other.communicate(timeout=300)
    assert other.returncode == 0, other_err
    _, err = running.communicate(timeout=300)
    assert running.returncode == 0, err

    assert _listed(url) == {"a": SLOW_FILES, "b": 12}
    # The indexes saved by both processes hold every picture: each source finds the other's
    # copies once the same files are triaged as a third source.
    third = tmp_path / "c"
    third.mkdir()
    for name in ("000.jpg", "011.jpg"):
        (third / f"a-{name}").write_bytes((first / name).read_bytes())
        (third / f"b-{name}").write_bytes((second / name).read_bytes())
    assert _run(data, url, "ingest", str(third), "--source", "c", "--quiet").returncode == 0
    triage = _run(data, url, "triage", "--source", "c", "--format", "csv")
    assert triage.returncode == 0, triage.stderr
    assert triage.stdout.count("known") == 4, triage.stdout


def test_same_source_twice_is_refused_in_one_line_other_sources_go_on(
    tmp_path: Path, slow_ingest: list[subprocess.Popen[str]]
) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'vident.db'}"
    assert _run(data, None, "init").returncode == 0
    first = _seizure(tmp_path / "a", SLOW_FILES, 0, (1600, 1200))
    second = _seizure(tmp_path / "b", 6, 500, (640, 480))

    running = _start_slow(slow_ingest, data, None, url, first)
    again = _run(data, None, "ingest", str(first), "--source", "a", "--quiet")
    _check_one_line_busy(again, "a")
    # Another source is not excluded: SQLite serialises the two writers' commits itself.
    other = subprocess.Popen(
        _command(data, None, "ingest", str(second), "--source", "b", "--workers", "1", "--quiet"),
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _resume(running)
    _, other_err = other.communicate(timeout=300)
    assert other.returncode == 0, other_err
    _, err = running.communicate(timeout=300)
    assert running.returncode == 0, err
    assert _listed(url) == {"a": SLOW_FILES, "b": 6}


def test_locks_exclude_only_what_they_must(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with source_lock(data, "a"):
        with pytest.raises(DataDirBusy, match="'a' is busy"), source_lock(data, "a"):
            pass
        with source_lock(data, "b"), source_lock(data, "a/../é\udcff"):
            pass  # other sources, however they are spelt, run alongside
        # A hash-set import or an index rebuild is refused while an ingest runs ...
        with pytest.raises(DataDirBusy, match="another vident process is writing"):
            writer_lock(data).__enter__()
    # ... and an ingest while one of them runs.
    with (
        writer_lock(data),
        pytest.raises(DataDirBusy, match="another vident process is writing"),
        source_lock(data, "a"),
    ):
        pass
    with source_lock(data, "a"), index_lock(data / "index"):  # all released on exit
        pass
    assert sorted(p.name for p in data.iterdir()) == [".writer.lock", "index", "locks"]
