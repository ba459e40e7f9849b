"""read_exif: camera, serials (EXIF, XMP, maker notes, APP12), time and GPS; never raises."""

from __future__ import annotations

import csv
import struct
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from tests.helpers_media import (
    CORPUS,
    TiffBuilder,
    ascii_value,
    directory,
    encode,
    exif_block,
    jpeg_with_exif,
    long_value,
    photo_like,
    rational_value,
    undefined_value,
    with_app_segment,
)
from vident.media.exif import read_exif


def pillow_exif() -> Image.Exif:
    """EXIF as a photo editor writes it with Pillow: make, model, serials, lens, time, GPS."""
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D Mark II"
    exif[0x0131] = "vident-test 1.0"
    exif[0x0132] = "2021:01:02 03:04:05"
    sub = exif.get_ifd(0x8769)
    sub[0xA431] = "720305332"
    sub[0x9003] = "2020:05:06 07:08:09"
    sub[0xA434] = "EF50mm f/1.8"
    sub[0xA435] = "LENS0042"
    gps = exif.get_ifd(0x8825)
    gps[1] = "S"
    gps[2] = (IFDRational(33), IFDRational(51), IFDRational(5415, 100))
    gps[3] = "E"
    gps[4] = (IFDRational(151), IFDRational(12), IFDRational(36))
    return exif


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG"])
def test_generated_picture_gives_every_fact(fmt: str) -> None:
    facts = read_exif(encode(photo_like(64, 48), fmt, exif=pillow_exif()))
    assert facts is not None
    assert facts.make == "Canon"
    assert facts.model == "Canon EOS 5D Mark II"
    assert facts.body_serial == "720305332"
    assert facts.other_serials == {"LensSerialNumber": "LENS0042"}
    assert facts.lens == "EF50mm f/1.8"
    assert facts.software == "vident-test 1.0"
    assert facts.taken_at == datetime(2020, 5, 6, 7, 8, 9)
    assert facts.gps_lat == pytest.approx(-(33 + 51 / 60 + 54.15 / 3600), abs=1e-9)
    assert facts.gps_lon == pytest.approx(151 + 12 / 60 + 36 / 3600, abs=1e-9)


def test_tiff_file_keeps_its_camera_in_its_own_first_directory() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Hasselblad"
    exif[0x0110] = "X2D"
    exif[0xC62F] = "DNG-SERIAL-7"
    facts = read_exif(encode(photo_like(32, 24), "TIFF", exif=exif))
    assert facts is not None
    assert (facts.make, facts.model, facts.body_serial) == ("Hasselblad", "X2D", "DNG-SERIAL-7")


def test_datetime_is_the_fallback_for_date_time_original() -> None:
    block = exif_block({0x0132: ascii_value("2019:12:31 23:59:58")}, {})
    facts = read_exif(jpeg_with_exif(block))
    assert facts is not None
    assert facts.taken_at == datetime(2019, 12, 31, 23, 59, 58)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020:05:06 07:08:09", datetime(2020, 5, 6, 7, 8, 9)),
        ("2020-05-06T07:08:09+02:00", datetime(2020, 5, 6, 7, 8, 9)),
        ("2009:09:09 20:27:09.60", datetime(2009, 9, 9, 20, 27, 9)),
        ("0000:00:00 00:00:00", None),
        ("    :  :     :  :  ", None),
        ("yesterday", None),
    ],
)
def test_dates_are_parsed_leniently(value: str, expected: datetime | None) -> None:
    block = exif_block({0x010F: ascii_value("X")}, {0x9003: ascii_value(value)})
    facts = read_exif(jpeg_with_exif(block))
    assert facts is not None
    assert facts.taken_at == expected


