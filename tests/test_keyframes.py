"""Video sampling, frame PDQ and keyframes: conformance with the C++ vPDQ, generated scenes,
the cap per minute, orientation, damaged input, and the per-frame signals of a video."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageDraw

from tests.helpers_media import CONFORMANCE, CORPUS, photo_like, tiny_audio_mp4, tiny_video
from vident.config import Limits
from vident.ingest.video_frames import video_signals
from vident.media.bits import pack_bits
from vident.media.errors import MediaError
from vident.media.keyframes import (
    DecodeReport,
    extract_keyframes,
    iter_sampled_frames,
)
from vident.media.types import DecodedImage
from vident.signals.base import ImageSignal, MatchRule, SignalValue
from vident.signals.pdq import Pdq

LIMITS = Limits()
VPDQ = CONFORMANCE / "vpdq"
VIDEOS = CORPUS / "video"


def scenes_video(
    pictures: Sequence[Image.Image],
    seconds_each: float = 1.0,
    rate: int = 10,
    container: str = "mp4",
    rotation: int | None = None,
) -> bytes:
    """Each picture shown for ``seconds_each``, encoded with PyAV (MPEG-4 part 2)."""
    width, height = pictures[0].size
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream("mpeg4", rate=rate)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 4_000_000  # near-lossless for these small pictures
        if rotation is not None:
            stream.set_display_rotation(rotation)
        per_picture = round(seconds_each * rate)
        for index in range(len(pictures) * per_picture):
            pixels = np.asarray(pictures[index // per_picture].convert("RGB"))
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, rate)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()


def scenes(count: int, size: tuple[int, int] = (128, 96)) -> list[Image.Image]:
    return [photo_like(size[0], size[1], seed) for seed in range(count)]


# --- conformance: frame PDQ against the C++ vpdq (ffmpeg decode) -------------------------


def _reference(name: str) -> list[tuple[float, int, int]]:
    rows = []
    for line in (VPDQ / "vpdq-hashes" / f"{name}.txt").read_text().split():
        _frame, quality, hex_hash, seconds = line.split(",")
        rows.append((float(seconds), int(quality), int(hex_hash, 16)))
    return rows


@pytest.mark.skipif(not (VPDQ / "videos").is_dir(), reason="conformance data not present")
@pytest.mark.parametrize(
    # measured maxima over frames of quality >= 50 on both sides: 22, 6 and 10 bits
    # (test-padded-dimensions is 1080x1080, hashed here from its 540x540 reduction)
    "name",
    ["doorknob-hd-no-bar", "pattern-sd-grey-bar", "test-padded-dimensions"],
)
def test_frame_pdq_matches_the_cpp_reference(name: str) -> None:
    reference = _reference(name)
    times = np.array([row[0] for row in reference])
    compared = 0
    for sample in iter_sampled_frames(str(VPDQ / "videos" / f"{name}.mp4"), LIMITS, 5.0):
        nearest = int(np.abs(times - sample.ts).argmin())
        ref_ts, ref_quality, ref_hash = reference[nearest]
        assert abs(ref_ts - sample.ts) < 1 / 60  # the very frame the reference hashed
        bits, quality = pdqhash.compute(np.asarray(sample.image.pixels))
        if quality >= 50 and ref_quality >= 50:
            ours = int.from_bytes(pack_bits(bits), "big")
            assert (ours ^ ref_hash).bit_count() < 31, (name, sample.ts)
            compared += 1
    assert compared >= 8


@pytest.mark.skipif(not (VPDQ / "videos").is_dir(), reason="conformance data not present")
def test_frame_hashes_are_the_reference_frames_at_whole_seconds() -> None:
    found = extract_keyframes(str(VPDQ / "videos" / "pattern-sd-grey-bar.mp4"), LIMITS)
    reference = {round(row[0], 3): row for row in _reference("pattern-sd-grey-bar")}
    assert [frame.ts for frame in found.frame_hashes] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    for frame in found.frame_hashes:
        _ts, _quality, ref_hash = reference[round(frame.ts, 3)]
        assert (int.from_bytes(frame.pdq, "big") ^ ref_hash).bit_count() < 31


# --- generated scenes ----------------------------------------------------------------------


def test_one_keyframe_per_scene_at_its_first_second() -> None:
    found = extract_keyframes(scenes_video(scenes(5)), LIMITS)
    assert [k.ts for k in found.keyframes] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [k.seq for k in found.keyframes] == [1, 2, 3, 4, 5]
    assert [f.ts for f in found.frame_hashes] == [0.0, 1.0, 2.0, 3.0, 4.0]
    for keyframe in found.keyframes:
        assert isinstance(keyframe.image, DecodedImage)
        assert keyframe.image.pixels.mode == "RGB"
        assert (keyframe.image.width, keyframe.image.height) == (128, 96)
        bits, _quality = pdqhash.compute(np.asarray(keyframe.image.pixels))
        assert pack_bits(bits) == found.frame_hashes[keyframe.seq - 1].pdq
    assert found.report.stopped is None and found.report.codec == "mpeg4"


def test_two_samples_a_second_and_a_still_scene_collapses() -> None:
    still = scenes(1)
    found = extract_keyframes(scenes_video(still * 6), LIMITS, sample_fps=2.0)
    assert found.report.sampled_frames == 12
    assert len(found.frame_hashes) == 1  # near-identical neighbours are pruned
    assert [k.ts for k in found.keyframes] == [0.0]


def test_black_frames_are_never_keyframes_unless_all_is_black() -> None:
    black = Image.new("RGB", (128, 96))
    found = extract_keyframes(scenes_video([black, *scenes(2)]), LIMITS)
    assert [k.ts for k in found.keyframes] == [1.0, 2.0]
    assert len(found.frame_hashes) == 3  # still hashed for vPDQ (and filtered there)
    dark = extract_keyframes(scenes_video([black, black]), LIMITS)
    assert [k.ts for k in dark.keyframes] == [0.0]


def test_a_scene_keeps_its_sharpest_frame() -> None:
    sharp = photo_like(128, 96, 3)
    faint = Image.blend(Image.new("RGB", sharp.size, (128, 128, 128)), sharp, 0.04)
    found = extract_keyframes(scenes_video([faint, sharp]), LIMITS)
    hashes = [int.from_bytes(f.pdq, "big") for f in found.frame_hashes]
    assert len(hashes) == 2 and (hashes[0] ^ hashes[1]).bit_count() <= 64  # one scene
    assert found.frame_hashes[0].quality < found.frame_hashes[1].quality
    assert [k.ts for k in found.keyframes] == [1.0]


def test_cap_per_minute_holds() -> None:
    video = scenes_video(scenes(75, (96, 72)), rate=1)
    found = extract_keyframes(video, LIMITS, max_per_minute=5)
    per_minute = Counter(int(k.ts // 60) for k in found.keyframes)
    assert per_minute == {0: 5, 1: 5}
    assert found.keyframes[0].ts == 0.0
    assert len(found.frame_hashes) == 75  # vPDQ frames are never capped
    assert [k.seq for k in found.keyframes] == sorted(k.seq for k in found.keyframes)
    for keyframe in found.keyframes:
        assert found.frame_hashes[keyframe.seq - 1].ts == keyframe.ts


def test_timestamps_that_do_not_advance_fall_back_to_the_frame_rate() -> None:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="matroska") as output:
        stream = output.add_stream("mpeg4", rate=10)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(30):
            pixels = np.full((48, 64, 3), index * 8, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                packet.pts = packet.dts = 0
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    samples = list(iter_sampled_frames(buffer.getvalue(), LIMITS, 1.0))
    assert [round(s.ts, 6) for s in samples] == [0.0, 1.0, 2.0]


# --- display size and orientation ----------------------------------------------------------


def _marked() -> Image.Image:
    picture = Image.new("RGB", (96, 64))
    ImageDraw.Draw(picture).rectangle((0, 0, 30, 20), fill=(255, 255, 255))
    return picture


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_display_rotation_is_applied(degrees: int) -> None:
    picture = _marked()
    video = scenes_video([picture], rotation=degrees)
    image = next(iter(iter_sampled_frames(video, LIMITS, 1.0))).image
    expected = picture.rotate(degrees, expand=True)  # PyAV's degrees are counter-clockwise
    assert image.pixels.size == expected.size == (image.width, image.height)
    difference = np.abs(np.asarray(image.pixels, int) - np.asarray(expected, int))
    assert difference.mean() < 10


@pytest.mark.skipif(not VIDEOS.is_dir(), reason="shared corpus not present")
def test_sample_aspect_ratio_gives_the_display_size() -> None:
    first = next(iter(iter_sampled_frames(str(VIDEOS / "carphone_pristine.mp4"), LIMITS)))
    assert (first.image.width, first.image.height) == (192, 144)  # 176x144 at 128:117
    assert first.image.pixels.size == (192, 144)


def test_large_frames_are_reduced_like_photos() -> None:
    video = tiny_video(frames=2, rate=2, size=(1280, 1088))
    image = next(iter(iter_sampled_frames(video, LIMITS, 1.0))).image
    assert (image.width, image.height) == (1280, 1088)
    assert image.pixels.size == (640, 544)
    strip = tiny_video(frames=2, rate=2, size=(5000, 32))
    image = next(iter(iter_sampled_frames(strip, LIMITS, 1.0))).image
    assert (image.width, image.height) == (5000, 32)
    assert image.pixels.size == (2500, 16)  # the longer side is bounded too


# --- what is not a (good) video -----------------------------------------------------------

MPEG4 = tiny_video("mpeg4", frames=10, rate=10, size=(64, 48))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage " * 64,
        b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64,
        MPEG4[: len(MPEG4) // 3],
    ],
    ids=["zero-byte", "garbage", "header-only", "truncated"],
)
def test_unreadable_video_is_a_one_line_media_error(data: bytes) -> None:
    with pytest.raises(MediaError) as caught:
        extract_keyframes(data, LIMITS)
    assert str(caught.value) and "\n" not in str(caught.value)


def test_missing_file_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="cannot read file"):
        extract_keyframes(tmp_path / "missing.mp4", LIMITS)


def test_truncated_stream_keeps_what_was_decoded() -> None:
    whole = scenes_video(scenes(4), container="matroska")
    found = extract_keyframes(whole[: len(whole) * 2 // 3], LIMITS)
    assert 1 <= len(found.frame_hashes) < 4


def test_damaged_bytes_raise_only_media_error() -> None:
    rng = np.random.default_rng(5)
    video = scenes_video(scenes(3), container="matroska")
    for _ in range(25):
        data = bytearray(video)
        for position in rng.integers(0, len(data), 8):
            data[int(position)] = int(rng.integers(0, 256))
        try:
            found = extract_keyframes(bytes(data), LIMITS)
        except MediaError as exc:
            assert "\n" not in str(exc)
        else:
            assert len(found.keyframes) <= len(found.frame_hashes)


def test_audio_only_file_gives_no_frames() -> None:
    report = DecodeReport()
    assert list(iter_sampled_frames(tiny_audio_mp4(), LIMITS, 1.0, report=report)) == []
    assert not report.has_video
    found = extract_keyframes(tiny_audio_mp4(), LIMITS)
    assert found.keyframes == [] and found.frame_hashes == []


def test_work_bounds_stop_the_decode_and_say_so() -> None:
    video = scenes_video(scenes(6))
    by_time = extract_keyframes(video, LIMITS, max_seconds=2.5)
    assert [f.ts for f in by_time.frame_hashes] == [0.0, 1.0, 2.0]
    assert by_time.report.stopped is not None and "2.5 s" in by_time.report.stopped
    by_frames = extract_keyframes(video, LIMITS, max_decoded_frames=15)
    assert by_frames.report.decoded_frames == 15 and by_frames.report.stopped is not None
    with pytest.raises(MediaError, match="over the limit"):
        extract_keyframes(video, Limits(max_pixels=1000))


def test_path_and_bytes_give_the_same_frames(tmp_path: Path) -> None:
    video = scenes_video(scenes(3))
    path = tmp_path / "concat:clip.mp4"  # a protocol-looking name is still a plain file
    path.write_bytes(video)
    from_path = extract_keyframes(str(path), LIMITS)
    from_bytes = extract_keyframes(video, LIMITS)
    assert from_path.frame_hashes == from_bytes.frame_hashes


# --- per-frame signals of a video ----------------------------------------------------------


class MeanColour(ImageSignal):
    """A cheap stand-in for the costly kinds (faces, scenes, text)."""

    name = "meancolour"
    version = 1
    match = MatchRule.STORED
    value_bytes = 3

    def compute(self, image: DecodedImage) -> SignalValue | None:
        mean = np.asarray(image.pixels).reshape(-1, 3).mean(axis=0)
        return SignalValue(kind=self.name, version=self.version, value=bytes(mean.astype(int)))


def test_video_signals_tag_every_value_with_its_frame() -> None:
    video = scenes_video([*scenes(3), *scenes(1)])  # the 4th second repeats the 1st scene
    result = video_signals(video, LIMITS, [Pdq(), MeanColour()], max_per_minute=2)
    assert [(f.seq, f.ts) for f in result.frames] == [(1, 0.0), (2, 1.0), (3, 2.0), (4, 3.0)]
    keyframes = [f.seq for f in result.frames if f.keyframe]
    assert len(keyframes) == 2 and keyframes[0] == 1
    by_kind: dict[str, list[SignalValue]] = {}
    for value in result.signals:
        by_kind.setdefault(value.kind, []).append(value)
    assert [v.frame for v in by_kind["meancolour"]] == keyframes
    assert [v.frame for v in by_kind["pdq"]] == [1, 2, 3, 4]  # vPDQ rows for every frame
    for value in by_kind["pdq"]:
        assert len(value.variants) == (7 if value.frame in keyframes else 0)
        assert value.quality is not None and value.quality >= 50


def test_video_signals_without_pdq_list_only_keyframes() -> None:
    result = video_signals(scenes_video(scenes(3)), LIMITS, [MeanColour()])
    assert [f.keyframe for f in result.frames] == [True, True, True]
    assert {v.kind for v in result.signals} == {"meancolour"}


def test_video_signals_of_audio_only_is_empty() -> None:
    result = video_signals(tiny_audio_mp4(), LIMITS, [Pdq()])
    assert result.frames == [] and result.signals == []
