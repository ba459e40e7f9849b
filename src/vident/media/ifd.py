"""A small, bounded reader of TIFF image file directories (EXIF, GPS, maker notes).

Pillow parses the standard EXIF directories but hides where a maker note lies, and camera
serial numbers sit in maker notes whose offsets count from the EXIF TIFF header (Canon,
Panasonic) or from a TIFF header of their own (Nikon). This reader walks directories by
offset, never reads outside the buffer, never follows more than :data:`MAX_ENTRIES` entries,
and answers ``None`` for anything malformed, so hostile EXIF costs nothing but the facts.

Values are not copied when a directory is read: an entry only says where its value lies, and
readers take the first bytes or numbers they need. A directory of 512 entries that each
claim the whole file (a crafted TIFF of 8 MB) would otherwise copy 4 GB.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

#: Most entries read from one directory (real ones hold a few dozen).
MAX_ENTRIES: Final = 512
#: Most numbers read from one entry: readers use the first (a pointer, a serial) or first
#: three (GPS degrees, minutes, seconds).
MAX_NUMBERS: Final = 8
#: Most bytes of one text value read (EXIF text fields are short; facts keep 200 characters).
MAX_TEXT_BYTES: Final = 4096

# TIFF field types -> bytes per value.
_TYPE_SIZES: Final = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 1,
    7: 1,
    8: 2,
    9: 4,
    10: 8,
    11: 4,
    12: 8,
    13: 4,
}
_INT_FORMATS: Final = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One directory entry: its field type, value count and where its value lies."""

    tag: int
    type: int
    count: int
    #: Where the value starts, counted from the start of the whole buffer.
    position: int
    #: Bytes of the value (count x the type's size); the whole value is inside the buffer.
    length: int
    data: bytes = field(repr=False, compare=False)

    def head(self, limit: int) -> bytes:
        """The first ``limit`` bytes of the value (all of it when shorter)."""
        return self.data[self.position : self.position + min(self.length, limit)]


class Tiff:
    """Directories of a TIFF structure that starts at ``base`` inside ``data``.

    Offsets in the structure count from ``base`` (the byte-order mark ``II``/``MM``), as in an
    EXIF block; :meth:`at` reads a directory at an offset relative to another origin, for maker
    notes that count from elsewhere.
    """

    def __init__(self, data: bytes, base: int = 0, byte_order: str | None = None) -> None:
        self.data = data
        self.base = base
        if byte_order is None:
            mark = data[base : base + 2]
            if mark == b"II":
                byte_order = "<"
            elif mark == b"MM":
                byte_order = ">"
            else:
                raise ValueError("not a TIFF header")
        self.order = byte_order

    @classmethod
    def parse(cls, data: bytes, base: int = 0) -> Tiff | None:
        """The structure at ``base``, or None when there is no valid TIFF header there."""
        try:
            tiff = cls(data, base)
        except ValueError:
            return None
        if tiff.u16(base + 2) != 42:
            return None
        return tiff

    def first_ifd(self) -> dict[int, Entry]:
        offset = self.u32(self.base + 4)
        return {} if offset is None else self.ifd(offset)

    def ifd(self, offset: int) -> dict[int, Entry]:
        """The directory at ``offset`` (relative to ``base``); empty when out of bounds."""
        return self.at(self.base + offset, self.base)

    def at(self, position: int, origin: int) -> dict[int, Entry]:
        """The directory at absolute ``position`` whose value offsets count from ``origin``."""
        count = self.u16(position)
        if count is None or count > MAX_ENTRIES:
            return {}
        entries: dict[int, Entry] = {}
        for index in range(count):
            start = position + 2 + 12 * index
            raw = self.data[start : start + 12]
            if len(raw) < 12:
                break
            tag, kind, n = struct.unpack(self.order + "HHI", raw[:8])
            size = _TYPE_SIZES.get(kind)
            if size is None or n > len(self.data):
                continue
            length = size * n
            if length <= 4:
                value_at = start + 8
            else:
                value_at = origin + struct.unpack(self.order + "I", raw[8:12])[0]
            if value_at + length <= len(self.data):
                entries.setdefault(tag, Entry(tag, kind, n, value_at, length, self.data))
        return entries

    def sub_ifd(self, entries: dict[int, Entry], tag: int) -> dict[int, Entry]:
        """The directory that pointer tag ``tag`` (EXIF 0x8769, GPS 0x8825...) points to."""
        values = self.ints(entries.get(tag))
        if not values or values[0] <= 0:
            return {}
        return self.ifd(values[0])

    def u16(self, position: int) -> int | None:
        raw = self.data[position : position + 2]
        return struct.unpack(self.order + "H", raw)[0] if len(raw) == 2 else None

    def u32(self, position: int) -> int | None:
        raw = self.data[position : position + 4]
        return struct.unpack(self.order + "I", raw)[0] if len(raw) == 4 else None

    def ints(self, entry: Entry | None) -> tuple[int, ...]:
        """The first :data:`MAX_NUMBERS` integers of an entry (BYTE, SHORT, LONG and signed
        kinds); () otherwise."""
        if entry is None or entry.type not in _INT_FORMATS:
            return ()
        fmt = _INT_FORMATS[entry.type]
        count = min(entry.count, MAX_NUMBERS)
        return struct.unpack(
            f"{self.order}{count}{fmt}", entry.head(count * _TYPE_SIZES[entry.type])
        )

    def rationals(self, entry: Entry | None) -> tuple[float | None, ...]:
        """The first :data:`MAX_NUMBERS` RATIONAL/SRATIONAL values as floats, None for a zero
        denominator; () otherwise."""
        if entry is None:
            return ()
        if entry.type in (5, 10):
            fmt = "I" if entry.type == 5 else "i"
            count = min(entry.count, MAX_NUMBERS)
            pairs = struct.unpack(f"{self.order}{count * 2}{fmt}", entry.head(count * 8))
            return tuple(
                pairs[i] / pairs[i + 1] if pairs[i + 1] else None for i in range(0, len(pairs), 2)
            )
        return tuple(float(v) for v in self.ints(entry))


def text(entry: Entry | None) -> str | None:
    """An ASCII/UNDEFINED value as clean text: up to the first NUL, trimmed, None if empty."""
    if entry is None or entry.type not in (1, 2, 7):
        return None
    return clean_text(entry.head(MAX_TEXT_BYTES))


def clean_text(raw: bytes) -> str | None:
    """Printable text of a NUL-padded field; leading NULs are skipped (edited files whose
    maker-note offsets drifted by a few bytes still give their text)."""
    cut = raw.lstrip(b"\x00").split(b"\x00", 1)[0]
    try:
        decoded = cut.decode("utf-8")
    except UnicodeDecodeError:
        decoded = cut.decode("latin-1")
    cleaned = "".join(ch for ch in decoded if ch.isprintable()).strip()
    return cleaned or None
