"""Triage of a source: the verdict of every file (known, near, related, new, error), with why.

Verdicts are computed from the store and every index when asked, so a hash set imported after
the ingest changes the triage at once.
"""

from __future__ import annotations

import json

from vident.match import triage as matching
from vident.match.links import Linker
from vident.match.triage import VERDICT_ORDER, Reason
from vident.match.triage import Verdict as Verdict
from vident.service.context import Context
from vident.service.failures import translated
from vident.service.schemas import Model, ReasonOut
from vident.service.scope import check_source, hidden_series, redacted, seen_sources
from vident.service.sources import find_source
from vident.service.use_case import SEE_MEDIA, use_case


class TriageItemOut(Model):
    """One file of the source and its verdict; ``reasons`` name what it matches, best first."""

    path: str
    sha256: str | None
    type: str
    verdict: Verdict
    reasons: list[ReasonOut]
    error: str | None


class TriageOut(Model):
    """Every file of a source in path order, and how many got each verdict."""

    source: str
    counts: dict[str, int]
    items: list[TriageItemOut]

    def by_priority(self) -> list[TriageItemOut]:
        """The items an analyst must see first first (new, related, error, near, known)."""
        return sorted(self.items, key=lambda i: (VERDICT_ORDER[i.verdict], i.path))


def reason_out(reason: Reason) -> ReasonOut:
    """The shared reason model of a matcher's reason (its evidence made plain JSON)."""
    detail = json.loads(json.dumps(reason.detail)) if reason.detail else None
    return ReasonOut(
        signal=reason.signal,
        distance=reason.distance,
        hashset=reason.hashset,
        media=reason.media,
        source=reason.source,
        category=reason.category,
        series=reason.series,
        identified=reason.identified,
        score=reason.score,
        detail=detail,
    )


@use_case("triage.read", SEE_MEDIA)
def triage_source(ctx: Context, source: str) -> TriageOut:
    """The verdict of every file of ``source``, with the reasons, in path order."""
    with translated(ctx.settings.database_url), ctx.store.reader() as session:
        found = check_source(ctx, session, find_source(session, source))
        indexes = ctx.indexes(session)
        report = matching.triage_source(
            session,
            found,
            indexes.near,
            {"pdq": ctx.settings.pdq_threshold},
            Linker(session, indexes, ctx.settings),
        )
        seen = seen_sources(
            ctx, session, {r.source for i in report.items for r in i.reasons if r.source}
        )
        unseen = hidden_series(
            ctx, session, {r.series for i in report.items for r in i.reasons if r.series}
        )
    return TriageOut(
        source=report.source,
        counts=report.counts,
        items=[
            TriageItemOut(
                path=item.path,
                sha256=item.sha256,
                type=item.type,
                verdict=item.verdict,
                reasons=redacted([reason_out(r) for r in item.reasons], seen, unseen),
                error=item.error,
            )
            for item in report.items
        ],
    )
