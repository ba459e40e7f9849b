"""Identification propagates: a hit on media of a series says so, and who identified its victim.

When one agency identifies the victim of a series, every other agency that meets the same
material again must learn it at once, so that nobody spends weeks looking for a child already
safe. Triage asks :func:`series_notes` for the media its reasons hit and adds the series name
and a line such as "victim identified by Agency X, GB, 2026-03-01" to each such reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.store.models import Media
from vident.store.models_cases import Series, SeriesMedia, Subject, SubjectSeries
from vident.store.models_security import Agency
from vident.store.upsert import chunked

IDENTIFIED_STATUS = "victim_identified"


def series_notes(session: Session, sha256s: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """For each media (SHA-256 hex) in a series: the series' name and, when its victim is
    identified, the line saying by whom, where and when (None otherwise). A media in several
    series gets the first by name, preferring one whose victim is identified."""
    digests = sorted({bytes.fromhex(s) for s in sha256s})
    found: dict[str, tuple[str, str | None]] = {}
    if not digests:
        return found
    rows: list[tuple[bytes, int, str, str]] = []
    for part in chunked(digests):
        rows.extend(
            (bytes(sha), series_id, name, status)
            for sha, series_id, name, status in session.execute(
                select(Media.sha256, Series.id, Series.name, Series.status)
                .join(SeriesMedia, SeriesMedia.media_id == Media.id)
                .join(Series, Series.id == SeriesMedia.series_id)
                .where(Media.sha256.in_(part))
            )
        )
    if not rows:
        return found
    victims = identified_victims(session, {row[1] for row in rows})
    for sha, series_id, name, status in sorted(rows, key=lambda r: r[2]):
        note = victims.get(series_id)
        if note is None and status == IDENTIFIED_STATUS:
            note = "victim identified"
        key = sha.hex()
        if key not in found or (found[key][1] is None and note is not None):
            found[key] = (name, note)
    return found


def named_series_notes(session: Session, names: Iterable[str]) -> dict[str, str]:
    """For each series name that is a stored series whose victim is identified: the line
    saying by whom, where and when (or just "victim identified")."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = session.execute(
        select(Series.id, Series.name, Series.status).where(Series.name.in_(wanted))
    ).all()
    victims = identified_victims(session, {row[0] for row in rows})
    found: dict[str, str] = {}
    for series_id, name, status in rows:
        note = victims.get(series_id)
        if note is None and status == IDENTIFIED_STATUS:
            note = "victim identified"
        if note is not None:
            found[name] = note
    return found


def identified_victims(session: Session, series_ids: set[int]) -> dict[int, str]:
    """The first identified victim's line for each series that has one."""
    notes: dict[int, str] = {}
    for series_id, agency, country, on in session.execute(
        select(
            SubjectSeries.series_id, Agency.name, Subject.identified_country, Subject.identified_on
        )
        .join(Subject, Subject.id == SubjectSeries.subject_id)
        .outerjoin(Agency, Agency.id == Subject.identified_by_agency_id)
        .where(
            SubjectSeries.series_id.in_(series_ids),
            Subject.kind == "victim",
            Subject.identified.is_(True),
        )
        .order_by(Subject.identified_on, Subject.id)
    ):
        if series_id not in notes:
            facts = [str(x) for x in (agency, country, on) if x is not None]
            notes[series_id] = "victim identified" + (f" by {', '.join(facts)}" if facts else "")
    return notes
