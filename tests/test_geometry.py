"""Geometric verification: edited copies are duplicates, other views the same scene, and
different pictures nothing."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.conftest import CORPUS
from vident.config import Limits
from vident.demo.synthetic import photo_like
from vident.match.geometry import (
    Candidate,
    GeometricMatch,
    best_match,
    describe,
    query_features,
    rerank,
    stored_candidate,
    stored_query_features,
    verify,
)
from vident.media.image import decode_image
from vident.media.types import DecodedImage
from vident.signals.keypoints import Keypoints, LocalFeatures, unpack

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not available")

SCENE = "scenes/rocket.jpg"
OTHERS = ("scenes/coffee.png", "scenes/chelsea.png", "exif/gps/DSCN0010.jpg")


def _decode(data: bytes) -> DecodedImage:
    return decode_image(data, Limits())


def _as_file(img: Image.Image) -> DecodedImage:
    buffer = io.BytesIO()
    img.convert("RGB").save(buffer, "JPEG", quality=90)
    return _decode(buffer.getvalue())


def _stored(image: DecodedImage) -> LocalFeatures:
    """What ingest stores, unpacked as a query would read it from the store."""
    return unpack(Keypoints().compute(image).value)


@pytest.fixture(scope="module")
def original() -> Image.Image:
    return decode_image((CORPUS / SCENE).read_bytes(), Limits(), target=None).pixels


@pytest.fixture(scope="module")
def stored(original: Image.Image) -> Candidate:
    """The picture as triage reads it from the store: its features and dense set."""
    value = Keypoints().compute(_decode((CORPUS / SCENE).read_bytes()))
    return stored_candidate(value.value, b"".join(value.variants))


def _match(query: Image.Image, stored: Candidate | Candidate) -> GeometricMatch | None:
    return best_match(query_features(_as_file(query)), stored)


def _maps(match: GeometricMatch, point: tuple[float, float]) -> tuple[float, float]:
    h = np.array(match.transform)
    x, y, w = h @ [point[0], point[1], 1.0]
    return x / w, y / w


def test_a_6_percent_crop_is_a_duplicate(original: Image.Image, stored: Candidate) -> None:
    w, h = original.size
    dx, dy = round(w * 0.06), round(h * 0.06)
    found = _match(original.crop((dx, dy, w - dx, h - dy)), stored)
    assert found is not None and found.relation == "duplicate" and not found.mirrored
    assert found.coverage_candidate == pytest.approx(0.88**2, abs=0.03)
    assert found.coverage_query > 0.97
    # The crop's corner maps to where it was cut, within a few pixels.
    x, y = _maps(found, (0, 0))
    assert abs(x - dx) < 4 and abs(y - dy) < 4
    assert 0.0 < found.score < 1.0 and found.inliers >= 50


def test_a_5_degree_rotation_is_a_duplicate(original: Image.Image, stored: Candidate) -> None:
    turned = original.rotate(5, Image.Resampling.BICUBIC, expand=True)
    found = _match(turned, stored)
    assert found is not None and found.relation == "duplicate"


def test_a_mirror_image_is_a_duplicate_found_through_the_mirrored_query(
    original: Image.Image, stored: Candidate
) -> None:
    found = _match(original.transpose(Image.Transpose.FLIP_LEFT_RIGHT), stored)
    assert found is not None and found.relation == "duplicate" and found.mirrored
    # The transform is from the query as given: its left edge is the original's right edge.
    x, _ = _maps(found, (0, original.height / 2))
    assert abs(x - original.width) < 4


def test_a_rotated_off_centre_crop_is_a_duplicate_with_its_region_and_turn(
    original: Image.Image, stored: Candidate
) -> None:
    """Turned 20 degrees and cut to a third of the picture: still the same picture."""
    w, h = original.size
    cx, cy = w * 0.38, h * 0.42
    turned = original.rotate(20, Image.Resampling.BICUBIC, center=(cx, cy))
    view = turned.crop(
        (round(cx - w * 0.3), round(cy - h * 0.3), round(cx + w * 0.3), round(cy + h * 0.3))
    )
    found = _match(view, stored)
    assert found is not None and found.relation == "duplicate" and not found.contains
    assert found.coverage_candidate < 0.45 and found.coverage_query > 0.95
    assert abs(abs(found.angle) - 20) < 1.5
    # The region is the box of the turned crop inside the original, around its centre.
    x, y, rw, rh = found.region
    assert x < cx < x + rw and y < cy < y + rh and rw * rh < 0.6 * w * h
    assert "a crop of the known picture" in (describe(found.detail()) or "")
    assert "turned 20 degrees" in (describe(found.detail()) or "")


def test_another_viewpoint_is_the_same_scene(original: Image.Image, stored: Candidate) -> None:
    """Corners moved by up to 22%: straight lines converge as only a homography follows. (A
    milder tilt, a photo of a printed picture, is explained by an affine map: a duplicate.)"""
    w, h = original.size
    src = np.array(
        [[w * 0.22, h * 0.2], [w * 0.8, h * 0.02], [w, h * 0.95], [0, h * 0.8]], np.float32
    )
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    warped = cv2.warpPerspective(
        np.asarray(original), cv2.getPerspectiveTransform(src, dst), (w, h)
    )
    found = _match(Image.fromarray(warped), stored)
    assert found is not None and found.relation == "same_scene" and found.model == "homography"


@pytest.mark.parametrize("corner", [(2, 1), (0, 0), (1, 2)])
def test_a_quarter_of_the_picture_is_a_duplicate(corner: tuple[int, int]) -> None:
    """Half the width and height kept: a quarter of the picture is still the picture."""
    data = (CORPUS / "exif/gps/DSCN0010.jpg").read_bytes()
    value = Keypoints().compute(_decode(data))
    candidate = stored_candidate(value.value, b"".join(value.variants))
    assert candidate.dense is not None and len(candidate.dense) > 2 * len(candidate.features)
    original = decode_image(data, Limits(), target=None).pixels
    w, h = original.size
    x, y = corner[0] * w // 4, corner[1] * h // 4
    found = _match(original.crop((x, y, x + w // 2, y + h // 2)), candidate)
    assert found is not None and found.relation == "duplicate"
    assert found.coverage_candidate == pytest.approx(0.25, abs=0.04)
    rx, ry, _, _ = found.region
    assert abs(rx - x) < 6 and abs(ry - y) < 6


def test_a_collage_tile_is_a_duplicate_with_the_tile_in_the_reason() -> None:
    """A street photo as one tile of a 2 x 2 sheet of generated photos: the candidate lies
    inside the query, and the query region is the tile."""
    data = (CORPUS / "exif/gps/DSCN0010.jpg").read_bytes()
    value = Keypoints().compute(_decode(data))
    stored = stored_candidate(value.value, b"".join(value.variants))
    original = decode_image(data, Limits(), target=None).pixels
    tile = 600
    sheet = Image.new("RGB", (2 * tile, 2 * tile), "white")
    for n in range(3):
        sheet.paste(photo_like(tile, tile, 40 + n), ((n % 2) * tile, 0 if n < 2 else tile))
    shown = original.resize((tile, round(tile * original.height / original.width)))
    sheet.paste(shown, (tile, tile))
    found = _match(sheet, stored)
    assert found is not None and found.relation == "duplicate" and found.contains
    x, y, rw, rh = found.query_region
    assert abs(x - tile) < 12 and abs(y - tile) < 12
    assert abs(rw - shown.width) < 20 and abs(rh - shown.height) < 20
    assert "lies inside it at x" in (describe(found.detail()) or "")


def test_a_stretched_copy_is_an_affine_duplicate(original: Image.Image, stored: Candidate) -> None:
    squeezed = original.resize((original.width, round(original.height * 0.78)))
    found = _match(squeezed, stored)
    assert found is not None and found.relation == "duplicate" and found.model == "affine"
    assert "stretched" in (describe(found.detail()) or "")


def test_a_region_of_the_query_is_found_where_it_lies(
    original: Image.Image, stored: Candidate
) -> None:
    query = _as_file(original)
    region = (round(original.width * 0.1), round(original.height * 0.2), 300, 200)
    found = best_match(query_features(query, region), stored)
    assert found is not None and found.relation == "duplicate"
    x, y = _maps(found, (0, 0))
    assert abs(x - region[0]) < 4 and abs(y - region[1]) < 4


def test_different_corpus_scenes_do_not_verify(stored: Candidate) -> None:
    for name in OTHERS:
        other = _decode((CORPUS / name).read_bytes())
        assert best_match(query_features(other), stored) is None
        assert verify(query_features(_as_file(other.pixels))[0], _stored(other)) is not None


def test_rerank_puts_the_verified_candidate_first(original: Image.Image, stored: Candidate) -> None:
    others = [_stored(_decode((CORPUS / n).read_bytes())) for n in OTHERS]
    # The scene embedding ranked the true picture last; geometry must lift it to the top.
    candidates: list[tuple[str, LocalFeatures | Candidate, float]] = [
        (name, f, 0.9 - i / 10) for i, (name, f) in enumerate(zip(OTHERS, others, strict=True))
    ]
    candidates.append((SCENE, stored, 0.1))
    w, h = original.size
    view = original.crop((w // 4, h // 5, w * 3 // 4, h * 4 // 5)).rotate(
        -15, Image.Resampling.BICUBIC, expand=True
    )
    order = rerank(query_features(_as_file(view)), candidates)
    assert order[0][0] == SCENE and order[0][2] is not None
    assert [key for key, _, _ in order[1:]] == list(OTHERS)  # the rest keep the prior's order
    assert all(0.0 <= score <= 1.0 for _, score, _ in order)
    assert order[0][1] > order[1][1]


def test_stored_values_are_the_query_features(original: Image.Image) -> None:
    """Triage verifies stored pictures against each other: no pixels, same features."""
    image = _as_file(original)
    value = Keypoints().compute(image)
    stored = stored_query_features(value.value, b"".join(value.variants))
    direct = query_features(image)
    assert [f.mirrored for f in stored] == [f.mirrored for f in direct] == [False, True, False]
    assert len(stored[2]) > len(stored[0])  # the dense set
    for a, b in zip(stored, direct, strict=True):
        np.testing.assert_array_equal(a.descriptors, b.descriptors)
        assert np.abs(a.points - b.points).max() < 0.02


def test_a_small_query_is_also_seen_enlarged_further() -> None:
    """A 50-px copy of a 100-px thumbnail: both were enlarged, but not to the same scale."""
    small = _as_file(photo_like(50, 38, 5))
    sets = query_features(small)
    assert [f.mirrored for f in sets] == [False, True, False, False, True]
    assert all((f.width, f.height) == (50, 38) for f in sets)


def test_nothing_to_match_gives_none(stored: Candidate) -> None:
    flat = _decode(_png(Image.new("RGB", (300, 200), (90, 90, 90))))
    assert query_features(flat) == []
    assert best_match([], stored) is None
    assert verify(LocalFeatures.empty(300, 200), stored.features) is None
    assert verify(stored.features, LocalFeatures.empty()) is None


def test_a_region_outside_the_picture_is_refused(original: Image.Image) -> None:
    with pytest.raises(ValueError, match="outside"):
        query_features(_as_file(original), (original.width + 10, 0, 50, 50))


def _png(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()
