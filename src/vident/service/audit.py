"""The audit trail as use cases: record what happened, list it for auditors, verify the chain.

Every use case records its outcome with :func:`record_in` inside its own transaction (the
event commits with the work or not at all), and checks its principal with :func:`require`,
which records a refusal before raising :class:`~vident.service.errors.Forbidden`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from pydantic import Field, JsonValue
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vident.security import audit as chain
from vident.service.context import Context, Principal, Role
from vident.service.errors import Forbidden, Invalid, ServiceError
from vident.service.schemas import Model
from vident.service.scope import sight_of
from vident.store.models_security import AuditEvent

#: Who may read the trail.
READERS = frozenset({Role.AUDITOR, Role.SYSTEM_ADMIN})


class AuditTrailBroken(ServiceError):
    """The audit trail was tampered with (or its anchor lost)."""

    status = 500
    title = "audit trail broken"


def actor_of(principal: Principal) -> chain.Actor:
    return chain.Actor(name=principal.name, kind=principal.kind.value, agency=principal.agency_id)


def record_in(
    session: Session,
    ctx: Context,
    action: str,
    target: str | None,
    outcome: str = "ok",
    detail: Mapping[str, JsonValue] | None = None,
    remote: str | None = None,
) -> None:
    """Append an event in ``session``'s transaction, acting as ``ctx.principal``."""
    try:
        shown = target.replace("\x00", "\\x00") if target is not None else None  # PostgreSQL
        chain.append(session, actor_of(ctx.principal), action, shown, outcome, detail, remote)
    except chain.AuditError as exc:
        raise AuditTrailBroken(str(exc)) from None


def record(
    ctx: Context,
    action: str,
    target: str | None,
    outcome: str = "ok",
    detail: Mapping[str, JsonValue] | None = None,
    remote: str | None = None,
) -> None:
    """Append an event in a transaction of its own (refusals and failures, kept on error)."""
    with ctx.store.session() as session:
        record_in(session, ctx, action, target, outcome, detail, remote)


def require(ctx: Context, action: str, target: str | None, allowed: Iterable[Role]) -> None:
    """Deny by default: raise Forbidden, audited as denied, unless the role is ``allowed``."""
    roles = frozenset(allowed)
    if ctx.principal.role in roles:
        return
    record(ctx, action, target, "denied", {"role": ctx.principal.role.value})
    raise Forbidden(f"the role {ctx.principal.role.value} may not {action.replace('.', ' ')}")


class AuditEventOut(Model):
    id: int
    at: datetime
    actor: str
    actor_kind: str
    actor_agency: int | None
    action: str
    target: str | None
    outcome: str
    remote: str | None
    detail: dict[str, JsonValue] | None
    hash: str


class AuditListOut(Model):
    events: list[AuditEventOut]


class AuditVerifyOut(Model):
    intact: bool
    count: int = Field(description="Events walked before the first broken one (all if intact).")
    head_hash: str = Field(description="Hash of the newest intact event; keep it elsewhere.")
    broken_at: int | None = Field(default=None, description="Id of the first broken event.")
    problem: str | None = None


def _out(event: AuditEvent) -> AuditEventOut:
    at = event.at if event.at.tzinfo is not None else event.at.replace(tzinfo=UTC)
    return AuditEventOut(
        id=event.id,
        at=at,
        actor=event.actor,
        actor_kind=event.actor_kind,
        actor_agency=event.actor_agency,
        action=event.action,
        target=event.target,
        outcome=event.outcome,
        remote=event.remote,
        detail=event.detail,
        hash=event.hash,
    )


def list_events(
    ctx: Context,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> AuditListOut:
    """Events matching every filter given, oldest first; reading the trail is audited too.
    A principal of an agency reads the events of that agency's people and of principals of
    no agency."""
    require(ctx, "audit.list", None, READERS)
    if limit < 1:
        raise Invalid("the number of events to list must be at least 1")
    query = select(AuditEvent).order_by(AuditEvent.id)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        when = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
        query = query.where(AuditEvent.at >= when)
    with ctx.store.session() as session:
        sight = sight_of(ctx, session)
        if not sight.everything and sight.agency_id is not None:
            # An agency's auditor reads what its own people did, and what principals of no
            # agency (administrators, the local operator, anonymous logins) did, but not
            # what other agencies' people did to their own material.
            query = query.where(
                or_(AuditEvent.actor_agency == sight.agency_id, AuditEvent.actor_agency.is_(None))
            )
        events = [_out(e) for e in session.execute(query.limit(limit)).scalars()]
        filters: dict[str, JsonValue] = {
            "actor": actor,
            "action": action,
            "since": since.isoformat() if since else None,
        }
        record_in(session, ctx, "audit.list", None, "ok", filters)
    return AuditListOut(events=events)


def verify_trail(ctx: Context) -> AuditVerifyOut:
    """Walk the whole chain; the result names the first broken event, if any.

    Verifying does not append to the trail it checks: a broken trail is reported, never
    extended, so the evidence stays as it was found.
    """
    require(ctx, "audit.verify", None, READERS)
    with ctx.store.reader() as session:
        verdict = chain.verify(session)
    return AuditVerifyOut(
        intact=verdict.intact,
        count=verdict.count,
        head_hash=verdict.head_hash,
        broken_at=verdict.broken_at,
        problem=verdict.problem,
    )
