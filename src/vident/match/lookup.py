"""Lookups of signal values against the store and the near-duplicate indexes.

Shared by triage (a whole source) and search (one file). Every lookup is an index or key
query, so its cost follows the number of values asked about, never the size of the store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from vident.index.near import NearIndex
from vident.store.models import (
    HashSet,
    HashSetEntry,
    HashSetHash,
    Media,
    Occurrence,
    Signal,
    Source,
)
from vident.store.upsert import chunked

ValueKey = tuple[str, bytes]


@dataclass(frozen=True, slots=True)
class HashSetHit:
    hashset: str
    category: str | None
    series: str | None
    entry_id: int
    #: Who identified the victim, as the entry's owner says (records from peers say it).
    identified: str | None = None


@dataclass(frozen=True, slots=True)
class MediaHit:
    media_id: int
    sha256: bytes
    source: str


def _hashset_hits(
    session: Session, key: Any, condition: ColumnElement[bool]
) -> Iterator[tuple[Any, HashSetHit]]:
    """(key, what the hash set says) for every hash-set hash that meets ``condition``."""
    rows = session.execute(
        select(
            key,
            HashSet.name,
            HashSetEntry.category,
            HashSetEntry.series,
            HashSetEntry.id,
            HashSetEntry.identified_by,
        )
        .join(HashSetEntry, HashSetEntry.id == HashSetHash.entry_id)
        .join(HashSet, HashSet.id == HashSetEntry.hashset_id)
        .where(condition)
    )
    for found_key, name, category, series, entry_id, identified in rows:
        yield found_key, HashSetHit(name, category, series, entry_id, identified)


def hashset_exact(
    session: Session, values: Mapping[str, Iterable[bytes]]
) -> dict[ValueKey, list[HashSetHit]]:
    """Hash-set entries holding any of the values, per (kind, value)."""
    found: dict[ValueKey, list[HashSetHit]] = defaultdict(list)
    for kind, kind_values in values.items():
        for part in chunked(sorted(set(kind_values))):
            condition = (HashSetHash.kind == kind) & HashSetHash.value.in_(part)
            for value, hit in _hashset_hits(session, HashSetHash.value, condition):
                found[(kind, bytes(value))].append(hit)
    return found


def media_exact(
    session: Session, values: Mapping[str, Iterable[bytes]], before_source: int | None
) -> dict[ValueKey, list[MediaHit]]:
    """Stored media with any of the values, seen in a source older than ``before_source``.

    With ``before_source`` None every source counts. Each media is reported once, with the
    oldest source it was found in.
    """
    found: dict[ValueKey, list[MediaHit]] = defaultdict(list)
    for kind, kind_values in values.items():
        for part in chunked(sorted(set(kind_values))):
            first = (
                select(Occurrence.media_id, func.min(Occurrence.source_id).label("source_id"))
                .join(Signal, Signal.media_id == Occurrence.media_id)
                .where(Signal.kind == kind, Signal.lookup.in_(part))
                .group_by(Occurrence.media_id)
            )
            if before_source is not None:
                first = first.where(Occurrence.source_id < before_source)
            sub = first.subquery()
            rows = session.execute(
                select(Signal.value, Media.id, Media.sha256, Source.name)
                .join(sub, sub.c.media_id == Signal.media_id)
                .join(Media, Media.id == Signal.media_id)
                .join(Source, Source.id == sub.c.source_id)
                .where(Signal.kind == kind, Signal.lookup.in_(part))
            )
            for value, media_id, sha256, source in rows:
                found[(kind, bytes(value))].append(MediaHit(media_id, bytes(sha256), source))
    return found


@dataclass(frozen=True, slots=True)
class NearHit:
    """A near match of query ``query``: a stored media or a hash-set entry."""

    query: int
    distance: int
    media: MediaHit | None = None
    hashset: HashSetHit | None = None


def near(
    session: Session,
    index: NearIndex,
    queries: list[list[bytes]],
    radius: int,
    before_source: int | None,
    exclude_media: list[int | None] | None = None,
) -> list[list[NearHit]]:
    """Near matches of each query (a list of variant values); best distance per target."""
    flat: list[bytes] = []
    owner: list[int] = []
    for number, variants in enumerate(queries):
        flat.extend(variants)
        owner.extend([number] * len(variants))
    hits = index.search(flat, radius)
    best: dict[tuple[int, int], int] = {}
    for hit in hits:
        key = (owner[hit.query], hit.ref)
        if key not in best or hit.distance < best[key]:
            best[key] = hit.distance
    signal_ids = {ref for _, ref in best if ref > 0}
    entry_refs = {-ref for _, ref in best if ref < 0}
    media_of = _media_of_signals(session, signal_ids, before_source)
    entries = _hashset_entries(session, entry_refs)
    results: list[list[NearHit]] = [[] for _ in queries]
    for (number, ref), distance in best.items():
        if ref > 0:
            media = media_of.get(ref)
            if media is None:
                continue
            if exclude_media is not None and exclude_media[number] == media.media_id:
                continue
            results[number].append(NearHit(number, distance, media=media))
        elif (entry := entries.get(-ref)) is not None:
            results[number].append(NearHit(number, distance, hashset=entry))
    for row in results:
        row.sort(key=lambda h: (h.distance, h.hashset is None))
    return results


def _media_of_signals(
    session: Session, signal_ids: set[int], before_source: int | None
) -> dict[int, MediaHit]:
    found: dict[int, MediaHit] = {}
    for part in chunked(sorted(signal_ids)):
        first = (
            select(Signal.id.label("signal_id"), func.min(Occurrence.source_id).label("source_id"))
            .join(Occurrence, Occurrence.media_id == Signal.media_id)
            .where(Signal.id.in_(part))
            .group_by(Signal.id)
        )
        if before_source is not None:
            first = first.where(Occurrence.source_id < before_source)
        sub = first.subquery()
        rows = session.execute(
            select(sub.c.signal_id, Media.id, Media.sha256, Source.name)
            .join(Signal, Signal.id == sub.c.signal_id)
            .join(Media, Media.id == Signal.media_id)
            .join(Source, Source.id == sub.c.source_id)
        )
        for signal_id, media_id, sha256, source in rows:
            found[signal_id] = MediaHit(media_id, bytes(sha256), source)
    return found


def _hashset_entries(session: Session, hash_ids: set[int]) -> dict[int, HashSetHit]:
    found: dict[int, HashSetHit] = {}
    for part in chunked(sorted(hash_ids)):
        found.update(_hashset_hits(session, HashSetHash.id, HashSetHash.id.in_(part)))
    return found
