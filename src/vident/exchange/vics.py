"""VICS (Project VIC OData JSON): a streaming reader and a streaming writer.

VICS files from national hash sets reach gigabytes, so neither direction ever holds the
``value`` array or a Case's ``Media`` array: the reader walks yajl parse events (ijson's C
backend) and builds one Media object at a time; the writer emits each Media as it is given.
Media may sit directly in ``value`` (hash-set files) or inside Cases (case exports); one pass
handles both, even mixed, by looking at each ``value`` item's keys as they stream past.

Reading is forgiving in the ways real files need (byte-order mark, booleans and numbers as
strings, hashes in any case, field names in any case) and strict where silence would be wrong:
a Media with an unreadable hash or flag is reported through ``on_error`` and skipped, never
half-imported. ``MediaID`` is file-local numbering and is not kept; the writer numbers anew.

Hostile files cost bounded memory and reject only the record they damage: the bytes pass
through :class:`~vident.exchange.jsonguard.JsonGuard`, so a string longer than ``max_field``
bytes, a number longer than 1,000 characters, a string that is not UTF-8 or holds an escaped
lone surrogate reject their Media; so do a Media larger than ``max_record`` characters and one
nested deeper than :data:`MAX_DEPTH` levels, which are read past without being built.
"""

from __future__ import annotations

import io
import json
import math
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import ijson

from vident.exchange.jsonguard import JsonGuard, marker_reason
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
    parse_text,
    raise_error,
    split_tags,
)
from vident.signals import registry

try:
    _ijson: Any = ijson.get_backend("yajl2_c")
except ImportError:  # pragma: no cover - the C backend ships in ijson's wheels
    _ijson = ijson

CONTEXT_TEMPLATE = (
    "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{scheme}/$metadata#Cases"
)
_CONTEXT_KEYS = {"@odata.context": "2.0", "odata.metadata": "1.x"}
_SCHEME_RE = re.compile(r"\.xml/([^/#$]+)/\$metadata")
_BOM = b"\xef\xbb\xbf"
#: The deepest nesting a Media may have (real ones have a handful of levels); deeper ones
#: are rejected: they would only serve to exhaust a recursive encoder later.
MAX_DEPTH = 64
# What one event costs in the size of a Media, beside its text.
_EVENT_COST = 16
_CASE_KEYS = frozenset(
    {
        "caseid",
        "casenumber",
        "contactorganization",
        "contactname",
        "contactphone",
        "contactemail",
        "contacttitle",
        "totalmediafiles",
        "totalprecategorized",
        "seizuredate",
        "sourceapplicationname",
        "sourceapplicationversion",
        "casemetadata",
        "media",
    }
)
_MEDIA_KEYS = frozenset({"md5", "sha1", "alternativehashes", "mediaid"})
# Media fields vident reads, by lower-case name; everything else goes to ``extra``.
_FIELDS = {
    "md5": "md5",
    "sha1": "sha1",
    "category": "category",
    "series": "series",
    "victimidentified": "victim_identified",
    "offenderidentified": "offender_identified",
    "isdistributed": "is_distributed",
    "tags": "tags",
    "comments": "comment",
    "comment": "comment",
    "mediasize": "media_size",
    "mimetype": "mime_type",
    "alternativehashes": "alternative_hashes",
    "mediafiles": "files",
    "mediaid": "media_id",
}
_FIELDS.update(
    {
        canonical: _FIELDS[canonical.lower()]
        for canonical in (
            "MD5",
            "SHA1",
            "Category",
            "Series",
            "VictimIdentified",
            "OffenderIdentified",
            "IsDistributed",
            "Tags",
            "Comments",
            "MediaSize",
            "MimeType",
            "AlternativeHashes",
            "MediaFiles",
            "MediaID",
        )
    }
)


@dataclass(slots=True)
class VicsHeader:
    """What a VICS file says about itself: model version, category scheme, its Cases.

    ``cases`` holds each Case's own fields (without ``Media``), where they were read.
    """

    version: Literal["1.x", "2.0"] | None
    scheme: str | None
    context: str | None
    cases: list[dict[str, Any]] = field(default_factory=list)


