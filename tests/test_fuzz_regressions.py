"""Inputs the fuzzers (``make fuzz``) found: each one a test, so the bug never comes back.

Every finding is fixed and its test must pass; inputs too large to write inline are kept under
``tests/fuzz_findings/``.
"""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
from pathlib import Path

import pytest
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from tests.helpers_media import (
    TiffBuilder,
    ascii_value,
    exif_block,
    jpeg_with_exif,
    photo_like,
)
from vident.config import Limits
from vident.exchange.hashlists import read_known_records
from vident.exchange.records import KnownRecord, RecordError
from vident.ingest.records import WorkItem
from vident.ingest.worker import process_item
from vident.media.exif import MAX_TEXT, read_exif
from vident.media.video import probe_video
from vident.store.db import Store
from vident.store.models import Exif
from vident.store.sources import open_source
from vident.store.writer import write_results

FINDINGS = Path(__file__).resolve().parent / "fuzz_findings"

_XMP_TEMPLATE = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Make="%s"'
    b' aux:SerialNumber="%s"/></x:xmpmeta>'
)


def _long_make_jpeg(make: str) -> bytes:
    return jpeg_with_exif(exif_block({0x010F: ascii_value(make)}, {}))


# --- EXIF, XMP and maker notes: fixed ------------------------------------------------------


def test_exif_text_longer_than_the_store_column_is_cut() -> None:
    """A Make of 300 characters came out whole; PostgreSQL refuses it in VARCHAR(200)."""
    facts = read_exif(_long_make_jpeg("Acme " + "X" * 295), strict=True)
    assert facts is not None and facts.make is not None
    assert len(facts.make) == MAX_TEXT == 200
    assert facts.make.startswith("Acme XXX")


def test_xmp_control_characters_never_reach_the_facts() -> None:
    """XMP values kept NUL and escape codes: PostgreSQL refuses NUL, terminals obey ESC."""
    xmp = _XMP_TEMPLATE % (b"Ni\x00kon\x1b\x07", b"12\x0034\x01")
    facts = read_exif(jpeg_with_exif(exif_block({}, {}), xmp=xmp), strict=True)
    assert facts is not None
    assert facts.make == "Nikon"
    assert facts.body_serial == "1234"


def test_xmp_serial_of_control_characters_only_is_no_serial() -> None:
    xmp = _XMP_TEMPLATE % (b"Nikon", b"\x00\x01\x02")
    facts = read_exif(jpeg_with_exif(exif_block({}, {}), xmp=xmp), strict=True)
    assert facts is not None
    assert facts.body_serial is None
    assert facts.other_serials == {}


def test_tiff_that_pillow_refuses_still_gives_its_camera() -> None:
    """A TIFF without image tags made Pillow fail, and its facts were lost with it."""
    builder = TiffBuilder("<")
    builder.ifd(
        {0x010F: ascii_value("Leica"), 0x0110: ascii_value("M11"), 0xC62F: ascii_value("S42")}
    )
    data = bytes(builder.buffer)
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(data))
    facts = read_exif(data, strict=True)
    assert facts is not None
    assert (facts.make, facts.model, facts.body_serial) == ("Leica", "M11", "S42")


def _claiming_tiff(size: int, entries: int = 500) -> bytes:
    """A TIFF whose IFD0 has ``entries`` text tags (Make among them) that each claim nearly
    the whole file as their value."""
    picture = [  # a 1x1 grey picture, so that Pillow opens the file too
        struct.pack("<HHIHH", tag, 3, 1, value, 0)
        for tag, value in ((0x100, 1), (0x101, 1), (0x102, 8), (0x106, 1), (0x117, 1))
    ]
    tags = [0x010F] + [0x1000 + index for index in range(entries - 1)]
    values_at = 8 + 2 + 12 * (len(picture) + len(tags) + 1) + 4
    claim = size - values_at
    table = [struct.pack("<HHII", tag, 2, claim, values_at) for tag in tags]
    strip = [struct.pack("<HHII", 0x111, 4, 1, values_at)]
    entries_raw = sorted(picture + table + strip, key=lambda raw: struct.unpack("<H", raw[:2]))
    head = b"II*\x00" + struct.pack("<IH", 8, len(entries_raw)) + b"".join(entries_raw)
    head += bytes(4)
    return head + b"A" * claim


