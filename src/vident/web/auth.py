"""Who is calling: an API token in ``Authorization: Bearer``, else a login session's cookie.

Deny by default: a request without either is 401. A cookie session is what a browser holds,
so a request that changes something (POST, PUT, PATCH, DELETE) with the cookie must also carry
the session's CSRF token in the ``X-CSRF-Token`` header. The CSRF token is
HMAC-SHA256(key = the session secret, message = ``vident csrf``): the server stores nothing
more, a page of another site cannot compute it (it cannot read the HttpOnly cookie), and
knowing it reveals nothing of the session secret.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

from vident.config import Settings
from vident.security.settings import SecuritySettings
from vident.service.agencies import agency_by_name
from vident.service.context import Context, Principal, PrincipalKind, Role
from vident.service.errors import Forbidden, Unauthenticated
from vident.service.sessions import touch_session
from vident.service.tokens import verify_token
from vident.service.users import UserOut
from vident.store.db import Store

COOKIE = "vident_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
#: Who the audit trail names for what happens before anyone is authenticated (logins and
#: presented credentials): each event also records the remote address and the username tried.
ANONYMOUS = Principal(name="anonymous", kind=PrincipalKind.USER, role=Role.VIEWER)


def csrf_token(session_secret: str) -> str:
    """The CSRF token of the session ``session_secret`` opens."""
    return hmac.new(session_secret.encode(), b"vident csrf", hashlib.sha256).hexdigest()


def remote_of(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


def cookie_secure(request: Request) -> bool:
    """Secure cookies everywhere but plain HTTP on loopback (a browser would drop them)."""
    return not (request.url.scheme == "http" and (request.url.hostname or "") in LOOPBACK)


#: Routes that take an upload but change nothing: a read-only token may call them.
READING_POSTS = frozenset({"/search", "/similar"})


def required_scope(method: str, path: str) -> str:
    """The token scope a request needs: admin for agencies, users and tokens, audit for the
    audit trail, read for GET (and searching), write for every other change."""
    route = "/" + path.split("/api/v1/", 1)[-1] if "/api/v1/" in path else path
    if route.startswith(("/agencies", "/users", "/tokens")):
        return "admin"
    if route.startswith("/audit"):
        return "audit"
    if method in {"GET", "HEAD"} or route in READING_POSTS:
        return "read"
    return "write"


def principal_of(ctx: Context, user: UserOut, kind: PrincipalKind) -> Principal:
    agency_id = agency_by_name(ctx, user.agency).id if user.agency is not None else None
    return Principal(
        name=user.username, kind=kind, role=user.role, agency_id=agency_id, user_id=user.id
    )


def authenticate(
    request: Request, settings: Settings, security: SecuritySettings, store: Store
) -> Principal:
    """The principal of ``request``, or Unauthenticated / Forbidden (a missing CSRF token)."""
    ctx = Context(settings=settings, store=store, principal=ANONYMOUS)
    remote = remote_of(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise Unauthenticated("the Authorization header must read 'Bearer <API token>'")
        identity = verify_token(ctx, credentials.strip(), remote=remote)
        needed = required_scope(request.method, request.url.path)
        if needed not in identity.scopes:
            raise Forbidden(
                f"this API token lacks the {needed!r} scope: ask an administrator for a token "
                "that has it"
            )
        return principal_of(ctx, identity.user, PrincipalKind.TOKEN)
    secret = request.cookies.get(COOKIE)
    if not secret:
        raise Unauthenticated("no credentials: log in or send an API token")
    session = touch_session(ctx, secret, security=security, remote=remote)
    if request.method in UNSAFE_METHODS:
        given = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(given.encode(), csrf_token(secret).encode()):
            raise Forbidden(
                f"a change made with a session cookie needs the {CSRF_HEADER} header holding "
                "the CSRF token given at login"
            )
    return principal_of(ctx, session.user, PrincipalKind.USER)
