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
start is not UTF-8 is read as Windows-1252, since such lists come from Windows tools. A line
that is not valid text in that encoding is rejected with its number, and reading goes on.

Lines are read in bounded pieces: a line longer than ``max_line`` characters (and a CSV row
spread over quoted line breaks beyond that) is rejected and skipped without ever being held
in memory whole, and a cell longer than ``max_field`` characters rejects its row, so memory
stays flat whatever the file holds.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

from vident.exchange.records import (
    MAX_FIELD,
    MAX_LINE,
    KnownRecord,
    OnError,
    RecordError,
    add_hash,
    hash_kind,
    parse_bool,
    parse_size,
    raise_error,
    shown,
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
_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "cp1252": "Windows-1252"}
# Bytes that do not decode become a lone surrogate, which no valid decoding ever produces: the
# line that holds one is rejected by its number instead of failing the whole file.
_MARK_ERRORS = "vident.hashlists.mark"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SKIP_PIECE = 64 * 1024


def _mark_undecodable(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "\udcff", error.end


codecs.register_error(_MARK_ERRORS, _mark_undecodable)


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
    max_line: int = MAX_LINE,
    max_field: int = MAX_FIELD,
) -> Iterator[KnownRecord]:
    """The records of a hash list in any supported format, told by :func:`detect_format`.

    ``text_kind`` names the kind of bare hashes in a plain-text list (ValueError if unknown);
    it does not apply to the other formats. Bad entries go to ``on_error`` and are skipped.
    ``on_bytes`` is told how many bytes of the file each read consumed (for a progress bar).
    ``max_line`` bounds a line (a VICS Media object), ``max_field`` a cell (a JSON string).
    """
    if text_kind is not None:
        _check_kind(text_kind)
    _check_limits(max_line, max_field)
    fmt = detect_format(path)
    return _read_known_records(path, fmt, text_kind, on_error, on_bytes, max_line, max_field)


def _check_limits(max_line: int, max_field: int) -> None:
    if max_line < 1 or max_field < 1:
        raise ValueError("hash-list line and field limits must be positive")


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
    max_line: int,
    max_field: int,
) -> Iterator[KnownRecord]:
    if fmt == "vics":
        with _open_binary(path, on_bytes) as binary:
            yield from read_vics(binary, on_error, max_record=max_line, max_field=max_field)
        return
    encoding = _encoding(_read_head(path))
    binary = _open_binary(path, on_bytes)
    with io.TextIOWrapper(binary, encoding=encoding, errors=_MARK_ERRORS, newline="") as stream:
        lines = _Lines(stream, max_line, _ENCODING_NAMES[encoding])
        if fmt == "text":
            yield from _hex_lines(lines, text_kind, on_error)
        else:
            yield from _delimited(lines, on_error, max_field)


class _RowTooLong(Exception):
    """A CSV row spread over quoted line breaks grew past the line limit."""


class _Lines:
    """The physical lines of a text stream, read in pieces of bounded size.

    A line of at most ``max_line`` characters (its end of line not counted) comes whole. A
    longer one is read past piece by piece and never held: it comes as an empty line, and
    ``problems`` says why under its number, as it does for a line that did not decode.
    ``number`` is the number of the line last returned. While ``row_chars`` is not None it
    counts the characters returned, and going past ``max_line`` raises :class:`_RowTooLong`
    (the reader resets it at each CSV row, whose quoted cells may span lines).
    """

    def __init__(self, stream: IO[str], max_line: int, encoding: str = "UTF-8") -> None:
        self._readline = stream.readline
        self.max_line = max_line
        self._encoding = encoding
        self._drop_lf = False
        self.number = 0
        self.problems: dict[int, str] = {}
        self.row_chars: int | None = None
        self.row_quotes = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        limit = self.max_line + 2  # room for "\r\n"
        line = self._readline(limit)
        if self._drop_lf:
            # The previous line was cut just after a "\r": its "\n" is no line of its own.
            self._drop_lf = False
            if line == "\n":
                line = self._readline(limit)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) >= limit - 1 and len(line.rstrip("\r\n")) > self.max_line:
            if line.endswith("\r"):
                self._drop_lf = True
            elif not line.endswith("\n"):
                self._skip_rest()
            self.problems[self.number] = f"the line is longer than {self.max_line} characters"
            line = "\n"
        elif not line.isascii() and _SURROGATE.search(line):
            self.problems[self.number] = f"the line is not valid {self._encoding} text"
        if self.row_chars is not None:
            self.row_chars += len(line)
            if '"' in line:
                self.row_quotes += line.count('"')
            if self.row_chars > limit:
                raise _RowTooLong
        return line

    def skip_quoted(self) -> None:
        """Read past the rest of a row that broke off inside a quoted cell.

        The cell ends on the first line with an odd number of quotes (inside a cell they come
        in pairs); the rest of that line belongs to the broken row too.
        """
        self.row_chars = None
        if self.row_quotes % 2 == 0:
            return  # the row did not break off inside quotes
        for line in self:
            if line.count('"') % 2:
                return

    def _skip_rest(self) -> None:
        """Read past the rest of an over-long line, one bounded piece at a time."""
        while True:
            piece = self._readline(_SKIP_PIECE)
            if not piece or piece.endswith("\n"):
                return
            if piece.endswith("\r"):
                self._drop_lf = True
                return

    def take_problem(self, first: int, last: int) -> tuple[int, str] | None:
        """The first problem of lines ``first`` to ``last``, forgetting all of them."""
        found: tuple[int, str] | None = None
        for number in sorted(n for n in self.problems if first <= n <= last):
            reason = self.problems.pop(number)
            if found is None:
                found = (number, reason)
        return found