def test_tiff_whose_tags_claim_the_whole_file_is_read_in_constant_memory() -> None:
    """Each entry's value was copied: 500 entries x 2 MB took 1 GB and seconds (an 8 MB file
    took 4 GB and half a minute), enough to take a worker or the machine down."""
    data = _claiming_tiff(2 * 1024 * 1024)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        facts = read_exif(data, strict=True)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert facts is not None and facts.make == "A" * MAX_TEXT
    assert peak < 16 * 1024 * 1024
    assert elapsed < 1.0


def test_xmp_inside_a_tiff_is_still_read() -> None:
    """TIFF files are no longer opened with Pillow; their XMP packet (tag 700) still counts."""
    xmp = _XMP_TEMPLATE % (b"Hasselblad", b"HB-0042")
    builder = TiffBuilder("<")
    builder.ifd({0x0110: ascii_value("X2D"), 0x02BC: (1, len(xmp), xmp)})
    facts = read_exif(bytes(builder.buffer), strict=True)
    assert facts is not None
    assert (facts.make, facts.model, facts.body_serial) == ("Hasselblad", "X2D", "HB-0042")


def test_strict_and_guarded_reading_agree_on_a_full_picture() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif.get_ifd(0x8769)[0xA431] = "720305332"
    buffer = io.BytesIO()
    photo_like(48, 32).save(buffer, "JPEG", exif=exif)
    data = buffer.getvalue()
    strict = read_exif(data, strict=True)
    assert strict is not None and strict.body_serial == "720305332"
    assert read_exif(data) == strict


def test_long_and_dirty_camera_text_is_stored(store_url: str, tmp_path: Path) -> None:
    """Through the worker and the writer, on both backends: the batch used to fail on
    PostgreSQL (value too long for VARCHAR(200), NUL in text), losing every file in it."""
    xmp = _XMP_TEMPLATE % (b"ignored", b"SER\x00-77")
    picture = jpeg_with_exif(exif_block({0x010F: ascii_value("M" * 260)}, {}), xmp=xmp)
    path = tmp_path / "long.jpg"
    path.write_bytes(picture)
    result = process_item(
        WorkItem(path=path.name, size=len(picture), fs_path=str(path)), Limits(), signals=()
    )
    assert result.error is None
    store = Store(store_url)
    try:
        with store.session() as session:
            source = open_source(session, "fuzz", str(tmp_path), None)
            write_results(session, source.id, [result])
        with store.reader() as session:
            make, serial = session.execute(select(Exif.make, Exif.body_serial)).one()
    finally:
        store.dispose()
    assert make == "M" * MAX_TEXT
    assert serial == "SER-77"


# --- findings in the video prober and the hash-list readers ---------------------------------


def test_video_duration_is_never_negative() -> None:
    """A Matroska file whose stream duration is negative gives a negative duration."""
    info = probe_video((FINDINGS / "video-negative-duration.mkv").read_bytes())
    assert info.duration is None or info.duration >= 0


def _read(path: Path) -> tuple[list[KnownRecord], list[RecordError]]:
    errors: list[RecordError] = []
    records = list(read_known_records(path, on_error=errors.append))
    return records, errors


@pytest.mark.parametrize(
    "name", ["vics-hash-with-inner-spaces.json", "csv-hash-with-inner-space.csv"]
)
def test_hash_with_inner_spaces_is_rejected_not_shortened(name: str) -> None:
    """``bytes.fromhex`` skips whitespace, so a 40-character SHA-1 with two spaces inside
    was stored as 19 bytes (and an MD5 as 15): a hash that can never match anything."""
    records, errors = _read(FINDINGS / name)
    assert records == []
    assert errors


@pytest.mark.parametrize("kind", ["sha256", "pdq"])
def test_lone_backslash_line_gives_no_empty_record(kind: str) -> None:
    """md5sum marks escaped names with a leading backslash; a line holding only that mark,
    read with an explicit kind, yielded a record without any hash."""
    errors: list[RecordError] = []
    path = FINDINGS / "hexlist-lone-backslash.txt"
    records = list(read_known_records(path, text_kind=kind, on_error=errors.append))
    assert all(record.hashes for record in records)
    assert errors