def scheme_of(context: str) -> str | None:
    """The category scheme named in a context URL (``.../2.0.xml/US/$metadata#Cases`` -> US)."""
    found = _SCHEME_RE.search(context)
    return found.group(1) if found else None


class _Truncated(Exception):
    """The event stream ended inside a value."""


def _next(events: Iterator[tuple[str, Any]]) -> tuple[str, Any]:
    try:
        return next(events)
    except StopIteration:
        raise _Truncated from None


class _Rejected(Exception):
    """A value was read past without being built: too large, too deep or not valid text.

    ``too_large`` when it went past the size budget (the caller words that for the record).
    """

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


def _build(
    events: Iterator[tuple[str, Any]],
    event: str,
    value: Any,
    max_field: int = MAX_FIELD,
    budget: int = MAX_LINE,
) -> tuple[Any, int]:
    """The JSON value that starts with ``event``, built from the following events, and its size.

    The size counts the text of strings and keys plus a little per event; once it passes
    ``budget``, a string or key is longer than ``max_field`` (a marker of the guard) or the
    nesting is deeper than :data:`MAX_DEPTH`, the rest of the value is consumed unbuilt and
    :class:`_Rejected` says why. Written as one flat loop (no ijson.ObjectBuilder, no
    recursion): it runs once per event of every Media, which is most of the time spent reading.
    """
    if event == "start_map":
        root: Any = {}
    elif event == "start_array":
        root = []
    elif event == "number" and type(value) is not int:
        return _number(value), _EVENT_COST
    elif event == "string":
        if len(value) > max_field:
            raise _Rejected(_text_reason(value, max_field))
        return value, _EVENT_COST + len(value)
    else:
        return value, _EVENT_COST
    stack: list[Any] = [root]
    top = root
    in_map = event == "start_map"
    key: str = ""
    size = _EVENT_COST
    # The size is checked at each key, array item and container: every value is one of them.
    reason = ""
    for event, value in events:
        if event == "map_key":
            key = value
            size += len(value) + _EVENT_COST
            if size > budget or len(value) > max_field:
                reason = _text_reason(value, max_field) if len(value) > max_field else ""
                break
        elif event == "string":
            length = len(value)
            if length > max_field:
                reason = _text_reason(value, max_field)
                reason = f"{key}: {reason}" if in_map else reason
                break
            size += length
            if in_map:
                top[key] = value
            else:
                top.append(value)
                size += _EVENT_COST
                if size > budget:
                    break
        elif event == "number" or event == "boolean" or event == "null":
            if event == "number" and type(value) is not int:
                value = _number(value)
            if in_map:
                top[key] = value
            else:
                top.append(value)
                size += _EVENT_COST
                if size > budget:
                    break
        elif event == "end_map" or event == "end_array":
            stack.pop()
            if not stack:
                return root, size
            top = stack[-1]
            in_map = type(top) is dict
        else:
            new: Any = {} if event == "start_map" else []
            if in_map:
                top[key] = new
            else:
                top.append(new)
            stack.append(new)
            top = new
            in_map = event == "start_map"
            size += _EVENT_COST
            if len(stack) > MAX_DEPTH:
                reason = f"nested deeper than {MAX_DEPTH} levels"
                break
            if size > budget:
                break
    else:
        raise _Truncated
    _consume(events, len(stack))
    if reason:
        raise _Rejected(reason)
    raise _Rejected(f"larger than {budget} characters", too_large=True)


def _too_large(max_record: int) -> str:
    return f"the Media is larger than {max_record} characters"


def _text_reason(text: str, max_field: int) -> str:
    return marker_reason(text, max_field) or f"a text value longer than {max_field} characters"


def _consume(events: Iterator[tuple[str, Any]], depth: int) -> None:
    """Read past the rest of a value ``depth`` containers deep, without building it."""
    for event, _ in events:
        if event == "start_map" or event == "start_array":
            depth += 1
        elif event == "end_map" or event == "end_array":
            depth -= 1
            if depth == 0:
                return
    raise _Truncated


def _number(value: Decimal) -> float | str:
    """A non-integer JSON number as a float, as json.loads gives it.

    One beyond float range becomes its text, so every record stays plain-JSON serialisable
    (the store keeps ``extra`` as JSON). Integers stay exact ints of any size: yajl's own number
    parsing would be faster but fails the whole file on one integer beyond 64 bits.
    """
    number = float(value)
    return number if math.isfinite(number) else str(value)


