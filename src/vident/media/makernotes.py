"""Camera serial numbers hidden in vendor maker notes.

A body serial links pictures taken with one camera across seizures, and many cameras write it
only into their maker note (older Canon EOS, Nikon, Panasonic, Olympus/OM System, Fujifilm,
Reconyx trail cameras) or, in old Olympus models, into an APP12 text block. Each reader here
knows one vendor's layout; unknown or damaged notes give nothing.

Why not ExifTool or exifread at ingest: ``python -m bench.camera_facts`` reads all 145
corpus pictures with the three. vident reads as many serials as ExifTool (14/14 correct)
and, since the IPTC, CIFF and PNG text readers, as many dates (47/47) and cameras (44/44);
exifread gets 6/14 serials right (a Nikon D300 serial read from the wrong offset, no
Panasonic or Reconyx note). ExifTool costs 7-12 ms per picture even as a running
``-stay_open`` process (Perl's start not counted), 75-130 times vident's 0.1 ms median, and
would add a Perl process to every worker; exifread's median is low but its mean is 3 ms and
large maker notes take 87 ms. Neither reads a fact vident misses on this corpus, so neither
runs at ingest.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from vident.media.ifd import Tiff, clean_text, text

_NIKON_TYPE3: Final = b"Nikon\x00\x02"
_PANASONIC: Final = b"Panasonic\x00\x00\x00"
_FUJIFILM: Final = b"FUJIFILM"
_OLYMPUS_OLD: Final = b"OLYMP\x00"
_OLYMPUS_NEW: Final = b"OLYMPUS\x00"
_OM_SYSTEM: Final = b"OM SYSTEM\x00"
_BYTE_ORDERS: Final = {b"II": "<", b"MM": ">"}
_RECONYX_HYPERFIRE: Final = b"\x01\xf1"
_RECONYX_BYTES: Final = 72  # the fixed layout's time and serial words
_APP12_SERIAL: Final = re.compile(rb"Serial#=([^\r\n\x00]{1,64})")
_APP12_TIME: Final = re.compile(rb"TimeDate=(\d{1,12})[\r\n]")


@dataclass(slots=True)
class MakerNoteFacts:
    """What a maker note told: serials by name (best body serial first), lens, time."""

    body_serials: list[tuple[str, str]] = field(default_factory=list)
    other_serials: list[tuple[str, str]] = field(default_factory=list)
    lens: str | None = None
    taken_at: datetime | None = None


def read_maker_note(tiff: Tiff, position: int, length: int, make: str | None) -> MakerNoteFacts:
    """Serials from the maker note at absolute ``position`` of ``tiff.data``.

    ``make`` (EXIF Make) picks Canon's header-less layout; the other layouts carry a
    signature of their own, which is trusted before the Make tag.
    """
    head = tiff.data[position : position + 16]
    facts = MakerNoteFacts()
    if head.startswith(_NIKON_TYPE3):
        _nikon(tiff, position, facts)
    elif head.startswith(_PANASONIC):
        _panasonic(tiff, position, facts)
    elif head.startswith(_FUJIFILM):
        _fujifilm(_note_only(tiff, position, length), position, facts)
    elif head.startswith(_OLYMPUS_NEW):
        _olympus_own_header(_note_only(tiff, position, length), position, 12, facts)
    elif head.startswith(_OM_SYSTEM):
        _olympus_own_header(_note_only(tiff, position, length), position, 16, facts)
    elif head.startswith(_OLYMPUS_OLD):
        _olympus_old(tiff, position, facts)
    elif head.startswith(_RECONYX_HYPERFIRE) and length >= _RECONYX_BYTES:
        _reconyx_hyperfire(tiff.data[position : position + _RECONYX_BYTES], facts)
    elif make is not None and make.lower().startswith("canon"):
        _canon(tiff, position, facts)
    return facts


def read_app12(segment: bytes) -> MakerNoteFacts:
    """``Serial#=`` and ``TimeDate=`` (Unix time) of an Olympus/Agfa APP12 text block."""
    facts = MakerNoteFacts()
    serial = _APP12_SERIAL.search(segment)
    value = clean_text(serial.group(1)) if serial else None
    if value:
        facts.body_serials.append(("APP12:Serial#", value))
    stamp = _APP12_TIME.search(segment)
    if stamp:
        try:
            moment = datetime.fromtimestamp(int(stamp.group(1)), UTC)
        except (OverflowError, OSError, ValueError):
            return facts
        facts.taken_at = moment.replace(tzinfo=None)
    return facts


