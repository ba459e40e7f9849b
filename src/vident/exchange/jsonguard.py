"""A byte filter in front of the JSON parser that keeps every token small and every string sound.

yajl (ijson's C backend) holds a whole token before it hands it over: a 100 MB string costs
its size several times over, and an integer of 100,000 digits even crashes the parser (Python
refuses to turn that much text into an int). A string whose bytes are not UTF-8 stops the
whole parse, and an escaped lone surrogate (``"\\ud800"``) either stops it or reaches the
store as text no database can encode.

:class:`JsonGuard` reads its stream in pieces of bounded size and passes the bytes on as they
are, except that each such token is replaced by a *marker*: a JSON string of
``max_string + 1`` characters, longer than any string that passes unchanged (a string of at
most ``max_string`` bytes decodes to at most that many characters), whose first character
says what was wrong. The reader recognises a marker by its length alone (:func:`marker_reason`)
and rejects the record that holds it; the document's syntax, and every other record, stay as
they were. Memory stays within a few times ``max_string`` whatever the input.

Most pieces hold only ASCII, no escaped quote and no token longer than
:data:`MAX_NUMBER_CHARS`: they are checked with a few whole-piece operations that run in C and
passed on at once. Only the others are walked token by token.
"""

from __future__ import annotations

import io
import json
import re
from typing import IO, Any

import numpy as np

#: The longest JSON number passed to the parser; no field of a hash list needs more digits,
#: and Python cannot read an integer of much more than 4,000 digits at all.
MAX_NUMBER_CHARS = 1000
PIECE = 64 * 1024

_QUOTE = 0x22
# The body of a string up to its closing quote or the end of the bytes; possessive, so
# that a long string costs neither backtracking state nor time.
_STRING_BODY = re.compile(rb'(?:[^"\\]++|\\.)*+', re.DOTALL)
_NUMBER_RUN = re.compile(rb"[-+.0-9eE]+")
_NUMBER_BYTES = b"-+.0123456789eE"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

_TOO_LONG = b"s"
_BAD_UTF8 = b"u"
_SURROGATE = b"x"
_BIG_NUMBER = b"n"


def marker_reason(text: str, max_string: int) -> str | None:
    """Why a string the parser produced is a marker, or None when it is ordinary text."""
    if len(text) <= max_string:
        return None
    first = text[:1]
    if first == "n":
        return f"a number longer than {MAX_NUMBER_CHARS} characters"
    if first == "u":
        return "text that is not valid UTF-8"
    if first == "x":
        return "text with an escaped lone surrogate (\\ud800 to \\udfff), which is not Unicode"
    return f"a text value longer than {max_string} bytes"


