"""The audit trail, for auditors: read it, and prove its chain intact."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from vident.service.audit import AuditListOut, AuditVerifyOut, list_events, verify_trail
from vident.web.deps import ContextDep

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=AuditListOut)
def get_audit(
    ctx: ContextDep,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=200)] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> AuditListOut:
    """Events matching every filter given, oldest first (reading is audited too)."""
    return list_events(ctx, actor=actor, action=action, since=since, limit=limit)


@router.get("/audit/verify", response_model=AuditVerifyOut)
def get_audit_verify(ctx: ContextDep) -> AuditVerifyOut:
    """Walk the whole chain; the result names the first broken event, if any."""
    return verify_trail(ctx)
