"""Fuzz target: EXIF, XMP, maker notes and APP12 of a picture (media/exif, ifd, makernotes).

Contract: ``read_exif`` never raises, and with ``strict=True`` (the guards around each block
turned off) none of vident's readers raises either; only Pillow may fail, inside. The facts
are storable: printable text within the store's column width, real dates, GPS in range, and
the same whether guarded or strict.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fuzz.contract import finite_or_none, require
from vident.media.exif import MAX_TEXT, read_exif
from vident.media.types import ExifFacts


def _text(value: str | None, what: str, limit: int = MAX_TEXT) -> None:
    if value is None:
        return
    require(0 < len(value) <= limit, f"{what} of {len(value)} characters")
    require(value.isprintable(), f"{what} is not printable: {value!r}")
    require(value == value.strip(), f"{what} is not trimmed: {value!r}")


def check_facts(facts: ExifFacts | None) -> None:
    if facts is None:
        return
    require(not facts.is_empty(), "empty facts instead of None")
    for what, value in (
        ("make", facts.make),
        ("model", facts.model),
        ("lens", facts.lens),
        ("software", facts.software),
        ("body serial", facts.body_serial),
    ):
        _text(value, what)
    for name, serial in facts.other_serials.items():
        _text(serial, f"serial {name}")
        require(serial != facts.body_serial, f"serial {name} repeats the body serial")
    finite_or_none(facts.gps_lat, "latitude")
    finite_or_none(facts.gps_lon, "longitude")
    require((facts.gps_lat is None) == (facts.gps_lon is None), "half a GPS position")
    if facts.gps_lat is not None and facts.gps_lon is not None:
        require(abs(facts.gps_lat) <= 90 and abs(facts.gps_lon) <= 180, "GPS out of range")


def make(scratch: Path) -> Callable[[bytes], None]:
    def one_input(data: bytes) -> None:
        strict = read_exif(data, strict=True)
        check_facts(strict)
        require(read_exif(data) == strict, "guarded and strict reading disagree")

    return one_input
