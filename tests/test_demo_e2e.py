"""`make demo` end to end: the real demo runs, its triage checks out, its next steps work.

The demo exits 0 only if every verdict, and the reason each file was made for, is in the
triage. Then the ``similar``, ``related`` and ``text`` commands it prints are run exactly as
printed (in this process, so the models load once) and must find the earlier case's files by
the evidence they promise. Without the corpus (the default test) the pictures are generated;
with it (slow) the demo also shows a person and a video.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import CORPUS
from vident.cli import app
from vident.demo.scenario import EARLIER_NAME

#: What the top result of each printed ``similar`` command must be linked by: ``--by`` value,
#: and whether the query is a video.
_EXPECTED_BY = {
    ("face", False): "face",
    ("scene", False): "scene",
    ("pdq", False): "keypoints",
    ("pdq", True): "vpdq",
    ("camera", False): "serial",
}


def run_demo(data: Path, corpus: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "vident.demo", "--data", str(data), "--corpus", str(corpus)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def next_steps(stdout: str) -> list[list[str]]:
    """The vident commands printed as next steps, without the script name."""
    tail = stdout.split("next steps", 1)[1]
    return [
        shlex.split(line)[1:]
        for line in tail.splitlines()
        if line.startswith("  ") and "--data" in line
    ]


def cli_json(args: list[str]) -> Any:
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def check_next_steps(stdout: str) -> set[str]:
    """Runs the printed similar/related/text commands; the ``--by`` values it checked."""
    commands = next_steps(stdout)
    checked: set[str] = set()
    for args in commands:
        if "similar" in args:
            by = args[args.index("--by") + 1]
            top = cli_json(args)["results"][0]
            video = args[args.index("similar") + 1].endswith(".mp4")
            assert top["source"] == EARLIER_NAME, (args, top)
            assert top["by"] == _EXPECTED_BY[(by, video)], (args, top)
            checked.add(by)
        elif "related" in args or "text" in args:
            results = cli_json(args)["results"]
            assert any(r["source"] == EARLIER_NAME for r in results), (args, results)
            checked.add(args[2])
    return checked


def test_demo_without_the_corpus_shows_every_verdict_and_its_next_steps_work(
    tmp_path: Path,
) -> None:
    stdout = run_demo(tmp_path / "demo-data", tmp_path / "no-corpus-here")
    assert "verdicts as expected" in stdout
    for verdict in ("known", "near", "related", "new", "error"):
        assert verdict in stdout
    assert "the person and video items are left out" in " ".join(stdout.split())  # said so
    assert check_next_steps(stdout) == {"scene", "pdq", "camera", "related", "text"}
    assert next_steps(stdout)[-1][-1] == "serve"  # it ends by showing how to start the server


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared benign corpus is not in this clone")
def test_demo_with_the_corpus_connects_person_place_camera_crop_and_video(
    tmp_path: Path,
) -> None:
    stdout = run_demo(tmp_path / "demo-data", CORPUS)
    assert "verdicts as expected" in stdout
    assert "left out" not in " ".join(stdout.split())
    assert check_next_steps(stdout) == {"face", "scene", "pdq", "camera", "related", "text"}
    assert any(args[2:] == ["people"] for args in next_steps(stdout))
