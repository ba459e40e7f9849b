"""Maker-note serials (Olympus/OM System, Fujifilm), IPTC dates, CIFF, PNG raw-profile EXIF.

Each layout is built here the way the camera or editor writes it; damaged copies of each
must give no facts rather than raise (``strict`` turns read_exif's guards off).
"""

from __future__ import annotations

import struct
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL.PngImagePlugin import PngInfo

from tests.helpers_media import (
    CORPUS,
    ascii_value,
    directory,
    encode,
    exif_block,
    jpeg_with_exif,
    long_value,
    photo_like,
    with_app_segment,
)
from vident.media.ciff import CiffFacts, read_ciff
from vident.media.exif import read_exif
from vident.media.iptc import read_iptc_date

NOTE_AT = 400


def fujifilm_note(serial: str) -> bytes:
    # "FUJIFILM", a little-endian offset (12) to the directory; offsets count from the note.
    return b"FUJIFILM" + struct.pack("<I", 12) + directory({0x0010: ascii_value(serial)}, 12)


def olympus_note(serial: str, header: bytes, order: str = "<") -> bytes:
    """A new-style Olympus note: own header, main directory -> Equipment directory."""
    size = len(header)
    main_length = 2 + 12 + 4
    main = directory({0x2010: long_value(size + main_length, order)}, size, order)
    equipment = directory(
        {0x0101: ascii_value(serial), 0x0102: ascii_value("4100113001234567")},
        size + main_length,
        order,
    )
    return header + main + equipment


OLYMPUS_II = b"OLYMPUS\x00II\x03\x00"
OM_SYSTEM_MM = b"OM SYSTEM\x00\x00\x00MM\x00\x04"


def picture(make: str, note: bytes, order: str = "<", at: int | None = None) -> bytes:
    return jpeg_with_exif(
        exif_block({0x010F: ascii_value(make)}, {}, maker_note=note, order=order, maker_note_at=at)
    )


def test_fujifilm_internal_serial() -> None:
    facts = read_exif(picture("FUJIFILM", fujifilm_note("FC  A1234567 593033313637")))
    assert facts is not None
    assert facts.body_serial == "FC  A1234567 593033313637"


@pytest.mark.parametrize(("header", "order"), [(OLYMPUS_II, "<"), (OM_SYSTEM_MM, ">")])
def test_olympus_and_om_system_equipment_serial(header: bytes, order: str) -> None:
    # The note's byte order is its own: a big-endian OM System note inside little-endian EXIF.
    facts = read_exif(picture("OM Digital Solutions", olympus_note("BHP201234", header, order)))
    assert facts is not None
    assert facts.body_serial == "BHP201234"
    assert facts.other_serials == {"MakerNote:InternalSerialNumber": "4100113001234567"}


def test_old_olympus_note_counts_offsets_from_the_exif_header() -> None:
    note = b"OLYMP\x00\x01\x00" + directory({0x0404: ascii_value("A12345678")}, NOTE_AT + 8)
    facts = read_exif(picture("OLYMPUS OPTICAL CO.,LTD", note, at=NOTE_AT))
    assert facts is not None
    assert facts.body_serial == "A12345678"


GOOD_NOTES = {
    "fujifilm": fujifilm_note("FC  A1234567"),
    "olympus": olympus_note("BHP201234", OLYMPUS_II),
    "om": olympus_note("BHP201234", OM_SYSTEM_MM, ">"),
}


@pytest.mark.parametrize("vendor", sorted(GOOD_NOTES))
def test_truncated_notes_give_nothing_never_raise(vendor: str) -> None:
    note = GOOD_NOTES[vendor]
    full = read_exif(picture("X", note), strict=True)
    assert full is not None and full.body_serial is not None
    for cut in range(len(note)):
        facts = read_exif(picture("X", note[:cut]), strict=True)
        assert facts is None or facts.body_serial in (None, full.body_serial)


@pytest.mark.parametrize("vendor", sorted(GOOD_NOTES))
def test_garbled_offsets_and_byte_order_give_nothing(vendor: str) -> None:
    note = bytearray(GOOD_NOTES[vendor])
    for at in range(len(note) - 16, len(note) - 4):  # the last entries and their offsets
        note[at] = 0xFF
    note[8:12] = b"\xff\xff\xff\xff"  # Fujifilm's offset, Olympus's byte order mark
    facts = read_exif(picture("X", bytes(note)), strict=True)
    assert facts is None or facts.body_serial is None


HEADERS = [b"FUJIFILM", OLYMPUS_II, OM_SYSTEM_MM, b"OLYMP\x00\x01\x00", b"OLYMPUS\x00MM\x03\x00"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(HEADERS), st.binary(max_size=300))
def test_random_notes_behind_a_vendor_header_never_raise(header: bytes, body: bytes) -> None:
    read_exif(picture("X", header + body), strict=True)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_iptc_and_ciff_payloads_never_raise(body: bytes) -> None:
    read_iptc_date(b"Photoshop 3.0\x00" + body)
    read_iptc_date(b"Photoshop 3.0\x008BIM\x04\x04" + body)
    read_ciff(b"II\x1a\x00\x00\x00HEAPJPGM" + body)


def app13(datasets: bytes, before: bytes = b"") -> bytes:
    """Photoshop image resources: ``before`` (other resources), then the IPTC one."""
    iptc = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(datasets))
    return b"Photoshop 3.0\x00" + before + iptc + datasets


def dataset(number: int, value: bytes) -> bytes:
    return bytes([0x1C, 2, number]) + struct.pack(">H", len(value)) + value


