"""MD5, SHA-1 and SHA-256: the exact hashes that hash sets and VICS files exchange."""

from __future__ import annotations

from vident.signals.base import DigestSignal


class Md5(DigestSignal):
    name = "md5"
    version = 1
    value_bytes = 16
    algorithm = "md5"


class Sha1(DigestSignal):
    name = "sha1"
    version = 1
    value_bytes = 20
    algorithm = "sha1"


class Sha256(DigestSignal):
    """The content address of every media in the store."""

    name = "sha256"
    version = 1
    value_bytes = 32
    algorithm = "sha256"
