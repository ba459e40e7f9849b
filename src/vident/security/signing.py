"""Signed HTTP messages between vident instances.

Each request carries its sender, its recipient, a timestamp and a random nonce in headers, and an
ed25519 signature over a canonical text binding those to the method, the path and a hash of the
body, so a request cannot be altered, redirected to another instance or replayed late. Each
answer carries a signature over the request's nonce, its status and its body, so the client knows
the answer came from the peer it asked and belongs to that very request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vident.security.identity import Identity, IdentityError, b64url, check_name, unb64url

REQUEST_FORMAT = "vident-exchange-1"
RESPONSE_FORMAT = "vident-exchange-response-1"
PEER = "X-Vident-Peer"
TO = "X-Vident-To"
TIMESTAMP = "X-Vident-Timestamp"
NONCE = "X-Vident-Nonce"
SIGNATURE = "X-Vident-Signature"
_HEADERS = (PEER, TO, TIMESTAMP, NONCE, SIGNATURE)
_METHOD = re.compile(r"[A-Z]{1,16}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_NONCE = re.compile(r"[0-9a-f]{32}")
#: 64 bytes in base64url without padding: 86 characters.
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{86}")


class SignatureRefused(Exception):
    """A signed message was refused; ``reason`` is short and stable, the message says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class SignedRequest:
    """Who sent a request that verified, and the nonce the caller must not accept again."""

    sender: str
    recipient: str
    timestamp: int
    nonce: str


def _canonical_request(
    method: str, path: str, sender: str, recipient: str, timestamp: int, nonce: str, body: bytes
) -> bytes:
    """The text a request signature covers; ValueError when a part could blur its lines."""
    method = method.upper()
    if _METHOD.fullmatch(method) is None:
        raise ValueError(f"invalid HTTP method {method!r}")
    if not path.startswith("/") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        raise ValueError(f"invalid request path {path!r}")
    digest = hashlib.sha256(body).hexdigest()
    lines = (REQUEST_FORMAT, method, path, sender, recipient, str(timestamp), nonce, digest)
    return "\n".join(lines).encode("utf-8")


def _canonical_response(request_nonce: str, status: int, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{RESPONSE_FORMAT}\n{request_nonce}\n{int(status)}\n{digest}".encode()


def sign_request(
    identity: Identity,
    recipient: str,
    method: str,
    path: str,
    body: bytes,
    *,
    now: float | None = None,
) -> dict[str, str]:
    """The headers that sign a request from ``identity`` to instance ``recipient``.

    ``path`` is the URL path with its query string, exactly as the recipient will see it.
    """
    check_name(recipient)
    timestamp = int(time.time() if now is None else now)
    nonce = secrets.token_hex(16)
    text = _canonical_request(method, path, identity.name, recipient, timestamp, nonce, body)
    return {
        PEER: identity.name,
        TO: recipient,
        TIMESTAMP: str(timestamp),
        NONCE: nonce,
        SIGNATURE: b64url(identity.sign(text)),
    }


def _lookup(headers: Mapping[str, str]) -> dict[str, str]:
    """Our headers by lowercase name; a header given twice with two values is malformed."""
    wanted = {name.lower() for name in _HEADERS}
    found: dict[str, str] = {}
    for key, value in headers.items():
        lower = key.lower()
        if lower not in wanted:
            continue
        value = value.strip()
        if found.get(lower, value) != value:
            raise SignatureRefused("malformed header", f"{key} is given twice with two values")
        found[lower] = value
    return found


def _public_key(raw: bytes, whose: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise SignatureRefused(
            "unknown peer", f"the stored signing key of {whose!r} is not an ed25519 key"
        ) from None


def verify_request(
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    *,
    me: str,
    key_of: Callable[[str], bytes | None],
    now: float | None = None,
    skew: int = 300,
) -> SignedRequest:
    """Who signed this request to ``me``, or SignatureRefused with the reason.

    ``key_of`` gives the ed25519 public key of a known peer by name (None when unknown).
    Replay inside the ``skew`` window is NOT checked here: the caller must keep the nonces it
    has accepted (at least for 2 x ``skew`` seconds) in its store and refuse one seen before,
    because only the store outlives a process and is shared by all its workers.
    """
    found = _lookup(headers)
    if SIGNATURE.lower() not in found:
        raise SignatureRefused("unsigned", f"the request has no {SIGNATURE} header")
    for name in _HEADERS:
        if name.lower() not in found:
            raise SignatureRefused("malformed header", f"the request has no {name} header")
    sender, recipient = found[PEER.lower()], found[TO.lower()]
    timestamp_text, nonce = found[TIMESTAMP.lower()], found[NONCE.lower()]
    try:
        check_name(sender)
        check_name(recipient)
    except IdentityError:
        raise SignatureRefused(
            "malformed header", f"{PEER} or {TO} is not a valid instance name"
        ) from None
    if _TIMESTAMP.fullmatch(timestamp_text) is None:
        raise SignatureRefused("malformed header", f"{TIMESTAMP} is not integer unix seconds")
    if _NONCE.fullmatch(nonce) is None:
        raise SignatureRefused("malformed header", f"{NONCE} is not 32 lowercase hex digits")
    signature = unb64url(found[SIGNATURE.lower()], _SIGNATURE)
    if signature is None:
        raise SignatureRefused("malformed header", f"{SIGNATURE} is not a base64url signature")
    if recipient != me:
        raise SignatureRefused("wrong recipient", f"the request is for {recipient!r}, not {me!r}")
    timestamp = int(timestamp_text)
    clock = time.time() if now is None else now
    if abs(clock - timestamp) > skew:
        raise SignatureRefused(
            "stale timestamp",
            f"the request's timestamp is {int(abs(clock - timestamp))} s off this clock "
            f"(allowed {skew} s): check both clocks",
        )
    raw_key = key_of(sender)
    if raw_key is None:
        raise SignatureRefused("unknown peer", f"{sender!r} is not a known peer")
    try:
        text = _canonical_request(method, path, sender, recipient, timestamp, nonce, body)
        _public_key(raw_key, sender).verify(signature, text)
    except (ValueError, InvalidSignature):
        raise SignatureRefused(
            "bad signature", f"the signature of {sender!r} does not match this request"
        ) from None
    return SignedRequest(sender=sender, recipient=recipient, timestamp=timestamp, nonce=nonce)


def sign_response(identity: Identity, request_nonce: str, status: int, body: bytes) -> str:
    """The ``X-Vident-Signature`` value of an answer to the request with ``request_nonce``."""
    return b64url(identity.sign(_canonical_response(request_nonce, status, body)))


def verify_response(
    signature: str, key: bytes, request_nonce: str, status: int, body: bytes
) -> None:
    """Return quietly when the peer with ``key`` signed this answer to that request."""
    raw = unb64url(signature.strip(), _SIGNATURE)
    try:
        if raw is None:
            raise InvalidSignature
        public = Ed25519PublicKey.from_public_bytes(key)
        public.verify(raw, _canonical_response(request_nonce, status, body))
    except (ValueError, InvalidSignature):
        raise SignatureRefused(
            "bad signature", "the answer is not signed by the peer asked, or was altered"
        ) from None
