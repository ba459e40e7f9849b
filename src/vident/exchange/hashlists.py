"""Hash lists that are not VICS: CSV/TSV with a header, and plain hex lines; format detection.

Agencies and tools hand over known hashes in whatever their spreadsheet or script wrote, so the
readers accept the common variants and decide by content, never by file name:

- **CSV/TSV**: the first line that is neither blank nor a ``#`` comment is a header naming
  columns, in any case and with ``-``/``_``/spaces ignored: a hash kind (``md5``, ``sha1``,
  ``sha256``/``SHA-256``, ``pdq``), ``hash`` (kind told by length: 32 md5, 40 sha1,
  64 sha256), ``category``, ``category_scheme``, ``series``, ``victim_identified``,
  ``offender_identified``, ``is_distributed``, ``tags``, ``comment(s)``, ``media_size``/``size``,
  ``mime_type``/``mime``. Other columns are kept in ``extra`` under their header text. The
  delimiter (``,``, tab or ``;``) is the one the header uses most. Empty cells are None;
  booleans are true/false/yes/no/y/n/1/0 in any case.
- **Plain text**: one hex hash per line; the kind comes from its length unless ``text_kind``
  says (for PDQ, whose 64 digits look like SHA-256). Blank lines and ``#`` comments are
  skipped; whatever follows the hash after whitespace, a comma or a semicolon is ignored, so
  ``md5sum``/``sha256sum`` output reads as it is (a header-less CSV reads this way too).

Text is UTF-8 (a byte-order mark is fine), or UTF-16 with its byte-order mark; a file whose
start is not UTF-8 is read as Windows-1252, since such lists come from Windows tools.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

from vident.exchange.records import (
    KnownRecord,
    OnError,
    RecordError,
    add_hash,
    hash_kind,
    parse_bool,
    parse_size,
    raise_error,
    split_tags,
)
from vident.exchange.vics import read_vics
from vident.signals import registry

Format = Literal["vics", "csv", "tsv", "text"]

_SNIFF_BYTES = 64 * 1024
_KIND_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}
_SEPARATORS = re.compile(r"[\s,;]")
_HEX_TOKEN = re.compile(r"\\?[0-9a-fA-F]{16,}")
_AUTO = "hash"
# Record fields a header may name, by header text lower-cased without spaces, "-" and "_".
_COLUMNS = {
    "hash": _AUTO,
    "category": "category",
    "categoryscheme": "category_scheme",
    "series": "series",
    "victimidentified": "victim_identified",
    "offenderidentified": "offender_identified",
    "isdistributed": "is_distributed",
    "tags": "tags",
    "comment": "comment",
    "comments": "comment",
    "mediasize": "media_size",
    "size": "media_size",
    "mimetype": "mime_type",
    "mime": "mime_type",
}
_BOOLEANS = frozenset({"victim_identified", "offender_identified", "is_distributed"})
_KNOWN_TEXT = frozenset({"category", "category_scheme", "series", "comment", "mime_type"})


def _encoding(head: bytes) -> str:
    """The text encoding of a file that starts with ``head`` (see the module docstring)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        cut_by_sniff = len(head) == _SNIFF_BYTES and exc.reason == "unexpected end of data"
        if not cut_by_sniff:
            return "cp1252"
    return "utf-8-sig"


def _read_head(path: Path) -> bytes:
    with path.open("rb") as stream:
        return stream.read(_SNIFF_BYTES)


def detect_format(path: Path) -> Format:
    """Which reader a file needs, from its first bytes: JSON, a header line, or bare hashes.

    A file with nothing but blanks and comments is "text" (it holds no records either way).
    """
    head = _read_head(path)
    text = head.decode(_encoding(head), errors="replace").lstrip()
    if text.startswith(("{", "[")):
        return "vics"
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if _HEX_TOKEN.fullmatch(_SEPARATORS.split(line, maxsplit=1)[0]):
            return "text"
        return "tsv" if "\t" in line else "csv"
    return "text"


def read_known_records(
    path: Path,
    *,
    text_kind: str | None = None,
    on_error: OnError,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[KnownRecord]:
    """The records of a hash list in any supported format, told by :func:`detect_format`.

    ``text_kind`` names the kind of bare hashes in a plain-text list (ValueError if unknown);
    it does not apply to the other formats. Bad entries go to ``on_error`` and are skipped.
    ``on_bytes`` is told how many bytes of the file each read consumed (for a progress bar).
    """
    if text_kind is not None:
        _check_kind(text_kind)
    fmt = detect_format(path)
    return _read_known_records(path, fmt, text_kind, on_error, on_bytes)


class _ReportingReader(io.RawIOBase):
    """A binary file that reports how many bytes each read consumed."""

    def __init__(self, raw: io.FileIO, report: Callable[[int], None]) -> None:
        self._raw, self._report = raw, report

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)
        if count:
            self._report(count)
        return count or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


def _open_binary(path: Path, on_bytes: Callable[[int], None] | None) -> IO[bytes]:
    raw = io.FileIO(path, "rb")
    if on_bytes is None:
        return io.BufferedReader(raw)
    return io.BufferedReader(_ReportingReader(raw, on_bytes))