def _skip(events: Iterator[tuple[str, Any]], event: str) -> None:
    """Consume the value that starts with ``event`` without building it."""
    if event == "start_map" or event == "start_array":
        _consume(events, 1)


def _is_case(item: Mapping[str, Any]) -> bool:
    """Whether a ``value`` item without a Media array is a Case (else it is a Media)."""
    keys = {key.lower() for key in item}
    return not keys & _MEDIA_KEYS and bool(keys & _CASE_KEYS)


def _category(value: Any) -> str | None:
    if isinstance(value, bool):
        raise RecordError(f"Category is not a category: {value!r}")
    return parse_text(value, "Category")


def media_record(media: Any, scheme: str | None, origin: str) -> KnownRecord:
    """One VICS Media object as a record; RecordError (with ``origin``) if it is unusable."""
    if not isinstance(media, dict):
        raise RecordError(f"Media is not an object: {type(media).__name__}", origin)
    try:
        return _media_record(media, scheme, origin)
    except RecordError as exc:
        raise RecordError(exc.reason, origin) from None


def _media_record(media: dict[str, Any], scheme: str | None, origin: str) -> KnownRecord:
    # Runs once per Media: branches are ordered by how often real files carry each field.
    record = KnownRecord(hashes={}, origin=origin)
    hashes = record.hashes
    extra = record.extra
    for key, value in media.items():
        name = _FIELDS.get(key) or _FIELDS.get(key.lower())
        if name is None:
            extra[key] = value
        elif name == "md5" or name == "sha1":
            add_hash(hashes, name, value)
        elif name == "category":
            record.category = _category(value)
        elif name == "media_size":
            record.media_size = parse_size(value, key)
        elif name == "alternative_hashes":
            unknown = _alternative_hashes(hashes, value)
            if unknown:
                extra[key] = unknown
        elif name == "files":
            if type(value) is list and all(type(item) is dict for item in value):
                record.files = value
            elif value is not None:
                extra[key] = value
        elif name == "victim_identified":
            record.victim_identified = parse_bool(value, key)
        elif name == "offender_identified":
            record.offender_identified = parse_bool(value, key)
        elif name == "is_distributed":
            record.is_distributed = parse_bool(value, key)
        elif name == "series":
            record.series = parse_text(value, key)
        elif name == "comment":
            record.comment = parse_text(value, key)
        elif name == "mime_type":
            record.mime_type = parse_text(value, key)
        elif name == "tags":
            if isinstance(value, str):
                record.tags = split_tags(value)
            elif type(value) is list and all(type(tag) is str for tag in value):
                record.tags = value
            elif value is not None:
                extra[key] = value
        # media_id: file-local numbering, dropped on purpose
    if not hashes:
        raise RecordError("Media has no usable hash (MD5, SHA1 or a known AlternativeHash)")
    if record.category is not None:
        record.category_scheme = scheme
    return record


