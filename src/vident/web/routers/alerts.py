"""Alerts: an agency watches a series or hashes; hits tell it who met them, never pictures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from vident.service.alerts import (
    AlertHitListOut,
    AlertHitOut,
    AlertListOut,
    AlertOut,
    add_alert,
    list_alert_hits,
    list_alerts,
    mark_hit_seen,
    remove_alert,
)
from vident.web.deps import ContextDep

router = APIRouter(tags=["alerts"])
#: A row id in a path: a larger number is refused (422) before it reaches the store.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class AlertIn(BaseModel):
    label: str = Field(min_length=1, max_length=200, description="What the alert is about.")
    series: str | None = Field(default=None, max_length=200, description="A series to watch.")
    hashes: list[str] = Field(
        default_factory=list, max_length=10_000, description="md5:, sha1: or sha256: hashes."
    )
    sharing: str = Field(
        default="international", max_length=16, description="How far its hashes travel."
    )


@router.get("/alerts", response_model=AlertListOut)
def get_alerts(ctx: ContextDep) -> AlertListOut:
    """The alerts of the caller's agency."""
    return list_alerts(ctx)


@router.post("/alerts", response_model=AlertOut, status_code=201)
def post_alert(ctx: ContextDep, body: AlertIn) -> AlertOut:
    """Watch a series or hashes for other agencies' seizures, here and at connected instances."""
    return add_alert(ctx, body.label, series=body.series, hashes=body.hashes, sharing=body.sharing)


@router.delete("/alerts/{alert_id}", response_model=AlertOut)
def delete_alert(ctx: ContextDep, alert_id: RowId) -> AlertOut:
    """Stop an alert; peers learn it at the next exchange."""
    return remove_alert(ctx, alert_id)


@router.get("/alerts/hits", response_model=AlertHitListOut)
def get_alert_hits(
    ctx: ContextDep,
    unseen: Annotated[bool, Query(description="Only hits not acknowledged yet.")] = False,
) -> AlertHitListOut:
    """Hits of the caller's agency's alerts, and those its own seizures made elsewhere."""
    return list_alert_hits(ctx, unseen)


@router.post("/alerts/hits/{hit_id}/seen", response_model=AlertHitOut)
def post_hit_seen(ctx: ContextDep, hit_id: RowId) -> AlertHitOut:
    """Acknowledge a hit of one of the caller's agency's alerts."""
    return mark_hit_seen(ctx, hit_id)
