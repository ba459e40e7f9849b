"""The keypoint-vote index: collages find their parts, its snapshot is a cache of the store.

Real keypoint values of generated pictures are stored as ``keypoints`` signal rows of a real
store (SQLite, and PostgreSQL where enabled), as ingest keeps them.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image
from sqlalchemy.orm import Session

from vident.config import Settings
from vident.demo.synthetic import photo_like
from vident.index import catalog
from vident.index import features as features_module
from vident.index.features import MIN_VOTES, PER_PICTURE, FeatureIndex, sample
from vident.index.persist import FILE_NAME, Snapshot, read_snapshot, write_snapshot
from vident.match.geometry import query_features
from vident.media.types import DecodedImage
from vident.signals.keypoints import Keypoints
from vident.store.db import Store
from vident.store.models import Media, Signal

SIZE = (640, 480)


def _decoded(picture: Image.Image) -> DecodedImage:
    return DecodedImage(picture.convert("RGB"), picture.width, picture.height, "png")


def _store_picture(session: Session, picture: Image.Image, name: str) -> int:
    """A media row and its keypoints signal row, as ingest writes them; the signal's id."""
    media = Media(sha256=hashlib.sha256(name.encode()).digest(), size=1, media_type="image")
    session.add(media)
    session.flush()
    value = Keypoints().compute(_decoded(picture))
    signal = Signal(
        media_id=media.id,
        kind=value.kind,
        version=value.version,
        value=value.value,
        variants=b"".join(value.variants),
        model=value.model,
        quality=value.quality,
    )
    session.add(signal)
    session.flush()
    return signal.id


def _collage(left: Image.Image, right: Image.Image) -> Image.Image:
    """Two pictures side by side at three quarters of their size, on white."""
    sheet = Image.new("RGB", (1000, 420), "white")
    for n, picture in enumerate((left, right)):
        shown = picture.resize((480, 360), Image.Resampling.BICUBIC)
        sheet.paste(shown, (10 + n * 500, 30))
    return sheet


@pytest.fixture
def stored(store: Store) -> dict[int, int]:
    """Signal ids of five stored pictures, by seed."""
    with store.session() as session:
        return {
            seed: _store_picture(session, photo_like(*SIZE, seed), f"p{seed}")
            for seed in range(1, 6)
        }


def test_sample_is_spread_and_deterministic() -> None:
    chosen = sample(500)
    assert len(chosen) == PER_PICTURE
    assert chosen[0] == 0 and chosen[-1] == 499  # both ends of ORB's order: every level
    assert np.array_equal(chosen, sample(500))
    assert np.array_equal(sample(100), np.arange(100))


def test_collage_ranks_both_parts_first(
    store: Store, settings: Settings, stored: dict[int, int]
) -> None:
    with store.reader() as session:
        index = FeatureIndex.open(session, settings.index_dir)
    assert len(index) == 5
    query = query_features(_decoded(_collage(photo_like(*SIZE, 2), photo_like(*SIZE, 4))))
    found = index.candidates(query, top=10, min_votes=MIN_VOTES)
    assert {ref for ref, _ in found[:2]} == {stored[2], stored[4]}
    votes = dict(found)
    # The parts stand well clear of the other pictures, if those get any vote at all.
    others = [votes.get(stored[s], 0) for s in (1, 3, 5)]
    assert min(votes[stored[2]], votes[stored[4]]) > 3 * max(others, default=0)


