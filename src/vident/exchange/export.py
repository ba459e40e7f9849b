"""Writing a source as VICS 2.0 JSON, streamed media by media.

Each media of the source becomes one VICS Media with its MD5 and SHA-1, SHA-256 and PDQ as
AlternativeHashes, its size and type, every path it was found at (MediaFiles), and what hash
sets say of it (category, series). The importer reads the file back to the same records.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from vident import __version__
from vident.exchange.records import KnownRecord
from vident.exchange.vics import VicsWriter
from vident.match.lookup import hashset_exact
from vident.signals.registry import exact_kinds, near_kinds
from vident.store.models import Case, Media, Occurrence, Signal, Source

CHUNK = 1000
#: Hashes travel between instances; embeddings, keypoints, faces and text never leave it.
EXCHANGED_KINDS = [k.name for k in (*exact_kinds(), *near_kinds())]


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def source_records(session: Session, source: Source) -> Iterator[KnownRecord]:
    """One record per distinct media of the source, in order of first path."""
    last_id = 0
    while True:
        media_rows = (
            session.execute(
                select(Media)
                .where(
                    Media.id > last_id,
                    Media.id.in_(
                        select(Occurrence.media_id).where(Occurrence.source_id == source.id)
                    ),
                )
                .order_by(Media.id)
                .limit(CHUNK)
            )
            .scalars()
            .all()
        )
        if not media_rows:
            return
        last_id = media_rows[-1].id
        ids = [m.id for m in media_rows]
        hashes: dict[int, dict[str, bytes]] = {i: {} for i in ids}
        for media_id, kind, value in session.execute(
            select(Signal.media_id, Signal.kind, Signal.value).where(
                Signal.media_id.in_(ids),
                Signal.kind.in_(EXCHANGED_KINDS),
                Signal.frame == 0,
            )
        ):
            hashes[media_id][kind] = bytes(value)
        files: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for owner, path, mtime, ctime, atime in session.execute(
            select(
                Occurrence.media_id,
                Occurrence.path,
                Occurrence.mtime,
                Occurrence.ctime,
                Occurrence.atime,
            )
            .where(Occurrence.source_id == source.id, Occurrence.media_id.in_(ids))
            .order_by(Occurrence.path)
        ):
            entry: dict[str, Any] = {"FileName": PurePosixPath(path).name, "FilePath": path}
            for key, stamp in (("Created", ctime), ("Written", mtime), ("Accessed", atime)):
                if stamp is not None:
                    entry[key] = _iso(stamp)
            if owner is not None:
                files[owner].append(entry)
        by_kind: dict[str, set[bytes]] = {}
        for values in hashes.values():
            for kind, value in values.items():
                by_kind.setdefault(kind, set()).add(value)
        known = hashset_exact(session, {k: v for k, v in by_kind.items() if k != "pdq"})
        for media in media_rows:
            record = KnownRecord(
                hashes=hashes[media.id],
                media_size=media.size,
                mime_type=media.mime,
                files=files[media.id],
            )
            for kind, value in hashes[media.id].items():
                hits = known.get((kind, value))
                if hits:
                    record.category = hits[0].category
                    record.series = hits[0].series
                    break
            yield record


def export_source(session: Session, source: Source, stream: TextIO) -> int:
    """Write the source as VICS 2.0 to ``stream``; returns how many media were written."""
    case_name = None
    if source.case_id is not None:
        case = session.get(Case, source.case_id)
        case_name = case.name if case else None
    case_fields = {
        "CaseNumber": case_name or source.name,
        "SourceApplicationName": "vident",
        "SourceApplicationVersion": __version__,
    }
    count = 0
    with VicsWriter(stream, case=case_fields) as writer:
        for record in source_records(session, source):
            writer.write(record)
            count += 1
    return count
