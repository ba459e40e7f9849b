"""Importing hash sets into the store, in batches and idempotently.

Records stream from the file readers of :mod:`vident.exchange`; each batch is one
transaction. An entry's key is a digest of its hashes, so importing the same file again under
the same name adds nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select

from vident.exchange.records import KnownRecord
from vident.store.db import Store
from vident.store.models import HashSet, HashSetEntry, HashSetHash
from vident.store.upsert import chunked, insert_ignore

BATCH = 5000
_ENTRIES: Table = HashSetEntry.__table__  # type: ignore[assignment]
_HASHES: Table = HashSetHash.__table__  # type: ignore[assignment]


@dataclass
class ImportSummary:
    hashset: str
    records: int = 0
    new_entries: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)


def entry_key(record: KnownRecord) -> bytes:
    canonical = "|".join(f"{kind}:{value.hex()}" for kind, value in sorted(record.hashes.items()))
    return hashlib.sha256(canonical.encode()).digest()[:16]


def _entry_row(hashset_id: int, record: KnownRecord) -> dict[str, Any]:
    return {
        "hashset_id": hashset_id,
        "entry_key": entry_key(record),
        "category": record.category,
        "category_scheme": record.category_scheme,
        "series": record.series,
        "victim_identified": record.victim_identified,
        "offender_identified": record.offender_identified,
        "is_distributed": record.is_distributed,
        "tags": list(record.tags) or None,
        "comment": record.comment,
        "media_size": record.media_size,
        "mime_type": record.mime_type,
        "files": list(record.files) or None,
        "extra": dict(record.extra) or None,
    }


def _batches(records: Iterable[KnownRecord], size: int) -> Iterator[list[KnownRecord]]:
    batch: list[KnownRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_records(
    store: Store,
    name: str,
    records: Iterable[KnownRecord],
    *,
    origin: str | None = None,
    file_format: str | None = None,
    summary: ImportSummary | None = None,
) -> ImportSummary:
    """Add ``records`` to hash set ``name`` (created if new)."""
    result = summary or ImportSummary(hashset=name)
    with store.session() as session:
        hashset = session.scalar(select(HashSet).where(HashSet.name == name))
        if hashset is None:
            hashset = HashSet(name=name, origin=origin, format=file_format)
            session.add(hashset)
            session.flush()
        hashset_id = hashset.id
    for batch in _batches(records, BATCH):
        with store.session() as session:
            result.records += len(batch)
            rows: dict[bytes, tuple[KnownRecord, dict[str, Any]]] = {}
            for record in batch:
                if record.hashes:
                    rows.setdefault(entry_key(record), (record, _entry_row(hashset_id, record)))
            keys = list(rows)
            existing = _entry_ids(session, hashset_id, keys)
            fresh = [row for key, (_, row) in rows.items() if key not in existing]
            insert_ignore(session, _ENTRIES, fresh, ["hashset_id", "entry_key"])
            ids = _entry_ids(session, hashset_id, [r["entry_key"] for r in fresh])
            result.new_entries += len(ids)
            hash_rows = [
                {"entry_id": ids[key], "kind": kind, "value": value}
                for key, (record, _) in rows.items()
                if key in ids
                for kind, value in record.hashes.items()
            ]
            if hash_rows:
                session.execute(_HASHES.insert(), hash_rows)
    return result


def _entry_ids(session: Any, hashset_id: int, keys: list[bytes]) -> dict[bytes, int]:
    found: dict[bytes, int] = {}
    for part in chunked(keys):
        rows = session.execute(
            select(HashSetEntry.entry_key, HashSetEntry.id).where(
                HashSetEntry.hashset_id == hashset_id, HashSetEntry.entry_key.in_(part)
            )
        )
        found.update({bytes(k): i for k, i in rows})
    return found