def _gps(lat: list[tuple[int, int]], lat_ref: str, lon: list[tuple[int, int]], lon_ref: str,
         order: str = "<") -> dict[int, tuple[int, int, bytes]]:  # fmt: skip
    return {
        1: ascii_value(lat_ref),
        2: rational_value(lat, order),
        3: ascii_value(lon_ref),
        4: rational_value(lon, order),
    }


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize(
    ("gps", "expected"),
    [
        (_gps([(43, 1), (28, 1), (234, 10)], "N", [(11, 1), (53, 1), (64, 10)], "E"),
         (43 + 28 / 60 + 23.4 / 3600, 11 + 53 / 60 + 6.4 / 3600)),
        (_gps([(0, 1), (22, 1), (1678, 100)], "S", [(36, 1), (337, 10), (0, 0)], "E"),
         (-(22 / 60 + 16.78 / 3600), 36 + 33.7 / 60)),
        (_gps([(4012, 100), (0, 1), (0, 1)], "N", [(7400, 100), (0, 1), (0, 1)], "W"),
         (40.12, -74.0)),
        (_gps([(51, 1), (3021, 100)], "N", [(0, 1), (745, 100)], "W"),
         (51 + 30.21 / 60, -7.45 / 60)),
        (_gps([(0, 0), (0, 0), (0, 0)], "N", [(0, 0), (0, 0), (0, 0)], "E"), None),
        (_gps([(0, 1), (0, 1), (0, 1)], "N", [(0, 1), (0, 1), (0, 1)], "E"), None),
        (_gps([(91, 1), (0, 1), (0, 1)], "N", [(10, 1), (0, 1), (0, 1)], "E"), None),
        (_gps([(45, 1), (0, 1), (0, 1)], "N", [(181, 1), (0, 1), (0, 1)], "E"), None),
    ],
)  # fmt: skip
def test_gps_coordinates(
    order: str, gps: dict[int, tuple[int, int, bytes]], expected: tuple[float, float] | None
) -> None:
    entries = {
        tag: rational_value(
            [struct.unpack("<II", raw[i : i + 8]) for i in range(0, len(raw), 8)], order
        )
        if kind == 5
        else (kind, n, raw)
        for tag, (kind, n, raw) in gps.items()
    }
    block = exif_block({0x010F: ascii_value("Nikon")}, {}, gps=entries, order=order)
    facts = read_exif(jpeg_with_exif(block))
    assert facts is not None
    if expected is None:
        assert (facts.gps_lat, facts.gps_lon) == (None, None)
    else:
        assert facts.gps_lat == pytest.approx(expected[0], abs=1e-9)
        assert facts.gps_lon == pytest.approx(expected[1], abs=1e-9)


# --- serial numbers ---------------------------------------------------------------------------

