"""VICS reading and writing: every variant real files come in, round trips, constant memory."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vident.exchange.records import KnownRecord, RecordError
from vident.exchange.vics import (
    CONTEXT_TEMPLATE,
    VicsReader,
    VicsWriter,
    read_vics,
    read_vics_header,
    scheme_of,
)

SRC = Path(__file__).resolve().parent.parent / "src"
CTX_US = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases"
CTX_DEFAULT_MEDIA = (
    "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media"
)
CTX_1X = "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media"


def md5(n: int) -> bytes:
    return hashlib.md5(str(n).encode()).digest()


def sha1(n: int) -> bytes:
    return hashlib.sha1(str(n).encode()).digest()


def sha256(n: int) -> bytes:
    return hashlib.sha256(str(n).encode()).digest()


def pdq(n: int) -> bytes:
    return hashlib.sha256(f"pdq{n}".encode()).digest()


def read_text(text: str | bytes) -> tuple[list[KnownRecord], list[RecordError]]:
    errors: list[RecordError] = []
    data = text.encode() if isinstance(text, str) else text
    return list(read_vics(io.BytesIO(data), errors.append)), errors


def doc(context_key: str, context: str, value: list[Any]) -> str:
    return json.dumps({context_key: context, "value": value})


def test_case_form_reads_every_field_the_way_tools_write_it() -> None:
    media = {
        "MediaID": 7,
        "MD5": md5(1).hex().upper(),
        "SHA1": sha1(1).hex().upper(),
        "Category": 1,
        "VictimIdentified": "true",
        "OffenderIdentified": "False",
        "IsDistributed": 1,
        "Series": 42,
        "Tags": ["outdoor", "series-a"],
        "Comments": "seen before",
        "MediaSize": "123456",
        "MimeType": "image/jpeg",
        "IsPrecategorized": "true",
        "AlternativeHashes": [
            {"HashName": "SHA256", "HashValue": sha256(1).hex().upper()},
            {"HashName": "PDQ", "HashValue": pdq(1).hex()},
            {"HashName": "PhotoDNA", "HashValue": "AAAA"},
        ],
        "MediaFiles": [{"FileName": "a.jpg", "FilePath": "C:\\x\\a.jpg", "Deleted": "false"}],
    }
    case = {"CaseID": "b0f0", "CaseNumber": "2024-17", "Media": [media], "TotalMediaFiles": "1"}
    stream = io.BytesIO(doc("@odata.context", CTX_US, [case]).encode())
    reader = VicsReader(stream)
    records = list(reader)
    assert records == [
        KnownRecord(
            hashes={"md5": md5(1), "sha1": sha1(1), "sha256": sha256(1), "pdq": pdq(1)},
            category="1",
            category_scheme="US",
            series="42",
            victim_identified=True,
            offender_identified=False,
            is_distributed=True,
            tags=["outdoor", "series-a"],
            comment="seen before",
            media_size=123456,
            mime_type="image/jpeg",
            files=[{"FileName": "a.jpg", "FilePath": "C:\\x\\a.jpg", "Deleted": "false"}],
            extra={
                "IsPrecategorized": "true",
                "AlternativeHashes": [{"HashName": "PhotoDNA", "HashValue": "AAAA"}],
            },
            origin="value[0].Media[0]",
        )
    ]
    assert reader.version == "2.0"
    assert reader.scheme == "US"
    assert reader.cases == [{"CaseID": "b0f0", "CaseNumber": "2024-17", "TotalMediaFiles": "1"}]


def test_media_directly_in_value_and_in_cases_in_one_file() -> None:
    value = [
        {"MD5": md5(1).hex(), "Category": "2"},
        {"CaseID": "c1", "Media": [{"MD5": md5(2).hex()}, {"SHA1": sha1(3).hex()}]},
        {"MediaID": 9, "MD5": md5(4).hex()},
    ]
    records, errors = read_text(doc("@odata.context", CTX_DEFAULT_MEDIA, value))
    assert errors == []
    assert [(r.origin, r.hashes) for r in records] == [
        ("value[0]", {"md5": md5(1)}),
        ("value[1].Media[0]", {"md5": md5(2)}),
        ("value[1].Media[1]", {"sha1": sha1(3)}),
        ("value[2]", {"md5": md5(4)}),
    ]
    assert records[0].category == "2"
    assert records[0].category_scheme == "Default"
    assert records[1].category_scheme is None  # no category, no scheme to qualify it


def test_vics_1x_with_byte_order_mark_and_lower_case() -> None:
    text = doc(
        "odata.metadata",
        CTX_1X,
        [{"md5": md5(5).hex(), "sha1": sha1(5).hex(), "category": "3", "victimIdentified": "1"}],
    )
    records, errors = read_text(b"\xef\xbb\xbf" + text.encode())
    assert errors == []
    assert records[0].hashes == {"md5": md5(5), "sha1": sha1(5)}
    assert records[0].category == "3"
    assert records[0].category_scheme is None  # 1.x names no scheme
    assert records[0].victim_identified is True


def test_alternative_hash_names_are_matched_loosely() -> None:
    media = {
        "AlternativeHashes": [
            {"HashName": "SHA-256", "HashValue": sha256(6).hex()},
            {"hashname": "pdq", "hashvalue": pdq(6).hex().upper()},
            {"HashName": "MD5", "HashValue": md5(6).hex()},
        ]
    }
    records, errors = read_text(doc("@odata.context", CTX_US, [media]))
    assert errors == []
    assert records[0].hashes == {"sha256": sha256(6), "pdq": pdq(6), "md5": md5(6)}
    assert records[0].extra == {}


def test_tags_as_one_string_and_odd_shapes_kept_verbatim() -> None:
    value = [
        {"MD5": md5(1).hex(), "Tags": "a, b;c"},
        {"MD5": md5(2).hex(), "Tags": [{"Name": "x"}], "MediaFiles": "not a list"},
    ]
    records, errors = read_text(doc("@odata.context", CTX_US, value))
    assert errors == []
    assert records[0].tags == ["a", "b", "c"]
    assert records[1].tags == []
    assert records[1].extra == {"Tags": [{"Name": "x"}], "MediaFiles": "not a list"}


def test_numbers_beyond_64_bits_and_fractions_are_kept() -> None:
    media = {"MD5": md5(1).hex(), "Huge": 12345678901234567890123, "Score": 0.25, "Big": 1e400}
    text = doc("@odata.context", CTX_US, [media]).replace("Infinity", "1e400")
    records, errors = read_text(text)
    assert errors == []
    assert records[0].extra["Huge"] == 12345678901234567890123
    assert records[0].extra["Score"] == 0.25
    assert records[0].extra["Big"] == "1E+400"  # beyond float range: kept as its text


def test_bad_media_are_reported_with_origin_and_skipped() -> None:
    good = {"MD5": md5(1).hex()}
    case = {
        "CaseID": "c",
        "Media": [
            good,
            {"Category": 1},  # no hash at all
            {"MD5": "1234"},  # too short
            {"MD5": md5(2).hex(), "VictimIdentified": "maybe"},
            {
                "MD5": md5(3).hex(),
                "AlternativeHashes": [{"HashName": "MD5", "HashValue": "0" * 32}],
            },
            {"MD5": md5(4).hex(), "MediaSize": "-5"},
            "not an object",
            good,
        ],
    }
    records, errors = read_text(doc("@odata.context", CTX_US, [case]))
    assert [r.origin for r in records] == ["value[0].Media[0]", "value[0].Media[7]"]
    assert [e.origin for e in errors] == [f"value[0].Media[{i}]" for i in range(1, 7)]
    assert "no usable hash" in str(errors[0])
    assert "md5 needs 32 hex digits" in str(errors[1])
    assert str(errors[2]).startswith("value[0].Media[3]: VictimIdentified is not a boolean")
    assert "two different md5 values" in str(errors[3])
    assert "negative" in str(errors[4])
    assert not any(e.fatal for e in errors)


def test_strict_by_default() -> None:
    text = doc("@odata.context", CTX_US, [{"MD5": "xyz"}]).encode()
    with pytest.raises(RecordError, match=r"value\[0\]"):
        list(read_vics(io.BytesIO(text)))


def test_truncated_file_yields_what_came_before_and_reports_where() -> None:
    value = [{"CaseID": "c", "Media": [{"MD5": md5(i).hex()} for i in range(5)]}]
    text = doc("@odata.context", CTX_US, value)
    cut = text.index(md5(3).hex()) + 5
    records, errors = read_text(text[:cut])
    assert [r.hashes["md5"] for r in records] == [md5(i) for i in range(3)]
    assert len(errors) == 1
    assert errors[0].fatal
    assert errors[0].origin == "value[0].Media[3]"


def test_garbage_in_the_middle_and_after_the_end() -> None:
    text = doc("@odata.context", CTX_US, [{"MD5": md5(1).hex()}, {"MD5": md5(2).hex()}])
    broken = text.replace('{"MD5": "' + md5(2).hex(), '{"MD5": ' + md5(2).hex())
    records, errors = read_text(broken)
    assert len(records) == 1 and errors[0].fatal
    records, errors = read_text(text + "garbage")
    assert len(records) == 2 and errors[0].fatal


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[1, 2]", "top level is not a JSON object"),
        ('{"odata.metadata": "x", "items": []}', "no 'value' array"),
        ("", "malformed JSON"),
    ],
)
def test_not_vics_is_one_fatal_error(text: str, reason: str) -> None:
    records, errors = read_text(text)
    assert records == []
    assert len(errors) == 1 and errors[0].fatal and reason in str(errors[0])


def test_case_without_media_is_a_case_not_a_bad_media() -> None:
    value = [{"CaseID": "c1", "Media": None}, {"CaseID": "c2", "CaseNumber": "7"}]
    reader = VicsReader(io.BytesIO(doc("@odata.context", CTX_US, value).encode()))
    assert list(reader) == []
    assert [case["CaseID"] for case in reader.cases] == ["c1", "c2"]


def test_header(tmp_path: Path) -> None:
    path = tmp_path / "cases.json"
    value = [{"CaseID": "c1", "Media": [{"MD5": md5(1).hex()}]}, {"CaseID": "c2", "Media": []}]
    path.write_bytes(b"\xef\xbb\xbf" + doc("@odata.context", CTX_US, value).encode())
    header = read_vics_header(path)
    assert (header.version, header.scheme, header.context, header.cases) == (
        "2.0",
        "US",
        CTX_US,
        [],
    )
    assert [c["CaseID"] for c in read_vics_header(path, cases=True).cases] == ["c1", "c2"]
    path.write_text(doc("odata.metadata", CTX_1X, []))
    assert read_vics_header(path).version == "1.x"
    assert scheme_of("http://x/DataModels/1.3.xml/UK/$metadata#Media") == "UK"


def write_records(
    records: list[KnownRecord], scheme: str = "US", case: dict[str, Any] | None = None
) -> bytes:
    out = io.BytesIO()
    with VicsWriter(out, case=case, scheme=scheme) as writer:
        for record in records:
            writer.write(record)
    return out.getvalue()


def test_writer_output_is_vics_2_with_one_case() -> None:
    records = [
        KnownRecord(
            hashes={"md5": md5(1), "sha1": sha1(1), "sha256": sha256(1), "pdq": pdq(1)},
            category="1",
            category_scheme="US",
            extra={"IsPrecategorized": True, "MediaID": 99},
        ),
        KnownRecord(hashes={"sha256": sha256(2)}, category="CAT-2", tags=["t"]),
    ]
    data = json.loads(write_records(records, case={"CaseNumber": "17"}))
    assert data["@odata.context"] == CONTEXT_TEMPLATE.format(scheme="US")
    (case,) = data["value"]
    assert case["CaseNumber"] == "17" and case["CaseID"] and case["TotalMediaFiles"] == 2
    first, second = case["Media"]
    assert first == {
        "MediaID": 1,
        "MD5": md5(1).hex().upper(),
        "SHA1": sha1(1).hex().upper(),
        "Category": 1,
        "IsPrecategorized": True,
        "AlternativeHashes": [
            {"HashName": "SHA256", "HashValue": sha256(1).hex()},
            {"HashName": "PDQ", "HashValue": pdq(1).hex()},
        ],
    }
    assert second["MediaID"] == 2 and second["MD5"] is None and second["Category"] == "CAT-2"
    assert second["Tags"] == ["t"]


def test_writer_to_a_text_stream_and_its_refusals() -> None:
    out = io.StringIO()
    with VicsWriter(out, case={"CaseID": "x", "TotalMediaFiles": 5}) as writer:
        writer.write(KnownRecord(hashes={"md5": md5(1)}))
        with pytest.raises(ValueError, match="no hash"):
            writer.write(KnownRecord(hashes={}))
        with pytest.raises(ValueError, match="scheme"):
            writer.write(KnownRecord(hashes={"md5": md5(2)}, category="1", category_scheme="UK"))
    data = json.loads(out.getvalue())
    assert data["value"][0]["TotalMediaFiles"] == 5  # the Case's own figure is kept
    assert len(data["value"][0]["Media"]) == 1
    with pytest.raises(ValueError, match="scheme"):
        VicsWriter(io.StringIO(), scheme="a/b")
    with pytest.raises(ValueError, match="Media"):
        VicsWriter(io.StringIO(), case={"Media": []})


def test_writer_interrupted_by_an_error_leaves_a_visibly_truncated_file() -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError), VicsWriter(out) as writer:
        writer.write(KnownRecord(hashes={"md5": md5(1)}))
        raise RuntimeError("disk on fire")
    records, errors = read_text(out.getvalue())
    assert len(records) == 1 and len(errors) == 1 and errors[0].fatal


# --- lossless round trip -----------------------------------------------------------------

_READ_FIELDS = {
    "md5",
    "sha1",
    "category",
    "series",
    "victimidentified",
    "offenderidentified",
    "isdistributed",
    "tags",
    "comments",
    "comment",
    "mediasize",
    "mimetype",
    "alternativehashes",
    "mediafiles",
    "mediaid",
}
_text = st.text(st.characters(codec="utf-8"), max_size=12)
_some_text = _text.filter(bool)
_json: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_extra_key = _text.filter(lambda key: key.lower() not in _READ_FIELDS)
_unknown_hash = st.fixed_dictionaries(
    {"HashName": st.sampled_from(["PhotoDNA", "SHA-512", "ssdeep"]), "HashValue": _text}
)
_HASH_SIZES = {"md5": 16, "sha1": 20, "sha256": 32, "pdq": 32}
_hashes = st.fixed_dictionaries(
    {},
    optional={k: st.binary(min_size=n, max_size=n) for k, n in _HASH_SIZES.items()},
).filter(bool)


@st.composite
def known_records(draw: st.DrawFn, scheme: str) -> KnownRecord:
    category = draw(st.none() | _some_text | st.integers(-5, 500).map(str))
    extra = draw(st.dictionaries(_extra_key, _json, max_size=3))
    unknown = draw(st.lists(_unknown_hash, max_size=2))
    if unknown:
        extra["AlternativeHashes"] = unknown
    return KnownRecord(
        hashes=draw(_hashes),
        category=category,
        category_scheme=scheme if category is not None else None,
        series=draw(st.none() | _some_text),
        victim_identified=draw(st.none() | st.booleans()),
        offender_identified=draw(st.none() | st.booleans()),
        is_distributed=draw(st.none() | st.booleans()),
        tags=draw(st.lists(_text, max_size=3)),
        comment=draw(st.none() | _some_text),
        media_size=draw(st.none() | st.integers(0, 2**63 - 1)),
        mime_type=draw(st.none() | _some_text),
        files=draw(st.lists(st.dictionaries(_text, _json, max_size=3), max_size=2)),
        extra=extra,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["US", "UK", "Default"]).flatmap(
        lambda scheme: st.tuples(st.just(scheme), st.lists(known_records(scheme), max_size=5))
    )
)
def test_round_trip_is_lossless(drawn: tuple[str, list[KnownRecord]]) -> None:
    scheme, records = drawn
    read, errors = read_text(write_records(records, scheme=scheme))
    assert errors == []
    for record in read:
        record.origin = None
    assert read == records


# --- constant memory on big files ---------------------------------------------------------


def _big_record(n: int) -> KnownRecord:
    """A realistic Media (about 480 bytes as VICS): four hashes, flags, one file."""
    return KnownRecord(
        hashes={"md5": md5(n), "sha1": sha1(n), "sha256": sha256(n), "pdq": pdq(n)},
        category=str(n % 3),
        category_scheme="US",
        victim_identified=n % 2 == 0,
        media_size=1000 + n,
        mime_type="image/jpeg",
        files=[{"FileName": f"IMG_{n:07d}.jpg", "FilePath": f"/seizure/DCIM/IMG_{n:07d}.jpg"}],
    )


def _write_case_file(path: Path, *, count: int | None = None, size: int | None = None) -> int:
    """A one-Case VICS file of ``count`` Media, or of about ``size`` bytes; returns the count."""
    with path.open("wb") as stream, VicsWriter(stream, scheme="US") as writer:
        n = 0
        while (count is not None and n < count) or (size is not None and stream.tell() < size):
            writer.write(_big_record(n))
            n += 1
    return n


def _traced_read(path: Path) -> tuple[int, int]:
    """(records, peak bytes allocated by Python) while reading every record of ``path``."""
    count = 0
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            for _ in read_vics(stream):
                count += 1
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    small, large = tmp_path / "small.json", tmp_path / "large.json"
    _write_case_file(small, count=400)
    written = _write_case_file(large, count=4000)
    small_count, small_peak = _traced_read(small)
    large_count, large_peak = _traced_read(large)
    assert (small_count, large_count) == (400, written)
    # The large file holds 1.9 MB of Media (5.8 MB as records); reading it must
    # cost what reading a tenth of it costs.
    assert large_peak < 1024 * 1024, f"peak {large_peak} bytes"
    assert large_peak < small_peak + 128 * 1024, (small_peak, large_peak)


_CHILD = """
import json, resource, sys, time
from vident.exchange.vics import read_vics

def rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

before = rss_kib()
wall, cpu = time.perf_counter(), time.process_time()
count = 0
with open(sys.argv[1], "rb") as stream:
    for record in read_vics(stream):
        count += 1
print(json.dumps({"count": count, "wall": time.perf_counter() - wall,
                  "cpu": time.process_time() - cpu, "before_kib": before,
                  "grew_kib": rss_kib() - before}))
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="peak RSS is read the Linux way")
def test_a_100_mb_case_file_streams_in_constant_memory(tmp_path: Path) -> None:
    """One Case holding all Media, read in a fresh process: peak RSS must not grow with it."""
    path = tmp_path / "big.json"
    started = time.process_time()
    written = _write_case_file(path, size=100 * 1024 * 1024)
    write_cpu = time.process_time() - started
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result = json.loads(child.stdout)
    assert result["count"] == written
    assert result["grew_kib"] < 16 * 1024, f"peak RSS grew by {result['grew_kib']} KiB"
    mb = path.stat().st_size / 1e6
    print(
        f"\n{mb:.0f} MB, {written} Media. write {mb / write_cpu:.1f} MB/s (CPU). "
        f"read {mb / result['cpu']:.1f} MB/s CPU, {mb / result['wall']:.1f} MB/s wall "
        f"(1 GB: {1000 / (mb / result['wall']):.0f} s); peak RSS {result['before_kib']} KiB "
        f"after imports, grew {result['grew_kib']} KiB while reading"
    )


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=200)
    | st.builds(lambda value: doc("@odata.context", CTX_US, value).encode(), st.lists(_json))
    | st.builds(lambda doc_: json.dumps(doc_).encode(), _json)
)
def test_any_input_only_ever_reports_record_errors(data: bytes) -> None:
    records, errors = read_text(data)
    assert all(isinstance(error, RecordError) for error in errors)
    assert all(record.hashes for record in records)


