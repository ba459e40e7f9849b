"""The signed-in analyst's own account: wellbeing settings, sessions, TOTP enrolment.

``/settings`` shows how veiled previews look for the analyst (blur, colour), the break
reminder, what the current session has exposed them to, and, for an agency administrator,
the agency's default. ``/settings/sessions`` lists the analyst's live sessions. Both only
read; the forms and buttons change things through ``/api/v1/me/...``.

``/enrol`` is the first sign-in of an account whose authenticator is not set up yet: the
sign-in form sends such a user here with a short-lived enrolment cookie (see
:mod:`vident.service.enrolment`), never a session. The page shows a QR code drawn on the
server and the secret, takes a first code, and then opens the session and shows the new
recovery codes once.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vident.security.settings import SecuritySettings
from vident.service.context import Context
from vident.service.enrolment import (
    ENROL_MINUTES,
    WrongEnrolmentCode,
    finish_enrolment,
    show_enrolment,
    start_enrolment,
)
from vident.service.errors import ServiceError
from vident.service.wellbeing import (
    AGENCY_BLUR_FLOOR,
    BLUR_MAX,
    BLUR_MIN,
    BREAK_MAX,
    agency_wellbeing,
    my_sessions,
    my_wellbeing,
)
from vident.web.auth import COOKIE, cookie_secure, remote_of
from vident.web.deps import AnonymousContextDep, SecurityDep
from vident.web.pages.render import _, page
from vident.web.pages.session import PageRoute, ViewerDep

router = APIRouter(include_in_schema=False, route_class=PageRoute)

#: The cookie holding the enrolment step (not a session: it opens nothing but ``/enrol``).
ENROL_COOKIE = "vident_enrol"
ENROL_PATH = "/enrol"
#: Blur levels offered, strongest last; each is a Gaussian radius at 320 px.
BLUR_LEVELS = (2, 4, 6, 8, 12, 16, 24)


def qr_data_uri(svg: str) -> str:
    """The QR code's SVG as a ``data:`` image: shown by an ``<img>``, never put into the
    page's markup (the page's CSP allows ``data:`` images)."""
    if "xmlns=" not in svg.split(">", 1)[0]:
        svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def from_this_site(request: Request) -> bool:
    """Whether a form post came from a page of this server (the sign-in form's rule)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return request.headers.get("sec-fetch-site") in (None, "same-origin")
    return origin == str(request.base_url).rstrip("/")


def enrolment_redirect(
    request: Request,
    ctx: Context,
    security: SecuritySettings,
    username: str,
    password: str,
    code: str,
) -> Response | None:
    """After a refused sign-in: to ``/enrol`` with an enrolment step when the password was
    right and the account's authenticator was never set up; None otherwise."""
    token = start_enrolment(
        ctx,
        username,
        password,
        count_failure=not code.strip(),
        security=security,
        remote=remote_of(request),
    )
    if token is None:
        return None
    response = RedirectResponse(ENROL_PATH, status_code=303)
    response.set_cookie(
        ENROL_COOKIE,
        token,
        max_age=ENROL_MINUTES * 60,
        path=ENROL_PATH,
        secure=cookie_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


def _blur_label(level: int) -> str:
    if level <= 4:
        return _("Light (%(level)s)") % {"level": level}
    if level < 12:
        return _("Medium (%(level)s)") % {"level": level}
    if level == 12:
        return _("Strong (%(level)s, vident's default)") % {"level": level}
    return _("Very strong (%(level)s)") % {"level": level}


@router.get("/settings")
def settings_page(request: Request, viewer: ViewerDep) -> Response:
    """The analyst's wellbeing settings and this session's exposure."""
    mine = my_wellbeing(viewer.ctx, request.cookies.get(COOKIE))
    agency = None
    if viewer.is_admin and viewer.user.agency is not None:
        agency = agency_wellbeing(viewer.ctx, viewer.user.agency)
    levels = sorted({*BLUR_LEVELS, mine.effective.blur})
    return viewer.render(
        "settings.html",
        {
            "title": _("Settings"),
            "wellbeing": mine,
            "agency_default": agency,
            "levels": [(level, _blur_label(level)) for level in levels],
            "agency_levels": [
                (level, _blur_label(level)) for level in BLUR_LEVELS if level >= AGENCY_BLUR_FLOOR
            ],
            "blur_min": BLUR_MIN,
            "blur_max": BLUR_MAX,
            "break_max": BREAK_MAX,
        },
    )


@router.get("/settings/sessions")
def sessions_page(request: Request, viewer: ViewerDep) -> Response:
    """The analyst's live sessions, the current one marked, each with a way to end it."""
    listed = my_sessions(viewer.ctx, request.cookies.get(COOKIE))
    return viewer.render("sessions.html", {"title": _("Sessions"), "sessions": listed.sessions})


def _enrol_page(
    token: str, ctx: AnonymousContextDep, security: SecurityDep, error: str | None, status: int
) -> Response:
    shown = show_enrolment(ctx, token, security=security)
    context = {
        "title": _("Set up your authenticator"),
        "enrolment": shown,
        "qr_src": qr_data_uri(shown.totp_qr_svg),
        "error": error,
        "done": None,
        "minutes": ENROL_MINUTES,
    }
    return page("enrol.html", context, status)


def _gone(message: str, status_code: int) -> Response:
    context = {"title": _("Set up your authenticator"), "message": message}
    response = page("error.html", context, status_code)
    response.delete_cookie(ENROL_COOKIE, path=ENROL_PATH, httponly=True, samesite="strict")
    return response


@router.get("/enrol")
def enrol_page(request: Request, ctx: AnonymousContextDep, security: SecurityDep) -> Response:
    """The QR code and secret of the account being enrolled, and the form for a first code."""
    token = request.cookies.get(ENROL_COOKIE)
    if not token:
        return RedirectResponse("/login", status_code=303)
    try:
        return _enrol_page(token, ctx, security, None, 200)
    except ServiceError as refused:
        return _gone(
            _("%(reason)s: sign in again to set up your authenticator.") % {"reason": str(refused)},
            refused.status,
        )


@router.post("/enrol")
def enrol_submit(
    request: Request,
    ctx: AnonymousContextDep,
    security: SecurityDep,
    code: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Check the first code; on success open the session and show the recovery codes once."""
    if not from_this_site(request):
        message = _("This form was sent from another site: use vident's own page.")
        return page("error.html", {"title": _("Refused"), "message": message}, 403)
    token = request.cookies.get(ENROL_COOKIE)
    if not token:
        return RedirectResponse("/login", status_code=303)
    try:
        done = finish_enrolment(ctx, token, code, security=security, remote=remote_of(request))
    except WrongEnrolmentCode as wrong:
        try:
            return _enrol_page(token, ctx, security, str(wrong), 401)
        except ServiceError as ended:  # the wrong code locked the account
            return _gone(str(ended), ended.status)
    except ServiceError as refused:
        return _gone(
            _("%(reason)s: sign in again to set up your authenticator.") % {"reason": str(refused)},
            refused.status,
        )
    context = {
        "title": _("Your recovery codes"),
        "enrolment": None,
        "qr_src": "",
        "error": None,
        "done": done,
        "minutes": ENROL_MINUTES,
    }
    response = page("enrol.html", context)
    response.delete_cookie(ENROL_COOKIE, path=ENROL_PATH, httponly=True, samesite="strict")
    response.set_cookie(
        COOKIE,
        done.secret,
        max_age=security.session_absolute_hours * 3600,
        path="/",
        secure=cookie_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response