def _alternative_hashes(hashes: dict[str, bytes], value: Any) -> list[Any]:
    """Read AlternativeHashes into ``hashes``; return the entries vident has no kind for."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"AlternativeHashes is not a list: {value!r}")
    unknown: list[Any] = []
    for entry in value:
        if not isinstance(entry, dict):
            unknown.append(entry)
            continue
        name = entry.get("HashName")
        value_text = entry.get("HashValue")
        if name is None and value_text is None:
            for key, item in entry.items():
                low = key.lower()
                if low == "hashname":
                    name = item
                elif low == "hashvalue":
                    value_text = item
        kind = hash_kind(name) if isinstance(name, str) else None
        if kind is None:
            unknown.append(entry)
        else:
            add_hash(hashes, kind, value_text)
    return unknown


class _Unbommed(io.RawIOBase):
    """A binary stream with a leading UTF-8 byte-order mark removed (yajl rejects it)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        head = b""
        while len(head) < len(_BOM):
            chunk = stream.read(len(_BOM) - len(head))
            if not chunk:
                break
            head += chunk
        self._pending = head[len(_BOM) :] if head.startswith(_BOM) else head

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._pending and size != 0:
            data, self._pending = self._pending, b""
            if size is None or size < 0:
                return data + self._stream.read()
            if len(data) < size:
                data += self._stream.read(size - len(data))
            return data
        return self._stream.read(size)

    def readinto(self, buffer: Any) -> int:  # pragma: no cover - ijson calls read()
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class VicsReader:
    """Iterate the Media of a VICS stream as records, in one pass and constant memory.

    While and after iterating, ``context``, ``version``, ``scheme`` and ``cases`` tell what
    the file said about itself (``cases`` grows as Cases are passed). Problems go to
    ``on_error``: a bad Media is skipped; malformed or truncated JSON ends reading with a
    fatal error after every record before the damage has been delivered. A context that
    appears only after ``value`` leaves ``category_scheme`` unset on the records before it.
    """

    def __init__(
        self,
        stream: IO[bytes],
        on_error: OnError = raise_error,
        *,
        build_media: bool = True,
        max_record: int = MAX_LINE,
        max_field: int = MAX_FIELD,
    ) -> None:
        if max_record < 1 or max_field < 1:
            raise ValueError("VICS record and field limits must be positive")
        self._stream = stream
        self._on_error = on_error
        self._build_media = build_media
        self._max_record = max_record
        self._max_field = max_field
        self.context: str | None = None
        self.version: Literal["1.x", "2.0"] | None = None
        self.scheme: str | None = None
        self.cases: list[dict[str, Any]] = []
        self._where = "the start"

    @property
    def header(self) -> VicsHeader:
        return VicsHeader(self.version, self.scheme, self.context, self.cases)

    def __iter__(self) -> Iterator[KnownRecord]:
        guarded = JsonGuard(_Unbommed(self._stream), self._max_field)
        events = iter(_ijson.basic_parse(guarded, use_float=False))
        try:
            yield from self._document(events)
        except (ijson.JSONError, _Truncated) as exc:
            self._on_error(
                RecordError(
                    f"malformed JSON in or after this: {_parse_reason(exc)}",
                    self._where,
                    fatal=True,
                )
            )

    def _fatal(self, reason: str) -> None:
        self._on_error(RecordError(reason, fatal=True))

    def _document(self, events: Iterator[tuple[str, Any]]) -> Iterator[KnownRecord]:
        event, _ = _next(events)
        if event != "start_map":
            self._fatal("not a VICS file: the top level is not a JSON object")
            return
        seen_value = False
        for event, key in events:
            if event == "end_map":
                break
            event, value = _next(events)
            version = _CONTEXT_KEYS.get(key)
            if version is not None and event == "string" and len(value) <= self._max_field:
                self.context = value
                self.version = "2.0" if version == "2.0" else "1.x"
                self.scheme = scheme_of(value)
            elif key == "value" and event == "start_array":
                seen_value = True
                yield from self._value(events)
            else:
                _skip(events, event)
        for event, _ in events:  # yajl reports trailing garbage while this drains
            raise _Truncated(f"unexpected {event} after the end of the document")
        if not seen_value:
            self._fatal("not a VICS file: no 'value' array")

    def _value(self, events: Iterator[tuple[str, Any]]) -> Iterator[KnownRecord]:
        index = 0
        for event, value in events:
            if event == "end_array":
                return
            origin = f"value[{index}]"
            self._where = origin
            if event != "start_map":
                _skip(events, event)
                self._on_error(RecordError(f"not an object: {event}", origin))
                index += 1
                continue
            item: dict[str, Any] = {}
            has_media = False
            budget = self._max_record
            problem: str | None = None
            for event, key in events:
                if event == "end_map":
                    break
                event, value = _next(events)
                if len(key) > self._max_field:
                    problem = problem or _text_reason(key, self._max_field)
                    _skip(events, event)
                elif event == "start_array" and key.lower() == "media":
                    has_media = True
                    yield from self._media(events, origin)
                    self._where = origin
                elif problem is not None:
                    _skip(events, event)
                else:
                    try:
                        item[key], size = _build(events, event, value, self._max_field, budget)
                    except _Rejected as exc:
                        problem = _too_large(self._max_record) if exc.too_large else None
                        problem = problem or f"{key}: {exc.reason}"
                    else:
                        budget -= size + len(key)
                        if budget < 0:
                            problem = _too_large(self._max_record)
            if problem is not None:
                # A Case keeps its Media (already read); a Media item is rejected whole.
                self._on_error(RecordError(problem, origin))
            if has_media or _is_case(item):
                self.cases.append(item)
            elif self._build_media and problem is None:
                record = self._record(item, origin)
                if record is not None:
                    yield record
            index += 1

    def _media(self, events: Iterator[tuple[str, Any]], case: str) -> Iterator[KnownRecord]:
        build = self._build_media
        for index, (event, value) in enumerate(events):
            if event == "end_array":
                return
            origin = f"{case}.Media[{index}]"
            self._where = origin
            if build:
                try:
                    media, _ = _build(events, event, value, self._max_field, self._max_record)
                except _Rejected as exc:
                    reason = _too_large(self._max_record) if exc.too_large else exc.reason
                    self._on_error(RecordError(reason, origin))
                    continue
                record = self._record(media, origin)
                if record is not None:
                    yield record
            else:
                _skip(events, event)

    def _record(self, media: Any, origin: str) -> KnownRecord | None:
        try:
            return media_record(media, self.scheme, origin)
        except RecordError as exc:
            self._on_error(exc)
            return None


