"""Writing a source as VICS 2.0 JSON, streamed media by media.

Each media of the source becomes one VICS Media with its MD5 and SHA-1, SHA-256 and PDQ as
AlternativeHashes, its size and type, every path it was found at (MediaFiles), and what hash
sets say of it (category, series). A media in a series of the store carries that series
instead, with VictimIdentified and OffenderIdentified as the series and the people seen in it
say, so the agency that reads the file learns an identification made here. The importer reads
the file back to the same records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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
from vident.store.models_cases import Series, SeriesMedia, Subject, SubjectSeries

CHUNK = 1000
#: Hashes travel between instances; embeddings, keypoints, faces and text never leave it.
EXCHANGED_KINDS = [k.name for k in (*exact_kinds(), *near_kinds())]


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class SeriesFacts:
    """The series a media is exported with, and whether its victim and offender are known."""

    name: str
    victim_identified: bool
    offender_identified: bool


def media_series(session: Session, media_ids: list[int]) -> dict[int, SeriesFacts]:
    """For each media in a series: the first series by name, preferring one whose victim is
    identified (as triage does, :mod:`vident.match.identified`), with its identification.

    A series' victim (offender) counts as identified when its status says so or an identified
    victim (offender) is linked to it.
    """
    rows = session.execute(
        select(SeriesMedia.media_id, Series.id, Series.name, Series.status)
        .join(Series, Series.id == SeriesMedia.series_id)
        .where(SeriesMedia.media_id.in_(media_ids))
    ).all()
    if not rows:
        return {}
    people: dict[int, set[str]] = {}
    for series_id, kind in session.execute(
        select(SubjectSeries.series_id, Subject.kind)
        .join(Subject, Subject.id == SubjectSeries.subject_id)
        .where(
            SubjectSeries.series_id.in_({row[1] for row in rows}),
            Subject.identified.is_(True),
        )
        .distinct()
    ):
        people.setdefault(series_id, set()).add(kind)
    found: dict[int, SeriesFacts] = {}
    for media_id, series_id, name, status in sorted(rows, key=lambda row: row[2]):
        known = people.get(series_id, set())
        facts = SeriesFacts(
            name=name,
            victim_identified=status == "victim_identified" or "victim" in known,
            offender_identified=status == "offender_identified" or "offender" in known,
        )
        held = found.get(media_id)
        if held is None or (facts.victim_identified and not held.victim_identified):
            found[media_id] = facts
    return found


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
        for media in media_rows:  # the store's own key, should its hash signal be missing
            hashes[media.id].setdefault("sha256", bytes(media.sha256))
        files: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for owner, path, mtime, ctime, atime, deleted in session.execute(
            select(
                Occurrence.media_id,
                Occurrence.path,
                Occurrence.mtime,
                Occurrence.ctime,
                Occurrence.atime,
                Occurrence.deleted,
            )
            .where(Occurrence.source_id == source.id, Occurrence.media_id.in_(ids))
            .order_by(Occurrence.path)
        ):
            entry: dict[str, Any] = {"FileName": PurePosixPath(path).name, "FilePath": path}
            for key, stamp in (("Created", ctime), ("Written", mtime), ("Accessed", atime)):
                if stamp is not None:
                    entry[key] = _iso(stamp)
            if deleted:  # VICS MediaFiles' own field; live files leave it out, as before
                entry["Deleted"] = True
            if owner is not None:
                files[owner].append(entry)
        by_kind: dict[str, set[bytes]] = {}
        for values in hashes.values():
            for kind, value in values.items():
                by_kind.setdefault(kind, set()).add(value)
        known = hashset_exact(session, {k: v for k, v in by_kind.items() if k != "pdq"})
        in_series = media_series(session, ids)
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
            facts = in_series.get(media.id)
            if facts is not None:
                record.series = facts.name
                record.victim_identified = facts.victim_identified
                record.offender_identified = facts.offender_identified
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
