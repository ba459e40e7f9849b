"""Users: the first administrator, accounts, roles, certification, and logging in.

Every role needs a password and a TOTP code to log in: every role but the auditor's sees
media, and the auditor sees who looked at what, which is as sensitive. Five failed attempts
in a row lock an account for ten minutes; a disabled account or an expired certification
is refused whatever the credentials. Each attempt, good or bad, is in the audit trail.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vident.security import passwords, recovery, totp
from vident.security.settings import SecuritySettings, defaults
from vident.service.audit import record, record_in, require
from vident.service.context import USER_ROLES, Context, Role
from vident.service.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from vident.service.keys import open_keyring, open_totp, seal_totp
from vident.service.schemas import Model
from vident.store.base import utcnow
from vident.store.models_security import Agency, User

ADMINS = frozenset({Role.SYSTEM_ADMIN, Role.AGENCY_ADMIN})
#: Roles an agency administrator may give (the others only a system administrator may).
AGENCY_GRANTABLE = frozenset({Role.VIEWER, Role.ANALYST, Role.AGENCY_ADMIN})
#: How long the first administrator's certification lasts unless a date is given.
BOOTSTRAP_CERTIFICATION = timedelta(days=365)
_BAD_LOGIN = "wrong username, password or one-time code"


class UserOut(Model):
    id: int
    username: str
    agency: str | None
    role: Role
    certification_expires: date | None
    totp_enrolled: bool
    disabled: bool
    locked_until: datetime | None
    created_at: datetime


class UserListOut(Model):
    users: list[UserOut]


class EnrolmentOut(Model):
    """A new account's secrets, shown once: nothing here can be read back later."""

    user: UserOut
    password: str | None = None
    totp_uri: str
    totp_qr_svg: str
    recovery_codes: list[str]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def user_out(session: Session, user: User) -> UserOut:
    agency = session.get(Agency, user.agency_id) if user.agency_id is not None else None
    return UserOut(
        id=user.id,
        username=user.username,
        agency=agency.name if agency is not None else None,
        role=Role(user.role),
        certification_expires=user.certification_expires,
        totp_enrolled=user.totp_enrolled,
        disabled=user.disabled,
        locked_until=_utc(user.locked_until),
        created_at=_utc(user.created_at) or user.created_at,
    )


def _check_username(username: str) -> str:
    name = username.strip()
    if not name or len(name) > 100 or any(ch.isspace() or not ch.isprintable() for ch in name):
        raise Invalid("a username needs 1 to 100 printable characters without spaces")
    return name


def _find(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def _new_account(
    ctx: Context,
    session: Session,
    username: str,
    role: Role,
    agency_id: int | None,
    certified_until: date | None,
    password: str | None,
    security: SecuritySettings | None,
) -> tuple[User, str | None, str, list[str]]:
    generated = None
    if password is None:
        password = generated = passwords.generate_password()
    elif (reason := passwords.weak_reason(password)) is not None:
        raise Invalid(reason)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"a user named {username!r} exists already")
    secret = totp.new_secret()
    codes = recovery.generate()
    user = User(
        username=username,
        agency_id=agency_id,
        role=role.value,
        password_hash=passwords.hash_password(password),
        certification_expires=certified_until,
        totp_secret=seal_totp(open_keyring(ctx, security), username, secret),
        totp_enrolled=False,
        recovery_codes=[recovery.digest(code) for code in codes],
        failed_attempts=0,
        disabled=False,
    )
    session.add(user)
    session.flush()
    return user, generated, secret, codes


def _enrolment(
    session: Session, user: User, generated: str | None, secret: str, codes: list[str]
) -> EnrolmentOut:
    uri = totp.provisioning_uri(secret, user.username)
    return EnrolmentOut(
        user=user_out(session, user),
        password=generated,
        totp_uri=uri,
        totp_qr_svg=totp.qr_svg(uri),
        recovery_codes=codes,
    )


def needs_bootstrap(ctx: Context) -> bool:
    """Whether the store has no user yet (the server then says how to make the first one).
    Not audited: it reveals nothing but that the instance is new."""
    with ctx.store.reader() as session:
        return not session.scalar(select(func.count(User.id)))


