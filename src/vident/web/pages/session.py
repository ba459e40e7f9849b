"""Who is looking at a page: the session of the request's cookie, as a service context.

Every page but the sign-in form depends on :data:`ViewerDep`. Without a live session the
request is sent to the sign-in form (``/login?next=...``, a local path only), so a page never
renders for someone who is not signed in. Pages only read: every change a page offers goes
through the REST API from the page's script, with the session's CSRF token in the
``X-CSRF-Token`` header, so there is one path for changes, checked and audited once.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response

from vident.service.context import Context, PrincipalKind, Role
from vident.service.errors import ServiceError
from vident.service.sessions import touch_session
from vident.service.users import UserOut
from vident.web.auth import COOKIE, csrf_token, principal_of, remote_of
from vident.web.deps import AnonymousContextDep, SecurityDep, StateDep
from vident.web.pages.messages import messages
from vident.web.pages.render import _, page

__all__ = ["PageRoute", "SignInNeeded", "Viewer", "ViewerDep", "local_next", "nav_for"]

#: Roles that may change material (categorise, build series, record identifications).
EDITORS = frozenset({Role.ANALYST, Role.AGENCY_ADMIN, Role.SYSTEM_ADMIN})
ADMINS = frozenset({Role.AGENCY_ADMIN, Role.SYSTEM_ADMIN})
AUDITORS = frozenset({Role.AUDITOR, Role.SYSTEM_ADMIN})


class SignInNeeded(Exception):
    """The page needs a session the request does not have; ``next`` is where to come back."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def local_next(value: str | None) -> str:
    """``value`` if it is a path of this server, else ``/``: a sign-in link must never send
    the analyst to another site (``//host`` and ``/\\host`` are other sites to a browser)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ch in value for ch in "\r\n\t\\"):
        return "/"
    return value


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    label: str


def nav_for(role: Role) -> list[NavItem]:
    """The main menu of a role: nobody is shown a link to a page that would refuse them."""
    items = [
        NavItem("/", _("Dashboard")),
        NavItem("/sources", _("Sources")),
        NavItem("/cases", _("Cases")),
        NavItem("/series", _("Series")),
        NavItem("/people", _("People")),
        NavItem("/search", _("Search")),
    ]
    if role in EDITORS:
        items.insert(3, NavItem("/upload", _("Upload")))
    if role in AUDITORS:
        items.append(NavItem("/audit", _("Audit")))
    if role in ADMINS:
        items.append(NavItem("/admin", _("Admin")))
    items.append(NavItem("/settings", _("Settings")))
    return items


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in analyst of a page request: their context, account and CSRF token."""

    ctx: Context
    user: UserOut
    csrf: str
    path: str

    @property
    def role(self) -> Role:
        return self.user.role

    @property
    def can_edit(self) -> bool:
        return self.user.role in EDITORS

    @property
    def is_admin(self) -> bool:
        return self.user.role in ADMINS

    @property
    def is_auditor(self) -> bool:
        return self.user.role in AUDITORS

    def render(self, template: str, context: dict[str, object], status_code: int = 200) -> Response:
        """``template`` with ``context`` and what the layout needs (menu, CSRF token)."""
        full: dict[str, object] = {
            "viewer": self,
            "nav": nav_for(self.user.role),
            "csrf_token": self.csrf,
            "here": self.path,
            "messages": messages(),
        }
        full.update(context)
        return page(template, full, status_code)


def get_viewer(
    request: Request, state: StateDep, ctx: AnonymousContextDep, security: SecurityDep
) -> Viewer:
    """The viewer of ``request``, or :class:`SignInNeeded` (no cookie, or its session ended)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    secret = request.cookies.get(COOKIE)
    if not secret:
        raise SignInNeeded(here)
    try:
        session = touch_session(ctx, secret, security=security, remote=remote_of(request))
    except ServiceError as ended:
        raise SignInNeeded(here) from ended
    principal = principal_of(ctx, session.user, PrincipalKind.USER)
    acting = Context(
        settings=state.settings,
        store=state.store,
        principal=principal,
        shared_indexes=state.indexes,
        security=state.security,
    )
    return Viewer(ctx=acting, user=session.user, csrf=csrf_token(secret), path=request.url.path)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def sign_in_redirect(next_path: str) -> RedirectResponse:
    target = local_next(next_path)
    url = "/login" if target == "/" else f"/login?next={quote(target, safe='/')}"
    return RedirectResponse(url, status_code=303)


def _invalid(invalid: RequestValidationError) -> dict[str, object]:
    first = invalid.errors()[0] if invalid.errors() else {}
    where = str(first.get("loc", ("", ""))[-1])
    reason = str(first.get("msg", "invalid"))
    message = _("The address asks for something this page cannot show: %(where)s: %(reason)s.")
    return {"title": _("Invalid request"), "message": message % {"where": where, "reason": reason}}


class PageRoute(APIRoute):
    """A page route: a missing session goes to sign in, and a refused use case renders the
    error page with its one-line reason and status (never the API's JSON problem)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded as needed:
                return sign_in_redirect(needed.next_path)
            except RequestValidationError as invalid:
                # FastAPI checks parameters before the viewer is known: nobody signed in
                # learns nothing from them, they go to sign in first.
                if not request.cookies.get(COOKIE):
                    return sign_in_redirect(request.url.path)
                return page("error.html", _invalid(invalid), 422)
            except ServiceError as refused:
                context = {"title": refused.title.capitalize(), "message": str(refused)}
                return page("error.html", context, refused.status)

        return guarded
