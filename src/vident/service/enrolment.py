"""Setting up the authenticator at a user's first sign-in, instead of being handed a secret.

An administrator who adds a user still gets a TOTP secret and recovery codes to hand over
(:func:`vident.service.users.add_user`). A user whose authenticator was never used to sign in
may instead set it up themselves: with the right password and no (or a wrong) code, the
sign-in gives them an *enrolment step*, not a session. The step is a short-lived value sealed
by the keyring for this one purpose: it names the user, carries a fresh TOTP secret, expires
after :data:`ENROL_MINUTES`, and dies when the password changes or the account is enrolled.
It opens nothing but the enrolment page, which shows the new secret as a QR code; the first
valid code from it replaces the secret handed over by the administrator, opens the session,
and makes new recovery codes, shown once.

Every step is audited (``user.enrol_start``, ``user.enrol``) under the anonymous principal
like a login, and wrong passwords and codes count towards the account's lockout.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.security import passwords, recovery, totp
from vident.security import tokens as session_tokens
from vident.security.crypto import KeyringError
from vident.security.settings import SecuritySettings, defaults
from vident.service.audit import record_in
from vident.service.context import Context
from vident.service.errors import Unauthenticated
from vident.service.keys import open_keyring, seal_totp
from vident.service.schemas import Model
from vident.store.base import utcnow
from vident.store.models_security import AuthSession, User

__all__ = [
    "ENROL_MINUTES",
    "EnrolledOut",
    "EnrolmentShownOut",
    "WrongEnrolmentCode",
    "finish_enrolment",
    "show_enrolment",
    "start_enrolment",
]

#: How long an enrolment step lasts.
ENROL_MINUTES = 10
_PURPOSE = b"vident.enrolment-step"
_EXPIRED = "the authenticator set-up has expired or was already finished"


class WrongEnrolmentCode(Unauthenticated):
    """The code given is not the current one of the step's new secret: try again."""


class EnrolmentShownOut(Model):
    """What the enrolment page shows: the new secret, as text and as a QR code."""

    username: str
    secret: str
    totp_uri: str
    totp_qr_svg: str
    expires_at: datetime


class EnrolledOut(Model):
    """The first sign-in, done: the session's secret and the recovery codes, shown once."""

    username: str
    secret: str
    recovery_codes: list[str]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _fingerprint(user: User) -> str:
    """Changes when the password or the stored TOTP secret does: an older step is void."""
    joined = user.password_hash.encode() + b"\0" + bytes(user.totp_secret)
    return hashlib.sha256(joined).hexdigest()[:32]


@functools.cache
def _dummy_hash() -> str:
    return passwords.hash_password(passwords.generate_password())


def _usable(user: User | None, now: datetime) -> bool:
    """Whether ``user`` may set up an authenticator now (before the password is checked)."""
    if user is None or user.disabled or user.totp_enrolled:
        return False
    locked = _utc(user.locked_until)
    if locked is not None and locked > now:
        return False
    expires = user.certification_expires
    return expires is not None and expires >= now.date()


def _count_failure(user: User, security: SecuritySettings, now: datetime) -> None:
    user.failed_attempts += 1
    if user.failed_attempts >= security.lockout_attempts:
        user.locked_until = now + timedelta(minutes=security.lockout_minutes)


def start_enrolment(
    ctx: Context,
    username: str,
    password: str,
    *,
    count_failure: bool,
    security: SecuritySettings | None = None,
    remote: str | None = None,
    now: datetime | None = None,
) -> str | None:
    """An enrolment step for ``username`` when the password is right and the account was
    never signed in with its authenticator; else None (the sign-in's refusal stands).

    ``count_failure``: count a wrong password towards the lockout (the caller's login did
    not already). Every account takes one password check, so the answer's timing does not
    tell which accounts are waiting to be set up.
    """
    security = security or defaults()
    now = now or utcnow()
    with ctx.store.session() as session:
        user = session.scalar(select(User).where(User.username == username).with_for_update())
        if user is None or not _usable(user, now):
            passwords.verify_password(_dummy_hash(), password)
            return None
        if not passwords.verify_password(user.password_hash, password):
            if count_failure:
                _count_failure(user, security, now)
            record_in(
                session, ctx, "user.enrol_start", username, "failed",
                {"reason": "wrong password"}, remote,
            )  # fmt: skip
            return None
        step = {
            "user": user.id,
            "name": user.username,
            "secret": totp.new_secret(),
            "expires": (now + timedelta(minutes=ENROL_MINUTES)).timestamp(),
            "print": _fingerprint(user),
        }
        sealed = open_keyring(ctx, security).encrypt(json.dumps(step).encode(), _PURPOSE)
        record_in(session, ctx, "user.enrol_start", username, "ok", None, remote)
    return base64.urlsafe_b64encode(sealed).decode("ascii")


