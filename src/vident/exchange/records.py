"""The plain record every known-hash reader yields, and the coercions they share.

Hash lists arrive as VICS JSON, CSV/TSV or bare hex lines, written by many tools with many
habits (booleans as ``"True"``, sizes as strings, hashes in upper case). Each reader turns its
input into :class:`KnownRecord` so the importer has one shape to store; a bad entry becomes a
:class:`RecordError` that names where it was, so one broken line never stops an import.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from vident.signals import registry
from vident.signals.base import InvalidSignalValue, SignalKind
from vident.store.known import MAX_INT64, KnownRecord, RecordError

#: Default bounds on one record of a hash list (see ``max_hashset_line`` and
#: ``max_hashset_field`` in :mod:`vident.config`): a hostile or broken file must not make
#: memory grow with the length of one line, cell or string.
MAX_LINE = 1024 * 1024
MAX_FIELD = 64 * 1024

#: Re-exported: the record types are defined in the store layer, which stores them.
__all__ = ["MAX_INT64", "KnownRecord", "RecordError"]

OnError = Callable[[RecordError], None]


def raise_error(error: RecordError) -> None:
    """The strict default ``on_error``: the first bad entry stops reading."""
    raise error


def shown(value: Any, width: int = 80) -> str:
    """``repr(value)`` cut to ``width`` characters, so one error stays one readable line.

    The value may be a 64 KiB cell or a number of thousands of digits; ints are shown by their
    digit count when long (their text would hit Python's int-to-text limit).
    """
    if type(value) is int and value.bit_length() > 256:
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    text = repr(value[: width + 1]) if isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f"})


def parse_bool(value: Any, name: str) -> bool | None:
    """A boolean as tools write it: JSON true/false, 0/1, or text such as "True" or "no"."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise RecordError(f"{name} is not a boolean: {shown(value)}")


def parse_size(value: Any, name: str) -> int | None:
    """A non-negative integer that may arrive as a string or an integral float.

    It must fit the store's 64-bit column: a larger one is an error of this record, never a
    database overflow that would stop the whole import.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise RecordError(f"{name} is not an integer: {shown(value)}")
    number: int
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if len(text) > 40:  # no 64-bit size has that many digits; spare int() the work
            raise RecordError(f"{name} is too large or not an integer: {shown(value)}")
        try:
            number = int(text)
        except ValueError:
            raise RecordError(f"{name} is not an integer: {shown(value)}") from None
    else:
        raise RecordError(f"{name} is not an integer: {shown(value)}")
    if number < 0:
        raise RecordError(f"{name} is negative: {shown(value)}")
    if number > MAX_INT64:
        raise RecordError(f"{name} is too large (more than 2^63 - 1): {shown(value)}")
    return number


def parse_text(value: Any, name: str) -> str | None:
    """Free text; numbers become their text (tools write Series as 12 or "12"), "" is None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, int) and value.bit_length() > 256:
            raise RecordError(f"{name} is not text: {shown(value)}")
        return str(value)
    raise RecordError(f"{name} is not text: {shown(value)}")


@functools.lru_cache(maxsize=256)
def hash_kind(name: str) -> str | None:
    """The registered signal kind a column or HashName means, else None.

    Case, spaces, ``-`` and ``_`` are ignored, so "SHA-256", "sha_256" and "SHA256" all mean
    ``sha256``.
    """
    key = name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    if not key:
        return None
    try:
        return registry.get(key).name
    except KeyError:
        return None


def parse_hash(kind: str, text: Any) -> bytes:
    """A hex hash of ``kind`` in stored form; RecordError says what is wrong with it."""
    if not isinstance(text, str):
        raise RecordError(f"{kind} is not a hex string: {shown(text)}")
    try:
        return registry.get(kind).parse_hex(text)
    except InvalidSignalValue as exc:
        raise RecordError(str(exc)) from None


# Kinds that read plain hex (the base parse_hex) and how many digits they take.
_HEX_DIGITS = {
    kind.name: kind.value_bytes * 2
    for kind in registry.SIGNAL_KINDS
    if type(kind).parse_hex is SignalKind.parse_hex
}


def add_hash(hashes: dict[str, bytes], kind: str, text: Any) -> None:
    """Add one hash; an empty value is absent, two different values of a kind are an error."""
    value: bytes | None = None
    if type(text) is str and len(text) == _HEX_DIGITS.get(kind):
        # Fast path for the common well-formed value; anything odd takes the careful one.
        try:
            value = bytes.fromhex(text)
        except ValueError:
            value = None
        if value is not None and len(value) * 2 != len(text):
            value = None
    if value is None:
        if text is None or (isinstance(text, str) and not text.strip()):
            return
        value = parse_hash(kind, text)
    known = hashes.get(kind)
    if known is not None and known != value:
        raise RecordError(f"two different {kind} values: {known.hex()} and {value.hex()}")
    hashes[kind] = value


def split_tags(text: str) -> list[str]:
    """Tags given as one string: separated by commas or semicolons, blanks dropped."""
    return [tag.strip() for tag in text.replace(";", ",").split(",") if tag.strip()]
