"""One-time recovery codes: a way in when the authenticator is lost, each usable once.

Codes carry 80 random bits, so a plain SHA-256 is enough to keep them unreadable in the store
(unlike passwords, people do not choose them).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_LENGTH = 16


def generate() -> list[str]:
    """Ten new codes, shown once, like ``abcd-efgh-jkmn-pqrs``."""
    codes = []
    for _ in range(COUNT):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _LENGTH, 4)))
    return codes


def normalise(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


def digest(code: str) -> str:
    """The hex SHA-256 kept in the store instead of ``code``."""
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def looks_like_code(code: str) -> bool:
    """Whether ``code`` has a recovery code's shape (rather than a 6-digit TOTP code)."""
    text = normalise(code)
    return len(text) == _LENGTH and all(ch in _ALPHABET for ch in text)


def use(stored: list[str], code: str) -> list[str] | None:
    """The digests left once ``code`` is spent, or None when it is not one of ``stored``."""
    wanted = digest(code)
    found = None
    for item in stored:
        if hmac.compare_digest(item, wanted):
            found = item
    if found is None:
        return None
    return [item for item in stored if item != found]
