"""The single writer of ingest: one transaction per batch of results.

A batch's media, signals, EXIF facts and occurrences are committed together, and the
occurrences are also the record of finished work, so a kill at any moment loses at most the
batch in flight, which a rerun redoes. Every insert ignores rows that already exist, which
makes a rerun of the same source add nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from vident.signals.base import SignalValue
from vident.store.derived import unique_rows, write_signals
from vident.store.models import Exif, Media, Occurrence
from vident.store.results import ItemResult
from vident.store.upsert import chunked, insert_ignore


def path_key(path: str) -> bytes:
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest()[:16]


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def media_ids(session: Session, digests: Sequence[bytes]) -> dict[bytes, int]:
    found: dict[bytes, int] = {}
    for part in chunked(sorted(set(digests))):
        rows = session.execute(select(Media.sha256, Media.id).where(Media.sha256.in_(part)))
        found.update({bytes(sha): media_id for sha, media_id in rows})
    return found


def write_results(session: Session, source_id: int, results: Sequence[ItemResult]) -> int:
    """Store one batch; returns how many media rows were new."""
    with_media = [r for r in results if r.sha256 is not None]
    before = media_ids(session, [r.sha256 for r in with_media if r.sha256 is not None])
    media_rows: list[dict[str, Any]] = [
        {
            "sha256": r.sha256,
            "size": r.size or 0,
            "media_type": (r.media_type.value if r.media_type else "other"),
            "mime": r.mime,
            "width": r.width,
            "height": r.height,
            "duration": r.duration,
            "decode_error": r.error,
        }
        for r in with_media
        if r.sha256 not in before
    ]
    insert_ignore(session, _table(Media), unique_rows(media_rows, "sha256"), ["sha256"])
    inserted = [bytes(r["sha256"]) for r in media_rows]
    ids = before | media_ids(session, inserted)
    new_ids = {ids[sha] for sha in inserted}

    signals: list[tuple[int, SignalValue]] = []
    frames: list[tuple[int, int, float, bool]] = []
    exif_rows: list[dict[str, Any]] = []
    for r in with_media:
        assert r.sha256 is not None
        media_id = ids[r.sha256]
        if media_id not in new_ids:
            continue
        signals.extend((media_id, s) for s in r.signals)
        frames.extend((media_id, seq, ts, key) for seq, ts, key in r.frames)
        if r.exif is not None and not r.exif.is_empty():
            exif_rows.append(
                {
                    "media_id": media_id,
                    "make": r.exif.make,
                    "model": r.exif.model,
                    "body_serial": r.exif.body_serial,
                    "other_serials": dict(r.exif.other_serials) or None,
                    "lens": r.exif.lens,
                    "software": r.exif.software,
                    "taken_at": r.exif.taken_at,
                    "gps_lat": r.exif.gps_lat,
                    "gps_lon": r.exif.gps_lon,
                }
            )
    write_signals(session, signals, frames)
    insert_ignore(session, _table(Exif), unique_rows(exif_rows, "media_id"), ["media_id"])

    occurrence_rows = [
        {
            "source_id": source_id,
            "path_key": path_key(r.path),
            "path": r.path,
            "media_id": ids[r.sha256] if r.sha256 is not None else None,
            "error": r.error,
            "size": r.size,
            "mtime": r.times.mtime,
            "ctime": r.times.ctime,
            "atime": r.times.atime,
            "deleted": r.deleted,
        }
        for r in results
    ]
    insert_ignore(
        session,
        _table(Occurrence),
        unique_rows(occurrence_rows, "path_key"),
        ["source_id", "path_key"],
    )
    return len(new_ids)
