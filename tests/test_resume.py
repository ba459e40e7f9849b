"""Killed with SIGKILL in the middle, the same ingest command finishes the job."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import transformed, write_jpeg

FILES = 80


def _vident(
    data: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vident", "--data", str(data), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def _committed(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as connection:
            return int(connection.execute("SELECT count(*) FROM occurrence").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_sigkill_then_rerun_finishes_without_redoing_or_duplicating(tmp_path: Path) -> None:
    seizure = tmp_path / "seizure"
    for seed in range(FILES):
        write_jpeg(seizure / f"{seed:03d}.jpg", seed, size=(1600, 1200))
    data = tmp_path / "data"
    assert _vident(data, "init").returncode == 0

    # Hashes and PDQ only: this test is about resuming, not about the costlier signals.
    env = {**os.environ, "VIDENT_BATCH_SIZE": "4", "VIDENT_SIGNALS": "pdq"}
    command = [
        sys.executable,
        "-m",
        "vident",
        "--data",
        str(data),
        "ingest",
        str(seizure),
        "--source",
        "s",
        "--workers",
        "1",
        "--quiet",
    ]
    process = subprocess.Popen(
        command,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while _committed(data / "vident.db") < 12 and time.monotonic() < deadline:
        assert process.poll() is None, "ingest finished before it could be killed"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = _committed(data / "vident.db")
    assert 12 <= done_before < FILES

    with sqlite3.connect(data / "vident.db") as connection:
        first_rows = dict(connection.execute("SELECT path, id FROM occurrence").fetchall())

    rerun = _vident(data, "ingest", str(seizure), "--source", "s", "--workers", "2", env=env)
    assert rerun.returncode == 0, rerun.stderr
    skipped = int(re.search(r"(\d+) already done", rerun.stderr).group(1))  # type: ignore[union-attr]
    assert skipped == done_before
    assert f"{FILES - done_before} files ingested" in rerun.stderr

    with sqlite3.connect(data / "vident.db") as connection:
        rows = dict(connection.execute("SELECT path, id FROM occurrence").fetchall())
        media = connection.execute("SELECT count(*) FROM media").fetchone()[0]
        status = connection.execute("SELECT status FROM source").fetchone()[0]
    assert len(rows) == FILES and media == FILES and status == "complete"
    assert all(rows[path] == row_id for path, row_id in first_rows.items())

    triage = _vident(data, "triage", "--source", "s", "--format", "json")
    report = json.loads(triage.stdout)
    assert report["counts"] == {"known": 0, "near": 0, "related": 0, "new": FILES, "error": 0}
    # The index caught up with what the killed run committed but never saved.
    # A grey copy has no exact twin: only the PDQ index can find its original.
    grey = transformed(seizure / "000.jpg", tmp_path / "query" / "grey.jpg", "grey")
    found = _vident(data, "search", str(grey), "--format", "json")
    matches = json.loads(found.stdout)["matches"]
    assert "pdq" in {m["signal"] for m in matches}
