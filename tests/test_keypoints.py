"""The stored local-feature kind: compact, exact enough, and never in the way of a bad picture."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vident.demo.synthetic import photo_like
from vident.match.geometry import QUERY_POINTS
from vident.media.types import DecodedImage
from vident.signals.base import MatchRule
from vident.signals.keypoints import (
    DESCRIPTOR_BYTES,
    STORED_POINTS,
    Keypoints,
    LocalFeatures,
    dense,
    detect,
    empty_value,
    pack,
    split,
    unpack,
)


def _decoded(pixels: Image.Image, scale: int = 1) -> DecodedImage:
    """As ingest hands it over: ``pixels`` may be a reduced copy of a larger picture."""
    return DecodedImage(pixels, pixels.width * scale, pixels.height * scale, "JPEG")


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return photo_like(800, 600, 7)


def test_kind_declares_a_stored_value() -> None:
    kind = Keypoints()
    assert (kind.name, kind.version, kind.match) == ("keypoints", 1, MatchRule.STORED)
    assert kind.model.startswith("orb")


def test_compute_packs_up_to_the_stored_number_of_points(photo: Image.Image) -> None:
    value = Keypoints().compute(_decoded(photo))
    assert value.kind == "keypoints" and value.version == 1 and value.model == Keypoints.model
    assert value.quality is not None and 100 <= value.quality <= STORED_POINTS
    assert len(value.value) == 10 + value.quality * (4 + DESCRIPTOR_BYTES)
    assert len(value.value) <= 10 + STORED_POINTS * 36  # about 18 KB


def test_pack_round_trip_keeps_descriptors_and_sub_pixel_coordinates(photo: Image.Image) -> None:
    # A 4000x3000 picture decoded at 800x600: coordinates are in the full picture's pixels.
    features = detect(photo, 4000, 3000, STORED_POINTS)
    back = unpack(pack(features))
    assert (back.width, back.height, len(back)) == (4000, 3000, len(features))
    np.testing.assert_array_equal(back.descriptors, features.descriptors)
    assert np.abs(back.points - features.points).max() <= 4000 / 65535
    assert back.points[:, 0].max() <= 4000 and back.points[:, 1].max() <= 3000


def test_coordinates_are_in_full_picture_pixels(photo: Image.Image) -> None:
    small = detect(photo, 800, 600, STORED_POINTS)
    large = detect(photo, 1600, 1200, STORED_POINTS)
    np.testing.assert_allclose(large.points, small.points * 2, rtol=1e-5)


def test_the_query_side_may_ask_for_more_points(photo: Image.Image) -> None:
    assert len(detect(photo, 800, 600, QUERY_POINTS)) > len(detect(photo, 800, 600, 300))


@pytest.mark.parametrize(
    "pixels",
    [
        Image.new("RGB", (640, 480), (128, 128, 128)),  # flat
        Image.new("RGB", (12, 9), (10, 200, 30)),  # tiny
        Image.new("RGB", (5000, 3), (255, 255, 255)),  # a one-line sliver
        photo_like(9, 9, 3),  # textured, but too small for ORB's 31-px patch even enlarged
    ],
    ids=["flat", "tiny", "sliver", "tiny-photo"],
)
def test_flat_or_tiny_pictures_give_an_empty_value(pixels: Image.Image) -> None:
    value = Keypoints().compute(_decoded(pixels))
    assert value.value == b"" and value.quality == 0 and value.variants == ()
    assert len(unpack(value.value)) == 0


def test_a_noisy_sliver_is_enlarged_enough_to_find_points() -> None:
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (60, 400), dtype=np.uint8)
    assert len(detect(Image.fromarray(noise).convert("RGB"), 400, 60)) > 50


def test_unpack_rejects_a_truncated_value(photo: Image.Image) -> None:
    value = pack(detect(photo, 800, 600))
    with pytest.raises(ValueError, match="bytes"):
        unpack(value[:-5])


def test_empty_features() -> None:
    empty = LocalFeatures.empty(10, 20, mirrored=True)
    assert len(empty) == 0 and empty.mirrored and empty.descriptors.shape == (0, 32)
    assert pack(empty) == b""


def test_the_variant_holds_the_mirror_image_features(photo: Image.Image) -> None:
    value = Keypoints().compute(_decoded(photo))
    assert len(value.variants) == 2
    mirrored = unpack(value.variants[0], mirrored=True)
    direct = detect(photo, 800, 600, STORED_POINTS, mirrored=True)
    assert mirrored.mirrored and len(mirrored) == len(direct)
    np.testing.assert_array_equal(mirrored.descriptors, direct.descriptors)
    assert split(value.value + b"".join(value.variants)) == [value.value, *value.variants]


def test_the_second_variant_is_the_dense_set(photo: Image.Image) -> None:
    """Three times the points at twice the size: what a collage tile or heavy crop meets."""
    value = Keypoints().compute(_decoded(photo))
    many = unpack(value.variants[1])
    assert not many.mirrored and (many.width, many.height) == (800, 600)
    assert len(many) > 2 * len(unpack(value.value))
    np.testing.assert_array_equal(many.descriptors, dense(photo, 800, 600).descriptors)


def test_a_variant_without_points_keeps_its_place() -> None:
    """An empty mirror set is stored as an empty value, so the dense set stays second."""
    empty = empty_value(30, 20)
    assert len(unpack(empty)) == 0 and split(empty + empty) == [empty, empty]
