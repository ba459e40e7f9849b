"""Known items as the store keeps them, whatever hash-list format they came from.

The readers of :mod:`vident.exchange` turn VICS, CSV/TSV and plain lists into
:class:`KnownRecord`; :mod:`vident.store.hashsets` stores them. The shape is defined here, in
the store layer, so the store does not import the format readers above it;
:mod:`vident.exchange.records` re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The largest integer a 64-bit database column holds (sizes are stored as BIGINT).
MAX_INT64 = 2**63 - 1


@dataclass(slots=True)
class KnownRecord:
    """One known item: its hashes and what another database says about it.

    ``hashes`` maps a signal kind name (``md5``, ``sha1``, ``sha256``, ``pdq``) to the value in
    stored form. ``category`` is kept as text and only means something together with
    ``category_scheme`` (schemes number categories differently; never mix them silently).
    ``files`` and ``extra`` keep VICS content vident has no column for, verbatim, so a file
    read and written again loses nothing. ``origin`` says where the record was found.
    """

    hashes: dict[str, bytes]
    category: str | None = None
    category_scheme: str | None = None
    series: str | None = None
    victim_identified: bool | None = None
    offender_identified: bool | None = None
    is_distributed: bool | None = None
    tags: list[str] = field(default_factory=list)
    comment: str | None = None
    media_size: int | None = None
    mime_type: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None


class RecordError(ValueError):
    """One entry of an input that could not be read, with where it was and why.

    ``fatal`` is True when reading cannot go on past this point (malformed or truncated
    JSON, a header without any hash column): records before it were still delivered.
    """

    def __init__(self, reason: str, origin: str | None = None, *, fatal: bool = False) -> None:
        self.reason = reason
        self.origin = origin
        self.fatal = fatal
        super().__init__(f"{origin}: {reason}" if origin else reason)
