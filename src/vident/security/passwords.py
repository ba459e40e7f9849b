"""Passwords as argon2id hashes: slow to guess offline, and upgraded when the cost rises."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: Shortest password a person may choose (a generated one is longer).
MIN_LENGTH = 12

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``, salt and cost included."""
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash; a damaged hash never matches."""
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with weaker parameters than today's (rehash at next login)."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def generate_password() -> str:
    """A random password of about 120 bits, typed once and then changed or kept safe."""
    return secrets.token_urlsafe(20)


def weak_reason(password: str) -> str | None:
    """Why ``password`` may not be chosen, or None when it may."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if password.strip() != password:
        return "a password may not start or end with spaces"
    return None
