"""Video facts from the container and stream headers only (PyAV / FFmpeg), no frame decoded.

The probe reads what FFmpeg's demuxer learns while opening a file: size, duration and codec.
It is cheap (a few milliseconds; FFmpeg's probe reads at most a few MB), so every video of a
seizure gets its facts even before any frame is hashed.

Seized files are hostile, so the input always reaches FFmpeg through a Python file object:
a path is never handed to FFmpeg as a URL (no ``concat:``, ``http:`` or ``file:`` protocol
tricks in file names), and every further file a demuxer tries to open (HLS and DASH
playlists, concat lists, QuickTime external references) is refused.

FFmpeg opens a damaged file quietly where it can: an MP4 cut inside its ``moov`` box opens
with no stream at all, one cut inside its ``mdat`` box plays until the cut. Neither is a
whole video, so the probe also walks the top-level boxes of MP4 and QuickTime files (a few
reads of 16 bytes) to say where such a file ends, and a container without any stream is an
error rather than an empty video.
"""

from __future__ import annotations

import io
import math
import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import av
import av.container

from vident.media.errors import MediaError

_AV_TIME_BASE = 1_000_000
#: Demuxers that only point at other files; refused even though their nested opens fail.
_REFERENCE_FORMATS = frozenset({"hls", "dash", "concat", "image2", "ffmetadata", "tee"})


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the headers say; a field is None where the container does not tell.

    ``width`` and ``height`` are the size a player shows: the coded size with the sample
    aspect ratio applied (a 176x144 stream with pixels 128:117 wide shows as 192x144).
    Rotation metadata is not applied (PyAV exposes it only on decoded frames).
    ``codec`` is FFmpeg's decoder name (``h264``, ``hevc``, ``mpeg4``...); all four are None
    for a container without a video stream (an audio-only MP4). ``truncated`` says where
    an MP4 or QuickTime file ends before its own boxes do (the video is incomplete).
    """

    width: int | None
    height: int | None
    duration: float | None
    codec: str | None
    truncated: str | None = None


def probe_video(path_or_data: str | bytes) -> VideoInfo:
    """Facts of the video at a file path (``str``) or in memory (``bytes``).

    Raises :class:`MediaError` with a one-line reason when FFmpeg cannot read it.
    """
    if isinstance(path_or_data, bytes):
        if not path_or_data:
            raise MediaError("empty file (0 bytes)")
        return _probe(io.BytesIO(path_or_data))
    try:
        with Path(path_or_data).open("rb") as handle:
            return _probe(handle)  # raises MediaError only; OSError comes from the file
    except OSError as exc:
        raise MediaError(f"cannot read file: {exc.strerror or exc}") from exc


def _refuse_nested_open(url: str, flags: int, options: dict[str, Any]) -> IO[bytes]:
    raise PermissionError(f"vident does not let a video open other files ({url!r})")


def _probe(handle: IO[bytes]) -> VideoInfo:
    try:
        truncated = _cut_box(handle)
        handle.seek(0)
    except (OSError, struct.error) as exc:
        raise MediaError(f"cannot read file: {exc}") from exc
    try:
        container = av.open(handle, mode="r", io_open=_refuse_nested_open)
    except av.FFmpegError as exc:
        raise MediaError(f"unreadable video: {_ffmpeg_reason(exc)}") from exc
    except Exception as exc:  # PyAV wraps most failures, but a hostile file may find others
        raise MediaError(f"unreadable video ({type(exc).__name__}): {exc}") from exc
    try:
        info = _facts(container)
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(f"unreadable video headers ({type(exc).__name__}): {exc}") from exc
    finally:
        container.close()
    if info.stream_count == 0:
        where = f": {truncated}" if truncated else " (damaged or truncated file)"
        raise MediaError(f"unreadable video: no video or audio stream found{where}")
    return VideoInfo(info.width, info.height, info.duration, info.codec, truncated)


@dataclass(frozen=True, slots=True)
class _Facts:
    width: int | None
    height: int | None
    duration: float | None
    codec: str | None
    stream_count: int


#: Top-level boxes that start an MP4 or QuickTime file; anything else is not walked.
_FIRST_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_BOX_HEADER = 8
_MAX_BOXES = 10_000


def _cut_box(handle: IO[bytes]) -> str | None:
    """Where an MP4 or QuickTime file ends inside one of its top-level boxes, if it does.

    Returns None for other containers, for whole files, and where the walk meets bytes that
    are not a box (trailing junk is not a cut). A box of size 0 runs to the end by design.
    """
    end = handle.seek(0, os.SEEK_END)
    position = 0
    for count in range(_MAX_BOXES):
        handle.seek(position)
        header = handle.read(16)
        if len(header) < _BOX_HEADER:
            return None
        size, kind = struct.unpack(">I4s", header[:_BOX_HEADER])
        if (count == 0 and kind not in _FIRST_BOXES) or not kind.isascii() or not kind.isalnum():
            return None
        if size == 1:
            if len(header) < 16:
                return _ends_inside(kind, end - position, 16)
            size = struct.unpack(">Q", header[_BOX_HEADER:16])[0]
        elif size == 0:
            return None
        if size < _BOX_HEADER:
            return None
        if position + size > end:
            return _ends_inside(kind, end - position, size)
        position += size
        if position == end:
            return None
    return None


def _ends_inside(kind: bytes, have: int, claimed: int) -> str:
    name = kind.decode("ascii")
    what = " (the index of its frames)" if kind == b"moov" else ""
    return f"the file ends inside its '{name}' box{what}, after {have} of {claimed} bytes"


def _facts(container: av.container.InputContainer) -> _Facts:
    format_names = set(container.format.name.split(","))
    if format_names & _REFERENCE_FORMATS:
        raise MediaError(f"not a video but a list of other files ({container.format.name})")
    duration = _duration(container)
    streams = len(container.streams.video) + len(container.streams.audio)
    if not container.streams.video:
        return _Facts(width=None, height=None, duration=duration, codec=None, stream_count=streams)
    stream = container.streams.video[0]
    context = stream.codec_context
    if context is None:
        raise MediaError("unreadable video headers: the video stream has no codec (damaged?)")
    width = context.width or None
    height = context.height or None
    aspect = stream.sample_aspect_ratio or context.sample_aspect_ratio
    if width is not None and aspect is not None and aspect > 0 and aspect != 1:
        width = max(1, int(width * Fraction(aspect)))
    codec = context.name or None
    if duration is None and stream.duration is not None and stream.time_base is not None:
        stream_seconds = float(stream.duration * stream.time_base)
        # A damaged header can claim a negative or endless length: then the length is unknown.
        duration = stream_seconds if 0 < stream_seconds < math.inf else None
    return _Facts(width=width, height=height, duration=duration, codec=codec, stream_count=streams)


def _duration(container: av.container.InputContainer) -> float | None:
    if container.duration is None or container.duration <= 0:
        return None
    return container.duration / _AV_TIME_BASE


def _ffmpeg_reason(exc: av.FFmpegError) -> str:
    # str(exc) repeats errno and the file name ("[Errno 1094995529] Invalid data ...: '<none>'").
    return exc.strerror or str(exc)