# A resource with a Pascal name and an odd size: its padding must be skipped.
OTHER_RESOURCE = (
    b"8BIM" + struct.pack(">H", 0x03ED) + b"\x03abc" + struct.pack(">I", 3) + b"xyz\x00"
)


def test_iptc_date_and_time_created_date_a_picture_without_exif() -> None:
    segment = app13(
        dataset(5, b"a title") + dataset(55, b"20130104") + dataset(60, b"150215+0000"),
        OTHER_RESOURCE,
    )
    jpeg = with_app_segment(encode(photo_like(40, 30), "JPEG"), 0xED, segment)
    facts = read_exif(jpeg, strict=True)
    assert facts is not None
    assert facts.taken_at == datetime(2013, 1, 4, 15, 2, 15)


def test_exif_date_outranks_iptc() -> None:
    block = exif_block({}, {0x9003: ascii_value("2020:05:06 07:08:09")})
    jpeg = with_app_segment(jpeg_with_exif(block), 0xED, app13(dataset(55, b"20130104")))
    facts = read_exif(jpeg)
    assert facts is not None
    assert facts.taken_at == datetime(2020, 5, 6, 7, 8, 9)


def test_damaged_iptc_gives_no_date() -> None:
    good = app13(dataset(55, b"20130104") + dataset(60, b"150215"), OTHER_RESOURCE)
    assert read_iptc_date(good) == datetime(2013, 1, 4, 15, 2, 15)
    for cut in range(len(good)):
        assert read_iptc_date(good[:cut]) in (None, datetime(2013, 1, 4))
    assert read_iptc_date(app13(dataset(55, b"00000000"))) is None
    assert read_iptc_date(good.replace(b"8BIM", b"8BIX", 1)) is None
    huge = app13(b"\x1c\x02\x37\x80\x04\xff\xff\xff\xff")  # extended size: not a date
    assert read_iptc_date(huge) is None


def test_png_raw_profile_exif_as_gimp_writes_it() -> None:
    block = exif_block(
        {0x0131: ascii_value("GIMP 2.10.18"), 0x0132: ascii_value("2020:03:16 11:08:20")}, {}
    )
    payload = block.hex()
    lines = "\n".join(payload[i : i + 72] for i in range(0, len(payload), 72))
    info = PngInfo()
    info.add_text("Raw profile type exif", f"\nexif\n{len(block):8d}\n{lines}\n", zip=True)
    facts = read_exif(encode(photo_like(40, 30), "PNG", pnginfo=info), strict=True)
    assert facts is not None
    assert facts.software == "GIMP 2.10.18"
    assert facts.taken_at == datetime(2020, 3, 16, 11, 8, 20)
    info = PngInfo()
    info.add_text("Raw profile type exif", "\nexif\n  12\nnot hex at all\n", zip=True)
    assert read_exif(encode(photo_like(40, 30), "PNG", pnginfo=info), strict=True) is None


def ciff_heap(records: list[tuple[int, bytes]]) -> bytes:
    """Values, then the directory of 10-byte records, then the directory's offset."""
    body, table = b"", b""
    for kind, raw in records:
        table += struct.pack("<HII", kind, len(raw), len(body))
        body += raw
    return body + struct.pack("<H", len(records)) + table + struct.pack("<I", len(body))


CIFF_TIME = struct.pack("<IiI", 972687386, 0, 0)  # 2000-10-27 22:56:26 on the camera's clock
CIFF = (
    b"II"
    + struct.pack("<I", 26)
    + b"HEAPJPGM".ljust(20, b"\x00")
    + ciff_heap(
        [
            (0x180E, CIFF_TIME),
            (0x5817, b"\x01" * 8),  # a value kept in its record: skipped
            (0x2807, ciff_heap([(0x080A, b"Canon\x00Canon PowerShot A5\x00")])),
        ]
    )
)


def test_ciff_heap_of_an_early_canon_jpeg() -> None:
    facts = read_exif(with_app_segment(encode(photo_like(40, 30), "JPEG"), 0xE0, CIFF))
    assert facts is not None
    assert (facts.make, facts.model) == ("Canon", "Canon PowerShot A5")
    assert facts.taken_at == datetime(2000, 10, 27, 22, 56, 26)


def test_damaged_ciff_gives_what_it_can_never_raises() -> None:
    for cut in range(len(CIFF)):
        read_ciff(CIFF[:cut])
    garbled = CIFF[:-4] + b"\xff\xff\xff\x7f"  # directory offset far outside the heap
    assert read_ciff(garbled) == CiffFacts()
    assert read_ciff(b"II\xff\xff\xff\xffHEAPJPGM" + bytes(20)) is None  # header too long
    # A heap record that points at the whole heap again nests only so deep.
    loop = b"II" + struct.pack("<I", 26) + b"HEAPJPGM".ljust(20, b"\x00")
    loop += struct.pack("<H", 1) + struct.pack("<HII", 0x2807, 16, 0) + struct.pack("<I", 0)
    facts = read_ciff(loop)
    assert facts == CiffFacts()


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_corpus_dates_exiftool_found_and_vident_missed() -> None:
    iptc = read_exif((CORPUS / "faces/deepface_id11/img33.jpg").read_bytes())
    assert iptc is not None and iptc.taken_at == datetime(2013, 1, 4, 15, 2, 15)
    png = read_exif((CORPUS / "text/easyocr/example.png").read_bytes())
    assert png is not None and png.taken_at == datetime(2020, 3, 16, 11, 8, 20)
    ciff = read_exif((CORPUS / "exif/exif-org/sony-powershota5.jpg").read_bytes())
    assert ciff is not None and ciff.model == "Canon PowerShot A5"
    assert ciff.taken_at == datetime(2000, 10, 27, 22, 56, 26)