def test_unrelated_picture_votes_far_below_a_copy(
    store: Store, settings: Settings, stored: dict[int, int]
) -> None:
    """An unrelated picture does collect some votes (generated pictures share many similar
    corners, real photos too: see the module's figures), so ``min_votes`` alone cannot turn it
    away; it must stay far below what a copy collects, so ranking and verification can."""
    with store.reader() as session:
        index = FeatureIndex.open(session, settings.index_dir)
    unrelated = index.candidates(query_features(_decoded(photo_like(*SIZE, 99))), top=10)
    copy = index.candidates(query_features(_decoded(photo_like(*SIZE, 3))), top=10)
    assert copy[0][0] == stored[3]
    assert copy[0][1] > 3 * max((votes for _, votes in unrelated), default=0)
    assert copy[0][1] > 3 * copy[1][1]
    # A floor above the noise leaves the unrelated picture with no candidate at all.
    assert (
        index.candidates(query_features(_decoded(photo_like(*SIZE, 99))), 10, copy[0][1] // 3) == []
    )


def test_mirrored_copy_is_found(store: Store, settings: Settings, stored: dict[int, int]) -> None:
    with store.reader() as session:
        index = FeatureIndex.open(session, settings.index_dir)
    flipped = photo_like(*SIZE, 5).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert index.candidates(query_features(_decoded(flipped)), top=1)[0][0] == stored[5]


def test_snapshot_survives_reopen(store: Store, settings: Settings, stored: dict[int, int]) -> None:
    with store.reader() as session:
        first = FeatureIndex.open(session, settings.index_dir)
        first.save()
        again = FeatureIndex.open(session, settings.index_dir)
        assert again.sync(session) == 0
    assert again.watermark == first.watermark == max(stored.values())
    assert again.descriptors == first.descriptors == 5 * PER_PICTURE
    assert len(again) == 5
    snapshot = read_snapshot(FeatureIndex.directory_for(settings.index_dir))
    assert snapshot is not None and snapshot.meta["watermark"] == first.watermark


def test_damaged_snapshot_is_rebuilt(
    store: Store, settings: Settings, stored: dict[int, int]
) -> None:
    directory = FeatureIndex.directory_for(settings.index_dir)
    with store.reader() as session:
        FeatureIndex.open(session, settings.index_dir).save()
    path = directory / FILE_NAME
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with store.reader() as session:
        rebuilt = FeatureIndex.open(session, settings.index_dir)
    assert rebuilt.descriptors == 5 * PER_PICTURE
    assert rebuilt.watermark == max(stored.values())


def test_snapshot_of_another_sample_is_rebuilt(
    store: Store, settings: Settings, stored: dict[int, int]
) -> None:
    """A valid snapshot whose descriptors were sampled otherwise is not mixed with new ones."""
    directory = FeatureIndex.directory_for(settings.index_dir)
    codes = np.zeros((3, 32), np.uint8)
    refs = np.full(3, 10**9, np.int64)
    write_snapshot(directory, Snapshot(256, codes, refs, {"watermark": 10**9, "per_picture": 3}))
    with store.reader() as session:
        index = FeatureIndex.open(session, settings.index_dir)
    assert index.watermark == max(stored.values())
    assert index.descriptors == 5 * PER_PICTURE


def test_sync_adds_later_rows(store: Store, settings: Settings, stored: dict[int, int]) -> None:
    with store.reader() as session:
        index = FeatureIndex.open(session, settings.index_dir)
    query = query_features(_decoded(photo_like(*SIZE, 7)))
    before = max((votes for _, votes in index.candidates(query, top=5)), default=0)
    with store.session() as session:
        later = _store_picture(session, photo_like(*SIZE, 7), "p7")
    with store.reader() as session:
        assert index.sync(session) == 1
        assert index.sync(session) == 0
    [(best, votes)] = index.candidates(query, top=1)
    assert best == later and votes > 3 * before
    assert index.watermark == later


def test_catalog_opens_saves_and_rebuilds_it(
    store: Store, settings: Settings, stored: dict[int, int]
) -> None:
    with store.reader() as session:
        indexes = catalog.open_indexes(session, settings)
        assert indexes.features is not None and len(indexes.features) == 5
        assert indexes.features in indexes.all()
        indexes.save()
        assert read_snapshot(FeatureIndex.directory_for(settings.index_dir)) is not None
        sizes = catalog.rebuild_all(session, settings)
    assert sizes[features_module.NAME] == 5
    assert any(features_module.NAME in part for part in catalog._key(settings)[3])


def test_approximate_path_ranks_copies_first_and_survives_reopen_and_sync(
    store: Store, settings: Settings, stored: dict[int, int]
) -> None:
    """Past the threshold the votes come from an inverted file: copies still rank first, the
    saved file is reopened without training again, and later rows are added to it."""
    threshold = 4 * PER_PICTURE  # five stored pictures are past it
    with store.reader() as session:
        index = FeatureIndex.open(session, settings.index_dir, approximate_from=threshold)
    assert index._ivf is not None and index._ivf.ntotal == index.descriptors
    for seed in (1, 3, 5):
        copy = index.candidates(query_features(_decoded(photo_like(*SIZE, seed))), top=3)
        assert copy[0][0] == stored[seed] and copy[0][1] > 3 * copy[1][1]
    index.save()
    ivf_directory = FeatureIndex.directory_for(settings.index_dir) / features_module.IVF_FOLDER
    assert read_snapshot(ivf_directory) is not None
    with store.reader() as session:
        again = FeatureIndex.open(session, settings.index_dir, approximate_from=threshold)
    assert again._ivf is not None and again._trained_on == index._trained_on
    assert again._ivf.nlist == index._ivf.nlist and again._ivf.ntotal == index.descriptors
    query = query_features(_decoded(photo_like(*SIZE, 7)))
    with store.session() as session:
        later = _store_picture(session, photo_like(*SIZE, 7), "p7")
    with store.reader() as session:
        assert again.sync(session) == 1
    assert again._ivf.ntotal == again.descriptors == 6 * PER_PICTURE
    assert again.candidates(query, top=1)[0][0] == later
    # Below the threshold the same store is searched exactly and finds the same first.
    with store.reader() as session:
        exact = FeatureIndex.open(session, settings.index_dir)
    assert exact._ivf is None and exact.candidates(query, top=1)[0][0] == later
