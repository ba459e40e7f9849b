"""The admin, agency, user, token and audit commands, as an operator runs them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from vident.cli import app
from vident.config import Settings
from vident.security import totp
from vident.service.context import local_operator, open_context
from vident.service.errors import Unauthenticated
from vident.service.tokens import verify_token
from vident.service.users import authenticate
from vident.store.db import Store
from vident.store.models_security import AuditEvent, User

runner = CliRunner()


def vident(settings: Settings, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    options = ["--data", str(settings.data), "--db", settings.database_url]
    result = runner.invoke(app, [*options, *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def failed(outcome: tuple[int, str, str], *words: str) -> None:
    """Exit 1 with one line on standard error, no traceback, saying each of ``words``."""
    code, _, stderr = outcome
    assert code == 1, outcome
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
    for word in words:
        assert word in stderr, stderr


def _users(settings: Settings) -> dict[str, User]:
    store = Store(settings.database_url)
    with store.reader() as session:
        users = {u.username: u for u in session.execute(select(User)).scalars()}
    store.dispose()
    return users


def test_bootstrap_prints_secrets_once_and_only_once(settings: Settings) -> None:
    code, stdout, _ = vident(settings, "admin", "bootstrap", "--username", "chief")
    assert code == 0, stdout
    password = re.search(r"password \(shown once, keep it safe\): (\S+)", stdout)
    uri = re.search(r"(otpauth://totp/\S+)", stdout)
    codes = re.findall(r"^  ([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})$", stdout, re.M)
    assert password and uri and len(codes) == 10
    secret = re.search(r"secret=([A-Z2-7]+)", uri.group(1))
    assert secret is not None
    context = open_context(settings, local_operator(settings))
    try:
        user = authenticate(
            context, "chief", password.group(1), totp.code_at(secret.group(1), totp.current_step())
        )
        assert user.role.value == "system_admin"
    finally:
        context.close()
    failed(vident(settings, "admin", "bootstrap", "--username", "again"), "users exist")
    assert set(_users(settings)) == {"chief"}


def test_bootstrap_reads_the_password_from_stdin(settings: Settings) -> None:
    failed(
        vident(
            settings,
            "admin",
            "bootstrap",
            "--username",
            "chief",
            "--password-stdin",
            stdin="short\n",
        ),
        "12 characters",
    )
    code, stdout, _ = vident(
        settings,
        "admin",
        "bootstrap",
        "--username",
        "chief",
        "--password-stdin",
        stdin="a long chosen password\n",
    )
    assert code == 0 and "password (shown once" not in stdout
    assert len(re.findall(r"^  \S{4}-\S{4}-\S{4}-\S{4}$", stdout, re.M)) == 10
    context = open_context(settings, local_operator(settings))
    try:
        with pytest.raises(Unauthenticated, match="wrong"):
            authenticate(context, "chief", "a long chosen passwort", "123456")
    finally:
        context.close()


def test_agencies_and_users(settings: Settings) -> None:
    assert vident(settings, "agency", "add", "Kripo Berlin", "--country", "de")[0] == 0
    failed(vident(settings, "agency", "add", "Kripo Berlin", "--country", "DE"), "exists")
    failed(vident(settings, "agency", "add", "Nowhere", "--country", "XYZ"), "ISO 3166")
    code, stdout, _ = vident(settings, "agency", "list")
    assert code == 0 and "Kripo Berlin" in stdout and "DE" in stdout

    add = ("user", "add", "bea", "--agency", "Kripo Berlin", "--role", "analyst")
    code, stdout, _ = vident(settings, *add, "--certified-until", "2027-06-30")
    assert code == 0 and "user bea created with role analyst" in stdout
    failed(vident(settings, *add, "--certified-until", "30/06/2027"), "YYYY-MM-DD")
    failed(
        vident(
            settings,
            "user",
            "add",
            "cid",
            "--agency",
            "Nope",
            "--role",
            "viewer",
            "--certified-until",
            "2027-01-01",
        ),
        "no agency",
    )
    failed(
        vident(
            settings,
            "user",
            "add",
            "cid",
            "--agency",
            "Kripo Berlin",
            "--role",
            "king",
            "--certified-until",
            "2027-01-01",
        ),
        "not a role",
    )

    code, stdout, _ = vident(settings, "user", "list")
    assert code == 0 and "bea" in stdout and "analyst" in stdout and "2027-06-30" in stdout

    assert vident(settings, "user", "role", "bea", "viewer")[0] == 0
    assert vident(settings, "user", "certify", "bea", "2028-01-31")[0] == 0
    bea = _users(settings)["bea"]
    assert (bea.role, bea.certification_expires, bea.disabled) == (
        "viewer",
        date(2028, 1, 31),
        False,
    )
    code, stdout, _ = vident(settings, "user", "disable", "bea")
    assert code == 0 and "disabled" in stdout
    assert _users(settings)["bea"].disabled
    failed(vident(settings, "user", "disable", "nobody"), "no user named")
    code, stdout, _ = vident(settings, "user", "list")
    assert "disabled" in stdout


def test_tokens(settings: Settings) -> None:
    vident(settings, "agency", "add", "NCA", "--country", "GB")
    vident(
        settings,
        "user",
        "add",
        "bot",
        "--agency",
        "NCA",
        "--role",
        "analyst",
        "--certified-until",
        "2099-01-01",
    )
    code, stdout, _ = vident(
        settings, "token", "create", "bot", "--name", "scanner", "--expires", "7", "--scope", "read"
    )
    assert code == 0, stdout
    secret = re.search(r"secret \(shown once\): (vt_\S+)", stdout)
    assert secret is not None
    context = open_context(settings, local_operator(settings))
    try:
        assert verify_token(context, secret.group(1)).user.username == "bot"
        code, stdout, _ = vident(settings, "token", "list")
        assert code == 0 and "scanner" in stdout and secret.group(1) not in stdout
        code, stdout, _ = vident(settings, "token", "revoke", "1")
        assert code == 0 and "revoked" in stdout
        with pytest.raises(Unauthenticated, match="revoked"):
            verify_token(context, secret.group(1))
    finally:
        context.close()
    failed(vident(settings, "token", "revoke", "99"), "no API token 99")
    failed(vident(settings, "token", "create", "bot", "--name", "x", "--expires", "0"), "days")


def test_rotate_keys(settings: Settings) -> None:
    vident(settings, "admin", "bootstrap", "--username", "chief")
    code, stdout, _ = vident(settings, "admin", "rotate-keys")
    assert code == 0 and "key 2 now encrypts; 1 secrets re-encrypted" in stdout
    assert (settings.data / "keys" / "keyring.json").exists()


def test_audit_list_and_verify(settings: Settings) -> None:
    vident(settings, "agency", "add", "NCA", "--country", "GB")
    vident(settings, "agency", "add", "FBI", "--country", "US")
    code, stdout, _ = vident(settings, "audit", "verify")
    assert code == 0 and "audit trail intact: 2 events" in stdout
    code, stdout, _ = vident(settings, "audit", "list", "--action", "agency.add")
    assert code == 0 and "NCA" in stdout and "FBI" in stdout
    operator = local_operator(settings).name
    code, stdout, _ = vident(settings, "audit", "list", "--actor", "someone-else")
    assert code == 0 and "agency.add" not in stdout
    code, stdout, _ = vident(
        settings, "audit", "list", "--actor", operator, "--since", "2000-01-01"
    )
    assert code == 0 and "agency.add" in stdout
    code, stdout, _ = vident(settings, "audit", "list", "--since", "2999-01-01")
    assert code == 0 and "agency.add" not in stdout
    failed(vident(settings, "audit", "list", "--since", "yesterday"), "YYYY-MM-DD")


def _edit(session: Session) -> None:
    session.execute(update(AuditEvent).where(AuditEvent.id == 2).values(outcome="denied"))


def _delete(session: Session) -> None:
    session.execute(delete(AuditEvent).where(AuditEvent.id == 2))


def _reorder(session: Session) -> None:
    # Swap the contents of events 2 and 3, keeping their ids (and so their places).
    rows = {e.id: e for e in session.execute(select(AuditEvent)).scalars()}
    two, three = rows[2], rows[3]
    for name in ("at", "actor", "action", "target", "outcome", "detail", "prev_hash", "hash"):
        first, second = getattr(two, name), getattr(three, name)
        setattr(two, name, second)
        setattr(three, name, first)


def _truncate(session: Session) -> None:
    session.execute(delete(AuditEvent).where(AuditEvent.id >= 3))


@pytest.mark.parametrize(
    ("tamper", "event", "words"),
    [
        (_edit, 2, "altered"),
        (_delete, 2, "event 2 removed"),
        (_reorder, 2, "does not follow event 1"),
        (_truncate, 3, "events 3 to 4 were removed"),
    ],
    ids=["edit", "delete", "reorder", "truncate"],
)
def test_audit_verify_names_the_first_tampered_event(
    settings: Settings, tamper: Callable[[Session], None], event: int, words: str
) -> None:
    for name, country in (("A", "GB"), ("B", "DE"), ("C", "FR"), ("D", "NL")):
        assert vident(settings, "agency", "add", name, "--country", country)[0] == 0
    assert "intact: 4 events" in vident(settings, "audit", "verify")[1]
    store = Store(settings.database_url)
    with store.session() as session:
        tamper(session)
    store.dispose()
    failed(vident(settings, "audit", "verify"), f"broken at event {event}", words)


def test_key_passphrase_seals_the_keyring(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDENT_KEY_PASSPHRASE", "a passphrase kept elsewhere")
    assert vident(settings, "admin", "bootstrap", "--username", "chief")[0] == 0
    keyring = (settings.data / "keys" / "keyring.json").read_text()
    assert '"wrapped"' in keyring and '"keys"' not in keyring
    vident(settings, "agency", "add", "NCA", "--country", "GB")
    add = ("user", "add", "bea", "--agency", "NCA", "--role", "viewer")
    monkeypatch.delenv("VIDENT_KEY_PASSPHRASE")
    failed(vident(settings, *add, "--certified-until", "2099-01-01"), "VIDENT_KEY_PASSPHRASE")
    monkeypatch.setenv("VIDENT_KEY_PASSPHRASE", "a wrong guess")
    failed(vident(settings, *add, "--certified-until", "2099-01-01"), "does not open")
    assert "bea" not in _users(settings)
