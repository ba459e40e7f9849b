"""A tiny writer of RAR 4 archives, for tests: nothing on this machine writes rar.

Members are stored (method 0x30, no compression), which is enough to test how ingest opens,
names and refuses rar members; libarchive does the real reading. Headers follow the RAR 4
layout: a 2-byte CRC (the low half of a CRC-32 of the rest of the header), a type byte, flags
and the header size, then the type's own fields.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"Rar!\x1a\x07\x00"
RAR5_SIGNATURE = b"Rar!\x1a\x07\x01\x00"

_MAIN_HEADER = 0x73
_FILE_HEADER = 0x74
_END_HEADER = 0x7B
_LONG_BLOCK = 0x8000
_STORED = 0x30
_WINDOWS = 2
_UNIX = 3

#: File-header flags.
ENCRYPTED = 0x0004
DIRECTORY = 0x00E0
#: Main-header flag: the headers themselves (the names) are encrypted.
ENCRYPTED_HEADERS = 0x0080


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes = b""
    flags: int = 0
    #: ``st_mode`` for a Unix-made member (a symlink's data is its target); None: Windows.
    unix_mode: int | None = None
    #: (year, month, day, hour, minute, second), local time as DOS stores it.
    when: tuple[int, int, int, int, int, int] = (2020, 1, 2, 3, 4, 6)


def _header(kind: int, flags: int, body: bytes) -> bytes:
    rest = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(rest) & 0xFFFF) + rest


def _dos_time(when: tuple[int, int, int, int, int, int]) -> int:
    year, month, day, hour, minute, second = when
    return (year - 1980) << 25 | month << 21 | day << 16 | hour << 11 | minute << 5 | second // 2


def _file(member: Member) -> bytes:
    name = member.name.encode("utf-8")
    host, attributes = (
        (_WINDOWS, 0x10 if member.flags & DIRECTORY == DIRECTORY else 0x20)
        if member.unix_mode is None
        else (_UNIX, member.unix_mode)
    )
    body = struct.pack(
        "<IIBIIBBHI",
        len(member.data),  # packed size
        len(member.data),  # unpacked size
        host,
        zlib.crc32(member.data),
        _dos_time(member.when),
        29,  # version needed to extract: 2.9
        _STORED,
        len(name),
        attributes,
    )
    return _header(_FILE_HEADER, _LONG_BLOCK | member.flags, body + name) + member.data


def rar_bytes(members: list[Member], main_flags: int = 0) -> bytes:
    """A whole RAR 4 archive holding ``members`` in order."""
    parts = [SIGNATURE, _header(_MAIN_HEADER, main_flags, bytes(6))]
    parts += [_file(member) for member in members]
    parts.append(_header(_END_HEADER, 0x4000, b""))
    return b"".join(parts)


# --- RAR 5 ---------------------------------------------------------------------------------

_RAR5_MAIN = 1
_RAR5_FILE = 2
_RAR5_ENCRYPTION = 4
_RAR5_END = 5
_RAR5_HAS_EXTRA = 0x0001
_RAR5_HAS_DATA = 0x0002
_RAR5_DIRECTORY = 0x0001
_RAR5_HAS_TIME = 0x0002
_RAR5_HAS_CRC = 0x0004
_RAR5_FILE_ENCRYPTION_RECORD = 0x01


def _vint(number: int) -> bytes:
    """RAR 5's variable-length integer: 7 bits a byte, low first, high bit says "more"."""
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _header5(kind: int, flags: int, fields: bytes, extra: bytes = b"", data_size: int = 0) -> bytes:
    body = _vint(kind) + _vint(flags | (_RAR5_HAS_EXTRA if extra else 0))
    if extra:
        body += _vint(len(extra))
    if flags & _RAR5_HAS_DATA:
        body += _vint(data_size)
    body += fields + extra
    sized = _vint(len(body)) + body
    return struct.pack("<I", zlib.crc32(sized)) + sized


def _file5(member: Member, mtime: int) -> bytes:
    name = member.name.encode("utf-8")
    directory = member.flags & DIRECTORY == DIRECTORY
    fields = (
        _vint((_RAR5_DIRECTORY if directory else 0) | _RAR5_HAS_TIME | _RAR5_HAS_CRC)
        + _vint(len(member.data))
        + _vint(0x10 if directory else 0x20)  # Windows attributes
        + struct.pack("<II", mtime, zlib.crc32(member.data))
        + _vint(0)  # compression: version 0, method 0 (stored)
        + _vint(0)  # host OS: Windows
        + _vint(len(name))
        + name
    )
    extra = b""
    if member.flags & ENCRYPTED:
        # AES-256 record: version 0, no flags, 2^15 KDF rounds, salt and IV.
        record = _vint(_RAR5_FILE_ENCRYPTION_RECORD) + _vint(0) + _vint(0) + bytes([15])
        record += bytes(range(16)) + bytes(range(16, 32))
        extra = _vint(len(record)) + record
    header = _header5(_RAR5_FILE, _RAR5_HAS_DATA, fields, extra, len(member.data))
    return header + member.data


def rar5_bytes(members: list[Member], *, encrypted_headers: bool = False, mtime: int = 0) -> bytes:
    """A whole RAR 5 archive holding ``members`` in order, every one dated ``mtime``.

    With ``encrypted_headers`` only the archive encryption header follows the signature, as
    WinRAR writes when names are hidden too; nothing after it is readable without the key.
    """
    if encrypted_headers:
        fields = _vint(0) + _vint(0) + bytes([15]) + bytes(range(16))
        return RAR5_SIGNATURE + _header5(_RAR5_ENCRYPTION, 0, fields) + bytes(64)
    parts = [RAR5_SIGNATURE, _header5(_RAR5_MAIN, 0, _vint(0))]
    parts += [_file5(member, mtime) for member in members]
    parts.append(_header5(_RAR5_END, 0, _vint(0)))
    return b"".join(parts)
