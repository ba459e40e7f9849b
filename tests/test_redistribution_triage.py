"""Redistributed copies, as a new user meets them: a heavy crop, a turned crop, a screenshot
and a collage of a stored picture triage as ``near`` with the region in the reason, and
``search``, ``similar`` and the API say the same of the same file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from tests.api_support import API, Api, api_over
from tests.conftest import write_jpeg
from vident.cli import app
from vident.config import Settings
from vident.demo.synthetic import photo_like
from vident.service.sources import ingest_source

runner = CliRunner()


def _save(img: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert("RGB").save(path, "JPEG", quality=88)
    return path


def heavy_crop(original: Image.Image) -> Image.Image:
    """A quarter cut from the left, 10% from the top, 5% from the right, a fifth from the
    bottom: about half of the picture is left."""
    w, h = original.size
    return original.crop((round(w * 0.25), round(h * 0.10), round(w * 0.95), round(h * 0.80)))


def turned_crop(original: Image.Image) -> Image.Image:
    """Turned 8 degrees, 12% cut from each side, 70% size."""
    turned = original.rotate(8, Image.Resampling.BICUBIC)
    w, h = turned.size
    dx, dy = round(w * 0.12), round(h * 0.12)
    kept = turned.crop((dx, dy, w - dx, h - dy))
    return kept.resize((round(kept.width * 0.7), round(kept.height * 0.7)))


def screenshot(original: Image.Image) -> Image.Image:
    """The picture in a drawn image viewer: title bar, file list, dark view area."""
    shot = Image.new("RGB", (1280, 800), (236, 236, 236))
    draw = ImageDraw.Draw(shot)
    draw.rectangle((0, 0, 1280, 34), fill=(52, 56, 64))
    draw.rectangle((0, 34, 220, 800), fill=(246, 246, 248))
    for i in range(20):
        draw.text((14, 50 + 30 * i), f"IMG_{1000 + i}.jpg", fill=(40, 40, 40))
    draw.rectangle((220, 34, 1280, 800), fill=(24, 24, 26))
    shown = original.resize((900, round(900 * original.height / original.width)))
    shot.paste(shown, (220 + (1060 - shown.width) // 2, 34 + (766 - shown.height) // 2))
    return shot


def collage(original: Image.Image) -> tuple[Image.Image, tuple[int, int]]:
    """The picture as the bottom-right tile of a 2 x 2 sheet of unrelated generated photos;
    also where its tile starts."""
    tile = 600
    sheet = Image.new("RGB", (2 * tile, 2 * tile), "white")
    for n, at in enumerate([(0, 0), (tile, 0), (0, tile)]):
        sheet.paste(photo_like(tile, tile, 70 + n), at)
    sheet.paste(
        original.resize((tile, round(tile * original.height / original.width))), (tile, tile)
    )
    return sheet, (tile, tile)


def nine_tiles(original: Image.Image) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """The picture as the centre tile of a 3 x 3 sheet on white (8-pixel gutters), among
    eight unrelated generated photos; also its box. One tile holds too few of the sheet's
    keypoints: only the tile's own set (a panel) finds it."""
    tile, gutter = 400, 8
    sheet = Image.new("RGB", (3 * tile, 3 * tile), "white")
    box = (0, 0, 0, 0)
    for n in range(9):
        picture = original if n == 4 else photo_like(640, 480, 80 + n)
        shown = picture.resize((tile - gutter, round((tile - gutter) * 3 / 4)))
        x, y = (n % 3) * tile + gutter // 2, (n // 3) * tile + (tile - shown.height) // 2
        sheet.paste(shown, (x, y))
        if n == 4:
            box = (x, y, shown.width, shown.height)
    return sheet, box


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


@pytest.fixture
def world(api: Api, tmp_path: Path) -> dict[str, Any]:
    """Source A: three generated photos. The seizure: four redistributed copies of A's first
    picture and an unrelated picture, not yet ingested."""
    originals = tmp_path / "a"
    paths = [write_jpeg(originals / f"p{seed}.jpg", seed, (800, 600)) for seed in (11, 12, 13)]
    ingest_source(api.ctx, originals, "A", workers=1)
    first = Image.open(paths[0]).convert("RGB")
    seizure = tmp_path / "b"
    sheet, tile = collage(first)
    nine, centre = nine_tiles(first)
    files = {
        "crop.jpg": _save(heavy_crop(first), seizure / "crop.jpg"),
        "turned.jpg": _save(turned_crop(first), seizure / "turned.jpg"),
        "screenshot.jpg": _save(screenshot(first), seizure / "screenshot.jpg"),
        "collage.jpg": _save(sheet, seizure / "collage.jpg"),
        "nine.jpg": _save(nine, seizure / "nine.jpg"),
        "other.jpg": write_jpeg(seizure / "other.jpg", 99, (800, 600)),
    }
    return {
        "original": paths[0],
        "seizure": seizure,
        "files": files,
        "tile": tile,
        "centre": centre,
    }