# --- hostile tokens reject their Media only ------------------------------------------------


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ('"MediaSize": 9223372036854775808', "MediaSize is too large"),
        ('"MediaSize": ' + "1" * 100_000, "a number longer than 1000 characters"),
        ('"Score": -' + "1" * 5_000 + ".5e7", "a number longer than 1000 characters"),
        ('"Deep": ' + "[" * 10_000 + "]" * 10_000, "nested deeper than 64 levels"),
        ('"Deep": ' + '{"a":' * 100 + "1" + "}" * 100, "nested deeper than 64 levels"),
        ('"Comments": "\\ud800"', "Comments: text with an escaped lone surrogate"),
        ('"Comments": "x\\udfff"', "Comments: text with an escaped lone surrogate"),
        ('"Comments": "' + "c" * 70_000 + '"', "Comments: a text value longer than 65536"),
        ('"' + "k" * 70_000 + '": 1', "a text value longer than 65536 bytes"),
        ('"MediaFiles": [{"FileName": "\\udc00"}]', "FileName: text with an escaped lone"),
    ],
)
def test_a_hostile_value_rejects_its_media_and_reading_goes_on(field: str, reason: str) -> None:
    bad = '{"MD5": "' + md5(2).hex() + '", ' + field + "}"
    good = [json.dumps({"MD5": md5(n).hex()}) for n in (1, 3)]
    in_case = '{"CaseID": "c", "Media": [' + ", ".join([good[0], bad, good[1]]) + "]}"
    for value, origin in (
        (in_case, "value[0].Media[1]"),
        (", ".join([good[0], bad, good[1]]), "value[1]"),
    ):
        records, errors = read_text(f'{{"@odata.context": "{CTX_US}", "value": [{value}]}}')
        assert [r.hashes["md5"] for r in records] == [md5(1), md5(3)]
        assert [e.origin for e in errors] == [origin] and not errors[0].fatal
        assert reason in errors[0].reason, errors[0]
        assert len(str(errors[0])) < 200