def _parse_reason(exc: Exception) -> str:
    """The first line of a parser error as text (yajl's come as bytes), cut to one line."""
    reason: Any = exc.args[0] if exc.args else ""
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    lines = str(reason).splitlines()
    text = lines[0].strip() if lines else ""
    return (text or "the file ends early")[:200]


def read_vics(
    stream: IO[bytes],
    on_error: OnError = raise_error,
    *,
    max_record: int = MAX_LINE,
    max_field: int = MAX_FIELD,
) -> Iterator[KnownRecord]:
    """The Media of a VICS stream as records (see :class:`VicsReader`)."""
    return iter(VicsReader(stream, on_error, max_record=max_record, max_field=max_field))


def read_vics_header(path: Path, *, cases: bool = False) -> VicsHeader:
    """What a VICS file says about itself.

    Without ``cases`` this stops as soon as the context has been read (normally the first
    bytes). With ``cases`` it passes the whole file, skipping Media without building them,
    to collect every Case's fields; parse errors leave what was read so far.
    """
    with path.open("rb") as stream:
        if not cases:
            guarded = JsonGuard(_Unbommed(stream), MAX_FIELD)
            events = iter(_ijson.basic_parse(guarded, use_float=False))
            try:
                depth = 0
                for event, value in events:
                    if event in ("start_map", "start_array"):
                        depth += 1
                    elif event in ("end_map", "end_array"):
                        depth -= 1
                    elif depth == 1 and event == "map_key" and value in _CONTEXT_KEYS:
                        event, context = _next(events)
                        if event == "string" and len(context) <= MAX_FIELD:
                            version: Literal["1.x", "2.0"] = (
                                "2.0" if _CONTEXT_KEYS[value] == "2.0" else "1.x"
                            )
                            return VicsHeader(version, scheme_of(context), context)
            except (ijson.JSONError, _Truncated):
                pass
            return VicsHeader(None, None, None)
        reader = VicsReader(stream, lambda error: None, build_media=False)
        for _ in reader:  # pragma: no cover - nothing is yielded without build_media
            pass
        return reader.header


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        if value == value.to_integral_value():
            return int(value)
        number = float(value)
        if math.isfinite(number):
            return number
    raise TypeError(f"cannot write {type(value).__name__} to VICS: {value!r}")


_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default
)


def _dumps(value: Any) -> str:
    """Compact JSON; ValueError for what JSON cannot hold (NaN, sets, objects)."""
    try:
        return _ENCODER.encode(value)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def _category_out(category: str) -> str | int:
    """Categories that are plain integers go out as JSON numbers, as the VICS model types them."""
    try:
        number = int(category)
    except ValueError:
        return category
    return number if str(number) == category else category


