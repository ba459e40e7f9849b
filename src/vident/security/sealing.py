"""Sealed bundle files: hashes carried between instances on removable media.

A bundle is signed by its sender, then encrypted for one recipient, so whoever holds the USB
stick in between can neither read nor alter it, and the recipient knows who made it. The key is
agreed from a fresh ephemeral x25519 key and the recipient's sealing key, so nothing the sender
keeps can open a bundle once sent. The header (sender, recipient, ephemeral key, nonce) is
readable without the key, so an operator can see whose bundle it is, but it is bound into the
encryption as associated data, so changing any byte of it makes the bundle unreadable.

Layout: ``VIDENTB1``, 1-byte length + sender name, 1-byte length + recipient name, 32-byte
ephemeral public key, 12-byte nonce, AES-256-GCM ciphertext of (64-byte signature + payload).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vident.security.identity import Identity, IdentityError, PublicIdentity, check_name

MAGIC = b"VIDENTB1"
_CONTEXT = b"vident-bundle-1"
_KEY = 32
_NONCE = 12
_SIGNATURE = 64
_TAG = 16


class BundleError(Exception):
    """A bundle cannot be made or opened; ``reason`` is short and stable, the message says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class _Parsed:
    sender: str
    recipient: str
    ephemeral: bytes
    nonce: bytes
    header: bytes
    ciphertext: bytes


def _signed_text(recipient: str, sender: str, payload: bytes) -> bytes:
    """What the sender signs: the names are length-prefixed so no two splits read the same."""
    to, frm = recipient.encode("utf-8"), sender.encode("utf-8")
    return _CONTEXT + bytes([len(to)]) + to + bytes([len(frm)]) + frm + payload


def _bundle_key(shared: bytes, ephemeral: bytes, recipient_sealing: bytes) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=_KEY, salt=ephemeral + recipient_sealing, info=_CONTEXT
    )
    return hkdf.derive(shared)


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def seal(identity: Identity, recipient: PublicIdentity, payload: bytes) -> bytes:
    """``payload`` signed by ``identity`` and encrypted so only ``recipient`` can open it."""
    signature = identity.sign(_signed_text(recipient.name, identity.name, payload))
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = _raw_public(ephemeral.public_key())
    try:
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient.sealing))
    except ValueError:
        raise BundleError(
            "bad recipient key", f"the sealing key of {recipient.name!r} is not usable"
        ) from None
    key = _bundle_key(shared, ephemeral_public, recipient.sealing)
    nonce = secrets.token_bytes(_NONCE)
    sender_name, recipient_name = identity.name.encode(), recipient.name.encode()
    header = (
        MAGIC
        + bytes([len(sender_name)])
        + sender_name
        + bytes([len(recipient_name)])
        + recipient_name
        + ephemeral_public
        + nonce
    )
    return header + AESGCM(key).encrypt(nonce, signature + payload, header)


def _malformed(detail: str) -> BundleError:
    return BundleError("malformed", f"not a vident bundle or damaged ({detail})")


def _name_at(raw: bytes, offset: int, what: str) -> tuple[str, int]:
    if offset >= len(raw):
        raise _malformed(f"no {what} name")
    end = offset + 1 + raw[offset]
    if end > len(raw):
        raise _malformed(f"{what} name cut short")
    try:
        return check_name(raw[offset + 1 : end].decode("utf-8")), end
    except (UnicodeDecodeError, IdentityError):
        raise _malformed(f"invalid {what} name") from None


def _parse(raw: bytes) -> _Parsed:
    if raw[: len(MAGIC)] != MAGIC:
        raise _malformed("wrong magic")
    sender, offset = _name_at(raw, len(MAGIC), "sender")
    recipient, offset = _name_at(raw, offset, "recipient")
    end = offset + 32 + _NONCE
    if len(raw) < end + _TAG + _SIGNATURE:
        raise _malformed("cut short")
    return _Parsed(
        sender=sender,
        recipient=recipient,
        ephemeral=raw[offset : offset + 32],
        nonce=raw[offset + 32 : end],
        header=raw[:end],
        ciphertext=raw[end:],
    )


def bundle_sender(raw: bytes) -> tuple[str, str]:
    """(sender, recipient) as the header states them, without decrypting or trusting them."""
    parsed = _parse(raw)
    return parsed.sender, parsed.recipient


def open_bundle(
    identity: Identity, raw: bytes, key_of: Callable[[str], bytes | None]
) -> tuple[str, bytes]:
    """(sender name, payload) of a bundle sealed for ``identity``, or BundleError saying why.

    ``key_of`` gives the ed25519 public key of a known peer by name (None when unknown).
    """
    parsed = _parse(raw)
    if parsed.recipient != identity.name:
        raise BundleError(
            "wrong recipient",
            f"the bundle is sealed for {parsed.recipient!r}, not this instance {identity.name!r}",
        )
    own_sealing = _raw_public(identity.x25519_private.public_key())
    try:
        shared = identity.x25519_private.exchange(
            X25519PublicKey.from_public_bytes(parsed.ephemeral)
        )
        key = _bundle_key(shared, parsed.ephemeral, own_sealing)
        inner = AESGCM(key).decrypt(parsed.nonce, parsed.ciphertext, parsed.header)
    except (ValueError, InvalidTag):
        raise BundleError("cannot decrypt", "not sealed for this instance or damaged") from None
    raw_key = key_of(parsed.sender)
    if raw_key is None:
        raise BundleError("unknown sender", f"{parsed.sender!r} is not a known peer")
    signature, payload = inner[:_SIGNATURE], inner[_SIGNATURE:]
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(
            signature, _signed_text(parsed.recipient, parsed.sender, payload)
        )
    except (ValueError, InvalidSignature):
        raise BundleError(
            "bad signature", f"the bundle is not signed by the known key of {parsed.sender!r}"
        ) from None
    return parsed.sender, payload