def _canon(tiff: Tiff, position: int, facts: MakerNoteFacts) -> None:
    # A bare directory; its value offsets count from the EXIF TIFF header.
    entries = tiff.at(position, tiff.base)
    serial = tiff.ints(entries.get(0x000C))
    if serial and serial[0] > 0:
        facts.body_serials.append(("MakerNote:SerialNumber", str(serial[0])))
    internal = text(entries.get(0x0096))
    if internal:
        facts.other_serials.append(("MakerNote:InternalSerialNumber", internal))
    facts.lens = text(entries.get(0x0095))


def _nikon(tiff: Tiff, position: int, facts: MakerNoteFacts) -> None:
    # "Nikon\0" + version, then a TIFF structure of its own: offsets count from it.
    inner = Tiff.parse(tiff.data, position + 10)
    if inner is None:
        return
    entries = inner.first_ifd()
    for tag in (0x001D, 0x00A0):
        serial = text(entries.get(tag))
        if serial:
            facts.body_serials.append((f"MakerNote:SerialNumber(0x{tag:04X})", serial))


def _panasonic(tiff: Tiff, position: int, facts: MakerNoteFacts) -> None:
    # "Panasonic\0\0\0", then a directory whose offsets count from the EXIF TIFF header.
    entries = tiff.at(position + 12, tiff.base)
    serial = text(entries.get(0x0025))
    if serial:
        facts.body_serials.append(("MakerNote:InternalSerialNumber", serial))


def _note_only(tiff: Tiff, position: int, length: int) -> Tiff:
    # Notes that count offsets from their own start keep every value inside themselves: an
    # offset past the note's end is damage, and would read whatever EXIF follows it.
    return Tiff(tiff.data[: position + length], tiff.base, tiff.order)


def _fujifilm(tiff: Tiff, position: int, facts: MakerNoteFacts) -> None:
    # "FUJIFILM", then a little-endian offset to a directory; offsets count from the note.
    inner = Tiff(tiff.data, position, "<")
    start = inner.u32(position + 8)
    if start is None:
        return
    serial = text(inner.at(position + start, position).get(0x0010))
    if serial:
        facts.body_serials.append(("MakerNote:InternalSerialNumber", serial))


def _olympus_own_header(tiff: Tiff, position: int, size: int, facts: MakerNoteFacts) -> None:
    # "OLYMPUS\0" or "OM SYSTEM\0..." then the byte order mark and a version: a header of
    # ``size`` bytes, then a directory whose offsets count from the note's first byte. The
    # serial is in the Equipment directory (tag 0x2010), under 0x0101.
    order = _BYTE_ORDERS.get(tiff.data[position + size - 4 : position + size - 2])
    if order is None:
        return
    inner = Tiff(tiff.data, position, order)
    main = inner.at(position + size, position)
    pointer = main.get(0x2010)
    if pointer is None:
        return
    if pointer.type == 7:  # the Equipment directory written in place of a pointer
        equipment = inner.at(pointer.position, position)
    else:
        offset = inner.ints(pointer)
        equipment = inner.at(position + offset[0], position) if offset else {}
    serial = text(equipment.get(0x0101))
    if serial:
        facts.body_serials.append(("MakerNote:SerialNumber", serial))
    internal = text(equipment.get(0x0102))
    if internal:
        facts.other_serials.append(("MakerNote:InternalSerialNumber", internal))


def _olympus_old(tiff: Tiff, position: int, facts: MakerNoteFacts) -> None:
    # "OLYMP\0" and a version (8 bytes), then a directory whose offsets count from the EXIF
    # TIFF header, in the EXIF byte order; older bodies keep the serial under 0x0404.
    serial = text(tiff.at(position + 8, tiff.base).get(0x0404))
    if serial:
        facts.body_serials.append(("MakerNote:SerialNumber", serial))


def _reconyx_hyperfire(note: bytes, facts: MakerNoteFacts) -> None:
    # Fixed layout of little-endian 16-bit words: the time in words 0x0B-0x10 (second,
    # minute, hour, month, day, year), the serial as UTF-16LE text in words 0x15-0x23.
    serial = clean_text(note[42:72].decode("utf-16-le", errors="ignore").encode())
    if serial:
        facts.body_serials.append(("MakerNote:SerialNumber", serial))
    second, minute, hour, month, day, year = struct.unpack("<6H", note[22:34])
    try:
        facts.taken_at = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return