def test_bytes_that_are_not_utf8_reject_their_media() -> None:
    media = ", ".join(json.dumps({"MD5": md5(n).hex(), "Comments": "ok"}) for n in range(3))
    data = doc("@odata.context", CTX_US, []).replace("[]", f"[{media}]").encode()
    cut = data.index(b'"ok"', data.index(md5(1).hex().encode()))
    records, errors = read_text(data[:cut] + b'"o\xc3\x28"' + data[cut + 4 :])
    assert [r.hashes["md5"] for r in records] == [md5(0), md5(2)]
    assert [str(e) for e in errors] == ["value[1]: Comments: text that is not valid UTF-8"]


def test_a_media_larger_than_the_record_limit_is_rejected() -> None:
    media = [
        {"MD5": md5(1).hex(), "Tags": ["t"] * 10},
        {"MD5": md5(2).hex(), "Tags": ["t"] * 1000},
        {"MD5": md5(3).hex(), **{f"F{i}": i for i in range(1000)}},
    ]
    for value, origins in (
        ([{"CaseID": "c", "Media": media}], ["value[0].Media[1]", "value[0].Media[2]"]),
        (media, ["value[1]", "value[2]"]),
    ):
        errors: list[RecordError] = []
        data = doc("@odata.context", CTX_US, value).encode()
        records = list(read_vics(io.BytesIO(data), errors.append, max_record=4000))
        assert [r.hashes["md5"] for r in records] == [md5(1)]
        assert [e.origin for e in errors] == origins
        assert {e.reason for e in errors} == {"the Media is larger than 4000 characters"}


def test_parser_errors_read_as_text() -> None:
    _, errors = read_text('{"@odata.context": "x", "value": [{"MD5": 12x}]}')
    assert errors[0].fatal and "b'" not in str(errors[0])
    assert "malformed JSON in or after this: lexical error" in str(errors[0])


def test_header_of_a_hostile_file(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text('{"x": ' + "9" * 100_000 + ', "@odata.context": "' + CTX_US + '", "value": []}')
    assert read_vics_header(path).scheme == "US"