def bootstrap_admin(
    ctx: Context,
    username: str,
    password: str | None = None,
    *,
    certified_until: date | None = None,
    security: SecuritySettings | None = None,
) -> EnrolmentOut:
    """Create the first system administrator; refused once any user exists."""
    require(ctx, "user.bootstrap", username, {Role.SYSTEM_ADMIN})
    name = _check_username(username)
    until = certified_until or (utcnow() + BOOTSTRAP_CERTIFICATION).date()
    with ctx.store.session() as session:
        # Recording first takes the audit anchor's lock: two bootstraps at once run in turn,
        # and the second finds the first's user (its event is rolled back with the refusal).
        record_in(session, ctx, "user.bootstrap", name, "ok", {"role": Role.SYSTEM_ADMIN.value})
        if session.scalar(select(func.count(User.id))):
            raise Conflict("users exist already: the first administrator was made before")
        user, generated, secret, codes = _new_account(
            ctx, session, name, Role.SYSTEM_ADMIN, None, until, password, security
        )
        return _enrolment(session, user, generated, secret, codes)


def _agency_scope(ctx: Context, action: str, target: str, agency_id: int | None) -> None:
    """An agency administrator acts on their own agency only."""
    if ctx.principal.role == Role.AGENCY_ADMIN and agency_id != ctx.principal.agency_id:
        record(ctx, action, target, "denied", {"reason": "other agency"})
        raise Forbidden("an agency administrator manages the users of their own agency only")


def _grantable(ctx: Context, action: str, target: str, role: Role) -> None:
    if role not in USER_ROLES:
        record(ctx, action, target, "denied", {"role": role.value})
        raise Invalid(f"no user may hold the role {role.value}")
    if ctx.principal.role == Role.AGENCY_ADMIN and role not in AGENCY_GRANTABLE:
        record(ctx, action, target, "denied", {"role": role.value})
        raise Forbidden(f"only a system administrator may give the role {role.value}")


def add_user(
    ctx: Context,
    username: str,
    agency: str,
    role: Role,
    certified_until: date,
    password: str | None = None,
    *,
    security: SecuritySettings | None = None,
) -> EnrolmentOut:
    """Add a user of ``agency`` with ``role``; the password is generated unless given."""
    require(ctx, "user.add", username, ADMINS)
    name = _check_username(username)
    with ctx.store.session() as session:
        found = session.scalar(select(Agency).where(Agency.name == agency))
        if found is None:
            raise NotFound(f"no agency named {agency!r}: add it first")
    _agency_scope(ctx, "user.add", name, found.id)
    _grantable(ctx, "user.add", name, role)
    with ctx.store.session() as session:
        user, generated, secret, codes = _new_account(
            ctx, session, name, role, found.id, certified_until, password, security
        )
        detail = {"role": role.value, "agency": agency, "certified_until": str(certified_until)}
        record_in(session, ctx, "user.add", name, "ok", detail)
        return _enrolment(session, user, generated, secret, codes)


def set_role(ctx: Context, username: str, role: Role) -> UserOut:
    """Give ``username`` a new role."""
    require(ctx, "user.role", username, ADMINS)
    with ctx.store.session() as session:
        user = _find(session, username)
        _agency_scope(ctx, "user.role", username, user.agency_id)
        _grantable(ctx, "user.role", username, role)
        _grantable(ctx, "user.role", username, Role(user.role))
        old = user.role
        user.role = role.value
        record_in(session, ctx, "user.role", username, "ok", {"from": old, "to": role.value})
        return user_out(session, user)


def certify(ctx: Context, username: str, until: date) -> UserOut:
    """Record that ``username``'s security training is current until ``until``."""
    require(ctx, "user.certify", username, ADMINS)
    with ctx.store.session() as session:
        user = _find(session, username)
        _agency_scope(ctx, "user.certify", username, user.agency_id)
        user.certification_expires = until
        record_in(session, ctx, "user.certify", username, "ok", {"until": until.isoformat()})
        return user_out(session, user)


def disable_user(ctx: Context, username: str) -> UserOut:
    """Disable ``username``: no more logins, tokens or sessions (the account stays audited)."""
    require(ctx, "user.disable", username, ADMINS)
    with ctx.store.session() as session:
        user = _find(session, username)
        _agency_scope(ctx, "user.disable", username, user.agency_id)
        user.disabled = True
        record_in(session, ctx, "user.disable", username, "ok")
        return user_out(session, user)


