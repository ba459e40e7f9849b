"""Two stored media side by side, and one in detail, as use cases on SQLite and PostgreSQL.

Generated pictures are ingested with PDQ and keypoints: a crop of a picture must be verified
as its duplicate with keypoint pairs that the returned transform maps onto each other (in
preview pixels), a mirrored copy as mirrored, an unrelated picture not at all; and a media
another agency holds is not found, for either side.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import transformed, write_jpeg
from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.compare import compare, media_facts, pdq_distance, preview_size
from vident.service.context import (
    Context,
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.errors import Invalid, NotFound
from vident.service.series import add_series, add_series_media
from vident.service.sources import ingest_source
from vident.service.triage import triage_source
from vident.service.users import add_user

UNTIL = date.today() + timedelta(days=30)
#: The crop cuts this many pixels from the left and the top of the 640x480 original.
CUT = (64, 48)


@dataclass
class World:
    ana: Context  # analyst, Met
    bea: Context  # analyst, BKA
    sha: dict[str, str]  # file name -> SHA-256 (Met's files, and BKA's "bka.jpg")


def _principal(name: str, agency_id: int) -> Principal:
    return Principal(name=name, kind=PrincipalKind.USER, role=Role.ANALYST, agency_id=agency_id)


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Iterator[World]:
    root = open_context(settings, local_operator(settings))
    ids = {n: add_agency(root, n, c).id for n, c in (("Met", "GB"), ("BKA", "DE"))}
    for name, agency in (("ana", "Met"), ("bea", "BKA")):
        add_user(root, name, agency, Role.ANALYST, UNTIL, "a fine long password")
    ana = open_context(settings, _principal("ana", ids["Met"]))
    bea = open_context(settings, _principal("bea", ids["BKA"]))
    met = tmp_path / "met"
    original = write_jpeg(met / "original.jpg", 5)
    with Image.open(original) as opened:
        w, h = opened.size
        opened.crop((CUT[0], CUT[1], w - CUT[0], h - CUT[1])).save(met / "crop.jpg", quality=92)
    transformed(original, met / "mirror.jpg", "flip")
    write_jpeg(met / "other.jpg", 31)
    signals = ("pdq", "keypoints")
    ingest_source(ana, met, "MET-1", case="Op Met", signals=signals, workers=1)
    write_jpeg(tmp_path / "bka" / "bka.jpg", 44)
    ingest_source(bea, tmp_path / "bka", "BKA-1", case="Op BKA", signals=signals, workers=1)
    sha = {i.path: i.sha256 or "" for i in triage_source(ana, "MET-1").items}
    sha["bka.jpg"] = triage_source(bea, "BKA-1").items[0].sha256 or ""
    yield World(ana, bea, sha)
    for ctx in (ana, bea, root):
        ctx.close()


def test_a_crop_is_its_originals_duplicate_with_pairs_the_transform_explains(
    world: World,
) -> None:
    found = compare(world.ana, world.sha["crop.jpg"], world.sha["original.jpg"])
    assert (found.a, found.b) == (world.sha["crop.jpg"], world.sha["original.jpg"])
    assert found.relation == "duplicate" and not found.mirrored
    assert found.inliers >= 15 and found.score is not None and 0 < found.score < 1
    # The crop lies at CUT in the original, at the same scale, not turned.
    assert found.transform is not None and found.scale is not None
    assert found.scale == pytest.approx(1.0, abs=0.03)
    assert found.rotation == pytest.approx(0.0, abs=1.0)
    assert found.transform[0][2] == pytest.approx(CUT[0], abs=3)
    assert found.transform[1][2] == pytest.approx(CUT[1], abs=3)
    # Pairs are in preview pixels: a 512x384 crop and a 640x480 original become 320 wide.
    assert (found.a_size, found.b_size) == ((320, 240), (320, 240))
    assert len(found.pairs) >= 15
    crop_scale, original_scale = 512 / 320, 640 / 320
    for pair in found.pairs:
        assert 0 <= pair.a[0] <= 320 and 0 <= pair.a[1] <= 240
        # Mapped to full pixels, the crop's point plus the cut is the original's point.
        x = pair.a[0] * crop_scale + CUT[0]
        y = pair.a[1] * crop_scale + CUT[1]
        assert abs(x - pair.b[0] * original_scale) < 12
        assert abs(y - pair.b[1] * original_scale) < 12
    assert found.pdq_distance is not None and 0 <= found.pdq_distance <= 256


def test_a_mirrored_copy_is_found_mirrored_and_pdq_counts_the_flip(world: World) -> None:
    found = compare(world.ana, world.sha["mirror.jpg"], world.sha["original.jpg"])
    assert found.relation == "duplicate" and found.mirrored
    assert found.pairs, "the agreeing pairs of a mirrored match are drawn too"
    for pair in found.pairs:  # x -> width - x: the two points mirror each other
        assert abs((320 - pair.a[0]) - pair.b[0]) < 6 and abs(pair.a[1] - pair.b[1]) < 6
    assert found.pdq_distance is not None and found.pdq_distance <= 31


def test_unrelated_pictures_have_no_pairs_and_a_far_pdq(world: World) -> None:
    found = compare(world.ana, world.sha["other.jpg"], world.sha["original.jpg"])
    assert found.relation is None and found.inliers == 0 and found.pairs == []
    assert found.transform is None
    assert found.pdq_distance is not None and found.pdq_distance > 31


def test_either_side_hidden_is_not_found(world: World) -> None:
    met, bka = world.sha["original.jpg"], world.sha["bka.jpg"]
    with pytest.raises(NotFound, match="no stored media"):
        compare(world.bea, met, bka)
    with pytest.raises(NotFound, match="no stored media"):
        compare(world.bea, bka, met)
    with pytest.raises(NotFound, match="no stored media"):
        compare(world.ana, met, bka)
    with pytest.raises(NotFound, match="no stored media"):
        media_facts(world.bea, met)
    missing = "0" * 64
    with pytest.raises(NotFound):
        compare(world.ana, met, missing)
    with pytest.raises(Invalid):
        compare(world.ana, "not-a-hash", met)
    assert compare(world.bea, bka, bka).relation == "duplicate"


def test_media_facts_name_places_hashes_and_series(world: World) -> None:
    add_series(world.ana, "S-Compare")
    add_series_media(world.ana, "S-Compare", [world.sha["crop.jpg"]])
    facts = media_facts(world.ana, world.sha["crop.jpg"])
    assert facts.sha256 == world.sha["crop.jpg"] and facts.type == "image"
    assert (facts.width, facts.height) == (512, 384)
    assert list(facts.hashes) == ["md5", "sha1", "sha256", "pdq"]
    assert facts.hashes["sha256"] == facts.sha256 and len(facts.hashes["pdq"]) == 64
    assert [(p.source, p.path) for p in facts.places] == [("MET-1", "crop.jpg")]
    assert facts.series == ["S-Compare"] and facts.more_places == 0
    assert facts.faces == [] and facts.keyframes == []
    if facts.preview:
        assert (facts.preview_width, facts.preview_height) == (320, 240)


def test_preview_size_and_pdq_distance_helpers() -> None:
    assert preview_size(640, 480) == (320, 240)
    assert preview_size(100, 50) == (100, 50)
    assert preview_size(300, 1200) == (80, 320)
    assert preview_size(None, 10) is None
    a = bytes(32)
    flipped = bytes([0xFF] * 32)
    assert pdq_distance((a, b""), (flipped, b"")) == 256
    # A variant (the hash of a turn or flip) that equals the other hash counts as 0 bits.
    assert pdq_distance((a, bytes([0x0F] * 32) + flipped), (flipped, b"")) == 0
