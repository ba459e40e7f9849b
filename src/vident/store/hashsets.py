"""Importing hash sets into the store, in batches and idempotently.

Records stream from the file readers of :mod:`vident.exchange`; each batch is one
transaction. An entry's key is a digest of its hashes, so importing the same file again under
the same name adds nothing.

An import is never half-done in silence: the set is marked ``importing`` before the first
batch and ``complete`` only once the whole file has been read, so a killed or failed import
shows as such until the same import, run again, finishes it (``incomplete`` when the file
itself cannot be read past a point). A record the store cannot hold as given (text too long
for its column, a size beyond 64 bits, text that is not Unicode) is rejected by itself, with
where it was, instead of failing its whole batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, Table, func, select, update

from vident.store.db import Store, StoreError
from vident.store.known import MAX_INT64, KnownRecord, RecordError
from vident.store.models import HashSet, HashSetEntry, HashSetHash
from vident.store.upsert import chunked, insert_tuples

BATCH = 20_000
#: How many rejected records an import keeps word of (all of them are counted).
ERROR_SAMPLES = 5
IMPORTING, INCOMPLETE, COMPLETE = "importing", "incomplete", "complete"
_ENTRIES: Table = HashSetEntry.__table__  # type: ignore[assignment]
_HASHES: Table = HashSetHash.__table__  # type: ignore[assignment]
_NAME_LENGTH: int = HashSet.__table__.c.name.type.length  # type: ignore[attr-defined]


@dataclass
class ImportSummary:
    """What an import did. ``fatal`` says why the file could not be read to its end."""

    hashset: str
    records: int = 0
    new_entries: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    fatal: str | None = None

    def reject(self, error: RecordError) -> None:
        """Take a reader's error: a rejected record is counted, a fatal one ends the import."""
        if error.fatal:
            if self.fatal is None:
                self.fatal = str(error)
            return
        self.errors += 1
        if len(self.error_samples) < ERROR_SAMPLES:
            self.error_samples.append(str(error))


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


# Text columns of a bounded length, by record field: PostgreSQL refuses longer values.
_TEXT_LENGTHS = tuple(
    (column.name, column.type.length)
    for column in _ENTRIES.columns
    if column.name in ENTRY_COLUMNS and isinstance(column.type, String) and column.type.length
)


def _json(value: Any) -> str | None:
    if not value:
        return None
    try:
        return json.dumps(value, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError) as exc:
        raise RecordError(f"a value that cannot be stored as JSON: {str(exc)[:100]}") from None


def _entry_row(hashset_id: int, key: bytes, record: KnownRecord) -> tuple[Any, ...]:
    """One ``hashset_entry`` row in :data:`ENTRY_COLUMNS` order, in the driver's types.

    RecordError when the store could not hold the record as it is (see the module docstring).
    """
    for name, length in _TEXT_LENGTHS:
        text = getattr(record, name)
        if text is not None and len(text) > length:
            raise RecordError(f"{name} is longer than {length} characters")
    size = record.media_size
    if size is not None and not 0 <= size <= MAX_INT64:
        raise RecordError("media_size does not fit in 64 bits")
    row = _row(hashset_id, key, record)
    for value in row:
        if type(value) is str and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise RecordError("text that is not valid Unicode (a lone surrogate)") from None
    return row


def _row(hashset_id: int, key: bytes, record: KnownRecord) -> tuple[Any, ...]:
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
    consecutive only while nobody else writes. Records the store cannot hold go to
    ``summary.reject``; the set ends ``complete``, or ``incomplete`` when the reader reported a
    fatal error to ``summary`` (see the module docstring). StoreError for an unusable name.
    """
    check_name(name)
    result = summary or ImportSummary(hashset=name)
    with store.session() as session:
        hashset = session.scalar(select(HashSet).where(HashSet.name == name))
        if hashset is None:
            hashset = HashSet(
                name=name, origin=_storable(origin), format=file_format, status=IMPORTING
            )
            session.add(hashset)
            session.flush()
        else:
            hashset.status = IMPORTING
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
            rows = []
            for record in batch:
                if record.hashes:
                    key = entry_key(record)
                    if key in fresh:
                        continue
                    try:
                        rows.append(_entry_row(hashset_id, key, record))
                    except RecordError as exc:
                        result.reject(RecordError(exc.reason, record.origin))
                        continue
                    fresh[key] = record
            if check_existing:
                known = _entry_ids(session, hashset_id, list(fresh))
                if known:
                    for key in known:
                        del fresh[key]
                    rows = [row for row in rows if row[1] in fresh]
            last_id = session.scalar(select(func.max(HashSetEntry.id))) or 0
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
    with store.session() as session:
        session.execute(
            update(HashSet)
            .where(HashSet.id == hashset_id)
            .values(status=INCOMPLETE if result.fatal else COMPLETE)
        )
    return result


def check_name(name: str) -> None:
    """A set's name must fit its column and be text every database can store."""
    if not name.strip() or len(name) > _NAME_LENGTH or _storable(name) != name:
        raise StoreError(
            f"a hash set needs a name of 1 to {_NAME_LENGTH} characters of valid text, "
            f"not {name[:40]!r}"
        )


def _storable(text: str | None) -> str | None:
    """``text`` as the store can encode it: undecodable file-name bytes become U+FFFD."""
    if text is None:
        return None
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


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
