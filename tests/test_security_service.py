"""Accounts, logins, tokens, sessions and the audit chain, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import delete, select, update

from vident.config import Settings
from vident.security import totp
from vident.security.settings import SecuritySettings
from vident.service import audit as audit_service
from vident.service.agencies import add_agency, list_agencies
from vident.service.context import (
    Context,
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.errors import Conflict, Forbidden, Invalid, Unauthenticated
from vident.service.keys import rotate_keys
from vident.service.sessions import login, revoke_session, touch_session
from vident.service.tokens import create_token, revoke_token, verify_token
from vident.service.users import (
    EnrolmentOut,
    add_user,
    authenticate,
    bootstrap_admin,
    certify,
    disable_user,
    list_users,
    set_role,
)
from vident.store.models_security import AuditAnchor, AuditEvent, User

PASSWORD = "a fine long password"
NOW = datetime.fromisoformat("2027-03-01T12:00:00+00:00")
SECURITY = SecuritySettings.model_construct()


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    context = open_context(settings, local_operator(settings))
    yield context
    context.close()


def _secret(enrolment: EnrolmentOut) -> str:
    return parse_qs(urlparse(enrolment.totp_uri).query)["secret"][0]


def _code(secret: str, when: datetime, offset: int = 0) -> str:
    return totp.code_at(secret, totp.current_step(when.timestamp()) + offset)


@pytest.fixture
def alice(ctx: Context) -> EnrolmentOut:
    add_agency(ctx, "Met", "gb")
    return add_user(ctx, "alice", "Met", Role.ANALYST, date(2027, 12, 31), PASSWORD)


def _events(ctx: Context, action: str) -> list[tuple[str | None, str, str | None]]:
    with ctx.store.reader() as session:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
        return [(e.target, e.outcome, (e.detail or {}).get("reason")) for e in rows]


def test_bootstrap_only_while_no_user_exists(ctx: Context) -> None:
    first = bootstrap_admin(ctx, "root-admin")
    assert first.user.role == Role.SYSTEM_ADMIN and first.password is not None
    assert len(first.recovery_codes) == 10 and first.totp_qr_svg.startswith("<svg")
    with pytest.raises(Conflict):
        bootstrap_admin(ctx, "second")
    with ctx.store.reader() as session:
        user = session.scalar(select(User))
        assert user is not None
        assert _secret(first).encode() not in user.totp_secret  # encrypted at rest
        assert first.password not in user.password_hash
        assert not set(first.recovery_codes) & set(user.recovery_codes)
    assert _events(ctx, "user.bootstrap") == [("root-admin", "ok", None)]


def test_login_with_totp_then_replay_missing_and_wrong_code(
    ctx: Context, alice: EnrolmentOut
) -> None:
    secret = _secret(alice)
    user = authenticate(ctx, "alice", PASSWORD, _code(secret, NOW), now=NOW)
    assert user.username == "alice" and user.agency == "Met" and user.totp_enrolled
    with pytest.raises(Unauthenticated):  # the same code again, still inside its window
        authenticate(ctx, "alice", PASSWORD, _code(secret, NOW), now=NOW + timedelta(seconds=5))
    with pytest.raises(Unauthenticated, match="one-time code"):
        authenticate(ctx, "alice", PASSWORD, None, now=NOW)
    with pytest.raises(Unauthenticated):
        authenticate(ctx, "alice", PASSWORD, "000000", now=NOW)
    with pytest.raises(Unauthenticated):
        authenticate(ctx, "alice", "wrong password!!", _code(secret, NOW, 1), now=NOW)
    # The next step's code still works (one step of drift is allowed).
    authenticate(ctx, "alice", PASSWORD, _code(secret, NOW, 1), now=NOW)
    reasons = [reason for _, _, reason in _events(ctx, "user.login")]
    assert reasons == [None, "replayed code", "missing code", "wrong code", "wrong password", None]


def test_recovery_code_works_once(ctx: Context, alice: EnrolmentOut) -> None:
    code = alice.recovery_codes[0]
    authenticate(ctx, "alice", PASSWORD, code, now=NOW)
    with pytest.raises(Unauthenticated):
        authenticate(ctx, "alice", PASSWORD, code, now=NOW)
    authenticate(ctx, "alice", PASSWORD, alice.recovery_codes[1], now=NOW)


def test_five_failures_lock_the_account_for_ten_minutes(ctx: Context, alice: EnrolmentOut) -> None:
    secret = _secret(alice)
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            authenticate(ctx, "alice", "not the password", "123456", now=NOW)
    later = NOW + timedelta(minutes=9)
    with pytest.raises(Unauthenticated, match="locked"):
        authenticate(ctx, "alice", PASSWORD, _code(secret, later), now=later)
    after = NOW + timedelta(minutes=10, seconds=1)
    assert authenticate(ctx, "alice", PASSWORD, _code(secret, after), now=after).username == "alice"
    assert [o for _, o, _ in _events(ctx, "user.login")] == ["failed"] * 5 + ["denied", "ok"]


def test_expired_certification_and_disabled_accounts_are_refused(
    ctx: Context, alice: EnrolmentOut
) -> None:
    secret = _secret(alice)
    late = datetime.fromisoformat("2028-01-01T00:00:00+00:00")
    with pytest.raises(Unauthenticated, match="certif"):
        authenticate(ctx, "alice", PASSWORD, _code(secret, late), now=late)
    certify(ctx, "alice", date(2028, 6, 30))
    authenticate(ctx, "alice", PASSWORD, _code(secret, late), now=late)
    disable_user(ctx, "alice")
    with pytest.raises(Unauthenticated, match="disabled"):
        authenticate(ctx, "alice", PASSWORD, _code(secret, late, 1), now=late)


def test_tokens_verify_until_revoked_or_expired(ctx: Context, alice: EnrolmentOut) -> None:
    created = create_token(ctx, "alice", "scanner", 30, ["read", "write"])
    now = datetime.now(UTC)
    who = verify_token(ctx, created.secret, now=now)
    assert (who.user.username, who.scopes) == ("alice", ["read", "write"])
    with pytest.raises(Unauthenticated, match="unknown"):
        verify_token(ctx, created.secret[:-2] + "xx", now=now)
    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(ctx, created.secret, now=now + timedelta(days=31))
    revoke_token(ctx, created.token.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        verify_token(ctx, created.secret, now=now)
    with pytest.raises(Invalid):
        create_token(ctx, "alice", "forever", 10_000)


def test_sessions_end_when_idle_too_old_or_revoked(ctx: Context, alice: EnrolmentOut) -> None:
    secret = _secret(alice)
    opened = login(ctx, "alice", PASSWORD, _code(secret, NOW), now=NOW)
    assert opened.session.idle_expires_at - NOW <= timedelta(minutes=30)
    # Used every 20 minutes, it lives until its absolute limit of 12 hours.
    when = NOW
    while when + timedelta(minutes=20) < NOW + timedelta(hours=12):
        when += timedelta(minutes=20)
        touch_session(ctx, opened.secret, now=when)
    with pytest.raises(Unauthenticated, match="absolute"):
        touch_session(ctx, opened.secret, now=NOW + timedelta(hours=12))

    second = login(ctx, "alice", PASSWORD, _code(secret, NOW, 1), now=NOW)
    with pytest.raises(Unauthenticated, match="idle"):
        touch_session(ctx, second.secret, now=NOW + timedelta(minutes=31))

    third = login(ctx, "alice", PASSWORD, alice.recovery_codes[0], now=NOW)
    touch_session(ctx, third.secret, now=NOW + timedelta(minutes=1))
    revoke_session(ctx, third.secret)
    with pytest.raises(Unauthenticated, match="ended"):
        touch_session(ctx, third.secret, now=NOW + timedelta(minutes=2))


def test_session_idle_limit_cannot_exceed_thirty_minutes() -> None:
    with pytest.raises(ValueError):
        SecuritySettings(session_idle_minutes=45)


def test_deny_by_default_is_audited(ctx: Context, settings: Settings, alice: EnrolmentOut) -> None:
    viewer = Context(
        settings=settings,
        store=ctx.store,
        principal=Principal("vic", PrincipalKind.USER, Role.VIEWER, agency_id=1),
    )
    with pytest.raises(Forbidden):
        add_agency(viewer, "Other", "de")
    with pytest.raises(Forbidden):
        list_users(viewer)
    with pytest.raises(Forbidden):
        audit_service.list_events(viewer)
    assert _events(ctx, "agency.add")[-1] == ("Other", "denied", None)
    assert [a.name for a in list_agencies(ctx).agencies] == ["Met"]

    other_admin = Context(
        settings=settings,
        store=ctx.store,
        principal=Principal("oa", PrincipalKind.USER, Role.AGENCY_ADMIN, agency_id=999),
    )
    with pytest.raises(Forbidden):
        set_role(other_admin, "alice", Role.VIEWER)
    own_admin = Context(
        settings=settings,
        store=ctx.store,
        principal=Principal("ma", PrincipalKind.USER, Role.AGENCY_ADMIN, agency_id=1),
    )
    with pytest.raises(Forbidden):
        set_role(own_admin, "alice", Role.SYSTEM_ADMIN)
    assert set_role(own_admin, "alice", Role.ANALYST).role == Role.ANALYST
    assert set_role(ctx, "alice", Role.VIEWER).role == Role.VIEWER


def test_rotation_keeps_totp_working(ctx: Context, alice: EnrolmentOut) -> None:
    result = rotate_keys(ctx, SECURITY)
    assert (result.key_id, result.reencrypted) == (2, 1)
    with ctx.store.reader() as session:
        sealed = session.scalar(select(User.totp_secret))
    assert sealed is not None and int.from_bytes(sealed[3:7], "big") == 2
    authenticate(ctx, "alice", PASSWORD, _code(_secret(alice), NOW), now=NOW)


# --- the audit chain ------------------------------------------------------------------------


def _five_events(ctx: Context) -> None:
    for i in range(5):
        audit_service.record(ctx, "test.event", f"target {i}", "ok", {"n": i})


def _verify(ctx: Context) -> audit_service.AuditVerifyOut:
    return audit_service.verify_trail(ctx)


def test_intact_trail_verifies(ctx: Context) -> None:
    _five_events(ctx)
    result = _verify(ctx)
    assert result.intact and result.count == 5 and len(result.head_hash) == 64


def test_edited_field_is_found(ctx: Context) -> None:
    _five_events(ctx)
    with ctx.store.session() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == 3).values(target="innocent"))
    result = _verify(ctx)
    assert (result.intact, result.broken_at) == (False, 3)
    assert "altered" in (result.problem or "")


def test_edit_with_recomputed_hash_is_found_at_the_next_event(ctx: Context) -> None:
    from vident.security.audit import event_hash

    _five_events(ctx)
    with ctx.store.session() as session:
        event = session.get(AuditEvent, 2)
        assert event is not None
        event.actor = "someone else"
        event.hash = event_hash(event)
    result = _verify(ctx)
    assert (result.intact, result.broken_at) == (False, 3)


def test_deleted_event_is_found(ctx: Context) -> None:
    _five_events(ctx)
    with ctx.store.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == 2))
    result = _verify(ctx)
    assert (result.intact, result.broken_at) == (False, 2)
    assert "event 2 removed" in (result.problem or "")


def test_reordered_events_are_found(ctx: Context) -> None:
    _five_events(ctx)
    with ctx.store.session() as session:
        two, three = session.get(AuditEvent, 2), session.get(AuditEvent, 3)
        assert two is not None and three is not None
        fields = ("at", "actor", "action", "target", "outcome", "detail", "prev_hash", "hash")
        saved = {name: getattr(two, name) for name in fields}
        for name in fields:
            setattr(two, name, getattr(three, name))
            setattr(three, name, saved[name])
    result = _verify(ctx)
    assert (result.intact, result.broken_at) == (False, 2)


def test_truncated_tail_is_found(ctx: Context) -> None:
    _five_events(ctx)
    with ctx.store.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id >= 4))
    result = _verify(ctx)
    assert (result.intact, result.broken_at, result.count) == (False, 4, 3)
    assert "events 4 to 5 were removed" in (result.problem or "")


def test_appending_after_a_lost_anchor_is_refused(ctx: Context) -> None:
    _five_events(ctx)
    with ctx.store.session() as session:
        session.execute(delete(AuditAnchor))
    assert not _verify(ctx).intact
    with pytest.raises(audit_service.AuditTrailBroken):
        audit_service.record(ctx, "test.event", None)


def test_concurrent_writers_keep_one_chain(ctx: Context, settings: Settings) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        mine = open_context(settings, local_operator(settings))
        try:
            for i in range(10):
                audit_service.record(mine, "test.concurrent", f"{n}-{i}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            mine.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = _verify(ctx)
    assert result.intact and result.count == 40


def test_list_filters_by_actor_action_and_time(ctx: Context, alice: EnrolmentOut) -> None:
    _five_events(ctx)
    events = audit_service.list_events(ctx, action="test.event").events
    assert [e.target for e in events] == [f"target {i}" for i in range(5)]
    assert audit_service.list_events(ctx, actor="nobody").events == []
    future = datetime.fromisoformat("2999-01-01T00:00:00")
    assert audit_service.list_events(ctx, since=future).events == []
    listed = audit_service.list_events(ctx, action="audit.list").events
    assert len(listed) == 3  # reading the trail is recorded too
