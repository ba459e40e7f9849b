"""Evidence files encrypted at rest, written and read as a stream (seizures can be large).

A sealed file is a header (``VDEV1``) followed by chunks of at most :data:`CHUNK` plaintext
bytes, each stored as a 4-byte big-endian length and the keyring's AES-GCM sealing of the
chunk. Each chunk's associated data binds it to the file's label, its position and whether it
is the last, so chunks cannot be reordered, moved to another file, dropped or cut off without
the read failing. An empty file is one empty last chunk.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from vident.security.crypto import Keyring, KeyringError

MAGIC = b"VDEV1"
#: Plaintext bytes per chunk.
CHUNK = 1024 * 1024
_LENGTH = struct.Struct(">I")


def _purpose(label: str, index: int, last: bool) -> bytes:
    return f"evidence:{label}:{index}:{'last' if last else 'more'}".encode()


def _chunks(source: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """The chunks of ``source``, each with whether it is the last (reading one ahead)."""
    current = source.read(CHUNK)
    while True:
        following = source.read(CHUNK) if len(current) == CHUNK else b""
        last = not following
        yield current, last
        if last:
            return
        current = following


def seal_file(keyring: Keyring, plain: Path, sealed: Path, label: str) -> str:
    """Encrypt ``plain`` into the new file ``sealed`` (read-only once complete); returns the
    SHA-256 of the plaintext. Nothing is left at ``sealed`` if it fails."""
    digest = hashlib.sha256()
    partial = sealed.with_name(sealed.name + ".part")
    sealed.parent.mkdir(parents=True, exist_ok=True)
    try:
        with plain.open("rb") as source, partial.open("xb") as out:
            out.write(MAGIC)
            for index, (chunk, last) in enumerate(_chunks(source)):
                digest.update(chunk)
                box = keyring.encrypt(chunk, _purpose(label, index, last))
                out.write(_LENGTH.pack(len(box)) + box)
            out.flush()
            os.fsync(out.fileno())
        partial.chmod(0o400)
        partial.replace(sealed)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def open_sealed(keyring: Keyring, sealed: Path, plain: Path, label: str) -> str:
    """Decrypt ``sealed`` into ``plain``; returns the plaintext's SHA-256, or KeyringError
    when the file is damaged, cut short, reordered or not the evidence ``label``."""
    digest = hashlib.sha256()
    with sealed.open("rb") as source, plain.open("wb") as out:
        if source.read(len(MAGIC)) != MAGIC:
            raise KeyringError(f"{sealed.name} is not a sealed evidence file")
        index = 0
        while True:
            head = source.read(_LENGTH.size)
            if len(head) < _LENGTH.size:
                raise KeyringError(f"{sealed.name} is cut short: restore it from a backup")
            (size,) = _LENGTH.unpack(head)
            if size > CHUNK + 64:
                raise KeyringError(f"{sealed.name} is damaged (a chunk is too long)")
            box = source.read(size)
            try:
                chunk = keyring.decrypt(box, _purpose(label, index, True))
                last = True
            except KeyringError:
                chunk = keyring.decrypt(box, _purpose(label, index, False))
                last = False
            digest.update(chunk)
            out.write(chunk)
            index += 1
            if last:
                if source.read(1):
                    raise KeyringError(f"{sealed.name} is damaged (data after the last chunk)")
                return digest.hexdigest()
