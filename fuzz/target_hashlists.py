"""Fuzz target: CSV/TSV and plain hex hash lists, read the way ``hashset import`` reads them.

Contract: :func:`detect_format` answers for any file; reading with a collecting ``on_error``
yields valid records and reports every problem as a RecordError; reading strictly raises
RecordError and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fuzz.contract import known_record, one_line_message, require
from vident.exchange.hashlists import detect_format, read_known_records
from vident.exchange.records import RecordError, raise_error

_TEXT_KINDS = (None, "sha256", "pdq", "md5")


def make(scratch: Path) -> Callable[[bytes], None]:
    path = scratch / "hashlist"

    def one_input(data: bytes) -> None:
        path.write_bytes(data)
        detect_format(path)
        text_kind = _TEXT_KINDS[len(data) % len(_TEXT_KINDS)]
        errors: list[RecordError] = []
        consumed = 0

        def on_bytes(count: int) -> None:
            nonlocal consumed
            consumed += count

        records = read_known_records(
            path, text_kind=text_kind, on_error=errors.append, on_bytes=on_bytes
        )
        for record in records:
            known_record(record)
        require(consumed <= len(data), f"{consumed} bytes reported read of {len(data)}")
        for error in errors:
            require(isinstance(error, RecordError), f"on_error got {type(error).__name__}")
            one_line_message(str(error))
        try:
            for _ in read_known_records(path, text_kind=text_kind, on_error=raise_error):
                pass
        except RecordError:
            pass

    return one_input
