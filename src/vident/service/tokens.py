"""API tokens: a machine acts as a user, with a secret shown once and revocable at any time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import JsonValue
from sqlalchemy import select

from vident.security import tokens
from vident.service.audit import record, record_in, require
from vident.service.context import Context, Role
from vident.service.errors import Invalid, NotFound, Unauthenticated
from vident.service.schemas import Model
from vident.service.users import ADMINS, UserOut, _agency_scope, _find, user_out
from vident.store.base import utcnow
from vident.store.models_security import ApiToken, User

#: Longest life of a token, in days.
MAX_DAYS = 366
#: What an API token may be allowed: read (GET, and searching by upload), write (changes),
#: admin (agencies, users, tokens) and audit (the audit trail). The role still applies.
SCOPES = ("read", "write", "admin", "audit")


class TokenOut(Model):
    id: int
    username: str
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreatedOut(Model):
    token: TokenOut
    secret: str


class TokenListOut(Model):
    tokens: list[TokenOut]


class TokenIdentityOut(Model):
    """Who a presented token acts as."""

    user: UserOut
    token_id: int
    scopes: list[str]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _out(row: ApiToken, username: str) -> TokenOut:
    return TokenOut(
        id=row.id,
        username=username,
        name=row.name,
        scopes=[str(s) for s in row.scopes],
        created_at=_utc(row.created_at) or row.created_at,
        expires_at=_utc(row.expires_at),
        revoked_at=_utc(row.revoked_at),
        last_used_at=_utc(row.last_used_at),
    )


def create_token(
    ctx: Context,
    username: str,
    name: str,
    expires_days: int,
    scopes: list[str] | None = None,
) -> TokenCreatedOut:
    """A new token for ``username``; its secret is in the result and nowhere else."""
    require(ctx, "token.create", username, ADMINS)
    if not 1 <= expires_days <= MAX_DAYS:
        raise Invalid(f"a token lives 1 to {MAX_DAYS} days, not {expires_days}")
    if not name.strip() or len(name) > 200:
        raise Invalid("a token needs a name of 1 to 200 characters")
    wanted = sorted(set(scopes or ["read"]))
    bad = [s for s in wanted if s not in SCOPES]
    if bad:
        raise Invalid(f"{bad[0]!r} is not a scope: use {', '.join(SCOPES)}")
    secret = tokens.new_secret()
    with ctx.store.session() as session:
        user = _find(session, username)
        _agency_scope(ctx, "token.create", username, user.agency_id)
        row = ApiToken(
            user_id=user.id,
            name=name.strip(),
            scopes=wanted,
            token_hash=tokens.digest(secret),
            expires_at=utcnow() + timedelta(days=expires_days),
        )
        session.add(row)
        session.flush()
        detail: dict[str, JsonValue] = {"token": row.id, "name": row.name, "days": expires_days}
        record_in(session, ctx, "token.create", username, "ok", detail)
        return TokenCreatedOut(
            token=_out(row, username), secret=tokens.format_token(row.id, secret)
        )


def revoke_token(ctx: Context, token_id: int) -> TokenOut:
    """Revoke a token at once; revoking twice keeps the first time."""
    require(ctx, "token.revoke", str(token_id), ADMINS)
    with ctx.store.session() as session:
        row = session.get(ApiToken, token_id)
        user = session.get(User, row.user_id) if row is not None else None
        if row is None or user is None:
            raise NotFound(f"no API token {token_id}")
        _agency_scope(ctx, "token.revoke", user.username, user.agency_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        record_in(session, ctx, "token.revoke", user.username, "ok", {"token": token_id})
        return _out(row, user.username)


def list_tokens(ctx: Context) -> TokenListOut:
    """Every token, newest first (never their secrets)."""
    require(ctx, "token.list", None, ADMINS | {Role.AUDITOR})
    query = select(ApiToken, User).join(User, User.id == ApiToken.user_id)
    if ctx.principal.role == Role.AGENCY_ADMIN:
        query = query.where(User.agency_id == ctx.principal.agency_id)
    with ctx.store.reader() as session:
        rows = session.execute(query.order_by(ApiToken.id.desc())).all()
        return TokenListOut(tokens=[_out(row, user.username) for row, user in rows])


def verify_token(
    ctx: Context, presented: str, *, remote: str | None = None, now: datetime | None = None
) -> TokenIdentityOut:
    """Who ``presented`` acts as; Unauthenticated (audited) if it is unknown, revoked, expired
    or its user may no longer log in."""
    now = now or utcnow()
    parsed = tokens.parse_token(presented)
    reason = "malformed"
    with ctx.store.session() as session:
        row = session.get(ApiToken, parsed[0]) if parsed is not None else None
        user = session.get(User, row.user_id) if row is not None else None
        if parsed is None:
            reason = "malformed"
        elif row is None or user is None or not tokens.matches(row.token_hash, parsed[1]):
            reason = "unknown"
        elif row.revoked_at is not None:
            reason = "revoked"
        elif (expires := _utc(row.expires_at)) is not None and expires <= now:
            reason = "expired"
        elif user.disabled:
            reason = "user disabled"
        elif user.certification_expires is None or user.certification_expires < now.date():
            reason = "certification expired"
        else:
            row.last_used_at = now
            record_in(session, ctx, "token.use", user.username, "ok", {"token": row.id}, remote)
            return TokenIdentityOut(
                user=user_out(session, user),
                token_id=row.id,
                scopes=[str(s) for s in row.scopes],
            )
    target = str(parsed[0]) if parsed is not None else None
    record(ctx, "token.use", target, "denied", {"reason": reason}, remote)
    raise Unauthenticated(f"the API token is {reason}: ask an administrator for a new one")
