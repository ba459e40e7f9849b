"""Geometric verification: edited copies are duplicates, other views the same scene, and
different pictures nothing."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import CORPUS
from vident.config import Limits
from vident.demo.synthetic import photo_like
from vident.match.geometry import (
    GeometricMatch,
    best_match,
    query_features,
    rerank,
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
def stored(original: Image.Image) -> LocalFeatures:
    return _stored(_decode((CORPUS / SCENE).read_bytes()))


def _match(query: Image.Image, stored: LocalFeatures) -> GeometricMatch | None:
    return best_match(query_features(_as_file(query)), stored)


def _maps(match: GeometricMatch, point: tuple[float, float]) -> tuple[float, float]:
    h = np.array(match.transform)
    x, y, w = h @ [point[0], point[1], 1.0]
    return x / w, y / w


def test_a_6_percent_crop_is_a_duplicate(original: Image.Image, stored: LocalFeatures) -> None:
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


def test_a_5_degree_rotation_is_a_duplicate(original: Image.Image, stored: LocalFeatures) -> None:
    turned = original.rotate(5, Image.Resampling.BICUBIC, expand=True)
    found = _match(turned, stored)
    assert found is not None and found.relation == "duplicate"


def test_a_mirror_image_is_a_duplicate_found_through_the_mirrored_query(
    original: Image.Image, stored: LocalFeatures
) -> None:
    found = _match(original.transpose(Image.Transpose.FLIP_LEFT_RIGHT), stored)
    assert found is not None and found.relation == "duplicate" and found.mirrored
    # The transform is from the query as given: its left edge is the original's right edge.
    x, _ = _maps(found, (0, original.height / 2))
    assert abs(x - original.width) < 4


def test_a_rotated_off_centre_crop_is_the_same_scene(
    original: Image.Image, stored: LocalFeatures
) -> None:
    w, h = original.size
    cx, cy = w * 0.38, h * 0.42
    turned = original.rotate(20, Image.Resampling.BICUBIC, center=(cx, cy))
    view = turned.crop(
        (round(cx - w * 0.3), round(cy - h * 0.3), round(cx + w * 0.3), round(cy + h * 0.3))
    )
    found = _match(view, stored)
    assert found is not None and found.relation == "same_scene"
    assert found.coverage_candidate < 0.6


def test_a_region_of_the_query_is_found_where_it_lies(
    original: Image.Image, stored: LocalFeatures
) -> None:
    query = _as_file(original)
    region = (round(original.width * 0.1), round(original.height * 0.2), 300, 200)
    found = best_match(query_features(query, region), stored)
    assert found is not None and found.relation == "same_scene"
    x, y = _maps(found, (0, 0))
    assert abs(x - region[0]) < 4 and abs(y - region[1]) < 4


def test_different_corpus_scenes_do_not_verify(stored: LocalFeatures) -> None:
    for name in OTHERS:
        other = _decode((CORPUS / name).read_bytes())
        assert best_match(query_features(other), stored) is None
        assert verify(query_features(_as_file(other.pixels))[0], _stored(other)) is not None


def test_rerank_puts_the_verified_candidate_first(
    original: Image.Image, stored: LocalFeatures
) -> None:
    others = [_stored(_decode((CORPUS / n).read_bytes())) for n in OTHERS]
    # The scene embedding ranked the true picture last; geometry must lift it to the top.
    candidates = [
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
    assert [f.mirrored for f in stored] == [f.mirrored for f in direct] == [False, True]
    for a, b in zip(stored, direct, strict=True):
        np.testing.assert_array_equal(a.descriptors, b.descriptors)
        assert np.abs(a.points - b.points).max() < 0.02


def test_a_small_query_is_also_seen_enlarged_further() -> None:
    """A 50-px copy of a 100-px thumbnail: both were enlarged, but not to the same scale."""
    small = _as_file(photo_like(50, 38, 5))
    sets = query_features(small)
    assert [f.mirrored for f in sets] == [False, True, False, True]
    assert all((f.width, f.height) == (50, 38) for f in sets)


def test_nothing_to_match_gives_none(stored: LocalFeatures) -> None:
    flat = _decode(_png(Image.new("RGB", (300, 200), (90, 90, 90))))
    assert query_features(flat) == []
    assert best_match([], stored) is None
    assert verify(LocalFeatures.empty(300, 200), stored) is None
    assert verify(stored, LocalFeatures.empty()) is None


def test_a_region_outside_the_picture_is_refused(original: Image.Image) -> None:
    with pytest.raises(ValueError, match="outside"):
        query_features(_as_file(original), (original.width + 10, 0, 50, 50))


def _png(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()
