"""Login sessions of the web interface: idle and absolute timeouts, revocable at once.

A session's id is a random secret held by the browser; the store keeps its SHA-256 only. A
session ends after ``session_idle_minutes`` without use (30 at most) and
``session_absolute_hours`` after login, whichever comes first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from vident.security import tokens
from vident.security.settings import SecuritySettings, defaults
from vident.service.audit import record, record_in
from vident.service.context import Context
from vident.service.errors import Unauthenticated
from vident.service.schemas import Model
from vident.service.users import UserOut, authenticate, user_out
from vident.store.base import utcnow
from vident.store.models_security import AuthSession, User


class SessionOut(Model):
    user: UserOut
    created_at: datetime
    last_seen_at: datetime
    idle_expires_at: datetime
    absolute_expires_at: datetime


class SessionCreatedOut(Model):
    session: SessionOut
    secret: str


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _out(user: UserOut, row: AuthSession, security: SecuritySettings) -> SessionOut:
    created, seen = _utc(row.created_at), _utc(row.last_seen_at)
    return SessionOut(
        user=user,
        created_at=created,
        last_seen_at=seen,
        idle_expires_at=seen + timedelta(minutes=security.session_idle_minutes),
        absolute_expires_at=created + timedelta(hours=security.session_absolute_hours),
    )


def login(
    ctx: Context,
    username: str,
    password: str,
    code: str | None,
    *,
    security: SecuritySettings | None = None,
    remote: str | None = None,
    now: datetime | None = None,
) -> SessionCreatedOut:
    """Authenticate and open a session; the secret is in the result and nowhere else."""
    security = security or defaults()
    now = now or utcnow()
    user = authenticate(ctx, username, password, code, security=security, remote=remote, now=now)
    secret = tokens.new_session_secret()
    with ctx.store.session() as session:
        row = AuthSession(
            user_id=user.id, id_hash=tokens.digest(secret), created_at=now, last_seen_at=now
        )
        session.add(row)
        session.flush()
        record_in(session, ctx, "session.start", username, "ok", {"session": row.id}, remote)
        return SessionCreatedOut(session=_out(user, row, security), secret=secret)


def touch_session(
    ctx: Context,
    secret: str,
    *,
    security: SecuritySettings | None = None,
    remote: str | None = None,
    now: datetime | None = None,
) -> SessionOut:
    """The live session ``secret`` opens, marked as used now; Unauthenticated when it ended."""
    security = security or defaults()
    now = now or utcnow()
    with ctx.store.session() as session:
        row = session.scalar(
            select(AuthSession).where(AuthSession.id_hash == tokens.digest(secret))
        )
        user = session.get(User, row.user_id) if row is not None else None
        reason: str
        if row is None or user is None:
            reason = "unknown"
        elif row.revoked_at is not None:
            reason = "ended"
        elif _utc(row.created_at) + timedelta(hours=security.session_absolute_hours) <= now:
            reason = "past its absolute lifetime"
        elif _utc(row.last_seen_at) + timedelta(minutes=security.session_idle_minutes) <= now:
            reason = "idle too long"
        elif user.disabled:
            reason = "of a disabled user"
        else:
            row.last_seen_at = now
            return _out(user_out(session, user), row, security)
        target = user.username if user is not None else None
    record(ctx, "session.use", target, "denied", {"reason": reason}, remote)
    raise Unauthenticated(f"the session is {reason}: log in again")


def revoke_session(ctx: Context, secret: str, *, remote: str | None = None) -> None:
    """End the session ``secret`` opens (logging out); ending an unknown one does nothing."""
    with ctx.store.session() as session:
        row = session.scalar(
            select(AuthSession).where(AuthSession.id_hash == tokens.digest(secret))
        )
        if row is None:
            return
        user = session.get(User, row.user_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        target = user.username if user is not None else None
        record_in(session, ctx, "session.end", target, "ok", {"session": row.id}, remote)
