"""Where sealed previews live in the data directory, and which finished files still lack one.

A media's preview is one file, ``<data>/previews/<first two hex>/<sha256>.sealed``, holding the
rendition encrypted by the keyring (this module never sees a key: callers hand it sealed bytes
and get sealed bytes back). There is no table: the file's presence is the record, so a
preview deleted or never made (media ingested before previews existed) is simply made again
by the next ingest of a source holding the media. The two-character folders keep any one
folder to a few thousand entries in a store of millions of media.

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

from sqlalchemy import select
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


def has_preview(data: Path, sha256: bytes) -> bool:
    """Whether a non-empty preview file exists for ``sha256``."""
    try:
        return preview_path(data, sha256).stat().st_size > 0
    except OSError:
        return False


def write_preview(data: Path, sha256: bytes, sealed: bytes) -> None:
    """Store ``sealed`` as the preview of ``sha256`` (mode 0600, folders 0700), atomically."""
    target = preview_path(data, sha256)
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
    try:
        sealed = preview_path(data, sha256).read_bytes()
    except FileNotFoundError:
        return None
    return sealed or None


def lacking_previews(session: Session, source_id: int, data: Path) -> set[str]:
    """Paths of the source's finished, readable pictures whose media has no preview file.

    A rerun of ingest reads these again to make their previews. Videos and files that could
    not be decoded are left out: reading them again would make no preview either.
    """
    rows = session.execute(
        select(Occurrence.path, Media.sha256)
        .join(Media, Media.id == Occurrence.media_id)
        .where(
            Occurrence.source_id == source_id,
            Occurrence.error.is_(None),
            Media.media_type == "image",
            Media.decode_error.is_(None),
        )
    )
    return {path for path, sha in rows if not has_preview(data, bytes(sha))}