def list_users(ctx: Context) -> UserListOut:
    """Every user (an agency administrator sees their own agency's)."""
    require(ctx, "user.list", None, ADMINS | {Role.AUDITOR})
    query = select(User).order_by(User.username)
    if ctx.principal.role == Role.AGENCY_ADMIN:
        query = query.where(User.agency_id == ctx.principal.agency_id)
    with ctx.store.reader() as session:
        return UserListOut(users=[user_out(session, u) for u in session.execute(query).scalars()])


def authenticate(
    ctx: Context,
    username: str,
    password: str,
    code: str | None,
    *,
    security: SecuritySettings | None = None,
    remote: str | None = None,
    now: datetime | None = None,
) -> UserOut:
    """The user whose password and one-time code (TOTP or recovery code) these are.

    Raises Unauthenticated, after auditing the attempt, for a wrong password or code, a
    replayed code, a locked or disabled account or an expired certification.
    """
    security = security or defaults()
    now = now or utcnow()
    refusal: str | None = None
    with ctx.store.session() as session:
        user = session.scalar(select(User).where(User.username == username).with_for_update())
        refusal, reason = _check_login(ctx, session, user, password, code, security, now)
        detail = {"reason": reason} if reason else None
        outcome = "ok" if refusal is None else ("failed" if reason in _FAILURES else "denied")
        record_in(session, ctx, "user.login", username, outcome, detail, remote)
        result = user_out(session, user) if user is not None and refusal is None else None
    if result is None:
        raise Unauthenticated(refusal or _BAD_LOGIN)
    return result


_FAILURES = frozenset(
    {"unknown user", "wrong password", "missing code", "wrong code", "replayed code"}
)


def _check_login(
    ctx: Context,
    session: Session,
    user: User | None,
    password: str,
    code: str | None,
    security: SecuritySettings,
    now: datetime,
) -> tuple[str | None, str | None]:
    """(message refusing the login or None, the reason for the audit trail)."""
    if not code or not code.strip():
        return (
            "a one-time code from the authenticator app (or a recovery code) is needed to log in"
        ), "missing code"
    if user is None:
        passwords.verify_password(_dummy_hash(), password)  # same time as for a real user
        return _BAD_LOGIN, "unknown user"
    if user.disabled:
        return f"the account {user.username} is disabled: ask an administrator", "disabled"
    locked = _utc(user.locked_until)
    if locked is not None and locked > now:
        return (
            f"the account {user.username} is locked after repeated failed logins until "
            f"{locked:%Y-%m-%d %H:%M} UTC: try again then or ask an administrator"
        ), "locked"
    if locked is not None:
        user.locked_until = None
        user.failed_attempts = 0
    if not passwords.verify_password(user.password_hash, password):
        return _failed(user, security, now), "wrong password"
    expires = user.certification_expires
    if expires is None or expires < now.date():
        when = f"expired on {expires}" if expires else "was never recorded"
        return (
            f"the security certification of {user.username} {when}: ask an administrator to "
            "certify the account again"
        ), "certification expired"
    reason = _second_factor(ctx, user, code, security, now)
    if reason is not None:
        return _failed(user, security, now), reason
    user.failed_attempts = 0
    user.totp_enrolled = True
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return None, None


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown usernames against, so they take as long as known ones."""
    return passwords.hash_password(passwords.generate_password())


def _failed(user: User, security: SecuritySettings, now: datetime) -> str:
    user.failed_attempts += 1
    if user.failed_attempts >= security.lockout_attempts:
        user.locked_until = now + timedelta(minutes=security.lockout_minutes)
    return _BAD_LOGIN


def _second_factor(
    ctx: Context, user: User, code: str | None, security: SecuritySettings, now: datetime
) -> str | None:
    """None when ``code`` is a valid, unused TOTP or recovery code of ``user``; else why not."""
    if not code:
        return "missing code"
    if recovery.looks_like_code(code):
        left = recovery.use(list(user.recovery_codes), code)
        if left is None:
            return "wrong code"
        user.recovery_codes = left
        return None
    secret = open_totp(open_keyring(ctx, security), user.username, user.totp_secret)
    step = totp.verify(secret, code, user.totp_last_step, now.timestamp())
    if step is None:
        if user.totp_last_step is not None and totp.verify(secret, code, None, now.timestamp()):
            return "replayed code"
        return "wrong code"
    user.totp_last_step = step
    return None
