"""What every fuzz target checks besides "no unexpected exception": the documented results.

A broken promise (a record without a hash, an error message on two lines) is reported as a
crash like an exception is, so the fuzzer finds wrong answers as well as failures.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vident.exchange.records import KnownRecord


class ContractBroken(AssertionError):
    """A parser returned something its documentation rules out."""


def require(condition: bool, what: str) -> None:
    if not condition:
        raise ContractBroken(what)


def one_line_message(text: str) -> None:
    require(bool(text.strip()), "an error message is empty")
    require("\n" not in text and "\r" not in text, f"an error message spans lines: {text!r}")


def known_record(record: KnownRecord) -> None:
    """A record as the importer stores it: usable hashes of the right size, JSON extras."""
    from vident.signals import registry

    require(bool(record.hashes), "a record without any hash")
    for kind, value in record.hashes.items():
        size = registry.get(kind).value_bytes
        require(size > 0 and len(value) == size, f"{kind} value of {len(value)} bytes")
    require(record.media_size is None or record.media_size >= 0, "a negative media size")
    for tag in record.tags:
        require(isinstance(tag, str), f"a tag that is not text: {tag!r}")
    for name, kept in (("extra", record.extra), ("files", record.files)):
        try:
            json.dumps(kept, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ContractBroken(f"{name} is not plain JSON: {exc}") from exc


def finite_or_none(value: float | None, what: str) -> None:
    require(value is None or math.isfinite(value), f"{what} is not finite: {value!r}")
