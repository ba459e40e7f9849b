"""`make demo` end to end, on a machine without the shared corpus (generated pictures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_prints_a_correct_triage_without_the_corpus(tmp_path: Path) -> None:
    env = {**os.environ, "VIDENT_CORPUS": str(tmp_path / "no-corpus-here")}
    result = subprocess.run(
        [sys.executable, "-m", "vident.demo", "--data", str(tmp_path / "demo-data")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "verdicts as expected" in result.stdout
    for verdict in ("known", "near", "new", "error"):
        assert verdict in result.stdout
    assert "vident --data" in result.stdout  # the next step is shown
