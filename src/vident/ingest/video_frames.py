"""The picture signals of a video, as ingest computes them: see :mod:`vident.signals.video`.

Kept under this name for the callers that import it from here; the code lives in the signals
layer so that a query file (``vident similar``) is hashed the same way without importing the
ingest pipeline.
"""

from __future__ import annotations

from vident.signals.video import FrameRow, VideoSignals, video_signals

__all__ = ["FrameRow", "VideoSignals", "video_signals"]
