"""vPDQ comparison: upstream's semantics (dedupe, quality filter, both shares), the symmetric
80 % rule of the issue, and real pairs (a near-duplicate pair matches, different clips do not)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from tests.helpers_media import CORPUS
from vident.config import Limits
from vident.match import vpdq
from vident.match.vpdq import VideoMatch, compare
from vident.media.keyframes import FrameHash, extract_keyframes

VIDEOS = CORPUS / "video"
RNG = np.random.default_rng(11)


def random_hash() -> bytes:
    return RNG.integers(0, 256, 32, dtype=np.uint8).tobytes()


def flipped(code: bytes, bits: int) -> bytes:
    """``code`` with its first ``bits`` bits inverted."""
    value = int.from_bytes(code, "big") ^ (((1 << bits) - 1) << (256 - bits))
    return value.to_bytes(32, "big")


def frames(*codes: bytes, quality: int = 100) -> list[FrameHash]:
    return [FrameHash(ts=float(i), pdq=code, quality=quality) for i, code in enumerate(codes)]


def test_identical_videos_match_fully() -> None:
    video = frames(*(random_hash() for _ in range(5)))
    assert compare(video, video) == VideoMatch(1.0, 1.0, True)


def test_distance_31_matches_and_32_does_not() -> None:
    base = random_hash()
    assert compare([base], [flipped(base, 31)]).matched
    assert not compare([base], [flipped(base, 32)]).matched
    assert compare([base], [flipped(base, 20)], distance=20).matched


def test_low_quality_frames_are_left_out_on_both_sides() -> None:
    shared = [random_hash() for _ in range(4)]
    query = frames(*shared) + frames(random_hash(), quality=49)
    result = compare(query, frames(*shared))
    assert result == VideoMatch(1.0, 1.0, True)  # the unmatched frame was too flat to count
    only_flat = frames(*shared, quality=10)
    assert compare(only_flat, only_flat) == VideoMatch(0.0, 0.0, False)
    assert compare(only_flat, only_flat, min_quality=0).matched


def test_exact_duplicates_count_once() -> None:
    a, b, c = random_hash(), random_hash(), random_hash()
    # Without deduplication the query would be 4 of 6 matched (67 %); with it, 1 of 3.
    query = frames(a, a, a, a, b, c)
    result = compare(query, frames(a))
    assert result.query_matched == pytest.approx(1 / 3)
    assert result.candidate_matched == 1.0


def test_a_clip_matches_the_long_video_it_comes_from_either_way_round() -> None:
    long_video = [random_hash() for _ in range(20)]
    clip = [flipped(code, 10) for code in long_video[5:9]]
    forward = compare(frames(*clip), frames(*long_video))
    backward = compare(frames(*long_video), frames(*clip))
    assert (forward.query_matched, forward.candidate_matched) == (1.0, 0.2)
    assert (backward.query_matched, backward.candidate_matched) == (0.2, 1.0)
    assert forward.matched and backward.matched  # max of the shares, not upstream's one side
    assert not compare(frames(*clip), frames(*long_video), min_matched=1.01).matched


def test_bare_hashes_are_accepted_and_checked() -> None:
    code = random_hash()
    assert compare([code], frames(code)).matched
    with pytest.raises(ValueError, match="32 bytes"):
        compare([code[:31]], [code])


def test_empty_sides_never_match() -> None:
    assert compare([], frames(random_hash())) == VideoMatch(0.0, 0.0, False)


def test_blocked_vectorised_counts_equal_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vpdq, "_BLOCK_PAIRS", 5000)  # 12 query rows per block: many blocks
    base = [random_hash() for _ in range(40)]
    query = [flipped(code, int(RNG.integers(0, 60))) for code in base] + [
        random_hash() for _ in range(60)
    ]
    candidate = base + [random_hash() for _ in range(360)]

    def share(a: list[bytes], b: list[bytes]) -> float:
        ints_b = [int.from_bytes(x, "big") for x in b]
        found = [any((int.from_bytes(x, "big") ^ y).bit_count() <= 31 for y in ints_b) for x in a]
        return sum(found) / len(a)

    result = compare(query, candidate)
    assert 0 < result.query_matched < 1
    assert result.query_matched == pytest.approx(share(query, candidate))
    assert result.candidate_matched == pytest.approx(share(candidate, query))


# --- real videos ---------------------------------------------------------------------------


@cache
def frame_hashes(name: str) -> tuple[FrameHash, ...]:
    return tuple(extract_keyframes(str(VIDEOS / name), Limits()).frame_hashes)


@pytest.mark.skipif(not VIDEOS.is_dir(), reason="shared corpus not present")
def test_carphone_pristine_and_distorted_match() -> None:
    result = compare(frame_hashes("carphone_pristine.mp4"), frame_hashes("carphone_distorted.mp4"))
    assert result.matched
    assert min(result.query_matched, result.candidate_matched) >= 0.8  # measured: 1.0 both


@pytest.mark.skipif(not VIDEOS.is_dir(), reason="shared corpus not present")
@pytest.mark.parametrize("carphone", ["carphone_pristine.mp4", "carphone_distorted.mp4"])
def test_bigbuckbunny_and_carphone_do_not_match(carphone: str) -> None:
    result = compare(frame_hashes("bigbuckbunny.mp4"), frame_hashes(carphone))
    assert not result.matched
    assert max(result.query_matched, result.candidate_matched) < 0.2  # measured: 0.0
