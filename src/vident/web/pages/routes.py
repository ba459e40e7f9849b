"""Signing in and out in the browser (the dashboard it lands on is in ``dashboard.py``).

Signing in calls the same service use case as ``POST /api/v1/auth/login`` and sets the same
HttpOnly, SameSite=Strict session cookie, for path ``/`` so that pages and the API both
receive it. Every form that changes something carries the session's CSRF token (the HMAC of
:func:`vident.web.auth.csrf_token`) in a hidden field, and every form post must come from
this server's own origin: SameSite does not protect the login form, which has no session yet.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vident.security.settings import SecuritySettings
from vident.service.context import Context
from vident.service.errors import ServiceError
from vident.service.sessions import SessionOut, login, revoke_session, touch_session
from vident.web.auth import COOKIE, cookie_secure, csrf_token, remote_of
from vident.web.deps import AnonymousContextDep, SecurityDep
from vident.web.pages.account import enrolment_redirect
from vident.web.pages.render import _, page
from vident.web.pages.session import PageRoute, local_next

router = APIRouter(include_in_schema=False, route_class=PageRoute)
#: The cookie path of a session opened by a page (the API's own login uses ``/api/``).
COOKIE_PATH = "/"
#: Longest accepted form fields, as the API's login body allows.
_LIMITS = {"username": 200, "password": 1024, "code": 100}
FormText = Annotated[str, Form()]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _same_origin(request: Request) -> bool:
    """Whether a form post came from a page of this server (browsers send Origin on POST)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return request.headers.get("sec-fetch-site") in (None, "same-origin")
    return origin == str(request.base_url).rstrip("/")


def _refused(message: str, status_code: int) -> Response:
    return page("error.html", {"title": _("Refused"), "message": message}, status_code)


def _session(request: Request, ctx: Context, security: SecuritySettings) -> SessionOut | None:
    """The live session of the request's cookie, or None (no cookie, or it ended)."""
    secret = request.cookies.get(COOKIE)
    if not secret:
        return None
    try:
        return touch_session(ctx, secret, security=security, remote=remote_of(request))
    except ServiceError:
        return None


def _login_form(
    username: str = "", error: str | None = None, status_code: int = 200, next_path: str = "/"
) -> Response:
    context = {"title": _("Sign in"), "username": username, "error": error, "next": next_path}
    return page("login.html", context, status_code)


@router.get("/login")
def login_page(
    request: Request, ctx: AnonymousContextDep, security: SecurityDep, next: str = "/"
) -> Response:
    """The sign-in form; someone already signed in goes on to ``next`` (a local path)."""
    target = local_next(next)
    if _session(request, ctx, security) is not None:
        return _see_other(target)
    return _login_form(next_path=target)


@router.post("/login")
def login_submit(
    request: Request,
    ctx: AnonymousContextDep,
    security: SecurityDep,
    username: FormText = "",
    password: FormText = "",
    code: FormText = "",
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    """Check password and one-time code; on success set the session cookie and go on to
    ``next`` (a path of this server only)."""
    if not _same_origin(request):
        return _refused(
            _(
                "This form was sent from another site: open the sign-in page of this "
                "server and sign in there."
            ),
            403,
        )
    fields = {"username": username, "password": password, "code": code}
    too_long = [name for name, value in fields.items() if len(value) > _LIMITS[name]]
    if too_long:
        message = _("The %(field)s is too long.") % {"field": too_long[0]}
        return _login_form("", message, 422, local_next(next_path))
    try:
        opened = login(ctx, username, password, code, security=security, remote=remote_of(request))
    except ServiceError as refused:
        # A right password of an account whose authenticator was never set up: set it up.
        enrol = enrolment_redirect(request, ctx, security, username, password, code)
        if enrol is not None:
            return enrol
        return _login_form(username, str(refused), refused.status, local_next(next_path))
    response = _see_other(local_next(next_path))
    response.set_cookie(
        COOKIE,
        opened.secret,
        max_age=security.session_absolute_hours * 3600,
        path=COOKIE_PATH,
        secure=cookie_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout")
def logout(
    request: Request,
    ctx: AnonymousContextDep,
    csrf_token_field: Annotated[str, Form(alias="csrf_token")] = "",
) -> Response:
    """End the session (its CSRF token proves the form came from its own page)."""
    secret = request.cookies.get(COOKIE)
    if not _same_origin(request):
        return _refused(
            _("This form was sent from another site: sign out from vident's own page."), 403
        )
    if not secret:
        return _see_other("/login")
    expected = csrf_token(secret).encode()
    if not hmac.compare_digest(csrf_token_field.encode(), expected):
        return _refused(
            _("The sign-out form was stale or forged: reload the page and sign out again."), 403
        )
    revoke_session(ctx, secret, remote=remote_of(request))
    response = _see_other("/login")
    for path in (COOKIE_PATH, "/api/"):
        response.delete_cookie(
            COOKIE, path=path, secure=cookie_secure(request), httponly=True, samesite="strict"
        )
    return response
