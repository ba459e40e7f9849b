"""Previews of stored pictures, veiled unless the analyst chooses to look.

Analyst wellbeing by default: a preview is served greyscale and strongly blurred, enough to
tell a room from a document (or as the analyst or their agency chose: see
:mod:`vident.service.wellbeing`), and the picture itself only when the analyst reveals it. The
veil is applied here, on the server, so an unrevealed picture's detail never reaches the
browser; each reveal is its own audit event (``media.reveal``), apart from veiled views
(``media.preview``), so the trail shows who actually looked at what.

A video has, besides its preview (its first keyframe's), a strip of keyframe previews
(:func:`frame_strip` lists them, :func:`frame_preview` serves one, veiled or revealed and
audited the same way, the target being the video's SHA-256).

Renditions are made at ingest and kept sealed by the keyring, bound to their media's SHA-256
and, for a keyframe, its frame number (a sealed file copied under another media's or frame's
name does not decrypt). A caller who may not see
the media gets the answer a missing media gets.
"""

from __future__ import annotations

from typing import Final

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.media.preview import veiled
from vident.security.crypto import Keyring, KeyringError
from vident.service.context import Context
from vident.service.errors import NotFound
from vident.service.keys import KeyringUnavailable, open_keyring
from vident.service.schemas import Model
from vident.service.scope import check_media
from vident.service.similar import parse_sha256
from vident.service.use_case import SEE_MEDIA, use_case
from vident.service.wellbeing import veil_of
from vident.store.models import Frame, Media
from vident.store.previews import (
    Sealer,
    frame_subject,
    has_frame_preview,
    read_frame_preview,
    read_preview,
)

#: Highest frame number asked about (keyframes are numbered among at most 400 000 frames).
MAX_FRAME: Final = 1_000_000

__all__ = [
    "FramePreviewOut",
    "FrameStripOut",
    "PreviewOut",
    "frame_preview",
    "frame_strip",
    "preview",
    "preview_purpose",
    "preview_sealer",
]


class PreviewOut(Model):
    """The bytes of one preview and their media type."""

    content: bytes = Field(description="The picture.")
    media_type: str = Field(default="image/jpeg", description="Its media (MIME) type.")


class FramePreviewOut(Model):
    """One keyframe of a video that has a preview."""

    frame: int = Field(description="The keyframe's number among the video's frames (from 1).")
    ts: float = Field(description="Seconds from the start of the video.")


class FrameStripOut(Model):
    """The keyframes of a video that have a preview, in time order."""

    frames: list[FramePreviewOut]


def preview_purpose(sha256: bytes) -> bytes:
    """Binds a sealed preview to its media (``sha256``, or for a keyframe the
    :func:`~vident.store.previews.frame_subject` of the media and frame): moved onto another
    media's or frame's file it does not open."""
    return b"media.preview:" + sha256.hex().encode("ascii")


def preview_sealer(ctx: Context) -> tuple[Sealer | None, str | None]:
    """What ingest seals previews with, or None and a note saying why there are none.

    A keyring that cannot be opened (its passphrase missing, its disk full) costs the
    previews of this run, never the ingest itself.
    """
    try:
        keyring = open_keyring(ctx)
    except (KeyringUnavailable, OSError) as exc:
        reason = str(exc) if isinstance(exc, KeyringUnavailable) else exc.strerror or str(exc)
        return None, f"no previews made: the keyring could not be opened ({reason})"

    def seal(sha256: bytes, jpeg: bytes) -> bytes:
        return keyring.encrypt(jpeg, preview_purpose(sha256))

    return seal, None


def preview(ctx: Context, sha256: str, *, reveal: bool) -> PreviewOut:
    """The preview of the stored media ``sha256``: veiled, or the picture itself when
    ``reveal`` (audited as a reveal)."""
    if reveal:
        return reveal_preview(ctx, sha256)
    return veiled_preview(ctx, sha256)


@use_case("media.preview", SEE_MEDIA)
def veiled_preview(ctx: Context, sha256: str) -> PreviewOut:
    """The preview of ``sha256`` veiled as the caller chose (by default greyscale and
    strongly blurred)."""
    veil = veil_of(ctx)
    return PreviewOut(
        content=veiled(_rendition(ctx, sha256), blur=veil.blur, greyscale=veil.greyscale)
    )


