"""Commands of who may do what: admin, agency, user, token, audit.

Registered on the ``vident`` application when :mod:`vident.cli` imports this module. The
command line acts as the local operator of the data directory (a system administrator); each
command calls one use case of :mod:`vident.service` and prints what it returns.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from vident.cli_base import _errors, _settings, _table, app, err, out

if TYPE_CHECKING:
    from vident.security.settings import SecuritySettings
    from vident.service.context import Context, Role
    from vident.service.users import EnrolmentOut

admin_app = typer.Typer(help="Set up a data directory's security.", no_args_is_help=True)
agency_app = typer.Typer(help="Agencies that users belong to.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts, roles and certification.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for machines.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(agency_app, name="agency")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")


def _fail(message: str) -> typer.Exit:
    err.print(Text("error:", style="bold red"), message)
    return typer.Exit(1)


@contextmanager
def _service(ctx: typer.Context) -> Iterator[Context]:
    """A service context acting as the local operator; every failure is one line, exit 1."""
    from vident.service.context import local_operator, open_context
    from vident.service.errors import ServiceError

    settings = _settings(ctx)
    with _errors():
        context: Context | None = None
        try:
            context = open_context(settings, local_operator(settings))
            yield context
        except ServiceError as exc:
            raise _fail(str(exc)) from None
        finally:
            if context is not None:
                context.close()


def _security() -> SecuritySettings:
    from vident.security.settings import SecuritySettings

    try:
        return SecuritySettings()
    except ValueError as exc:
        raise _fail(f"a VIDENT_ security setting is not valid: {exc}") from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(f"{text!r} is not a date: write it as YYYY-MM-DD") from None


def _role(text: str) -> Role:
    from vident.service.context import USER_ROLES, Role

    try:
        role = Role(text)
        if role not in USER_ROLES:
            raise ValueError(text)
        return role
    except ValueError:
        roles = ", ".join(r.value for r in USER_ROLES)
        raise _fail(f"{text!r} is not a role: use one of {roles}") from None


def _password_from_stdin(enabled: bool) -> str | None:
    if not enabled:
        return None
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise _fail("no password on standard input: write it on the first line")
    return line


def _when(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return value.isoformat()


def _enrolment(result: EnrolmentOut) -> None:
    user = result.user
    out.print(f"user {user.username} created with role {user.role.value}")
    if result.password is not None:
        out.print(f"password (shown once, keep it safe): {result.password}")
    out.print(f"TOTP enrolment URI (add it to an authenticator app): {result.totp_uri}")
    out.print("recovery codes (each works once; shown once):")
    for code in result.recovery_codes:
        out.print(f"  {code}")


@admin_app.command("bootstrap")
def admin_bootstrap(
    ctx: typer.Context,
    username: Annotated[str, typer.Option("--username", help="The first administrator.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
) -> None:
    """Create the first system administrator (only while there is no user)."""
    from vident.service.users import bootstrap_admin

    password = _password_from_stdin(password_stdin)
    with _service(ctx) as service:
        _enrolment(bootstrap_admin(service, username, password, security=_security()))


@admin_app.command("rotate-keys")
def admin_rotate_keys(ctx: typer.Context) -> None:
    """Add a new encryption key and re-encrypt every encrypted field with it."""
    from vident.service.keys import rotate_keys

    with _service(ctx) as service:
        result = rotate_keys(service, _security())
        out.print(f"key {result.key_id} now encrypts; {result.reencrypted} secrets re-encrypted")


@agency_app.command("add")
def agency_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The agency's name.")],
    country: Annotated[str, typer.Option("--country", help="ISO 3166-1 alpha-2 code.")],
    contact: Annotated[
        str | None,
        typer.Option("--contact", help="Whom other agencies call about its alerts' hits."),
    ] = None,
) -> None:
    """Add an agency."""
    from vident.service.agencies import add_agency

    with _service(ctx) as service:
        agency = add_agency(service, name, country, contact)
        out.print(f"agency {agency.name} ({agency.country}) added")


@agency_app.command("list")
def agency_list(ctx: typer.Context) -> None:
    """List the agencies."""
    from vident.service.agencies import list_agencies

    with _service(ctx) as service:
        table = _table("agency", "country", "created")
        for agency in list_agencies(service).agencies:
            table.add_row(agency.name, agency.country, _when(agency.created_at))
        out.print(table)


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The new user's name.")],
    agency: Annotated[str, typer.Option("--agency", help="The agency they belong to.")],
    role: Annotated[str, typer.Option("--role", help="viewer, analyst, agency_admin ...")],
    certified_until: Annotated[
        str, typer.Option("--certified-until", help="End of their security certification.")
    ],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
) -> None:
    """Add a user; prints the generated password, TOTP enrolment URI and recovery codes once."""
    from vident.service.users import add_user

    wanted_role, until = _role(role), _date(certified_until)
    password = _password_from_stdin(password_stdin)
    with _service(ctx) as service:
        result = add_user(
            service, username, agency, wanted_role, until, password, security=_security()
        )
        _enrolment(result)


@user_app.command("list")
def user_list(ctx: typer.Context) -> None:
    """List the users."""
    from vident.service.users import list_users

    with _service(ctx) as service:
        table = _table("user", "agency", "role", "certified until", "TOTP", "state")
        for user in list_users(service).users:
            state = "disabled" if user.disabled else "locked" if user.locked_until else "active"
            table.add_row(
                user.username,
                user.agency or "",
                user.role.value,
                _when(user.certification_expires),
                "enrolled" if user.totp_enrolled else "pending",
                state,
            )
        out.print(table)


@user_app.command("role")
def user_role(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help="The new role.")],
) -> None:
    """Give a user another role."""
    from vident.service.users import set_role

    wanted = _role(role)
    with _service(ctx) as service:
        user = set_role(service, username, wanted)
        out.print(f"user {user.username} now has role {user.role.value}")


@user_app.command("certify")
def user_certify(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The user.")],
    until: Annotated[str, typer.Argument(help="YYYY-MM-DD: certification valid until.")],
) -> None:
    """Record that a user's security certification is valid until a date."""
    from vident.service.users import certify

    when = _date(until)
    with _service(ctx) as service:
        user = certify(service, username, when)
        out.print(f"user {user.username} certified until {_when(user.certification_expires)}")


