"""Triage of a source: the verdict of every file (known, near, related, new, error), with why.

Verdicts are computed from the store and every index when asked, so a hash set imported after
the ingest changes the triage at once. A process keeps the verdicts of the sources it was
asked for while the store's generation (:mod:`vident.store.generation`) has not moved: the
grid of a large seizure pages through them without asking every index again per page, and any
change anywhere (an ingest, a hash set, a series, an identification) makes them computed anew.
What each caller may see is applied per call, after the kept verdicts.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from sqlalchemy.orm import Session

from vident.match import triage as matching
from vident.match.geometry import describe
from vident.match.links import Linker
from vident.match.triage import VERDICT_ORDER, Reason
from vident.match.triage import Verdict as Verdict
from vident.service.context import Context
from vident.service.failures import translated
from vident.service.schemas import Model, ReasonOut
from vident.service.scope import check_source, hidden_series, redacted, seen_sources
from vident.service.sources import find_source
from vident.service.use_case import SEE_MEDIA, use_case
from vident.store.generation import current_generation
from vident.store.models import Source

#: Sources whose verdicts a process keeps (the least recently asked is dropped first).
KEPT_SOURCES = 4


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
        where=describe(detail),
    )


#: A source's verdicts and the store generation (token, counter) they were computed at.
_Kept = tuple[tuple[str, int], matching.TriageReport]


class _KeptVerdicts:
    """The verdicts of recently triaged sources, each with the generation it was computed at.

    One lock per source: a second request for a source being computed waits for the first
    instead of computing it again.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[str, int], _Kept] = OrderedDict()
        self._computing: dict[tuple[str, int], threading.Lock] = {}

    def get(self, ctx: Context, session: Session, source: Source) -> matching.TriageReport:
        key = (ctx.settings.database_url, source.id)
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            generation = current_generation(session)  # before computing: see the module doc
            with self._lock:
                kept = self._kept.get(key)
                if kept is not None and kept[0] == generation:
                    self._kept.move_to_end(key)
                    return kept[1]
            report = _compute(ctx, session, source)
            with self._lock:
                self._kept[key] = (generation, report)
                self._kept.move_to_end(key)
                while len(self._kept) > self._size:
                    self._kept.popitem(last=False)
            return report


def _compute(ctx: Context, session: Session, source: Source) -> matching.TriageReport:
    indexes = ctx.indexes(session)
    return matching.triage_source(
        session,
        source,
        indexes.near,
        {"pdq": ctx.settings.pdq_threshold},
        Linker(session, indexes, ctx.settings),
    )


_KEPT = _KeptVerdicts(KEPT_SOURCES)


@use_case("triage.read", SEE_MEDIA)
def triage_source(ctx: Context, source: str) -> TriageOut:
    """The verdict of every file of ``source``, with the reasons, in path order."""
    with translated(ctx.settings.database_url), ctx.store.reader() as session:
        found = check_source(ctx, session, find_source(session, source))
        report = _KEPT.get(ctx, session, found)
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