XMP_ATTRIBUTES = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""
 xmlns:aux="http://ns.adobe.com/exif/1.0/aux/"
 aux:LensInfo="35/1 35/1 0/0 0/0" aux:Lens="EF35mm f/1.4L USM" aux:LensSerialNumber="0000000000"
 aux:SerialNumber="720305332" aux:ImageNumber="0"/></rdf:RDF></x:xmpmeta>"""

XMP_ELEMENTS = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="">
 <exifEX:LensSerialNumber>LS&amp;77</exifEX:LensSerialNumber>
 <aux:SerialNumber>AUX-1</aux:SerialNumber>
 <exifEX:BodySerialNumber> BODY-2 </exifEX:BodySerialNumber>
 <tiff:Make>Sony</tiff:Make><tiff:Model>ILCE-7M3</tiff:Model>
 <exif:DateTimeOriginal>2018-07-01T10:11:12</exif:DateTimeOriginal>
 </rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_xmp_attribute_form_serial_and_lens() -> None:
    facts = read_exif(
        jpeg_with_exif(exif_block({0x010F: ascii_value("Canon")}, {}), XMP_ATTRIBUTES)
    )
    assert facts is not None
    assert facts.body_serial == "720305332"
    assert facts.lens == "EF35mm f/1.4L USM"  # not aux:LensInfo
    assert facts.other_serials == {}  # the all-zero lens serial is a placeholder


def test_xmp_element_form_and_priority_within_xmp() -> None:
    facts = read_exif(encode(photo_like(64, 48), "JPEG", xmp=XMP_ELEMENTS))
    assert facts is not None
    assert facts.body_serial == "BODY-2"  # exifEX:BodySerialNumber before aux:SerialNumber
    assert facts.other_serials == {
        "XMP:aux:SerialNumber": "AUX-1",
        "XMP:exifEX:LensSerialNumber": "LS&77",
    }
    assert (facts.make, facts.model) == ("Sony", "ILCE-7M3")
    assert facts.taken_at == datetime(2018, 7, 1, 10, 11, 12)


def test_exif_serial_outranks_xmp_and_placeholders_are_dropped() -> None:
    block = exif_block(
        {0x010F: ascii_value("Canon")},
        {0xA431: ascii_value("111"), 0xA435: ascii_value("0000000000")},
    )
    facts = read_exif(jpeg_with_exif(block, XMP_ELEMENTS))
    assert facts is not None
    assert facts.body_serial == "111"
    assert facts.other_serials["XMP:exifEX:BodySerialNumber"] == "BODY-2"
    assert "LensSerialNumber" not in facts.other_serials
    placeholder = exif_block({0x010F: ascii_value("Canon")}, {0xA431: ascii_value("000000")})
    facts = read_exif(jpeg_with_exif(placeholder, XMP_ATTRIBUTES))
    assert facts is not None
    assert facts.body_serial == "720305332"


MAKER_NOTE_AT = 400


def test_canon_maker_note_serial_internal_serial_and_lens() -> None:
    note = directory(
        {
            0x000C: long_value(330128148),
            0x0095: ascii_value("EF-S18-55mm f/3.5-5.6"),
            0x0096: ascii_value("H1527527"),
        },
        MAKER_NOTE_AT,
    )
    block = exif_block(
        {0x010F: ascii_value("Canon"), 0x0110: ascii_value("Canon EOS 350D DIGITAL")},
        {},
        maker_note=note,
        maker_note_at=MAKER_NOTE_AT,
    )
    facts = read_exif(jpeg_with_exif(block))
    assert facts is not None
    assert facts.body_serial == "330128148"
    assert facts.other_serials == {"MakerNote:InternalSerialNumber": "H1527527"}
    assert facts.lens == "EF-S18-55mm f/3.5-5.6"


def test_canon_layout_is_only_trusted_for_canon_pictures() -> None:
    note = directory({0x000C: long_value(330128148)}, MAKER_NOTE_AT)
    block = exif_block(
        {0x010F: ascii_value("Kodak")}, {}, maker_note=note, maker_note_at=MAKER_NOTE_AT
    )
    facts = read_exif(jpeg_with_exif(block))
    assert facts is not None
    assert facts.body_serial is None


def test_exif_body_serial_outranks_maker_note() -> None:
    note = directory({0x000C: long_value(42)}, MAKER_NOTE_AT)
    block = exif_block(
        {0x010F: ascii_value("Canon")},
        {0xA431: ascii_value("042033006980")},
        maker_note=note,
        maker_note_at=MAKER_NOTE_AT,
    )
    facts = read_exif(jpeg_with_exif(block))
    assert facts is not None
    assert facts.body_serial == "042033006980"
    assert facts.other_serials == {"MakerNote:SerialNumber": "42"}


def test_nikon_maker_note_has_its_own_tiff_header() -> None:
    inner = TiffBuilder(">")
    inner.ifd({0x0001: undefined_value(b"0210"), 0x001D: ascii_value("3105364")})
    note = b"Nikon\x00\x02\x10\x00\x00" + bytes(inner.buffer)
    block = exif_block({0x010F: ascii_value("NIKON CORPORATION")}, {}, maker_note=note)
    facts = read_exif(jpeg_with_exif(block))
    assert facts is not None
    assert facts.body_serial == "3105364"


def test_panasonic_internal_serial_even_with_drifted_offsets() -> None:
    # GIMP-edited Panasonic files point two bytes early: the value starts with two NULs.
    serial = undefined_value(b"\x00\x00S010604030293\x00")
    note = b"Panasonic\x00\x00\x00" + directory({0x0025: serial}, MAKER_NOTE_AT + 12)
    block = exif_block(
        {0x010F: ascii_value("Panasonic")}, {}, maker_note=note, maker_note_at=MAKER_NOTE_AT
    )
    facts = read_exif(jpeg_with_exif(block))
    assert facts is not None
    assert facts.body_serial == "S010604030293"


def test_reconyx_hyperfire_serial_and_time_without_make() -> None:
    note = bytearray(120)
    struct.pack_into("<H", note, 0, 0xF101)
    struct.pack_into("<6H", note, 22, 5, 4, 10, 3, 16, 2020)  # s, min, h, month, day, year
    note[42:72] = "H500EE06130468".encode("utf-16-le").ljust(30, b"\x00")
    block = exif_block({}, {}, maker_note=bytes(note))
    facts = read_exif(jpeg_with_exif(block))
    assert facts is not None
    assert facts.body_serial == "H500EE06130468"
    assert facts.taken_at == datetime(2020, 3, 16, 10, 4, 5)


def test_olympus_app12_camera_info() -> None:
    app12 = (
        b"OLYMPUS OPTICAL CO.,LTD.   \x00 713\r\n[picture info]\r\nTimeDate=909698819\r\n"
        b"[camera info]\r\nType=SR55\r\nSerial#=#00000001\r\nVersion=v55-76\r\n"
    )
    facts = read_exif(with_app_segment(encode(photo_like(40, 30), "JPEG"), 0xEC, app12))
    assert facts is not None
    assert facts.body_serial == "#00000001"
    assert facts.taken_at == datetime(1998, 10, 29, 22, 6, 59)


def test_exif_found_by_signature_in_containers_pillow_cannot_open() -> None:
    block = exif_block({0x010F: ascii_value("Apple"), 0x0110: ascii_value("iPhone 15")}, {})
    heic_like = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64 + block
    facts = read_exif(heic_like + XMP_ELEMENTS)
    assert facts is not None
    assert (facts.make, facts.model) == ("Apple", "iPhone 15")
    assert facts.body_serial == "BODY-2"


# --- nothing, garbage and hostile input -------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"plain text, not a picture",
        encode(photo_like(40, 30), "JPEG"),
        encode(photo_like(40, 30), "PNG"),
        jpeg_with_exif(b"Exif\x00\x00II*\x00\xff\xff\xff\x7f"),
        jpeg_with_exif(b"Exif\x00\x00XX*\x00\x08\x00\x00\x00"),
        jpeg_with_exif(b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff" + b"\x01" * 64),
    ],
)
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow's own warning on open
def test_no_facts_gives_none(data: bytes) -> None:
    assert read_exif(data) is None


def _rich_block() -> bytes:
    note = directory({0x000C: long_value(7), 0x0096: ascii_value("INTERNAL")}, MAKER_NOTE_AT)
    return exif_block(
        {0x010F: ascii_value("Canon"), 0x0110: ascii_value("EOS")},
        {0xA431: ascii_value("123"), 0x9003: ascii_value("2020:01:01 00:00:00")},
        maker_note=note,
        maker_note_at=MAKER_NOTE_AT,
        gps=_gps([(1, 1), (2, 1), (3, 1)], "N", [(4, 1), (5, 1), (6, 1)], "E"),
    )


RICH = _rich_block()


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, len(RICH) - 1), st.integers(0, 255)), max_size=12),
    cut=st.integers(6, len(RICH)),
)
def test_damaged_exif_never_raises(edits: list[tuple[int, int]], cut: int) -> None:
    block = bytearray(RICH)
    for position, value in edits:
        block[position] = value
    facts = read_exif(b"\x00\x00\x00\x18ftypheic" + bytes(block[:cut]))
    if facts is not None:
        assert not facts.is_empty()


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=512))
def test_random_exif_payload_never_raises(payload: bytes) -> None:
    read_exif(b"\xff\xd8" + b"Exif\x00\x00II*\x00" + payload)
    read_exif(b"Exif\x00\x00MM\x00*" + payload)


# --- the shared corpus ------------------------------------------------------------------------

# Facts the manifest lists that vident does not read, and why.
KNOWN_GAPS = {
    "exif/exif-org/sony-powershota5.jpg": "Canon PowerShot A5: metadata in a CIFF (HEAPJPGM) APP0",
    "faces/deepface_id11/img33.jpg": "date only in IPTC / photoshop:DateCreated",
}


def _manifest() -> list[dict[str, str]]:
    with (CORPUS / "manifest.csv").open() as handle:
        return [row for row in csv.DictReader(handle) if not row["path"].endswith(".mp4")]


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not present")
def test_corpus_serial_numbers_all_match_the_manifest() -> None:
    expected = {r["path"]: r["serial_number"] for r in _manifest()}
    found = {}
    for path in expected:
        facts = read_exif((CORPUS / path).read_bytes())
        found[path] = (facts.body_serial if facts else None) or ""
    assert sum(1 for v in expected.values() if v) == 14
    assert found == expected


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not present")
def test_corpus_same_body_links_biden_and_obama3() -> None:
    biden = read_exif((CORPUS / "faces/biden/biden.jpg").read_bytes())
    obama = read_exif((CORPUS / "faces/obama/obama3.jpg").read_bytes())
    assert biden is not None and obama is not None
    assert biden.body_serial == obama.body_serial == "720305332"


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not present")
def test_corpus_camera_time_and_place_match_the_manifest() -> None:
    checked = {"camera": 0, "time": 0, "gps": 0}
    for row in _manifest():
        facts = read_exif((CORPUS / row["path"]).read_bytes())
        if row["path"] in KNOWN_GAPS:
            continue
        checked["camera"] += bool(row["camera_make"])
        checked["time"] += bool(row["datetime_original"])
        checked["gps"] += bool(row["gps_lat"])
        if row["camera_make"]:
            assert facts is not None, row["path"]
            assert (facts.make, facts.model) == (row["camera_make"], row["camera_model"])
        if row["datetime_original"]:
            assert facts is not None and facts.taken_at is not None, row["path"]
            stamp = facts.taken_at.strftime("%Y:%m:%d %H:%M:%S")
            assert stamp == row["datetime_original"][:19], row["path"]
        if row["gps_lat"]:
            assert facts is not None, row["path"]
            assert facts.gps_lat == pytest.approx(float(row["gps_lat"]), abs=1e-6)
            assert facts.gps_lon == pytest.approx(float(row["gps_lon"]), abs=1e-6)
        elif facts is not None:
            assert facts.gps_lat is None and facts.gps_lon is None, row["path"]
    # The manifest, not an empty or misread one, was checked: its camera, time and GPS rows.
    assert checked["camera"] >= 40 and checked["time"] >= 40 and checked["gps"] >= 6, checked