@user_app.command("disable")
def user_disable(
    ctx: typer.Context, username: Annotated[str, typer.Argument(help="The user.")]
) -> None:
    """Disable a user: no more logins, tokens or sessions."""
    from vident.service.users import disable_user

    with _service(ctx) as service:
        user = disable_user(service, username)
        out.print(f"user {user.username} disabled")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The user the token acts as.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")],
    expires: Annotated[int, typer.Option("--expires", help="Days until it expires.")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="A scope (repeatable; default read).")
    ] = None,
) -> None:
    """Create an API token; its secret is printed once."""
    from vident.service.tokens import create_token

    with _service(ctx) as service:
        result = create_token(service, username, name, expires, scope)
        token = result.token
        out.print(
            f"token {token.id} ({token.name}) for {token.username}, expires "
            f"{_when(token.expires_at)}"
        )
        out.print(f"secret (shown once): {result.secret}")


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context, token_id: Annotated[int, typer.Argument(help="The token's id.")]
) -> None:
    """Revoke an API token at once."""
    from vident.service.tokens import revoke_token

    with _service(ctx) as service:
        token = revoke_token(service, token_id)
        out.print(f"token {token.id} ({token.name}) revoked at {_when(token.revoked_at)}")


@token_app.command("list")
def token_list(ctx: typer.Context) -> None:
    """List the API tokens (never their secrets)."""
    from vident.service.tokens import list_tokens

    with _service(ctx) as service:
        table = _table("id", "user", "name", "scopes", "expires", "revoked", "last used")
        for token in list_tokens(service).tokens:
            table.add_row(
                str(token.id),
                token.username,
                token.name,
                ",".join(token.scopes),
                _when(token.expires_at),
                _when(token.revoked_at),
                _when(token.last_used_at),
            )
        out.print(table)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Check the audit trail's hash chain; exit 1 naming the first broken event."""
    from vident.service.audit import verify_trail

    with _service(ctx) as service:
        result = verify_trail(service)
    if not result.intact:
        raise _fail(f"audit trail broken at event {result.broken_at}: {result.problem}")
    out.print(f"audit trail intact: {result.count} events; head {result.head_hash or '-'}")


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option("--actor", help="Only this actor.")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action, e.g. user.login.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only from this UTC date or time on.")
    ] = None,
) -> None:
    """List audit events, oldest first."""
    from vident.service.audit import list_events

    start = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise _fail(f"--since {since!r} is not a date or time: use YYYY-MM-DD") from None
    with _service(ctx) as service:
        events = list_events(service, actor=actor, action=action, since=start).events
        table = _table("id", "at", "actor", "action", "target", "outcome")
        for event in events:
            table.add_row(
                str(event.id),
                _when(event.at),
                event.actor,
                event.action,
                event.target or "",
                event.outcome,
            )
        out.print(table)