class VicsWriter:
    """Write records as a VICS 2.0 file with one Case, streaming.

    The header and the Case's fields go out at once, each Media as :meth:`write` is called,
    and :meth:`close` ends the arrays (adding ``TotalMediaFiles`` unless the Case gave it), so
    memory does not grow with the number of records. The Case gets a fresh ``CaseID`` unless
    it names one. Used as a context manager, an exception leaves the document unclosed on
    purpose: a reader then reports the file as truncated instead of taking it as complete.
    The stream is the caller's and is not closed.
    """

    def __init__(
        self,
        stream: IO[bytes] | IO[str],
        *,
        case: Mapping[str, Any] | None = None,
        scheme: str = "Default",
    ) -> None:
        if not scheme or any(char in scheme for char in "/#$ "):
            raise ValueError(f"not a category scheme name: {scheme!r}")
        case_fields = dict(case or {})
        if any(key.lower() == "media" for key in case_fields):
            raise ValueError("the Case must not contain Media: write them one by one")
        if not any(key.lower() == "caseid" for key in case_fields):
            case_fields = {"CaseID": str(uuid.uuid4()), **case_fields}
        self._total = not any(key.lower() == "totalmediafiles" for key in case_fields)
        # Text streams that are not io classes (click's, rich's) still carry an encoding.
        self._text = isinstance(stream, io.TextIOBase) or (
            not isinstance(stream, io.IOBase) and hasattr(stream, "encoding")
        )
        self._write: Any = stream.write
        self.scheme = scheme
        self.count = 0
        self._closed = False
        head = _dumps({"@odata.context": CONTEXT_TEMPLATE.format(scheme=scheme)})[:-1]
        case_json = _dumps(case_fields)[:-1]
        separator = "," if case_fields else ""
        self._emit(f'{head},"value":[{case_json}{separator}"Media":[\n')

    def _emit(self, text: str) -> None:
        self._write(text if self._text else text.encode("utf-8"))

    def __enter__(self) -> VicsWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()

    def write(self, record: KnownRecord) -> None:
        """Append one record as a Media; ValueError if it cannot be written faithfully."""
        if self._closed:
            raise ValueError("write to a closed VicsWriter")
        media = self.media(record, self.count + 1)
        self._emit(("," if self.count else "") + _dumps(media) + "\n")
        self.count += 1

    def media(self, record: KnownRecord, media_id: int) -> dict[str, Any]:
        """The VICS Media object for ``record`` (MediaID ``media_id``)."""
        if not record.hashes:
            raise ValueError(f"{record.origin or 'record'} has no hash to write")
        if record.category is not None and record.category_scheme not in (None, self.scheme):
            raise ValueError(
                f"category scheme {record.category_scheme!r} of {record.origin or 'a record'} "
                f"differs from the file's {self.scheme!r}"
            )
        hashes = record.hashes
        out: dict[str, Any] = {"MediaID": media_id}
        md5 = hashes.get("md5")
        sha1 = hashes.get("sha1")
        out["MD5"] = md5.hex().upper() if md5 is not None else None
        out["SHA1"] = sha1.hex().upper() if sha1 is not None else None
        out["Category"] = None if record.category is None else _category_out(record.category)
        optional = (
            ("Series", record.series),
            ("VictimIdentified", record.victim_identified),
            ("OffenderIdentified", record.offender_identified),
            ("IsDistributed", record.is_distributed),
            ("Tags", record.tags or None),
            ("Comments", record.comment),
            ("MediaSize", record.media_size),
            ("MimeType", record.mime_type),
            ("MediaFiles", record.files or None),
        )
        for key, value in optional:
            if value is not None:
                out[key] = value
        alternative: list[Any] = [
            {"HashName": kind.upper(), "HashValue": registry.get(kind).to_hex(value)}
            for kind, value in hashes.items()
            if kind != "md5" and kind != "sha1"
        ]
        taken = {key.lower() for key in out} if record.extra else set()
        for key, value in record.extra.items():
            low = key.lower()
            if low == "alternativehashes" and isinstance(value, list):
                alternative.extend(value)
            elif low not in taken and low != "mediaid":
                out[key] = value
        if alternative:
            out["AlternativeHashes"] = alternative
        return out

    def close(self) -> None:
        """End the Media array, the Case and the document. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        total = f',"TotalMediaFiles":{self.count}' if self._total else ""
        self._emit(f"]{total}}}]}}\n")