class JsonGuard(io.RawIOBase):
    """``stream`` with its over-long, undecodable and lone-surrogate tokens replaced.

    See the module docstring. ``max_string`` is in bytes of the raw (escaped) string.
    """

    def __init__(
        self, stream: IO[bytes] | io.RawIOBase, max_string: int, *, piece: int = PIECE
    ) -> None:
        if max_string < 1:
            raise ValueError("max_string must be positive")
        self._stream = stream
        self._max = max_string
        self._short = min(max_string, MAX_NUMBER_CHARS)
        self._piece = piece
        # Bytes read but not passed on yet: always starts outside any string, at the start
        # of a number or of a string whose end has not been read.
        self._pending = b""
        self._out = b""
        self._out_at = 0
        self._skip: str | None = None  # "string" or "number": inside a replaced token
        self._escaped = False  # skipping a string, and its last byte was an escaping "\"
        self._eof = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        while self._out_at >= len(self._out) and not self._eof:
            self._fill()
        if size is None or size < 0:
            size = len(self._out) - self._out_at
        data = self._out[self._out_at : self._out_at + size]
        self._out_at += len(data)
        return data

    def readinto(self, buffer: Any) -> int:  # pragma: no cover - ijson calls read()
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _emit(self, data: bytes) -> None:
        self._out, self._out_at = data, 0

    def _marker(self, kind: bytes) -> bytes:
        return b'"' + kind * (self._max + 1) + b'"'

    def _fill(self) -> None:
        chunk = self._stream.read(self._piece)
        if not chunk:
            self._eof = True
            self._emit(self._pending)  # whatever is unfinished, the parser reports
            self._pending = b""
            return
        if self._skip is not None:
            chunk = self._skip_token(chunk)
            if self._skip is not None:
                self._emit(b"")
                return
        buf = self._pending + chunk if self._pending else chunk
        if not self._quick(buf):
            self._walk(buf)

    def _skip_token(self, chunk: bytes) -> bytes:
        """Drop the part of a replaced token in ``chunk``; return what follows it."""
        if self._skip == "number":
            found = _NUMBER_RUN.match(chunk)
            end = found.end() if found else 0
            if end < len(chunk):
                self._skip = None
            return chunk[end:]
        start = 1 if self._escaped else 0
        self._escaped = False
        if start >= len(chunk):
            return b""
        end = _STRING_BODY.match(chunk, start).end()  # type: ignore[union-attr]
        if end < len(chunk) and chunk[end] == _QUOTE:
            self._skip = None
            return chunk[end + 1 :]
        self._escaped = end == len(chunk) - 1  # a lone "\" at the end escapes what follows
        return b""

    def _quick(self, buf: bytes) -> bool:
        """Pass ``buf`` on with whole-piece checks when it obviously needs no change."""
        if not buf.isascii() or b'\\"' in buf or _SURROGATE_ESCAPE.search(buf):
            return False
        quotes = np.flatnonzero(np.frombuffer(buf, np.uint8) == _QUOTE)
        if len(quotes) == 0:
            return False  # one run without a quote: let the walk see what it is
        first, last = int(quotes[0]), int(quotes[-1])
        gaps = int(np.diff(quotes).max()) - 1 if len(quotes) > 1 else 0
        if max(first, gaps, len(buf) - last - 1) > self._short:
            return False
        # Every quote is a real one and buf starts outside a string, so they alternate: an
        # odd count leaves a string open at its last quote.
        cut = last if len(quotes) % 2 else last + 1
        self._emit(buf[:cut])
        self._pending = buf[cut:]
        return True

    def _walk(self, buf: bytes) -> None:
        """Pass ``buf`` on token by token, replacing what must not reach the parser."""
        out: list[bytes] = []
        done = 0  # buf[:done] is in ``out`` already
        pos = 0
        size = len(buf)
        while True:
            quote = buf.find(b'"', pos)
            end = size if quote < 0 else quote
            if end - pos > self._short:  # only a long gap between strings can hide one
                for run in _NUMBER_RUN.finditer(buf, pos, end):
                    if run.end() - run.start() <= MAX_NUMBER_CHARS:
                        continue
                    out.append(buf[done : run.start()])
                    out.append(self._marker(_BIG_NUMBER))
                    done = run.end()
                    if done == size:  # it may go on in the next piece
                        self._skip = "number"
                        self._finish(out, b"")
                        return
            if quote < 0:
                # A number at the end may go on in the next piece: keep it for then.
                hold = max(len(buf.rstrip(_NUMBER_BYTES)), pos, done)
                out.append(buf[done:hold])
                self._finish(out, buf[hold:])
                return
            body_end = _STRING_BODY.match(buf, quote + 1).end()  # type: ignore[union-attr]
            if body_end >= size or buf[body_end] != _QUOTE:  # the string goes on
                out.append(buf[done:quote])
                if size - quote - 1 > self._max:
                    out.append(self._marker(_TOO_LONG))
                    self._skip = "string"
                    self._escaped = body_end == size - 1
                    self._finish(out, b"")
                else:
                    self._finish(out, buf[quote:])
                return
            kind = self._check_string(buf, quote, body_end)
            if kind is not None:
                out.append(buf[done:quote])
                out.append(self._marker(kind))
                done = body_end + 1
            pos = body_end + 1

    def _check_string(self, buf: bytes, quote: int, end: int) -> bytes | None:
        """Which marker replaces the string ``buf[quote:end + 1]``, or None to keep it."""
        if end - quote - 1 > self._max:
            return _TOO_LONG
        raw = buf[quote + 1 : end]
        if not raw.isascii():
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return _BAD_UTF8
        if _SURROGATE_ESCAPE.search(raw):
            try:
                text = json.loads(buf[quote : end + 1])
            except ValueError:
                return None  # a bad escape: the parser reports the syntax error
            if _LONE_SURROGATE.search(text):
                return _SURROGATE
        return None

    def _finish(self, out: list[bytes], pending: bytes) -> None:
        self._emit(b"".join(out))
        self._pending = pending
