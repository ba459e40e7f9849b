"""What ingest learnt about one file, in the shape the store writes.

The worker processes produce these records and :mod:`vident.store.writer` stores them; they
live in the store layer because the store may not import the ingest pipeline above it.
:mod:`vident.ingest.records` re-exports them for the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vident.media.types import ExifFacts, MediaType
from vident.signals.base import SignalValue


@dataclass(frozen=True, slots=True)
class FileTimes:
    mtime: float | None = None
    ctime: float | None = None
    atime: float | None = None


@dataclass(slots=True)
class ItemResult:
    """What a worker learnt about one work item; ``error`` is one line saying why it failed.

    ``sha256`` is set whenever the bytes could be read, even if decoding then failed, so
    exact matches still work on damaged files.
    """

    path: str
    size: int | None = None
    times: FileTimes = field(default_factory=FileTimes)
    sha256: bytes | None = None
    media_type: MediaType | None = None
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    signals: list[SignalValue] = field(default_factory=list)
    #: A video's sampled frames as (seq, seconds, is a keyframe); their signals carry
    #: ``frame=seq``.
    frames: list[tuple[int, float, bool]] = field(default_factory=list)
    exif: ExifFacts | None = None
    error: str | None = None
    #: A small JPEG rendition of a picture (see :mod:`vident.media.preview`), when asked for;
    #: the parent seals and stores it, it is never written to the store as is. A video's is
    #: its first keyframe's.
    preview: bytes | None = None
    #: A video's keyframe strip when previews are asked for: (frame ``seq``, JPEG rendition)
    #: pairs, sealed and stored by the parent like ``preview``.
    frame_previews: list[tuple[int, bytes]] = field(default_factory=list)
    #: The file was found through a file system's record of a deleted file (disk images).
    deleted: bool = False
