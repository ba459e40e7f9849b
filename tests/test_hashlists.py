"""CSV/TSV and plain-text hash lists, and telling the formats apart by content."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vident.exchange.hashlists import (
    detect_format,
    read_delimited,
    read_hex_lines,
    read_known_records,
)
from vident.exchange.records import KnownRecord, RecordError, raise_error


def md5(n: int) -> str:
    return hashlib.md5(str(n).encode()).hexdigest()


def sha1(n: int) -> str:
    return hashlib.sha1(str(n).encode()).hexdigest()


def sha256(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def delimited(text: str) -> tuple[list[KnownRecord], list[RecordError]]:
    errors: list[RecordError] = []
    return list(read_delimited(io.StringIO(text, newline=""), errors.append)), errors


def lines(text: str, kind: str | None = None) -> tuple[list[KnownRecord], list[RecordError]]:
    errors: list[RecordError] = []
    return list(read_hex_lines(io.StringIO(text), kind, errors.append)), errors


def test_csv_with_every_known_column_and_an_unknown_one() -> None:
    text = (
        " MD5 ,SHA1,sha256,Category,Series,Victim_Identified,comment,Source\n"
        f'{md5(1).upper()},{sha1(1)},{sha256(1)},1,S-7,yes,"seen, twice",NCMEC\n'
        f"{md5(2)},,,,,,,\n"
    )
    records, errors = delimited(text)
    assert errors == []
    assert records == [
        KnownRecord(
            hashes={
                "md5": bytes.fromhex(md5(1)),
                "sha1": bytes.fromhex(sha1(1)),
                "sha256": bytes.fromhex(sha256(1)),
            },
            category="1",
            series="S-7",
            victim_identified=True,
            comment="seen, twice",
            extra={"Source": "NCMEC"},
            origin="line 2",
        ),
        KnownRecord(hashes={"md5": bytes.fromhex(md5(2))}, extra={"Source": None}, origin="line 3"),
    ]


@pytest.mark.parametrize("delimiter", ["\t", ";", ","])
def test_delimiter_is_sniffed_from_the_header(delimiter: str) -> None:
    header = delimiter.join(["sha256", "victim_identified", "offender_identified", "tags"])
    row = delimiter.join([sha256(3), "N", "TRUE", "a|b"])
    records, errors = delimited(f"{header}\n{row}\n")
    assert errors == []
    assert records[0].hashes == {"sha256": bytes.fromhex(sha256(3))}
    assert (records[0].victim_identified, records[0].offender_identified) == (False, True)
    assert records[0].tags == ["a|b"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("true", True),
        ("False", False),
        ("YES", True),
        ("no", False),
        ("1", True),
        ("0", False),
        ("y", True),
        ("N", False),
        ("", None),
    ],
)
def test_booleans(cell: str, expected: bool | None) -> None:
    records, errors = delimited(f"md5,victim_identified\n{md5(1)},{cell}\n")
    assert errors == [] and records[0].victim_identified is expected


def test_bad_rows_are_reported_with_their_line_and_skipped() -> None:
    text = (
        "# exported by a tool\n"
        "md5,category,victim_identified,media_size\n"
        f"{md5(1)},1,,\n"
        "\n"
        "nothex,1,,\n"
        f"{md5(3)},1,perhaps,\n"
        ",2,,\n"
        f"{md5(5)},1,,-3\n"
        f"{md5(6)},1,,,surplus\n"
        f"{md5(7)},1,,,\n"
        f"# {md5(8)} commented out\n"
        f"{md5(9)}\n"
    )
    records, errors = delimited(text)
    assert [r.origin for r in records] == ["line 3", "line 10", "line 12"]
    assert [e.origin for e in errors] == ["line 5", "line 6", "line 7", "line 8", "line 9"]
    assert "md5 needs 32 hex digits" in str(errors[0])
    assert "victim_identified is not a boolean" in str(errors[1])
    assert "no hash" in str(errors[2])
    assert "negative" in str(errors[3])
    assert "5 fields, but the header has 4" in str(errors[4])
    assert not any(e.fatal for e in errors)


def test_a_header_without_a_hash_column_is_fatal() -> None:
    records, errors = delimited("name,category\nx,1\n")
    assert records == []
    assert len(errors) == 1 and errors[0].fatal and errors[0].origin == "line 1"
    _, errors = delimited("md5,MD5\n")
    assert "both give md5" in str(errors[0])


def test_hash_column_of_mixed_kinds_and_header_aliases() -> None:
    text = f"Hash,SHA-256,Comments,Size,MIME\n{md5(1)},,c,12,image/png\n{sha1(2)},{sha256(2)},,,\n"
    records, errors = delimited(text)
    assert errors == []
    assert records[0].hashes == {"md5": bytes.fromhex(md5(1))}
    assert (records[0].comment, records[0].media_size, records[0].mime_type) == (
        "c",
        12,
        "image/png",
    )
    assert records[1].hashes == {
        "sha1": bytes.fromhex(sha1(2)),
        "sha256": bytes.fromhex(sha256(2)),
    }


def test_quoted_multi_line_cells_keep_line_numbers() -> None:
    text = f'md5,comment\n{md5(1)},"two\nlines"\nbad,x\n'
    records, errors = delimited(text)
    assert records[0].comment == "two\nlines"
    assert errors[0].origin == "line 4"


def test_hex_lines_of_mixed_lengths_with_comments_and_trailing_fields() -> None:
    text = (
        "# known hashes\n"
        f"{md5(1).upper()}\n"
        "\n"
        f"{sha1(2)}  photo.jpg\n"
        f"{sha256(3)} *binary-mode.jpg\n"
        f"\\{md5(4)}  name\\nwith-newline.jpg\n"
        f"{md5(5)},extra,fields\n"
        "   \n"
        "0123abc\n"
        f"{md5(6)[:-1]}g\n"
    )
    records, errors = lines(text)
    assert [(r.origin, list(r.hashes)) for r in records] == [
        ("line 2", ["md5"]),
        ("line 4", ["sha1"]),
        ("line 5", ["sha256"]),
        ("line 6", ["md5"]),
        ("line 7", ["md5"]),
    ]
    assert records[0].hashes["md5"] == bytes.fromhex(md5(1))
    assert [e.origin for e in errors] == ["line 9", "line 10"]
    assert "not a 32, 40 or 64 digit hex hash" in str(errors[0])
    assert "not hexadecimal" in str(errors[1])


def test_text_kind_pdq() -> None:
    value = sha256(7)
    records, errors = lines(f"{value}\n{md5(1)}\n", "PDQ")
    assert records == [KnownRecord(hashes={"pdq": bytes.fromhex(value)}, origin="line 1")]
    assert "pdq needs 64 hex digits" in str(errors[0])
    with pytest.raises(ValueError, match="unknown signal kind"):
        read_hex_lines(io.StringIO(""), "crc32")


def _vics() -> str:
    context = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases"
    return json.dumps({"@odata.context": context, "value": [{"MD5": md5(1)}]})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (_vics().encode(), "vics"),
        (b"\xef\xbb\xbf  \n" + _vics().encode(), "vics"),
        (f"md5,category\n{md5(1)},1\n".encode(), "csv"),
        (f"MD5;Category\n{md5(1)};1\n".encode(), "csv"),
        (f"\ufeff# header comment\n\nsha1\tseries\n{sha1(1)}\tx\n".encode(), "tsv"),
        (f"# list\n{md5(1)}\n{sha1(1)}\n".encode(), "text"),
        (f"{sha256(1)}  file.jpg\n".encode(), "text"),
        (f"{md5(1)},1\n".encode(), "text"),
        (b"", "text"),
        ("md5,comment\n".encode("utf-16"), "csv"),
    ],
)
def test_detect_format_by_content(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "list.json"  # the name says JSON on purpose: only content counts
    path.write_bytes(content)
    assert detect_format(path) == expected


@pytest.mark.parametrize(
    "content",
    [
        _vics().encode(),
        f"\ufeffMD5,Category\r\n{md5(1)},1\r\n".encode(),
        f"md5\tcategory\n{md5(1)}\t1\n".encode("utf-16"),
        f"{md5(1)}\n".encode(),
        f"md5,comment\n{md5(1)},caf\xe9\n".encode("cp1252"),
    ],
)
def test_read_known_records_dispatches(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "list"
    path.write_bytes(content)
    errors: list[RecordError] = []
    records = list(read_known_records(path, on_error=errors.append))
    assert errors == []
    assert [r.hashes for r in records] == [{"md5": bytes.fromhex(md5(1))}]
    if records[0].comment is not None:
        assert records[0].comment == "café"


def test_utf8_cut_by_the_sniff_limit_is_still_utf8(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    comment = "é" * 40_000  # the 64 KiB sniff ends inside a two-byte character
    path.write_text(f"md5,comment\n{md5(1)},{comment}\n", encoding="utf-8")
    records = list(read_known_records(path, on_error=raise_error))
    assert records[0].comment == comment


def test_read_known_records_text_kind_and_encoding_damage(tmp_path: Path) -> None:
    path = tmp_path / "pdq.txt"
    path.write_text(f"{sha256(1)}\n")
    records = list(read_known_records(path, text_kind="pdq", on_error=raise_error))
    assert list(records[0].hashes) == ["pdq"]
    with pytest.raises(ValueError, match="unknown signal kind"):
        read_known_records(path, text_kind="nope", on_error=raise_error)
    damaged = tmp_path / "damaged.csv"
    damaged.write_bytes(
        f"md5\n{md5(1)}\n".encode() + b"x" * 70_000 + b"\xff\xfe\n" + f"{md5(2)}\n".encode()
    )
    errors: list[RecordError] = []
    records = list(read_known_records(damaged, on_error=errors.append))
    # The damaged line is rejected by its number; the lines after it are still read.
    assert [r.origin for r in records] == ["line 2", "line 4"]
    assert [str(e) for e in errors] == ["line 3: the line is not valid UTF-8 text"]
    assert not errors[0].fatal


_cells = st.text(st.sampled_from('0123456789abcdefABCDEF,;\t"#\n\r x'), max_size=120)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["md5,category\n", "hash;tags\n", "sha1\tseries\n", ""]), _cells)
def test_any_text_only_ever_reports_record_errors(header: str, body: str) -> None:
    records, errors = delimited(header + body)
    more, more_errors = lines(body)
    assert all(isinstance(e, RecordError) for e in errors + more_errors)
    assert all(record.hashes for record in records + more)


# --- bounded lines and cells, text that does not decode ----------------------------------


def test_over_long_lines_are_rejected_and_line_numbers_stay_true() -> None:
    text = (
        f"md5,comment\r\n{md5(1)},{'a' * 65}\r\n"  # 98 characters: fits a limit of 98
        f"{md5(2)},{'b' * 66}\r\n"  # one too many
        f"{md5(3)},c\r\n"
    )
    errors: list[RecordError] = []
    records = list(read_delimited(io.StringIO(text, newline=""), errors.append, max_line=98))
    assert [r.origin for r in records] == ["line 2", "line 4"]
    assert [str(e) for e in errors] == ["line 3: the line is longer than 98 characters"]
    errors = []
    plain = f"{md5(1)}\n{'f' * 500}\n\n{md5(3)}\n"
    records = list(read_hex_lines(io.StringIO(plain), None, errors.append, max_line=40))
    assert [r.origin for r in records] == ["line 1", "line 4"]
    assert [str(e) for e in errors] == ["line 2: the line is longer than 40 characters"]


def test_a_quoted_cell_over_too_many_lines_rejects_only_its_row() -> None:
    cell = '"' + "x\n" * 200 + '"'
    text = f"md5,comment\n{md5(1)},a\n{md5(2)},{cell}\n{md5(3)},b\n"
    errors: list[RecordError] = []
    records = list(read_delimited(io.StringIO(text, newline=""), errors.append, max_line=100))
    assert [r.origin for r in records] == ["line 2", "line 204"]
    assert [str(e) for e in errors] == ["line 3: the row is longer than 100 characters"]


def test_a_cell_longer_than_the_field_limit_rejects_its_row() -> None:
    errors: list[RecordError] = []
    text = f"md5,comment\n{md5(1)},{'c' * 32}\n{md5(2)},{'c' * 33}\n"
    records = list(read_delimited(io.StringIO(text, newline=""), errors.append, max_field=32))
    assert [r.comment for r in records] == ["c" * 32]
    assert [str(e) for e in errors] == ["line 3: a field is longer than 32 characters"]


def test_a_line_that_does_not_decode_is_rejected_in_any_encoding(tmp_path: Path) -> None:
    # UTF-16 with a lone surrogate code unit on line 3.
    path = tmp_path / "utf16.csv"
    lines = ["md5,comment\n", f"{md5(1)},a\n", f"{md5(2)},X\n", f"{md5(3)},b\n"]
    encoded = "".join(lines).encode("utf-16-le").replace("X".encode("utf-16-le"), b"\x00\xd8")
    path.write_bytes(b"\xff\xfe" + encoded)
    errors: list[RecordError] = []
    records = list(read_known_records(path, on_error=errors.append))
    assert [r.origin for r in records] == ["line 2", "line 4"]
    assert [str(e) for e in errors] == ["line 3: the line is not valid UTF-16 text"]
    # A header that does not decode: nothing can be read, and that is said once.
    header = tmp_path / "header.csv"
    header.write_bytes(b"md5,c" + b"x" * 70_000 + b"\xff\n" + f"{md5(1)},y\n".encode())
    errors = []
    assert list(read_known_records(header, on_error=errors.append)) == []
    assert [(str(e), e.fatal) for e in errors] == [
        ("line 1: the line is not valid UTF-8 text", True)
    ]


def test_sizes_beyond_64_bits_and_huge_numbers_are_record_errors() -> None:
    text = (
        f"md5,size\n{md5(1)},{2**63 - 1}\n{md5(2)},{2**63}\n{md5(3)},{'9' * 5000}\n{md5(4)},1e3\n"
    )
    records, errors = delimited(text)
    assert [r.media_size for r in records] == [2**63 - 1]
    assert [e.origin for e in errors] == ["line 3", "line 4", "line 5"]
    assert "too large (more than 2^63 - 1)" in str(errors[0])
    assert "too large or not an integer" in str(errors[1]) and len(str(errors[1])) < 200
    assert "not an integer" in str(errors[2])
