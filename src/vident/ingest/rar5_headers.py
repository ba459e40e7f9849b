"""Which members of a RAR 5 archive are encrypted, read from the archive's own headers.

libarchive before 3.7 (Debian 12 ships 3.6) skips a RAR 5 member's encryption record without
a word: a stored encrypted member comes back as its ciphertext, as if it were the file, and a
compressed one as a decompression error. An analyst must be told "encrypted" instead, so the
headers are read here first, seeking over every member's data, and the members that carry an
encryption record are refused by name.

The same scan tells whether the headers reach the end-of-archive header. libarchive ends a
RAR 5 archive cut inside a header as if it were complete, and the members after the cut would
vanish without a word; the caller reports that instead.

The layout is RAR 5's: after the signature, each header is a CRC-32, its size and type as
variable-length integers, flags, optional extra-area and data sizes, the type's fields and
the extra area, whose records each start with their size and type.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vident.ingest.metered import SeekableReadable

SIGNATURE = b"Rar!\x1a\x07\x01\x00"

#: The format caps a header at 2 MiB; anything bigger is damage or hostility.
MAX_HEADER_BYTES = 2 * 1024 * 1024

_FILE = 2
_ARCHIVE_ENCRYPTION = 4
_END = 5
_HAS_EXTRA = 0x0001
_HAS_DATA = 0x0002
_HAS_TIME = 0x0002
_HAS_CRC = 0x0004
_ENCRYPTION_RECORD = 0x01


class _Damaged(Exception):
    """The headers stop making sense here."""


@dataclass(frozen=True, slots=True)
class Rar5Headers:
    #: Names of the members whose data is encrypted, as libarchive spells them.
    encrypted: frozenset[str]
    #: False when the headers stop (cut, damaged) before the end-of-archive header.
    complete: bool


def scan_rar5_headers(stream: SeekableReadable, max_headers: int) -> Rar5Headers:
    """What the RAR 5 headers say, reading at most ``max_headers`` of them.

    The stream is left where it was. Past ``max_headers`` the archive counts as complete:
    the members limit stops it first.
    """
    start = stream.tell()
    names: set[str] = set()
    try:
        complete = stream.read(len(SIGNATURE)) == SIGNATURE and _scan(stream, max_headers, names)
    except (_Damaged, OSError, ValueError):
        complete = False
    finally:
        stream.seek(start)
    return Rar5Headers(frozenset(names), complete)


def _scan(stream: SeekableReadable, max_headers: int, names: set[str]) -> bool:
    """Whether the end-of-archive header was reached; ``names`` gets the encrypted ones."""
    for _ in range(max_headers):
        header = _next_header(stream)
        if header is None:
            return False
        kind, flags, extra_size, data_size, body = header
        if kind in (_END, _ARCHIVE_ENCRYPTION):  # after an encryption header all is ciphertext
            return True
        if kind == _FILE:
            name = _file_name(body)
            extra = body[len(body) - extra_size :] if extra_size else b""
            if _has_encryption_record(extra):
                names.add(name)
        if flags & _HAS_DATA:
            stream.seek(data_size, os.SEEK_CUR)
    return True


def _next_header(stream: SeekableReadable) -> tuple[int, int, int, int, bytes] | None:
    """(type, flags, extra-area size, data size, the rest of the header) of the next header."""
    lead = stream.read(7)  # CRC-32, then a size of at most 3 bytes
    if len(lead) < 5:
        return None
    size, used = _vint(lead, 4)
    if not 0 < size <= MAX_HEADER_BYTES:
        raise _Damaged
    body = lead[used:]
    if len(body) >= size:
        stream.seek(size - len(body), os.SEEK_CUR)  # read past this header: step back
        body = body[:size]
    else:
        body += stream.read(size - len(body))
        if len(body) < size:
            raise _Damaged
    kind, at = _vint(body, 0)
    flags, at = _vint(body, at)
    extra_size = data_size = 0
    if flags & _HAS_EXTRA:
        extra_size, at = _vint(body, at)
    if flags & _HAS_DATA:
        data_size, at = _vint(body, at)
    if extra_size > len(body) - at:
        raise _Damaged
    return kind, flags, extra_size, data_size, body[at:]


def _file_name(fields: bytes) -> str:
    """The name in a file header's fields."""
    file_flags, at = _vint(fields, 0)
    _, at = _vint(fields, at)  # unpacked size
    _, at = _vint(fields, at)  # attributes
    if file_flags & _HAS_TIME:
        at += 4
    if file_flags & _HAS_CRC:
        at += 4
    _, at = _vint(fields, at)  # compression
    _, at = _vint(fields, at)  # host system
    length, at = _vint(fields, at)
    if at + length > len(fields):
        raise _Damaged
    return fields[at : at + length].decode("utf-8", "surrogateescape")


def _has_encryption_record(extra: bytes) -> bool:
    at = 0
    while at < len(extra):
        size, start = _vint(extra, at)
        if size == 0 or start + size > len(extra):
            raise _Damaged
        kind, _ = _vint(extra, start)
        if kind == _ENCRYPTION_RECORD:
            return True
        at = start + size
    return False


def _vint(data: bytes, at: int) -> tuple[int, int]:
    """A variable-length integer at ``at``: 7 bits a byte, low first; and where it ends."""
    value = 0
    for shift in range(0, 70, 7):
        if at >= len(data):
            raise _Damaged
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
    raise _Damaged
