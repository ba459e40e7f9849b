"""What the dashboard reads: alerts on the analyst's series, and verdicts over their sources.

An *alert* says that a seizure of another case holds media of a series of the analyst's own
agency: the series' picture turned up again elsewhere, which may mean a new victim, a new
distributor or a new lead. "Another case" is a case other than the series' own (a series that
belongs to no case is hit by every source in a case). A hit in a source the analyst may not
see is reported without naming that source or its case, as search redacts other agencies'
material: that the picture turned up is shared, where it turned up is not.

Verdict counts add up the triage of the sources the analyst sees, newest first and at most
``limit`` of them: triage is computed when asked, so the dashboard bounds its work. By default
the counts are the quick triage (exact hashes and PDQ: known, near, new, error), which takes a
fraction of a second; the links to earlier material (faces, scenes, local features, camera
serials: *related*, and crops PDQ misses) take seconds per source and are asked only with
``linked=True`` (each source's own triage always asks them).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from sqlalchemy import select

from vident.match import triage as matching
from vident.match.links import Linker
from vident.match.triage import Verdict
from vident.service.context import Context
from vident.service.errors import Invalid
from vident.service.failures import translated
from vident.service.schemas import Model
from vident.service.scope import sight_of, visible_media, visible_sources
from vident.service.use_case import SEE_MEDIA, use_case
from vident.store.models import Case, Media, Occurrence, Source
from vident.store.models_cases import Series, SeriesMedia

__all__ = [
    "AlertListOut",
    "AlertOut",
    "VerdictCountsOut",
    "series_alerts",
    "verdict_counts",
]

#: Most alerts one call returns.
MOST_ALERTS = 100
#: Most sources whose triage one call adds up.
MOST_SOURCES = 50


class AlertOut(Model):
    """Media of one of your series found in a source of another case."""

    series: str
    sha256: str
    source: str | None = Field(description="The source that holds it; None when not shared.")
    case: str | None = Field(description="That source's case; None when not shared.")
    shared: bool = Field(description="Whether you may see the source that holds it.")
    seen_at: datetime = Field(description="When that source was ingested.")


class AlertListOut(Model):
    alerts: list[AlertOut]


class VerdictCountsOut(Model):
    """How many files of the counted sources got each verdict."""

    counts: dict[str, int]
    linked: bool = Field(description="Whether links to earlier material were asked (related).")
    sources: list[str] = Field(description="The sources counted, newest first.")
    more: int = Field(description="Sources you see that were left out of the count.")


@use_case("dashboard.alerts", SEE_MEDIA)
def series_alerts(ctx: Context, *, limit: int = 20) -> AlertListOut:
    """Media of your agency's series seen in sources of other cases, newest source first."""
    if not 1 <= limit <= MOST_ALERTS:
        raise Invalid(f"ask for 1 to {MOST_ALERTS} alerts, not {limit}")
    agency = ctx.principal.agency_id
    owned = Series.agency_id == agency if agency is not None else Series.agency_id.is_(None)
    query = (
        select(Series.name, Media.sha256, Source.id, Source.name, Case.name, Source.created_at)
        .join(SeriesMedia, SeriesMedia.series_id == Series.id)
        .join(Media, Media.id == SeriesMedia.media_id)
        .join(Occurrence, Occurrence.media_id == Media.id)
        .join(Source, Source.id == Occurrence.source_id)
        .join(Case, Case.id == Source.case_id)
        .where(owned, Source.case_id.is_distinct_from(Series.case_id))
        .distinct()
        .order_by(Source.created_at.desc(), Source.id.desc(), Series.name, Media.sha256)
    )
    with translated(ctx.settings.database_url), ctx.store.reader() as session:
        sight = sight_of(ctx, session)
        rows = session.execute(query).all()
        seen_ids = set(
            session.scalars(
                select(Source.id).where(
                    Source.id.in_({row[2] for row in rows}), visible_sources(sight)
                )
            )
        )
        media_ids = select(Media.sha256).where(
            Media.sha256.in_({row[1] for row in rows}), visible_media(sight)
        )
        seen_media = set(session.scalars(media_ids))
    alerts: list[AlertOut] = []
    said: set[tuple[str, bytes, str | None]] = set()
    for series, digest, source_id, source, case, created in rows:
        if digest not in seen_media:
            continue  # the series' own picture, but not one this principal may open
        shared = source_id in seen_ids
        key = (series, digest, source if shared else None)
        if key in said:
            continue  # several unshared sources read as one hit
        said.add(key)
        alerts.append(
            AlertOut(
                series=series,
                sha256=digest.hex(),
                source=source if shared else None,
                case=case if shared else None,
                shared=shared,
                seen_at=created,
            )
        )
        if len(alerts) >= limit:
            break
    return AlertListOut(alerts=alerts)


@use_case("dashboard.verdicts", SEE_MEDIA)
def verdict_counts(ctx: Context, *, limit: int = 10, linked: bool = False) -> VerdictCountsOut:
    """The verdicts of the files of the newest ``limit`` sources you see, added up (by hashes
    and PDQ only, unless ``linked``)."""
    if not 1 <= limit <= MOST_SOURCES:
        raise Invalid(f"count 1 to {MOST_SOURCES} sources, not {limit}")
    counts = {verdict.value: 0 for verdict in Verdict}
    with translated(ctx.settings.database_url), ctx.store.reader() as session:
        sight = sight_of(ctx, session)
        sources = list(
            session.scalars(select(Source).where(visible_sources(sight)).order_by(Source.id.desc()))
        )
        counted = sources[:limit]
        if counted:
            indexes = ctx.indexes(session)
            linker = Linker(session, indexes, ctx.settings) if linked else None
            thresholds = {"pdq": ctx.settings.pdq_threshold}
            for source in counted:
                report = matching.triage_source(session, source, indexes.near, thresholds, linker)
                for verdict, count in report.counts.items():
                    counts[verdict] = counts.get(verdict, 0) + count
        names = [source.name for source in counted]
    return VerdictCountsOut(
        counts=counts, linked=linked, sources=names, more=len(sources) - len(counted)
    )
