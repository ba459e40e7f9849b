"""A full disk during ingest: one line saying so, exit status 1, and a rerun loses nothing.

The disk is really full: the data directory (or only its index folder) lives on a small tmpfs
filled up to a few kilobytes. Mounting needs root; elsewhere these tests are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import transformed, write_jpeg

VIDENT = Path(sys.executable).parent / "vident"
PICTURES = 12


def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip()}): needs root")


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    """Mount points to take down at the end, innermost first."""
    mounted: list[Path] = []
    yield mounted
    for where in reversed(mounted):
        subprocess.run(["umount", str(where)], check=False)


def _fill(where: Path, leave_kib: int) -> Path:
    """Take all but ``leave_kib`` KiB of the file system of ``where`` into one file."""
    free = shutil.disk_usage(where).free
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.posix_fallocate(fd, 0, max(free - leave_kib * 1024, 4096))
    finally:
        os.close(fd)
    return filler


def _vident(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VIDENT), "--data", str(data), *args], capture_output=True, text=True, timeout=300
    )


def _ingest(data: Path, seizure: Path) -> subprocess.CompletedProcess[str]:
    return _vident(
        data, "ingest", str(seizure), "--source", "s1", "--signals", "pdq", "--workers", "1"
    )


@pytest.fixture
def seizure(tmp_path: Path) -> Path:
    for i in range(PICTURES):
        write_jpeg(tmp_path / "seizure" / f"p{i:02d}.jpg", 300 + i, size=(320, 240))
    return tmp_path / "seizure"


def _assert_one_line_disk_full(done: subprocess.CompletedProcess[str], where: Path) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert lines == [
        f"error: no space left on device in {where}: free space and run the same command again"
    ], done.stderr
    # Whatever else is on stderr is the progress bar, never a second message.
    assert all(line.startswith(("error", "ingest")) for line in done.stderr.splitlines() if line)


def _assert_everything_ingested(data: Path) -> None:
    done = _vident(data, "triage", "--source", "s1", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["counts"]["new"] == PICTURES and report["counts"]["error"] == 0
    assert sorted(i["path"] for i in report["items"]) == [f"p{i:02d}.jpg" for i in range(PICTURES)]


@pytest.mark.parametrize("leave_kib", [16, 64])
def test_store_disk_full_then_rerun(
    tmp_path: Path, mounts: list[Path], seizure: Path, leave_kib: int
) -> None:
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "3m")
    mounts.append(disk)
    data = disk / "data"
    assert _vident(data, "init").returncode == 0
    filler = _fill(disk, leave_kib)

    _assert_one_line_disk_full(_ingest(data, seizure), data)

    filler.unlink()
    rerun = _ingest(data, seizure)
    assert rerun.returncode == 0, rerun.stderr
    _assert_everything_ingested(data)


def test_index_disk_full_then_rerun(tmp_path: Path, mounts: list[Path], seizure: Path) -> None:
    """The store commits but the index snapshot cannot be written: the rerun completes it."""
    data = tmp_path / "data"
    assert _vident(data, "init").returncode == 0
    index = data / "index"
    _mount_tmpfs(index, "64k")
    mounts.append(index)
    filler = _fill(index, 0)

    _assert_one_line_disk_full(_ingest(data, seizure), data.absolute())
    # No half snapshot: only the filler and the (empty) lock file the index writers share.
    left = sorted(p.name for p in index.rglob("*") if p.is_file())
    assert left == [".index.lock", "filler"]
    assert (index / ".index.lock").stat().st_size == 0

    filler.unlink()
    rerun = _ingest(data, seizure)
    assert rerun.returncode == 0, rerun.stderr
    _assert_everything_ingested(data)
    # The PDQ index caught up with the store: a grey copy of a seized picture is found near.
    grey = transformed(seizure / "p03.jpg", tmp_path / "grey.jpg", "grey")
    found = _vident(data, "search", str(grey), "--format", "json")
    assert found.returncode == 0, found.stderr
    matches = json.loads(found.stdout)["matches"]
    assert any(m["signal"] == "pdq" for m in matches), matches
