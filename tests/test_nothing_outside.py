"""Nothing is written outside the data directory: no cache in the home folder, no temporary
file in the system's temporary folder, nothing in the working directory.

The commands run as separate processes, as an investigator runs them, with every default
signal (so ONNX Runtime, OpenCV, RapidOCR, the face models and FAISS all do their work), and
HOME and TMPDIR pointed at empty folders that must stay empty.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS, write_jpeg
from vident.config import Settings
from vident.media import runtime

VIDENT = Path(sys.executable).parent / "vident"
FACE = CORPUS / "faces" / "biden" / "biden2.jpg"


def _everything_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.skipif(not FACE.is_file(), reason="shared corpus not available")
def test_commands_write_only_inside_the_data_directory(tmp_path: Path) -> None:
    home, temp, work = tmp_path / "home", tmp_path / "temp", tmp_path / "work"
    for folder in (home, temp, work):
        folder.mkdir()
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    write_jpeg(pictures / "a.jpg", 1)
    write_jpeg(pictures / "b.jpg", 2)
    shutil.copy(FACE, pictures / "face.jpg")
    data = tmp_path / "data"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("VIDENT_", "XDG_", "ORT_"))
    }
    env.update(HOME=str(home), TMPDIR=str(temp))

    def run(*args: str) -> str:
        done = subprocess.run(
            [str(VIDENT), "--data", str(data), *args],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,  # not the test runner's own (an xdist worker's channel)
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("init")
    run("ingest", str(pictures), "--source", "S", "--workers", "2", "-q")
    similar = json.loads(run("similar", str(pictures / "face.jpg"), "--format", "json"))
    assert similar["query"]["faces"] == 1
    people = json.loads(run("people", "--format", "json"))["people"]
    assert [person["faces"] for person in people] == [1]
    assert json.loads(run("search", str(pictures / "a.jpg"), "--format", "json"))["verdict"] == (
        "known"
    )

    assert _everything_in(home) == []
    assert _everything_in(temp) == []
    assert _everything_in(work) == []
    assert (data / "models").is_dir() and any((data / "models").iterdir())


def test_keep_inside_points_libraries_at_the_data_directory_and_undoes(tmp_path: Path) -> None:
    import tempfile

    data = tmp_path / "data"
    data.mkdir()
    before = {name: os.environ.get(name) for name in ("TMPDIR", "XDG_CACHE_HOME")}
    before_tempdir = tempfile.tempdir
    undo = runtime.keep_inside(Settings(data=data, model_cache=None))
    try:
        scratch = data / "cache" / "tmp"
        assert os.environ["TMPDIR"] == str(scratch) and scratch.is_dir()
        assert os.environ["XDG_CACHE_HOME"] == str(data / "cache")
        assert Path(tempfile.gettempdir()) == scratch
        with tempfile.NamedTemporaryFile() as handle:
            assert Path(handle.name).parent == scratch
        assert runtime.model_dir() == data / "models"
        assert os.environ["VIDENT_MODEL_CACHE"] == str(data / "models")
        assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"
    finally:
        undo()
    assert {name: os.environ.get(name) for name in ("TMPDIR", "XDG_CACHE_HOME")} == before
    assert tempfile.tempdir == before_tempdir


def test_keep_inside_creates_nothing_without_a_data_directory(tmp_path: Path) -> None:
    undo = runtime.keep_inside(Settings(data=tmp_path / "missing", model_cache=None))
    try:
        assert not (tmp_path / "missing").exists()
        assert runtime.model_dir() == tmp_path / "missing" / "models"
    finally:
        undo()
