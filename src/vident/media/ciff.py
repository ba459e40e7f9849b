"""Camera, model and date taken from a Canon CIFF heap (early PowerShot JPEGs, CRW files).

Before EXIF, Canon's cameras (PowerShot A5, Pro70, the first CRW raw files) stored their
facts in a CIFF "heap" carried by a JPEG APP0 segment; ``python -m bench.camera_facts``
found such a picture in the shared corpus that ExifTool dated and vident did not. Layout,
from Canon's published CIFF 1.0r4 specification: ``II``, a 32-bit header length, then
``HEAPJPGM`` (or ``HEAPCCDR``); the heap after the header ends with the offset of its
directory, a 16-bit count of 10-byte records (16-bit type, 32-bit size, 32-bit offset), and
records of storage type 0x2800/0x3000 are heaps of their own. Everything is little-endian
here (``II``). Bounded and never raises: anything malformed gives what was read before it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from vident.media.ifd import clean_text

_MARK: Final = b"II"
_SIGNATURES: Final = (b"HEAPJPGM", b"HEAPCCDR")
_MAKE_MODEL: Final = 0x080A
_CAPTURED_TIME: Final = 0x180E
_IN_RECORD: Final = 0x4000  # storage: the value is in the record's own 8 bytes
_SUB_HEAPS: Final = (0x2800, 0x3000)  # data types of records that are heaps themselves
#: Deepest nesting of heaps followed, and most records read from one directory.
_MAX_DEPTH: Final = 4
_MAX_RECORDS: Final = 256


@dataclass(slots=True)
class CiffFacts:
    make: str | None = None
    model: str | None = None
    taken_at: datetime | None = None


def read_ciff(segment: bytes) -> CiffFacts | None:
    """The facts of a CIFF APP0 payload; None when the payload is not a CIFF heap."""
    if not segment.startswith(_MARK) or segment[6:14] not in _SIGNATURES:
        return None
    (header,) = struct.unpack("<I", segment[2:6])
    if header < 14 or header > len(segment):
        return None
    facts = CiffFacts()
    _heap(segment, header, len(segment), facts, 0)
    return facts


def _heap(data: bytes, start: int, end: int, facts: CiffFacts, depth: int) -> None:
    if depth > _MAX_DEPTH or end - start < 6:
        return
    (table,) = struct.unpack("<I", data[end - 4 : end])
    at = start + table
    if at + 2 > end - 4:
        return
    (count,) = struct.unpack("<H", data[at : at + 2])
    for index in range(min(count, _MAX_RECORDS)):
        record = data[at + 2 + 10 * index : at + 12 + 10 * index]
        if len(record) < 10 or at + 12 + 10 * index > end:
            return
        (kind,) = struct.unpack("<H", record[:2])
        if kind & 0xC000 == _IN_RECORD:
            continue  # small values (numbers); none of the facts read here
        size, offset = struct.unpack("<II", record[2:])
        value_at = start + offset
        if value_at + size > end:
            continue
        tag = kind & 0x3FFF
        if tag & 0x3800 in _SUB_HEAPS:
            _heap(data, value_at, value_at + size, facts, depth + 1)
        elif tag == _MAKE_MODEL:
            parts = data[value_at : value_at + size].split(b"\x00")
            facts.make = facts.make or clean_text(parts[0])
            if len(parts) > 1:
                facts.model = facts.model or clean_text(parts[1])
        elif tag == _CAPTURED_TIME and size >= 4:
            (seconds,) = struct.unpack("<I", data[value_at : value_at + 4])
            # The camera's clock counted as seconds since 1970: its local time, as in EXIF.
            if seconds and facts.taken_at is None:
                facts.taken_at = datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
