"""The picture signals of a video: every kind on its keyframes, PDQ on all its frames.

A video's *frames* are its vPDQ frame hashes (:mod:`vident.media.keyframes`: one sampled
frame a second, near-identical neighbours left out), numbered from 1 in time order. Each
becomes a PDQ signal row with ``frame=seq``, so that:

* a picture finds the video, and the moment, it appears in (an ordinary PDQ lookup), and
* two videos compare by vPDQ on the PDQ rows of their frames (:mod:`vident.match.vpdq`).

Keyframes, one per scene and at most a few a minute, are a subset of those frames (same
``seq``); only they go through every kind (faces, scenes, text and PDQ with its rotations
and flips), since those models cost far more than decoding. vPDQ deliberately does not run
on keyframes only: too few for a reliable share of matched frames (see
:mod:`vident.media.keyframes`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Unpack

from vident.config import Limits
from vident.media.keyframes import (
    DecodeReport,
    FrameHash,
    Keyframe,
    KeyframeOptions,
    iter_keyframes,
)
from vident.signals.base import ImageSignal, SignalValue
from vident.signals.pdq import Pdq


class FrameRow(NamedTuple):
    """One row of the frame table: frame ``seq`` of the video shows at ``ts`` seconds."""

    seq: int
    ts: float
    keyframe: bool


@dataclass(frozen=True, slots=True)
class VideoSignals:
    """Frames in time order, their signals (``frame`` = the frame's ``seq``), the decode."""

    frames: list[FrameRow]
    signals: list[SignalValue]
    report: DecodeReport


def video_signals(
    source: str | bytes | Path,
    limits: Limits,
    kinds: Sequence[ImageSignal],
    *,
    on_keyframe: Callable[[Keyframe], None] | None = None,
    **options: Unpack[KeyframeOptions],
) -> VideoSignals:
    """Decode ``source`` once and compute ``kinds`` on its keyframes, PDQ on all frames.

    Without a PDQ kind in ``kinds`` there are no per-frame rows and the frames are the
    keyframes alone. A container without video (audio only) gives empty lists. Raises
    :class:`vident.media.errors.MediaError` (one line) for an unreadable video; damage
    after the first frames only ends the decode early (``report.stopped`` says why).
    ``on_keyframe`` is handed each keyframe as it is decoded (ingest makes the video's preview
    strip from them), so nothing is decoded twice.
    """
    pdq = next((kind for kind in kinds if isinstance(kind, Pdq)), None)
    hashes: list[FrameHash] = []
    report = DecodeReport()
    signals: list[SignalValue] = []
    keyframes: set[int] = set()
    for keyframe in iter_keyframes(source, limits, hashes, report, **options):
        keyframes.add(keyframe.seq)
        if on_keyframe is not None:
            on_keyframe(keyframe)
        for kind in kinds:
            value = kind.compute(keyframe.image)
            if value is not None:
                signals.append(dataclasses.replace(value, frame=keyframe.seq))
    if pdq is not None:
        signals.extend(
            SignalValue(
                kind=pdq.name,
                version=pdq.version,
                value=frame.pdq,
                quality=frame.quality,
                frame=seq,
            )
            for seq, frame in enumerate(hashes, start=1)
            if seq not in keyframes
        )
    frames = [
        FrameRow(seq=seq, ts=frame.ts, keyframe=seq in keyframes)
        for seq, frame in enumerate(hashes, start=1)
        if pdq is not None or seq in keyframes
    ]
    signals.sort(key=lambda value: value.frame)
    return VideoSignals(frames=frames, signals=signals, report=report)
