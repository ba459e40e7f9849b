"""``vident signals compute``: signals added later to a source ingested with fewer of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import CORPUS, write_jpeg
from vident.cli import app
from vident.store.db import Store
from vident.store.models import Face, Signal

runner = CliRunner()
FACE_PICTURE = CORPUS / "faces" / "obama" / "obama-480p.jpg"


def vident(data: Path, *args: str, db: str | None = None) -> tuple[int, str, str]:
    options = ["--data", str(data)] + (["--db", db] if db else [])
    result = runner.invoke(app, [*options, *args])
    return result.exit_code, result.stdout, result.stderr


def signal_counts(url: str) -> dict[str, int]:
    store = Store(url)
    try:
        with store.reader() as session:
            rows = session.execute(select(Signal.kind, func.count()).group_by(Signal.kind)).all()
    finally:
        store.dispose()
    return {str(kind): int(count) for kind, count in rows}


def test_compute_adds_signals_once_and_similar_uses_them(tmp_path: Path, store_url: str) -> None:
    data = tmp_path / "data"
    pictures = tmp_path / "pictures"
    for seed in range(3):
        write_jpeg(pictures / f"p{seed}.jpg", seed)
    assert vident(data, "init", db=store_url)[0] == 0
    code, _, err = vident(
        data, "ingest", str(pictures), "--source", "S", "--signals", "pdq", "-q", db=store_url
    )
    assert code == 0, err
    before = signal_counts(store_url)
    assert before["pdq"] == 3 and "scene" not in before and "keypoints" not in before
    query = str(pictures / "p0.jpg")
    code, out, _ = vident(data, "similar", query, "--by", "scene", "--format", "json", db=store_url)
    assert code == 0 and json.loads(out)["results"] == []

    code, _, err = vident(
        data, "signals", "compute", "--source", "S", "--signals", "keypoints,scene", db=store_url
    )
    assert code == 0, err
    assert "computed for 3 files (0 errors), 0 already had them" in err
    after = signal_counts(store_url)
    assert after["scene"] == 3 and after["keypoints"] == 3
    assert {k: v for k, v in after.items() if k not in {"scene", "keypoints"}} == before

    code, _, err = vident(
        data, "signals", "compute", "--source", "S", "--signals", "keypoints,scene", db=store_url
    )
    assert code == 0, err
    assert "computed for 0 files (0 errors), 3 already had them" in err
    assert signal_counts(store_url) == after

    code, out, _ = vident(data, "similar", query, "--by", "scene", "--format", "json", db=store_url)
    results = json.loads(out)["results"]
    assert code == 0
    assert {r["path"] for r in results} == {"p1.jpg", "p2.jpg"}
    assert all(r["by"] == "scene" and r["source"] == "S" for r in results)


def test_compute_unknown_signal_or_source_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_jpeg(tmp_path / "pictures" / "a.jpg", 1)
    vident(data, "init")
    vident(data, "ingest", str(tmp_path / "pictures"), "--source", "S", "--signals", "pdq", "-q")
    code, _, err = vident(data, "signals", "compute", "--source", "S", "--signals", "md5")
    assert code != 0 and "unknown signal md5" in err and len(err.strip().splitlines()) == 1
    code, _, err = vident(data, "signals", "compute", "--source", "T", "--signals", "scene")
    assert code != 0 and "no source named 'T'" in err and "Traceback" not in err


@pytest.mark.skipif(not FACE_PICTURE.is_file(), reason="shared corpus not available")
def test_compute_faces_later_makes_people(tmp_path: Path) -> None:
    data = tmp_path / "data"
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    shutil.copy(FACE_PICTURE, pictures / "face.jpg")
    write_jpeg(pictures / "photo.jpg", 7)
    vident(data, "init")
    code, _, err = vident(
        data, "ingest", str(pictures), "--source", "S", "--signals", "pdq", "-q", "--workers", "1"
    )
    assert code == 0, err
    code, out, _ = vident(data, "people", "--format", "json")
    assert json.loads(out)["people"] == []

    code, _, err = vident(
        data, "signals", "compute", "--source", "S", "--signals", "face", "-q", "--workers", "1"
    )
    assert code == 0, err
    store = Store(f"sqlite:///{data / 'vident.db'}")
    try:
        with store.reader() as session:
            faces = session.scalar(select(func.count()).select_from(Face))
            face_signals = session.scalar(
                select(func.count()).select_from(Signal).where(Signal.kind == "face")
            )
    finally:
        store.dispose()
    assert faces == 1 and face_signals == 2  # the photo-like picture has an empty face value
    code, out, _ = vident(data, "people", "--format", "json")
    people = json.loads(out)["people"]
    assert len(people) == 1 and people[0]["faces"] == 1
