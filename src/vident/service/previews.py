"""Previews of stored pictures, veiled unless the analyst chooses to look.

Analyst wellbeing by default: a preview is served greyscale and strongly blurred, enough to
tell a room from a document (or as the analyst or their agency chose: see
:mod:`vident.service.wellbeing`), and the picture itself only when the analyst reveals it. The
veil is applied here, on the server, so an unrevealed picture's detail never reaches the
browser; each reveal is its own audit event (``media.reveal``), apart from veiled views
(``media.preview``), so the trail shows who actually looked at what.

Renditions are made at ingest and kept sealed by the keyring, bound to their media's SHA-256
(a sealed file copied under another media's name does not decrypt). A caller who may not see
the media gets the answer a missing media gets.
"""

from __future__ import annotations

from pydantic import Field
from sqlalchemy import select

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
from vident.store.models import Media
from vident.store.previews import Sealer, read_preview

__all__ = ["PreviewOut", "preview", "preview_purpose", "preview_sealer"]


class PreviewOut(Model):
    """The bytes of one preview and their media type."""

    content: bytes = Field(description="The picture.")
    media_type: str = Field(default="image/jpeg", description="Its media (MIME) type.")


def preview_purpose(sha256: bytes) -> bytes:
    """Binds a sealed preview to its media: moved onto another media's file it does not open."""
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


def _rendition(ctx: Context, sha256: str) -> bytes:
    """The decrypted rendition of a media the principal sees, or NotFound."""
    digest = parse_sha256(sha256)
    shown = digest.hex()
    with ctx.store.reader() as session:
        media_id = session.scalar(select(Media.id).where(Media.sha256 == digest))
        if media_id is None:
            raise NotFound(f"no stored media has SHA-256 {shown}: ingest it first")
        check_media(ctx, session, media_id, shown)
    sealed = read_preview(ctx.settings.data, digest)
    if sealed is None:
        raise NotFound(f"no preview of media {shown}: ingest the source again to make one")
    return _open(open_keyring(ctx), sealed, digest)


def _open(keyring: Keyring, sealed: bytes, digest: bytes) -> bytes:
    try:
        return keyring.decrypt(sealed, preview_purpose(digest))
    except KeyringError as exc:
        raise KeyringUnavailable(
            f"the preview of media {digest.hex()} cannot be read: {exc}"
        ) from None