def _check_kind(name: str) -> str:
    try:
        return registry.get(name).name
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None


def read_hex_lines(
    stream: IO[str],
    text_kind: str | None = None,
    on_error: OnError = raise_error,
    *,
    max_line: int = MAX_LINE,
) -> Iterator[KnownRecord]:
    """One record per hex hash line (see the module docstring); origin is "line N".

    ``text_kind`` is checked at once (ValueError), not when iteration starts.
    """
    kind = _check_kind(text_kind) if text_kind is not None else None
    _check_limits(max_line, 1)
    return _hex_lines(_Lines(stream, max_line), kind, on_error)


def _hex_lines(lines: _Lines, kind: str | None, on_error: OnError) -> Iterator[KnownRecord]:
    for raw in lines:
        number = lines.number
        if lines.problems:
            problem = lines.problems.pop(number, None)
            if problem is not None:
                on_error(RecordError(problem, f"line {number}"))
                continue
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        token = _SEPARATORS.split(line, maxsplit=1)[0]
        if token.startswith("\\"):  # md5sum marks lines whose file name it escaped
            token = token[1:]
        origin = f"line {number}"
        if not token:
            on_error(RecordError("no hash on the line", origin))
            continue
        line_kind = kind or _KIND_BY_LENGTH.get(len(token))
        if line_kind is None:
            on_error(RecordError(f"not a 32, 40 or 64 digit hex hash: {shown(token)}", origin))
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


def read_delimited(
    stream: IO[str],
    on_error: OnError = raise_error,
    *,
    max_line: int = MAX_LINE,
    max_field: int = MAX_FIELD,
) -> Iterator[KnownRecord]:
    """One record per data row of a CSV/TSV hash list (see the module docstring).

    A header without any hash column, or one that is too long or not valid text, is a fatal
    error. A row with more non-empty cells than the header has columns is an error (its values
    would be misplaced); fewer cells are fine. Origins are "line N", counted in the file: the
    last line of the row, or the line that made the row unusable.
    """
    _check_limits(max_line, max_field)
    return _delimited(_Lines(stream, max_line), on_error, max_field)


def _delimited(lines: _Lines, on_error: OnError, max_field: int) -> Iterator[KnownRecord]:
    header = ""
    for raw in lines:
        header = raw.strip()
        problem = lines.problems.pop(lines.number, None) if lines.problems else None
        if problem is not None:
            if header:  # the header itself is unusable: no row can be read without it
                on_error(RecordError(problem, f"line {lines.number}", fatal=True))
                return
            on_error(RecordError(problem, f"line {lines.number}"))
            continue
        if header and not header.startswith("#"):
            break
    if not header or header.startswith("#"):
        return
    delimiter = _delimiter(header)
    try:
        columns = _columns(next(csv.reader([header], delimiter=delimiter)))
    except RecordError as exc:
        on_error(RecordError(exc.reason, f"line {lines.number}", fatal=True))
        return
    rows = csv.reader(lines, delimiter=delimiter)
    done = lines.number  # the last line of the previous row
    while True:
        lines.row_chars, lines.row_quotes = 0, 0
        try:
            row = next(rows)
        except StopIteration:
            return
        except (csv.Error, _RowTooLong) as exc:
            started = done + 1  # the row's first line: where to look for the damage
            lines.skip_quoted()
            if isinstance(exc, _RowTooLong):
                reason = f"the row is longer than {lines.max_line} characters"
            elif str(exc).startswith("field larger than field limit"):
                reason = f"a field is longer than {max_field} characters"
            else:
                reason = f"unreadable row: {exc}"
            lines.take_problem(done + 1, lines.number)
            done = lines.number
            on_error(RecordError(reason, f"line {started}"))
            continue
        finally:
            lines.row_chars = None
        first, done = done + 1, lines.number
        if lines.problems:
            damage = lines.take_problem(first, done)
            if damage is not None:
                on_error(RecordError(damage[1], f"line {damage[0]}"))
                continue
        origin = f"line {done}"
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        try:
            if any(len(cell) > max_field for cell in row):
                raise RecordError(f"a field is longer than {max_field} characters")
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
                raise RecordError(f"{name}: not a 32, 40 or 64 digit hex hash: {shown(cell)}")
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
