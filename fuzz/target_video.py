"""Fuzz target: the video prober (media/video.py, PyAV/FFmpeg headers only).

Contract: ``probe_video`` returns facts or raises MediaError with a one-line reason, within
the per-input time limit; sizes are positive, durations finite and not negative.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fuzz.contract import finite_or_none, one_line_message, require
from vident.media.errors import MediaError
from vident.media.video import probe_video


def make(scratch: Path) -> Callable[[bytes], None]:
    def one_input(data: bytes) -> None:
        try:
            info = probe_video(data)
        except MediaError as exc:
            one_line_message(str(exc))
            return
        for what, size in (("width", info.width), ("height", info.height)):
            require(size is None or size > 0, f"{what} {size}")
        finite_or_none(info.duration, "duration")
        require(info.duration is None or info.duration >= 0, f"duration {info.duration}")

    return one_input
