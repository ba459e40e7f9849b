"""Importing hash sets into the store, in batches and idempotently.

Records stream from the file readers of :mod:`vident.exchange`; each batch is one
transaction. An entry's key is a digest of its hashes, so importing the same file again under
the same name adds nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, select

from vident.exchange.records import KnownRecord
from vident.store.db import Store
from vident.store.models import HashSet, HashSetEntry, HashSetHash
from vident.store.upsert import chunked, insert_tuples

BATCH = 20_000
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


ENTRY_COLUMNS = (
    "hashset_id",
    "entry_key",
    "category",
    "category_scheme",
    "series",
    "victim_identified",
    "offender_identified",
    "is_distributed",
    "tags",
    "comment",
    "media_size",
    "mime_type",
    "files",
    "extra",
)


def _json(value: Any) -> str | None:
    return json.dumps(value, ensure_ascii=False) if value else None


def _entry_row(hashset_id: int, key: bytes, record: KnownRecord) -> tuple[Any, ...]:
    """One ``hashset_entry`` row in :data:`ENTRY_COLUMNS` order, in the driver's types."""
    return (
        hashset_id,
        key,
        record.category,
        record.category_scheme,
        record.series,
        record.victim_identified,
        record.offender_identified,
        record.is_distributed,
        _json(list(record.tags)),
        record.comment,
        record.media_size,
        record.mime_type,
        _json(list(record.files)),
        _json(dict(record.extra)),
    )


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
    """Add ``records`` to hash set ``name`` (created if new).

    Needs the data directory's writer lock: new entries are found by their ids, which are
    consecutive only while nobody else writes.
    """
    result = summary or ImportSummary(hashset=name)
    with store.session() as session:
        hashset = session.scalar(select(HashSet).where(HashSet.name == name))
        if hashset is None:
            hashset = HashSet(name=name, origin=origin, format=file_format)
            session.add(hashset)
            session.flush()
        hashset_id = hashset.id
        # Only a set that already has entries (a re-import, a resumed import) needs each
        # batch checked against them; a fresh set relies on the unique key alone.
        check_existing = (
            session.scalar(
                select(HashSetEntry.id).where(HashSetEntry.hashset_id == hashset_id).limit(1)
            )
            is not None
        )
    for batch in _batches(records, BATCH):
        with store.session() as session:
            result.records += len(batch)
            fresh: dict[bytes, KnownRecord] = {}
            for record in batch:
                if record.hashes:
                    fresh.setdefault(entry_key(record), record)
            if check_existing:
                for key in _entry_ids(session, hashset_id, list(fresh)):
                    del fresh[key]
            last_id = session.scalar(select(func.max(HashSetEntry.id))) or 0
            rows = [_entry_row(hashset_id, key, record) for key, record in fresh.items()]
            insert_tuples(session, _ENTRIES, ENTRY_COLUMNS, rows, ["hashset_id", "entry_key"])
            ids = {
                bytes(key): entry_id
                for key, entry_id in session.execute(
                    select(HashSetEntry.entry_key, HashSetEntry.id).where(
                        HashSetEntry.id > last_id, HashSetEntry.hashset_id == hashset_id
                    )
                )
            }
            result.new_entries += len(ids)
            hash_rows = [
                (entry_id, kind, value)
                for key, entry_id in ids.items()
                for kind, value in fresh[key].hashes.items()
            ]
            insert_tuples(session, _HASHES, ("entry_id", "kind", "value"), hash_rows)
    return result


def _entry_ids(session: Any, hashset_id: int, keys: list[bytes]) -> dict[bytes, int]:
    found: dict[bytes, int] = {}
    for part in chunked(keys, 5000):
        rows = session.execute(
            select(HashSetEntry.entry_key, HashSetEntry.id).where(
                HashSetEntry.hashset_id == hashset_id, HashSetEntry.entry_key.in_(part)
            )
        )
        found.update({bytes(k): i for k, i in rows})
    return found
