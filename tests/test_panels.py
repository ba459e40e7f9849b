"""Panels: the tiles of a collage, the picture in a viewer's screenshot and a picture above
its caption are found as boxes, stored as sets of their own, and matched as the known picture
(a 3 x 3 collage's tile holds too few of the whole sheet's keypoints to be found otherwise)."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, ImageFont

from vident.config import Limits
from vident.demo.synthetic import photo_like
from vident.match.geometry import best_match, query_features, stored_query_features, verify
from vident.media.image import decode_image
from vident.media.types import DecodedImage
from vident.signals.keypoints import Keypoints, detect, panel_sets, unpack
from vident.signals.panels import Box, panels

TILE = 400
GUTTER = 8


def _jpeg(image: Image.Image, quality: int = 85) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _collage(pictures: list[Image.Image], side: int) -> tuple[Image.Image, list[Box]]:
    """``pictures`` fitted on white in a ``side`` x ``side`` grid; the boxes they fill."""
    sheet = Image.new("RGB", (TILE * side, TILE * side), "white")
    boxes: list[Box] = []
    for n, picture in enumerate(pictures):
        shown = picture.copy()
        shown.thumbnail((TILE - GUTTER, TILE - GUTTER))
        x = (n % side) * TILE + (TILE - shown.width) // 2
        y = (n // side) * TILE + (TILE - shown.height) // 2
        sheet.paste(shown, (x, y))
        boxes.append((x, y, shown.width, shown.height))
    return _jpeg(sheet), boxes


def _grey(picture: Image.Image) -> npt.NDArray[np.uint8]:
    return np.asarray(picture.convert("L"), dtype=np.uint8)


def _close(found: Box, wanted: Box, slack: int = 6) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(found, wanted, strict=True))


@pytest.fixture(scope="module")
def known() -> Image.Image:
    return photo_like(900, 600, 31)


@pytest.fixture(scope="module")
def nine(known: Image.Image) -> tuple[Image.Image, list[Box]]:
    others = [photo_like(640 + 40 * n, 480, 200 + n) for n in range(8)]
    return _collage([*others[:4], known, *others[4:]], 3)


def test_every_tile_of_a_collage_is_a_panel(nine: tuple[Image.Image, list[Box]]) -> None:
    sheet, boxes = nine
    found = panels(_grey(sheet))
    assert len(found) == 9
    for box in boxes:
        assert any(_close(f, box) for f in found), (box, found)


def test_the_picture_in_a_viewer_screenshot_is_a_panel(known: Image.Image) -> None:
    shot = Image.new("RGB", (1280, 800), (236, 236, 236))
    draw = ImageDraw.Draw(shot)
    draw.rectangle((0, 0, 1280, 34), fill=(52, 56, 64))
    draw.text((14, 8), "Viewer - IMG_2041.jpg", fill="white", font=ImageFont.load_default(16))
    draw.rectangle((0, 74, 220, 772), fill=(246, 246, 248))
    for i in range(20):
        draw.text((14, 86 + 28 * i), f"folder/IMG_{1000 + i}.jpg", fill=(40, 40, 40))
    draw.rectangle((220, 74, 1280, 772), fill=(24, 24, 26))
    shown = known.resize((900, 600))
    shot.paste(shown, (300, 120))
    found = panels(_grey(_jpeg(shot)))
    assert found and _close(found[0], (300, 120, 900, 600))


def test_a_picture_above_its_caption_band_is_a_panel(known: Image.Image) -> None:
    page = Image.new("RGB", (900, 760), "white")
    page.paste(known, (0, 0))
    draw = ImageDraw.Draw(page)
    draw.text(
        (30, 630), "shared again - look at this", fill="black", font=ImageFont.load_default(40)
    )
    found = panels(_grey(_jpeg(page)))
    assert found and _close(found[0], (0, 0, 900, 600))


@pytest.mark.parametrize("seed", [3, 17, 40])
def test_a_photo_or_a_flat_picture_has_no_panels(seed: int) -> None:
    assert panels(_grey(photo_like(800, 600, seed))) == []
    assert panels(_grey(Image.new("RGB", (800, 600), (seed, seed, seed)))) == []


def test_panel_sets_lie_in_the_frame_of_a_larger_picture(
    nine: tuple[Image.Image, list[Box]],
) -> None:
    # Decoded at half its size, as ingest decodes a large JPEG: boxes in frame pixels.
    sheet, boxes = nine
    buffer = io.BytesIO()
    sheet.save(buffer, "JPEG", quality=85)
    reduced = decode_image(buffer.getvalue(), Limits.model_construct()).pixels
    assert reduced.width == sheet.width // 2
    sets = panel_sets(reduced, sheet.width, sheet.height)
    assert len(sets) == 9
    for features in sets:
        assert (features.width, features.height) == sheet.size
        x0, y0 = features.points.min(axis=0)
        x1, y1 = features.points.max(axis=0)
        assert any(
            b[0] - 6 <= x0 and x1 <= b[0] + b[2] + 6 and b[1] - 6 <= y0 and y1 <= b[1] + b[3] + 6
            for b in boxes
        ), (x0, y0, x1, y1)


def test_the_stored_value_carries_the_panel_sets_after_the_dense_set(
    nine: tuple[Image.Image, list[Box]],
) -> None:
    sheet, _ = nine
    value = Keypoints().compute(DecodedImage(sheet, sheet.width, sheet.height, "JPEG"))
    assert len(value.variants) == 2 + 9
    assert all(len(unpack(v)) > 50 for v in value.variants[2:])
    stored = stored_query_features(value.value, b"".join(value.variants))
    assert len(stored) == len(query_features(DecodedImage(sheet, *sheet.size, "JPEG")))
    assert (
        len(Keypoints().compute(DecodedImage(photo_like(800, 600, 3), 800, 600, "JPEG")).variants)
        == 2
    )


def test_a_tile_of_a_3x3_collage_is_the_known_picture_with_its_box(
    known: Image.Image, nine: tuple[Image.Image, list[Box]]
) -> None:
    sheet, boxes = nine
    stored = detect(known, known.width, known.height)
    query = query_features(DecodedImage(sheet, sheet.width, sheet.height, "JPEG"))
    match = best_match(query, stored)
    assert match is not None and match.relation == "duplicate"
    assert _close(match.query_region, boxes[4], 12)
    # The whole sheet's own sets alone do not find it: the panel is what matches.
    whole = [f for f in query[:3] if f.width == sheet.width]
    assert all((found := verify(f, stored)) is None or found.relation != "duplicate" for f in whole)
