"""Turning one work item into a result record: the CPU-heavy part of ingest.

Runs in worker processes and never touches the store. The file is read once: the three
digests are updated chunk by chunk and, for pictures, the same bytes are then decoded in
draft mode for the picture signals and, when asked, a small preview rendition made from the
same decoded pixels; for videos, renditions of a few of the keyframes the signals decode.
Whatever goes wrong becomes ``ItemResult.error``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path, PurePosixPath

from vident.config import Limits
from vident.ingest.records import ItemResult, WorkItem
from vident.ingest.unique_names import without_duplicate_mark
from vident.media.detect import SNIFF_BYTES, claimed_type, sniff
from vident.media.errors import MediaError
from vident.media.exif import read_exif
from vident.media.image import decode_image
from vident.media.preview import FrameStrip, rendition
from vident.media.types import MediaType
from vident.media.video import probe_video
from vident.signals.base import ImageSignal, SignalValue
from vident.signals.compute import compute_image_signals
from vident.signals.registry import digest_kinds, image_kinds

CHUNK = 1024 * 1024
#: Pictures above this size are hashed but not decoded (no real photo is this large).
MAX_IMAGE_BYTES = 512 * 1024 * 1024


def _read(item: WorkItem, limits: Limits, digests: list[SignalValue]) -> bytes | None:
    """Hash the item's bytes in one pass; return them when small enough to decode from memory.

    Returns None for large files (videos): those are probed from their path instead.
    """
    kinds = digest_kinds()
    hashers = [kind.new_hasher() for kind in kinds]
    if item.data is not None:
        for hasher in hashers:
            hasher.update(item.data)
        data: bytes | None = item.data
    else:
        assert item.fs_path is not None
        chunks: list[bytes] | None = []
        total = 0
        with Path(item.fs_path).open("rb") as handle:
            while block := handle.read(CHUNK):
                total += len(block)
                if total > limits.max_file_bytes:
                    raise MediaError(
                        f"file is larger than the limit of {limits.max_file_bytes} bytes"
                    )
                for hasher in hashers:
                    hasher.update(block)
                if chunks is not None:
                    chunks.append(block)
                    if total > MAX_IMAGE_BYTES:
                        chunks = None
        data = b"".join(chunks) if chunks is not None else None
    digests.extend(
        SignalValue(kind=kind.name, version=kind.version, value=hasher.digest())
        for kind, hasher in zip(kinds, hashers, strict=True)
    )
    return data


def _header(item: WorkItem, data: bytes | None) -> bytes:
    if data is not None:
        return data[:SNIFF_BYTES]
    assert item.fs_path is not None
    with Path(item.fs_path).open("rb") as handle:
        return handle.read(SNIFF_BYTES)


def process_item(
    item: WorkItem,
    limits: Limits,
    signals: Collection[str] | None = None,
    *,
    preview: bool = False,
) -> ItemResult:
    """Everything vident computes about one file, or the reason it could not.

    ``signals`` names the picture kinds to compute (all registered ones when None); the
    digests are always computed. ``preview`` adds a JPEG rendition of a decoded picture.
    """
    result = ItemResult(path=item.path, size=item.size, times=item.times, deleted=item.deleted)
    if item.error is not None:
        result.error = item.error
        return result
    digests: list[SignalValue] = []
    try:
        data = _read(item, limits, digests)
    except MediaError as exc:
        result.error = str(exc)
        return result
    except OSError as exc:
        result.error = f"cannot read file: {exc.strerror or exc}"
        return result
    size = len(data) if data is not None else item.size
    result.size = size
    if not size:
        result.error = "empty file (0 bytes)"
        return result
    result.signals.extend(digests)
    result.sha256 = next(s.value for s in digests if s.kind == "sha256")
    try:
        sniffed = sniff(_header(item, data))
    except OSError as exc:
        result.error = f"cannot read file: {exc.strerror or exc}"
        return result
    result.media_type = sniffed.media_type
    result.mime = sniffed.mime
    name = without_duplicate_mark(item.path)  # "a.jpg#2" is still named as a picture
    claimed = claimed_type(name)
    if claimed is not None and claimed is not sniffed.media_type:
        found = sniffed.mime or "unrecognised data"
        suffix = PurePosixPath(name).suffix
        result.error = f"named as {claimed.value} ({suffix}) but the content is {found}"
        return result
    try:
        if sniffed.media_type is MediaType.IMAGE:
            _image_facts(result, data, limits, image_kinds(signals), preview)
        elif sniffed.media_type is MediaType.VIDEO:
            source = data if data is not None else str(item.fs_path)
            info = probe_video(source)
            result.width, result.height, result.duration = info.width, info.height, info.duration
            try:
                _video_facts(result, source, limits, image_kinds(signals), preview)
            except MediaError as exc:
                if info.truncated is None:
                    raise
                raise MediaError(f"truncated video: {info.truncated}; {exc}") from exc
            if info.truncated is not None and result.error is None:
                # Frames before the cut are hashed (they still match), but the file is damaged.
                result.error = f"truncated video: {info.truncated}; read up to the cut only"
    except MediaError as exc:
        result.error = str(exc)
    return result


def _image_facts(
    result: ItemResult,
    data: bytes | None,
    limits: Limits,
    kinds: Sequence[ImageSignal],
    preview: bool = False,
) -> None:
    if data is None:
        raise MediaError(f"picture is larger than {MAX_IMAGE_BYTES} bytes; not decoded")
    # Camera facts first: a damaged picture still tells which camera and place it came from.
    result.exif = read_exif(data)
    decoded = decode_image(data, limits)
    result.width, result.height = decoded.width, decoded.height
    result.signals.extend(compute_image_signals(decoded, kinds))
    if preview:
        # Our own resize and encode of pixels already decoded: a failure here (memory) costs
        # the preview only, never the signals.
        try:
            result.preview = rendition(decoded)
        except (OSError, ValueError, MemoryError):
            result.preview = None


def _video_facts(
    result: ItemResult,
    source: bytes | str,
    limits: Limits,
    kinds: Sequence[ImageSignal],
    preview: bool = False,
) -> None:
    """Keyframes of a video, each with the picture signals, tagged with its frame number.

    With ``preview``, the same decoded keyframes also give the video's preview strip (see
    :class:`vident.media.preview.FrameStrip`) and its preview (the first keyframe's).
    """
    if not kinds and not preview:
        return
    from vident.media.keyframes import Keyframe
    from vident.signals.video import video_signals

    strip = FrameStrip() if preview else None

    def offer(keyframe: Keyframe) -> None:
        if strip is not None:
            strip.add(keyframe.seq, keyframe.image)

    found = video_signals(source, limits, kinds, on_keyframe=offer, decode_threads=1)
    if strip is not None:
        result.preview = strip.first()
        result.frame_previews = strip.chosen()
    result.frames.extend((row.seq, row.ts, row.keyframe) for row in found.frames)
    result.signals.extend(found.signals)
    if found.report.stopped:
        result.error = f"video read in part only: {found.report.stopped}"


def process_batch(
    items: list[WorkItem],
    limits: Limits,
    signals: Collection[str] | None = None,
    *,
    preview: bool = False,
) -> list[ItemResult]:
    """Several items per task: fewer round trips between processes for small files."""
    return [_guarded(item, limits, signals, preview) for item in items]


def _guarded(
    item: WorkItem, limits: Limits, signals: Collection[str] | None, preview: bool
) -> ItemResult:
    """Whatever a hostile file provokes in a library, the item gets a reason, the job goes on."""
    try:
        return process_item(item, limits, signals, preview=preview)
    except Exception as exc:  # recorded on the item, never swallowed silently
        reason = " ".join(str(exc).split())[:200]
        return ItemResult(
            path=item.path,
            size=item.size,
            times=item.times,
            error=f"unexpected {type(exc).__name__} while reading: {reason}",
            deleted=item.deleted,
        )