def _open_step(
    ctx: Context, session: Session, token: str, security: SecuritySettings, now: datetime
) -> tuple[User, str, datetime]:
    """(the user, the new secret, when the step expires), or Unauthenticated."""
    try:
        raw = open_keyring(ctx, security).decrypt(base64.urlsafe_b64decode(token), _PURPOSE)
        step = json.loads(raw)
        user_id, name, secret = int(step["user"]), str(step["name"]), str(step["secret"])
        expires = datetime.fromtimestamp(float(step["expires"]), UTC)
        fingerprint = str(step["print"])
    except (KeyringError, binascii.Error, ValueError, KeyError, TypeError):
        raise Unauthenticated(_EXPIRED) from None
    user = session.get(User, user_id)
    if (
        user is None
        or user.username != name
        or expires <= now
        or not _usable(user, now)
        or fingerprint != _fingerprint(user)
    ):
        raise Unauthenticated(_EXPIRED)
    return user, secret, expires


def show_enrolment(
    ctx: Context,
    token: str,
    *,
    security: SecuritySettings | None = None,
    now: datetime | None = None,
) -> EnrolmentShownOut:
    """The secret of the enrolment step ``token`` and its QR code (drawn here, as SVG)."""
    security = security or defaults()
    now = now or utcnow()
    with ctx.store.reader() as session:
        user, secret, expires = _open_step(ctx, session, token, security, now)
        username = user.username
    uri = totp.provisioning_uri(secret, username)
    return EnrolmentShownOut(
        username=username,
        secret=secret,
        totp_uri=uri,
        totp_qr_svg=totp.qr_svg(uri),
        expires_at=expires,
    )


def finish_enrolment(
    ctx: Context,
    token: str,
    code: str,
    *,
    security: SecuritySettings | None = None,
    remote: str | None = None,
    now: datetime | None = None,
) -> EnrolledOut:
    """Check the first code of the step's secret; on success keep the secret, make new
    recovery codes and open a session. A wrong code counts towards the lockout."""
    security = security or defaults()
    now = now or utcnow()
    failed: str | None = None
    with ctx.store.session() as session:
        user, secret, _expires = _open_step(ctx, session, token, security, now)
        username = user.username
        step = totp.verify(secret, code, None, now.timestamp())
        if step is None:
            _count_failure(user, security, now)
            failed = "wrong code"
            record_in(session, ctx, "user.enrol", username, "failed", {"reason": failed}, remote)
        else:
            codes = recovery.generate()
            user.totp_secret = seal_totp(open_keyring(ctx, security), username, secret)
            user.totp_last_step = step
            user.totp_enrolled = True
            user.recovery_codes = [recovery.digest(c) for c in codes]
            user.failed_attempts = 0
            record_in(session, ctx, "user.enrol", username, "ok", None, remote)
            opened = session_tokens.new_session_secret()
            row = AuthSession(
                user_id=user.id,
                id_hash=session_tokens.digest(opened),
                created_at=now,
                last_seen_at=now,
            )
            session.add(row)
            session.flush()
            detail = {"session": row.id}
            record_in(session, ctx, "session.start", username, "ok", detail, remote)
    if failed is not None:
        raise WrongEnrolmentCode(
            "that code is not the current one of the new secret: check the app's clock and "
            "enter the code it shows now"
        )
    return EnrolledOut(username=username, secret=opened, recovery_codes=codes)
