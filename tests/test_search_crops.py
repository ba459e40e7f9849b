"""``vident search`` asks what triage asks, through the same query path: crops are found too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.conftest import transformed, write_jpeg
from vident.cli import app

runner = CliRunner()


def vident(data: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--data", str(data), *args])
    return result.exit_code, result.stdout, result.stderr


def crop(path: Path, out: Path, fraction: float) -> Path:
    """``path`` with ``fraction`` of its width and height cut from each side."""
    image = Image.open(path)
    dx, dy = round(image.width * fraction), round(image.height * fraction)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.crop((dx, dy, image.width - dx, image.height - dy)).save(out, "JPEG", quality=90)
    return out


@pytest.fixture
def stored(tmp_path: Path) -> dict[str, Any]:
    """Three photo-like pictures ingested as source A (every default signal)."""
    data = tmp_path / "data"
    originals = tmp_path / "originals"
    paths = [write_jpeg(originals / f"p{seed}.jpg", seed) for seed in (3, 4, 5)]
    assert vident(data, "init")[0] == 0
    code, _, err = vident(data, "ingest", str(originals), "--source", "A", "-q")
    assert code == 0, err
    return {"data": data, "originals": paths}


def _search(data: Path, path: Path) -> dict[str, Any]:
    code, out, err = vident(data, "search", str(path), "--format", "json")
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


@pytest.mark.parametrize("fraction", [0.05, 0.10])
def test_search_finds_a_crop_by_keypoints(
    tmp_path: Path, stored: dict[str, Any], fraction: float
) -> None:
    original = stored["originals"][0]
    query = crop(original, tmp_path / "query" / "crop.jpg", fraction)
    result = _search(stored["data"], query)
    assert result["verdict"] == "near"
    found = [m for m in result["matches"] if m["signal"] == "keypoints"]
    assert [m["occurrences"] for m in found] == [[{"source": "A", "path": original.name}]]
    assert found[0]["score"] > 0.5 and found[0]["detail"]["relation"] == "duplicate"


def test_search_table_names_the_crop(tmp_path: Path, stored: dict[str, Any]) -> None:
    query = crop(stored["originals"][1], tmp_path / "query" / "crop.jpg", 0.08)
    code, out, _ = vident(stored["data"], "search", str(query))
    assert code == 0 and "near" in out.splitlines()[0]
    assert "keypoints" in out and "A: p4.jpg" in out


def test_search_and_triage_give_the_same_answer(tmp_path: Path, stored: dict[str, Any]) -> None:
    """Each file searched before it is ingested gets the verdict triage gives it afterwards,
    and every reason triage gives is among the search's matches."""
    data = stored["data"]
    p3, p4, _ = stored["originals"]
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    shutil.copy(p3, seizure / "copy.jpg")
    transformed(p4, seizure / "grey.jpg", "grey")
    crop(p3, seizure / "crop.jpg", 0.10)
    write_jpeg(seizure / "other.jpg", 99)
    (seizure / "notes.jpg").write_text("not a picture")
    searched = {path.name: _search(data, path) for path in sorted(seizure.iterdir())}

    code, _, err = vident(data, "ingest", str(seizure), "--source", "B", "-q")
    assert code == 0, err
    code, out, _ = vident(data, "triage", "--source", "B", "--format", "json")
    items = {item["path"]: item for item in json.loads(out)["items"]}

    expected = {
        "copy.jpg": "known",
        "grey.jpg": "near",
        "crop.jpg": "near",
        "other.jpg": "new",
        "notes.jpg": "error",
    }
    assert {name: item["verdict"] for name, item in items.items()} == expected
    assert {name: result["verdict"] for name, result in searched.items()} == expected
    for name, item in items.items():
        matches = {
            (m["signal"], m["media"], m["hashset"], m["source"]): m
            for m in searched[name]["matches"]
        }
        for reason in item["reasons"]:
            key = (reason["signal"], reason["media"], reason["hashset"], reason["source"])
            assert key in matches, (name, key)
            if reason.get("score") is not None:
                assert matches[key]["score"] == pytest.approx(reason["score"], abs=0.05)
        assert searched[name]["sha256"] == item["sha256"]
    assert searched["notes.jpg"]["error"] == items["notes.jpg"]["error"]
    assert [r["signal"] for r in items["crop.jpg"]["reasons"]] == ["keypoints"]