def _read_known_records(
    path: Path,
    fmt: Format,
    text_kind: str | None,
    on_error: OnError,
    on_bytes: Callable[[int], None] | None,
) -> Iterator[KnownRecord]:
    if fmt == "vics":
        with _open_binary(path, on_bytes) as binary:
            yield from read_vics(binary, on_error)
        return
    encoding = _encoding(_read_head(path))
    errors = "replace" if encoding == "cp1252" else "strict"
    binary = _open_binary(path, on_bytes)
    with io.TextIOWrapper(binary, encoding=encoding, errors=errors, newline="") as stream:
        try:
            if fmt == "text":
                yield from read_hex_lines(stream, text_kind, on_error)
            else:
                yield from read_delimited(stream, on_error)
        except UnicodeDecodeError as exc:
            on_error(RecordError(f"not {encoding} text: {exc.reason}", fatal=True))


def _check_kind(name: str) -> str:
    try:
        return registry.get(name).name
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None


def read_hex_lines(
    stream: IO[str], text_kind: str | None = None, on_error: OnError = raise_error
) -> Iterator[KnownRecord]:
    """One record per hex hash line (see the module docstring); origin is "line N".

    ``text_kind`` is checked at once (ValueError), not when iteration starts.
    """
    kind = _check_kind(text_kind) if text_kind is not None else None
    return _hex_lines(stream, kind, on_error)


def _hex_lines(stream: IO[str], kind: str | None, on_error: OnError) -> Iterator[KnownRecord]:
    for number, raw in enumerate(stream, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        token = _SEPARATORS.split(line, maxsplit=1)[0]
        if token.startswith("\\"):  # md5sum marks lines whose file name it escaped
            token = token[1:]
        origin = f"line {number}"
        line_kind = kind or _KIND_BY_LENGTH.get(len(token))
        if line_kind is None:
            on_error(RecordError(f"not a 32, 40 or 64 digit hex hash: {token[:80]!r}", origin))
            continue
        hashes: dict[str, bytes] = {}
        try:
            add_hash(hashes, line_kind, token)
        except RecordError as exc:
            on_error(RecordError(exc.reason, origin))
            continue
        yield KnownRecord(hashes=hashes, origin=origin)


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")


def _delimiter(header: str) -> str:
    """The delimiter the header uses most; a one-column header gets ","."""
    counts = {delimiter: header.count(delimiter) for delimiter in ("\t", ";", ",")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _columns(names: list[str]) -> list[tuple[str, str]]:
    """(field, header text) per column; field is a kind name, a record field or "extra"."""
    columns: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for raw in names:
        name = raw.strip()
        field = hash_kind(name) or _COLUMNS.get(_normalise(name)) or "extra"
        if field != "extra":
            if field in seen:
                raise RecordError(f"columns {seen[field]!r} and {name!r} both give {field}")
            seen[field] = name
        columns.append((field, name))
    if not any(field == _AUTO or hash_kind(field) for field, _ in columns):
        raise RecordError(f"the header names no hash column: {', '.join(map(repr, names))}")
    return columns


def read_delimited(stream: IO[str], on_error: OnError = raise_error) -> Iterator[KnownRecord]:
    """One record per data row of a CSV/TSV hash list (see the module docstring).

    A header without any hash column is a fatal error. A row with more non-empty cells than
    the header has columns is an error (its values would be misplaced); fewer cells are fine.
    Origins are "line N", counted in the file.
    """
    header_line = 0
    header = ""
    for raw in stream:
        header_line += 1
        header = raw.strip()
        if header and not header.startswith("#"):
            break
    if not header or header.startswith("#"):
        return
    delimiter = _delimiter(header)
    try:
        columns = _columns(next(csv.reader([header], delimiter=delimiter)))
    except RecordError as exc:
        on_error(RecordError(exc.reason, f"line {header_line}", fatal=True))
        return
    rows = csv.reader(stream, delimiter=delimiter)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            on_error(RecordError(f"unreadable row: {exc}", f"line {header_line + rows.line_num}"))
            continue
        origin = f"line {header_line + rows.line_num}"
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        try:
            yield _row_record(row, columns, origin)
        except RecordError as exc:
            on_error(RecordError(exc.reason, origin))


def _row_record(row: list[str], columns: list[tuple[str, str]], origin: str) -> KnownRecord:
    if len(row) > len(columns) and any(cell.strip() for cell in row[len(columns) :]):
        raise RecordError(f"{len(row)} fields, but the header has {len(columns)}")
    record = KnownRecord(hashes={}, origin=origin)
    values: dict[str, Any] = {}
    for (field, name), raw in zip(columns, row, strict=False):
        cell = raw.strip() or None
        if field == "extra":
            record.extra[name] = cell
        elif cell is None:
            continue
        elif field == _AUTO:
            kind = _KIND_BY_LENGTH.get(len(cell))
            if kind is None:
                raise RecordError(f"{name}: not a 32, 40 or 64 digit hex hash: {cell[:80]!r}")
            add_hash(record.hashes, kind, cell)
        elif field in _BOOLEANS:
            values[field] = parse_bool(cell, name)
        elif field == "media_size":
            values[field] = parse_size(cell, name)
        elif field == "tags":
            values[field] = split_tags(cell)
        elif field in _KNOWN_TEXT:
            values[field] = cell
        else:
            add_hash(record.hashes, field, cell)
    for column in range(len(row), len(columns)):
        field, name = columns[column]
        if field == "extra":
            record.extra[name] = None
    if not record.hashes:
        raise RecordError("no hash in this row")
    for field, value in values.items():
        setattr(record, field, value)
    return record
