"""Secrets for API tokens and sessions: random, shown once, stored as SHA-256.

An API token reads ``vt_<id>_<secret>``: the id finds the row, the secret's digest is then
compared in constant time, so response times say nothing about stored digests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "vt"
SESSION_PREFIX = "vs"


def new_secret() -> str:
    """32 random bytes, URL-safe base64."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def format_token(token_id: int, secret: str) -> str:
    return f"{TOKEN_PREFIX}_{token_id}_{secret}"


def parse_token(token: str) -> tuple[int, str] | None:
    """The id and secret of a token, or None when it does not have a token's shape."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1].isdigit():
        return None
    if len(parts[1]) > 18 or not parts[2]:
        return None
    return int(parts[1]), parts[2]


def matches(stored: bytes, secret: str) -> bool:
    """Whether ``secret`` hashes to ``stored`` (constant time)."""
    return hmac.compare_digest(stored, digest(secret))


def new_session_secret() -> str:
    return f"{SESSION_PREFIX}_{new_secret()}"
