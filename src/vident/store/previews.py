"""Where sealed previews live in the data directory, and which finished files still lack one.

A media's preview is one file, ``<data>/previews/<first two hex>/<sha256>.sealed``, holding the
rendition encrypted by the keyring (this module never sees a key: callers hand it sealed bytes
and get sealed bytes back). There is no table: the file's presence is the record, so a
preview deleted or never made (media ingested before previews existed) is simply made again
by the next ingest of a source holding the media. The two-character folders keep any one
folder to a few thousand entries in a store of millions of media.

A video has, besides its preview (its first keyframe's rendition, so that lists of media show
something for it), a strip of up to a few keyframe previews, one file each:
``<data>/previews/<first two hex>/<sha256>-<frame>.sealed``, ``frame`` being the keyframe's
number among the video's frames (the ``seq`` of its frame row). Each is sealed bound to the
media and the frame number (:func:`frame_subject`), so one frame cannot pass for another.

Files are written to a temporary name and renamed, so a reader sees a whole preview or none.
They are not fsynced one by one: a preview is a cache of the seized file, and syncing every
small file would cost ingest more than a lost preview costs the next ingest that remakes it
(an empty file left by a crash counts as missing).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from vident.store.models import Media, Occurrence

#: Seals a rendition for storage: ``seal(sha256, jpeg) -> sealed bytes`` (given by the caller,
#: which holds the keyring).
Sealer = Callable[[bytes, bytes], bytes]

FOLDER = "previews"
SUFFIX = ".sealed"


def preview_path(data: Path, sha256: bytes) -> Path:
    """The file of the preview of the media ``sha256``."""
    name = sha256.hex()
    return data / FOLDER / name[:2] / f"{name}{SUFFIX}"


def frame_preview_path(data: Path, sha256: bytes, frame: int) -> Path:
    """The file of the preview of keyframe ``frame`` (its ``seq``) of the video ``sha256``."""
    if frame < 1:
        raise ValueError(f"frame numbers start at 1, got {frame}")
    name = sha256.hex()
    return data / FOLDER / name[:2] / f"{name}-{frame}{SUFFIX}"


def frame_subject(sha256: bytes, frame: int) -> bytes:
    """What a keyframe preview is sealed for: the media's digest and the frame number.

    Longer than any SHA-256, so a frame's seal never opens as its media's preview or another
    frame's, nor the other way round.
    """
    return sha256 + frame.to_bytes(4, "big")


def has_preview(data: Path, sha256: bytes) -> bool:
    """Whether a non-empty preview file exists for ``sha256``."""
    return _non_empty(preview_path(data, sha256))


def has_frame_preview(data: Path, sha256: bytes, frame: int) -> bool:
    """Whether a non-empty preview file exists for keyframe ``frame`` of ``sha256``."""
    return _non_empty(frame_preview_path(data, sha256, frame))


def _non_empty(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def write_preview(data: Path, sha256: bytes, sealed: bytes) -> None:
    """Store ``sealed`` as the preview of ``sha256`` (mode 0600, folders 0700), atomically."""
    _write(preview_path(data, sha256), sealed)


def write_frame_preview(data: Path, sha256: bytes, frame: int, sealed: bytes) -> None:
    """Store ``sealed`` as the preview of keyframe ``frame`` of ``sha256``, as
    :func:`write_preview` does."""
    _write(frame_preview_path(data, sha256, frame), sealed)


def _write(target: Path, sealed: bytes) -> None:
    for folder in (target.parent.parent, target.parent):
        folder.mkdir(mode=0o700, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(sealed)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def read_preview(data: Path, sha256: bytes) -> bytes | None:
    """The sealed preview of ``sha256``, or None when there is none."""
    return _read(preview_path(data, sha256))


def read_frame_preview(data: Path, sha256: bytes, frame: int) -> bytes | None:
    """The sealed preview of keyframe ``frame`` of ``sha256``, or None when there is none."""
    return _read(frame_preview_path(data, sha256, frame))


def _read(path: Path) -> bytes | None:
    try:
        sealed = path.read_bytes()
    except FileNotFoundError:
        return None
    return sealed or None


def lacking_previews(session: Session, source_id: int, data: Path) -> set[str]:
    """Paths of the source's finished, readable pictures and videos whose media has no
    preview file.

    A rerun of ingest reads these again to make their previews (a video's keyframe strip with
    its preview). Files that could not be decoded, and videos without a picture (audio only),
    are left out: reading them again would make no preview either.
    """
    rows = session.execute(
        select(Occurrence.path, Media.sha256)
        .join(Media, Media.id == Occurrence.media_id)
        .where(
            Occurrence.source_id == source_id,
            Occurrence.error.is_(None),
            Media.decode_error.is_(None),
            or_(
                Media.media_type == "image",
                and_(Media.media_type == "video", Media.width.is_not(None)),
            ),
        )
    )
    return {path for path, sha in rows if not has_preview(data, bytes(sha))}
