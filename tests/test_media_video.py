"""probe_video: container and stream facts without decoding, and refusal of hostile input."""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import av
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers_media import CORPUS, tiny_audio_mp4, tiny_video
from vident.media.errors import MediaError
from vident.media.video import VideoInfo, probe_video

MPEG4 = tiny_video("mpeg4", frames=10, rate=10, size=(64, 48))


def test_generated_mpeg4_from_bytes_and_from_path(tmp_path: Path) -> None:
    from_bytes = probe_video(MPEG4)
    path = tmp_path / "clip.mp4"
    path.write_bytes(MPEG4)
    from_path = probe_video(str(path))
    assert from_bytes == from_path
    assert (from_bytes.width, from_bytes.height, from_bytes.codec) == (64, 48, "mpeg4")
    assert from_bytes.duration == pytest.approx(1.0, abs=0.05)


@pytest.mark.skipif("libx264" not in av.codecs_available, reason="PyAV built without libx264")
def test_generated_h264_in_matroska() -> None:
    info = probe_video(tiny_video("libx264", frames=6, rate=6, size=(96, 64), container="matroska"))
    assert (info.width, info.height, info.codec) == (96, 64, "h264")
    assert info.duration == pytest.approx(1.0, abs=0.1)


def test_sample_aspect_ratio_gives_display_width() -> None:
    info = probe_video(tiny_video(size=(64, 48), frames=3, sample_aspect=Fraction(2, 1)))
    assert (info.width, info.height) == (128, 48)


def test_audio_only_container_has_no_picture_facts() -> None:
    info = probe_video(tiny_audio_mp4(seconds=1.0))
    assert (info.width, info.height, info.codec) == (None, None, None)
    assert info.duration == pytest.approx(1.0, abs=0.2)


def test_path_is_never_read_as_an_ffmpeg_url(tmp_path: Path) -> None:
    # Protocol-looking names are plain files to vident: FFmpeg never sees the name.
    odd = tmp_path / "concat:a.mp4"
    odd.write_bytes(MPEG4)
    assert probe_video(str(odd)).codec == "mpeg4"


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("list.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:5\n#EXTINF:1.0,\n{target}\n#EXT-X-ENDLIST\n"),
        ("list.ffconcat", "ffconcat version 1.0\nfile '{target}'\n"),
    ],
)
def test_playlists_cannot_make_ffmpeg_open_other_files(
    tmp_path: Path, name: str, body: str
) -> None:
    target = tmp_path / "real.mp4"
    target.write_bytes(MPEG4)
    playlist = tmp_path / name
    playlist.write_text(body.format(target=target))
    with pytest.raises(MediaError):
        probe_video(str(playlist))
    with pytest.raises(MediaError):
        probe_video(playlist.read_bytes())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage " * 64,
        b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64,
        MPEG4[: len(MPEG4) // 3],
    ],
)
def test_unreadable_video_gives_one_line_reason(data: bytes) -> None:
    with pytest.raises(MediaError) as caught:
        probe_video(data)
    assert str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="cannot read file"):
        probe_video(str(tmp_path / "missing.mp4"))


@settings(max_examples=60, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, len(MPEG4) - 1), st.integers(0, 255)), max_size=6))
def test_damaged_video_raises_only_media_error(edits: list[tuple[int, int]]) -> None:
    data = bytearray(MPEG4)
    for position, value in edits:
        data[position] = value
    try:
        info = probe_video(bytes(data))
    except MediaError:
        return
    assert isinstance(info, VideoInfo)


@pytest.mark.skipif(not (CORPUS / "video").exists(), reason="shared corpus not present")
def test_corpus_videos_match_the_manifest() -> None:
    with (CORPUS / "manifest.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["path"].endswith(".mp4")]
    assert len(rows) == 3
    for row in rows:
        info = probe_video(str(CORPUS / row["path"]))
        assert (info.width, info.height) == (int(row["width"]), int(row["height"])), row["path"]
        assert info.duration == pytest.approx(float(row["duration_s"]), abs=0.01)
        assert info.codec == "h264"
