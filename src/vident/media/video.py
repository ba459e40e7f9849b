"""Video facts from the container and stream headers only (PyAV / FFmpeg), no frame decoded.

The probe reads what FFmpeg's demuxer learns while opening a file: size, duration and codec.
It is cheap (a few milliseconds; FFmpeg's probe reads at most a few MB), so every video of a
seizure gets its facts even before any frame is hashed.

Seized files are hostile, so the input always reaches FFmpeg through a Python file object:
a path is never handed to FFmpeg as a URL (no ``concat:``, ``http:`` or ``file:`` protocol
tricks in file names), and every further file a demuxer tries to open (HLS and DASH
playlists, concat lists, QuickTime external references) is refused.
"""

from __future__ import annotations

import io
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
    for a container without a video stream (an audio-only MP4).
    """

    width: int | None
    height: int | None
    duration: float | None
    codec: str | None


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
        container = av.open(handle, mode="r", io_open=_refuse_nested_open)
    except av.FFmpegError as exc:
        raise MediaError(f"unreadable video: {_ffmpeg_reason(exc)}") from exc
    except Exception as exc:  # PyAV wraps most failures, but a hostile file may find others
        raise MediaError(f"unreadable video ({type(exc).__name__}): {exc}") from exc
    try:
        return _facts(container)
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(f"unreadable video headers ({type(exc).__name__}): {exc}") from exc
    finally:
        container.close()


def _facts(container: av.container.InputContainer) -> VideoInfo:
    format_names = set(container.format.name.split(","))
    if format_names & _REFERENCE_FORMATS:
        raise MediaError(f"not a video but a list of other files ({container.format.name})")
    duration = _duration(container)
    if not container.streams.video:
        return VideoInfo(width=None, height=None, duration=duration, codec=None)
    stream = container.streams.video[0]
    context = stream.codec_context
    width = context.width or None
    height = context.height or None
    aspect = stream.sample_aspect_ratio or context.sample_aspect_ratio
    if width is not None and aspect is not None and aspect > 0 and aspect != 1:
        width = max(1, int(width * Fraction(aspect)))
    codec = context.name or None
    if duration is None and stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    return VideoInfo(width=width, height=height, duration=duration, codec=codec)


def _duration(container: av.container.InputContainer) -> float | None:
    if container.duration is None or container.duration <= 0:
        return None
    return container.duration / _AV_TIME_BASE


def _ffmpeg_reason(exc: av.FFmpegError) -> str:
    # str(exc) repeats errno and the file name ("[Errno 1094995529] Invalid data ...: '<none>'").
    return exc.strerror or str(exc)