@use_case("media.reveal", SEE_MEDIA)
def reveal_preview(ctx: Context, sha256: str) -> PreviewOut:
    """The preview of ``sha256`` as it is: the analyst chose to look."""
    return PreviewOut(content=_rendition(ctx, sha256))


def frame_preview(ctx: Context, sha256: str, frame: int, *, reveal: bool) -> PreviewOut:
    """The preview of keyframe ``frame`` of the stored video ``sha256``: veiled, or the
    keyframe itself when ``reveal`` (audited as a reveal of the video)."""
    if reveal:
        return reveal_frame_preview(ctx, sha256, frame)
    return veiled_frame_preview(ctx, sha256, frame)


@use_case("media.preview", SEE_MEDIA)
def veiled_frame_preview(ctx: Context, sha256: str, frame: int) -> PreviewOut:
    """Keyframe ``frame`` of ``sha256`` veiled as the caller chose."""
    veil = veil_of(ctx)
    jpeg = _rendition(ctx, sha256, frame)
    return PreviewOut(content=veiled(jpeg, blur=veil.blur, greyscale=veil.greyscale))


@use_case("media.reveal", SEE_MEDIA)
def reveal_frame_preview(ctx: Context, sha256: str, frame: int) -> PreviewOut:
    """Keyframe ``frame`` of ``sha256`` as it is: the analyst chose to look."""
    return PreviewOut(content=_rendition(ctx, sha256, frame))


@use_case("media.frames", SEE_MEDIA)
def frame_strip(ctx: Context, sha256: str) -> FrameStripOut:
    """The keyframes of the stored media ``sha256`` that have a preview (none for a picture,
    nor for a video ingested before keyframe previews existed)."""
    digest = parse_sha256(sha256)
    data = ctx.settings.data
    with ctx.store.reader() as session:
        media_id = _seen_media(ctx, session, digest)
        rows = session.execute(
            select(Frame.seq, Frame.ts)
            .where(Frame.media_id == media_id, Frame.keyframe.is_(True))
            .order_by(Frame.seq)
        ).all()
    return FrameStripOut(
        frames=[
            FramePreviewOut(frame=seq, ts=ts)
            for seq, ts in rows
            if has_frame_preview(data, digest, seq)
        ]
    )


def _seen_media(ctx: Context, session: Session, digest: bytes) -> int:
    shown = digest.hex()
    media_id = session.scalar(select(Media.id).where(Media.sha256 == digest))
    if media_id is None:
        raise NotFound(f"no stored media has SHA-256 {shown}: ingest it first")
    return check_media(ctx, session, media_id, shown)


def _rendition(ctx: Context, sha256: str, frame: int | None = None) -> bytes:
    """The decrypted rendition of a media the principal sees (of its keyframe ``frame``,
    when given), or NotFound."""
    digest = parse_sha256(sha256)
    shown = digest.hex()
    if frame is not None and not 1 <= frame <= MAX_FRAME:
        raise NotFound(f"no preview of frame {frame} of media {shown}: frames are numbered from 1")
    with ctx.store.reader() as session:
        _seen_media(ctx, session, digest)
    if frame is None:
        sealed, subject = read_preview(ctx.settings.data, digest), digest
        missing = f"no preview of media {shown}: ingest the source again to make one"
    else:
        subject = frame_subject(digest, frame)
        sealed = read_frame_preview(ctx.settings.data, digest, frame)
        missing = f"no preview of frame {frame} of media {shown}: see the media's keyframes"
    if sealed is None:
        raise NotFound(missing)
    return _open(open_keyring(ctx), sealed, subject, shown)


def _open(keyring: Keyring, sealed: bytes, subject: bytes, shown: str) -> bytes:
    try:
        return keyring.decrypt(sealed, preview_purpose(subject))
    except KeyringError as exc:
        raise KeyringUnavailable(f"the preview of media {shown} cannot be read: {exc}") from None