EXPECTED = {
    "crop.jpg": "near",
    "turned.jpg": "near",
    "screenshot.jpg": "near",
    "collage.jpg": "near",
    "nine.jpg": "near",
    "other.jpg": "new",
}


def _post(api: Api, route: str, path: Path) -> dict[str, Any]:
    response = api.client.post(
        f"{API}/{route}",
        files={"file": (path.name, path.read_bytes(), "image/jpeg")},
        headers=api.bearer("vera"),
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_redistributed_copies_are_near_everywhere_with_the_region(
    api: Api, world: dict[str, Any]
) -> None:
    files: dict[str, Path] = world["files"]
    searched = {name: _post(api, "search", path) for name, path in files.items()}
    similar = {name: _post(api, "similar?by=scene&top=3", path) for name, path in files.items()}
    ingest_source(api.ctx, world["seizure"], "B", workers=1)
    response = api.client.get(f"{API}/sources/B/triage", headers=api.bearer("vera"))
    assert response.status_code == 200, response.text
    items = {item["path"]: item for item in response.json()["items"]}

    assert {name: item["verdict"] for name, item in items.items()} == EXPECTED
    assert {name: found["verdict"] for name, found in searched.items()} == EXPECTED
    original = world["original"].name
    for name, verdict in EXPECTED.items():
        if verdict != "near":
            assert not [r for r in similar[name]["results"] if r["verdict"] == "near"], name
            continue
        reason = items[name]["reasons"][0]
        # PDQ misses every one of these: the geometric verification is what finds them.
        assert reason["signal"] == "keypoints", (name, reason)
        assert reason["detail"]["relation"] == "duplicate" and reason["where"], name
        match = next(m for m in searched[name]["matches"] if m["signal"] == "keypoints")
        assert match["media"] == reason["media"] and match["where"] == reason["where"]
        top = similar[name]["results"][0]
        assert (top["path"], top["verdict"], top["where"]) == (original, "near", reason["where"])

    crop_reason = items["crop.jpg"]["reasons"][0]
    assert crop_reason["where"].startswith("a crop of the known picture: x 2")
    x, y, w, h = crop_reason["detail"]["region"]
    assert abs(x - 200) < 8 and abs(y - 60) < 8 and abs(w - 560) < 10 and abs(h - 420) < 10
    assert "turned 8 degrees" in items["turned.jpg"]["reasons"][0]["where"]
    for name in ("screenshot.jpg", "collage.jpg", "nine.jpg"):
        assert "lies inside it" in items[name]["reasons"][0]["where"], name
    tx, ty, tw, _ = items["collage.jpg"]["reasons"][0]["detail"]["query_region"]
    assert abs(tx - world["tile"][0]) < 12 and abs(ty - world["tile"][1]) < 12
    assert abs(tw - 600) < 16
    found = items["nine.jpg"]["reasons"][0]["detail"]["query_region"]
    assert all(abs(a - b) < 12 for a, b in zip(found, world["centre"], strict=True)), found


def test_the_command_line_shows_the_region(api: Api, world: dict[str, Any]) -> None:
    """``vident triage`` and ``vident similar`` print where the known picture lies."""
    ingest_source(api.ctx, world["seizure"], "B", workers=1)
    settings = api.ctx.settings
    data = ["--data", str(settings.data), "--db", str(settings.db)]
    result = runner.invoke(app, [*data, "triage", "--source", "B"])
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "collage.jpg" in line]
    assert lines and "near" in lines[0]
    listed = runner.invoke(app, [*data, "triage", "--source", "B", "--format", "json"])
    reasons = {i["path"]: i["reasons"] for i in json.loads(listed.stdout)["items"]}
    assert "lies inside it" in reasons["collage.jpg"][0]["where"]
    shown = runner.invoke(
        app, [*data, "similar", str(world["files"]["turned.jpg"]), "--by", "scene"]
    )
    assert shown.exit_code == 0, shown.stderr
    assert "near" in shown.stdout  # the verdict column
    as_json = runner.invoke(
        app,
        [*data, "similar", str(world["files"]["turned.jpg"]), "--by", "scene", "--format", "json"],
    )
    top = json.loads(as_json.stdout)["results"][0]
    assert top["verdict"] == "near" and "turned 8 degrees" in top["where"]
