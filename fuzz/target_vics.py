"""Fuzz target: Project VIC VICS JSON, streamed as ``hashset import`` streams it.

Contract: reading with a collecting ``on_error`` yields valid, JSON-serialisable records and
reports every problem (bad Media, malformed or truncated JSON) as a RecordError; reading
strictly raises RecordError only; :func:`read_vics_header` answers for any file.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

from fuzz.contract import ContractBroken, known_record, one_line_message, require
from vident.exchange.records import RecordError, raise_error
from vident.exchange.vics import read_vics, read_vics_header


def make(scratch: Path) -> Callable[[bytes], None]:
    path = scratch / "vics.json"

    def one_input(data: bytes) -> None:
        errors: list[RecordError] = []
        for record in read_vics(io.BytesIO(data), on_error=errors.append):
            known_record(record)
        for error in errors:
            require(isinstance(error, RecordError), f"on_error got {type(error).__name__}")
            one_line_message(str(error))
        try:
            for _ in read_vics(io.BytesIO(data), on_error=raise_error):
                pass
        except RecordError:
            pass
        path.write_bytes(data)
        read_vics_header(path)
        header = read_vics_header(path, cases=True)
        try:
            json.dumps(header.cases, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ContractBroken(f"cases are not plain JSON: {exc}") from exc

    return one_input
