"""Opening a zip whose member names are not what their headers say they are.

A zip header's flag bit 11 promises a UTF-8 name. Tools get this wrong (a name written in a
local code page with the flag set), and :mod:`zipfile` then refuses the whole archive with a
``UnicodeDecodeError``, so none of its members would be read. Seized archives must be read
member by member whatever their names, so :func:`open_zip` reads the archive through
:class:`_NameMender`, a stream that clears the flag in exactly the headers whose names are
not UTF-8 (the central directory entry and, when the member is opened, its local header).
:mod:`zipfile` then reads those names as code page 437, which maps every byte, and the
original bytes are recovered from that text and kept as UTF-8 with surrogate escapes, which
the walker stores as ``\\xff`` escapes like any undecodable file name.
"""

from __future__ import annotations

import os
import struct
import zipfile
from typing import BinaryIO, cast

from vident.ingest.metered import SeekableReadable

_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_CENTRAL_FIXED = 46
_LOCAL_FIXED = 30
_UTF8_FLAG = 0x800


def open_zip(stream: SeekableReadable) -> tuple[zipfile.ZipFile, list[str]]:
    """The archive and the name of each member of ``archive.filelist``, in that order.

    Raises whatever :mod:`zipfile` raises for a damaged archive (the caller records it).
    """
    mender = _NameMender(stream)
    mender.reading_directory = True
    archive = zipfile.ZipFile(cast(BinaryIO, mender))
    mender.reading_directory = False
    names: list[str] = []
    for index, info in enumerate(archive.filelist):
        if index in mender.mended:
            raw = info.orig_filename.encode("cp437")
            names.append(raw.decode("utf-8", "surrogateescape").split("\x00", 1)[0])
            mender.local_headers.add(info.header_offset)
        else:
            names.append(info.filename)
    return archive, names


class _NameMender:
    """A zip's byte stream with the UTF-8 flag cleared where the name is not UTF-8."""

    def __init__(self, inner: SeekableReadable) -> None:
        self._inner = inner
        #: Set while :class:`zipfile.ZipFile` reads the central directory.
        self.reading_directory = False
        #: Central directory entries (by position in the directory) whose flag was cleared.
        self.mended: set[int] = set()
        #: Offsets of the local headers of those members.
        self.local_headers: set[int] = set()

    def read(self, size: int = -1, /) -> bytes:
        position = self._inner.tell() if size == _LOCAL_FIXED and self.local_headers else -1
        data = self._inner.read(size)
        if self.reading_directory and data[:4] == _CENTRAL:
            # The directory is read whole, after the end record: the last such read is it.
            data, self.mended = _mend_directory(data)
        elif position in self.local_headers and data[:4] == _LOCAL:
            flags = struct.unpack_from("<H", data, 6)[0]
            data = data[:6] + struct.pack("<H", flags & ~_UTF8_FLAG) + data[8:]
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def seekable(self) -> bool:
        return True


def _mend_directory(data: bytes) -> tuple[bytes, set[int]]:
    """The central directory with the flag cleared on entries whose names are not UTF-8."""
    mended: set[int] = set()
    out = bytearray(data)
    offset = index = 0
    while offset + _CENTRAL_FIXED <= len(data) and data[offset : offset + 4] == _CENTRAL:
        flags = struct.unpack_from("<H", data, offset + 8)[0]
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, offset + 28)
        start = offset + _CENTRAL_FIXED
        if flags & _UTF8_FLAG:
            try:
                data[start : start + name_length].decode("utf-8")
            except UnicodeDecodeError:
                struct.pack_into("<H", out, offset + 8, flags & ~_UTF8_FLAG)
                mended.add(index)
        offset = start + name_length + extra_length + comment_length
        index += 1
    return bytes(out), mended
