"""The date a picture was made, from its IPTC block (Photoshop's APP13 segment).

News agencies and photo editors strip EXIF but keep IPTC, so for such pictures the IPTC
Date Created (record 2, dataset 55) and Time Created (2:60) are the only date taken left;
``python -m bench.camera_facts`` found such a picture in the shared corpus that ExifTool
dated and vident did not. The APP13 payload is ``Photoshop 3.0\\0`` and a list of image
resources (``8BIM``, id, padded Pascal name, size, data padded to even); resource 0x0404
holds IPTC datasets (0x1C, record, dataset, 16-bit size, value). Bounded and never raises:
anything malformed gives None.
"""

from __future__ import annotations

import re
import struct
from datetime import datetime
from typing import Final

_PHOTOSHOP: Final = b"Photoshop 3.0\x00"
_RESOURCE: Final = b"8BIM"
_IPTC_RESOURCE: Final = 0x0404
_DATE_CREATED, _TIME_CREATED = 55, 60
#: Most resources or datasets walked in one block (real ones hold a few dozen).
_MAX_ITEMS: Final = 256
_DATE: Final = re.compile(rb"(\d{4})(\d{2})(\d{2})")
_TIME: Final = re.compile(rb"(\d{2})(\d{2})(\d{2})")


def read_iptc_date(segment: bytes) -> datetime | None:
    """Date and time created of an APP13 payload (local time, as EXIF's), or None."""
    iptc = _iptc_resource(segment)
    if iptc is None:
        return None
    values = _datasets(iptc)
    date = _DATE.match(values.get(_DATE_CREATED, b""))
    if date is None:
        return None
    time = _TIME.match(values.get(_TIME_CREATED, b"")) if _TIME_CREATED in values else None
    parts = [int(g) for g in date.groups()] + ([int(g) for g in time.groups()] if time else [])
    try:
        return datetime(*parts)  # type: ignore[arg-type]
    except ValueError:  # 00000000 and other placeholders
        return None


def _iptc_resource(segment: bytes) -> bytes | None:
    if not segment.startswith(_PHOTOSHOP):
        return None
    at = len(_PHOTOSHOP)
    for _ in range(_MAX_ITEMS):
        if segment[at : at + 4] != _RESOURCE or at + 7 > len(segment):
            return None
        (ident,) = struct.unpack(">H", segment[at + 4 : at + 6])
        name_length = segment[at + 6]
        at += 6 + ((name_length + 2) & ~1)  # length byte and name, padded to even
        raw = segment[at : at + 4]
        if len(raw) < 4:
            return None
        (size,) = struct.unpack(">I", raw)
        at += 4
        if at + size > len(segment):
            return None
        if ident == _IPTC_RESOURCE:
            return segment[at : at + size]
        at += size + (size & 1)
    return None


def _datasets(iptc: bytes) -> dict[int, bytes]:
    """Record 2 (application) datasets by number; the first of each is kept."""
    values: dict[int, bytes] = {}
    at = 0
    for _ in range(_MAX_ITEMS):
        if at + 5 > len(iptc) or iptc[at] != 0x1C:
            break
        record, dataset = iptc[at + 1], iptc[at + 2]
        (size,) = struct.unpack(">H", iptc[at + 3 : at + 5])
        if size & 0x8000:  # extended sizes are for large values, never for dates
            break
        if record == 2:
            values.setdefault(dataset, iptc[at + 5 : at + 5 + size])
        at += 5 + size
    return values
