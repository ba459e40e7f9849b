"""The audit trail for auditors: filterable events and the chain check.

The page reads the trail through the service layer as the signed-in auditor (who may read the
events of their own agency's people and of principals of no agency; a system administrator
reads all) and walks the hash chain on every visit, saying plainly whether it is intact and,
if not, which event breaks it. Reading the trail is itself recorded in the trail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from vident.service.audit import AuditEventOut, list_events, verify_trail
from vident.service.errors import Forbidden, Invalid
from vident.web.pages.admin import PageNumber, paginate
from vident.web.pages.render import _
from vident.web.pages.session import PageRoute, ViewerDep

router = APIRouter(include_in_schema=False, route_class=PageRoute)

#: Outcomes an event can have (the filter offers these).
OUTCOMES = ("ok", "denied", "failed")
#: The most events one view of the page filters from; narrower filters see further.
SCAN_LIMIT = 10_000

Text = Annotated[str, Query(max_length=200)]
Day = Annotated[str, Query(max_length=10)]


@dataclass(frozen=True, slots=True)
class EventRow:
    """One event as the table shows it (the detail as compact JSON text)."""

    event: AuditEventOut
    at: str
    detail: str


def _row(event: AuditEventOut) -> EventRow:
    detail = (
        json.dumps(event.detail, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
        if event.detail
        else ""
    )
    at = event.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return EventRow(event=event, at=at, detail=detail)


def _day(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(
            _("The %(field)s date %(value)r is not a date like 2026-01-31.")
            % {"field": field, "value": value}
        ) from None


@router.get("/audit")
def audit_page(
    viewer: ViewerDep,
    actor: Text = "",
    action: Text = "",
    outcome: Text = "",
    since: Day = "",
    until: Day = "",
    page: PageNumber = 1,
) -> Response:
    """Events matching every filter given, newest first, and whether the chain is intact."""
    actor, action, outcome = actor.strip(), action.strip(), outcome.strip()
    if outcome and outcome not in OUTCOMES:
        raise Invalid(
            _("The outcome %(value)r is not one of %(known)s.")
            % {"value": outcome, "known": ", ".join(OUTCOMES)}
        )
    first, last = _day(since, _("from")), _day(until, _("to"))
    if first is not None and last is not None and last < first:
        raise Invalid(_("The date range ends before it starts."))
    start = datetime.combine(first, time(), UTC) if first is not None else None
    try:
        found = list_events(
            viewer.ctx, actor=actor or None, action=action or None, since=start, limit=SCAN_LIMIT
        ).events
    except Forbidden:  # recorded in the trail as denied by the use case
        raise Forbidden(
            _("The audit trail is for auditors and system administrators only (you are %(role)s).")
            % {"role": viewer.role.value}
        ) from None
    truncated = len(found) >= SCAN_LIMIT
    end = datetime.combine(last + timedelta(days=1), time(), UTC) if last is not None else None
    kept = [
        e
        for e in found
        if (not outcome or e.outcome == outcome) and (end is None or e.at.astimezone(UTC) < end)
    ]
    kept.reverse()  # newest first
    filters = {
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "since": since,
        "until": until,
    }
    shown, pager = paginate(kept, page, "/audit", {k: v for k, v in filters.items() if v})
    context: dict[str, object] = {
        "title": _("Audit trail"),
        "rows": [_row(e) for e in shown],
        "pager": pager,
        "filters": filters,
        "outcomes": OUTCOMES,
        "filtered": any(filters.values()),
        "truncated": truncated,
        "scan_limit": SCAN_LIMIT,
        "chain": verify_trail(viewer.ctx),
    }
    return viewer.render("audit.html", context)
