"""Agency and system administration: agencies, users, roles, certification, tokens.

Only administrators open these pages: an agency administrator manages the users and tokens of
their own agency, a system administrator every agency's and the agencies themselves. The pages
read through the service layer (which scopes an agency administrator to their agency); every
change goes through the REST API from ``static/js/admin.js`` or the declarative forms of
``vident.js``. Secrets the API answers once (a new user's enrolment, a new token's secret)
are shown by the script as text and are never part of a page the server renders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query
from starlette.responses import Response

from vident.service.agencies import AgencyOut, list_agencies
from vident.service.audit import require
from vident.service.category_schemes import (
    CODE_LONGEST,
    LABEL_LONGEST,
    MOST_CATEGORIES,
    NAME_LONGEST,
    show_agency_scheme,
)
from vident.service.context import USER_ROLES, Role
from vident.service.errors import Forbidden, NotFound
from vident.service.tokens import SCOPES, TokenOut, list_tokens
from vident.service.users import ADMINS, AGENCY_GRANTABLE, UserOut, list_users
from vident.web.pages.render import _
from vident.web.pages.session import PageRoute, Viewer, ViewerDep

router = APIRouter(include_in_schema=False, route_class=PageRoute)

#: Rows on one page of a list.
PER_PAGE = 50
#: A certification ending within this many days is flagged for renewal.
EXPIRY_WARNING = timedelta(days=30)
#: Days a new token lives unless the administrator picks otherwise.
DEFAULT_TOKEN_DAYS = 90

T = TypeVar("T")

PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]


def _admin_only(viewer: Viewer) -> None:
    """Refuse anyone but an agency or system administrator (the error page, status 403); the
    refusal is in the audit trail, as every refused use case is."""
    try:
        require(viewer.ctx, "admin.view", viewer.path, ADMINS)
    except Forbidden:
        raise Forbidden(
            _("Administration is for agency and system administrators only (you are %(role)s).")
            % {"role": viewer.role.value}
        ) from None


@dataclass(frozen=True, slots=True)
class Pager:
    """Where one page of a list sits, with links to its neighbours (None at either end)."""

    number: int
    pages: int
    total: int
    previous: str | None
    next: str | None


def paginate(
    items: list[T], number: int, path: str, query: dict[str, str]
) -> tuple[list[T], Pager]:
    """The ``number``-th window of ``items`` (the last one if past the end), and its pager."""
    pages = max(1, math.ceil(len(items) / PER_PAGE))
    number = min(number, pages)
    start = (number - 1) * PER_PAGE

    def link(to: int) -> str:
        return f"{path}?{urlencode({**query, 'page': str(to)})}"

    pager = Pager(
        number=number,
        pages=pages,
        total=len(items),
        previous=link(number - 1) if number > 1 else None,
        next=link(number + 1) if number < pages else None,
    )
    return items[start : start + PER_PAGE], pager


@dataclass(frozen=True, slots=True)
class UserRow:
    """One account as the lists show it: its state and certification spelt out."""

    user: UserOut
    url: str
    api: str
    certification: str  # "current", "expiring" (within 30 days), "expired" or "missing"
    cert_label: str
    locked: bool


def _today() -> date:
    return datetime.now(UTC).date()


def certification_state(expires: date | None, today: date) -> str:
    """``missing``, ``expired``, ``expiring`` (ends within 30 days) or ``current``."""
    if expires is None:
        return "missing"
    if expires < today:
        return "expired"
    if expires <= today + EXPIRY_WARNING:
        return "expiring"
    return "current"


def certification_label(expires: date | None, state: str, today: date) -> str:
    """The certification as the lists say it, e.g. ``expires 2027-01-31 (in 12 days)``."""
    if expires is None:
        return _("never certified")
    if state == "expired":
        return _("expired on %(date)s") % {"date": expires.isoformat()}
    if state == "expiring":
        days = (expires - _today()).days
        return _("expires %(date)s (in %(days)d days)") % {
            "date": expires.isoformat(),
            "days": days,
        }
    return _("until %(date)s") % {"date": expires.isoformat()}


def _row(user: UserOut, today: date, now: datetime) -> UserRow:
    segment = quote(user.username, safe="")
    state = certification_state(user.certification_expires, today)
    return UserRow(
        user=user,
        url=f"/admin/users/{segment}",
        api=f"/api/v1/users/{segment}",
        certification=state,
        cert_label=certification_label(user.certification_expires, state, today),
        locked=user.locked_until is not None and user.locked_until > now,
    )


def _rows(viewer: Viewer) -> list[UserRow]:
    now = datetime.now(UTC)
    return [_row(u, now.date(), now) for u in list_users(viewer.ctx).users]


def grantable_roles(viewer: Viewer) -> list[str]:
    """The roles ``viewer`` may give (an agency administrator not auditor or system admin)."""
    if viewer.role == Role.SYSTEM_ADMIN:
        return [role.value for role in USER_ROLES]
    return [role.value for role in Role if role in AGENCY_GRANTABLE]


def _agencies_for_new_users(viewer: Viewer) -> list[str]:
    if viewer.role == Role.SYSTEM_ADMIN:
        return [a.name for a in list_agencies(viewer.ctx).agencies]
    return [viewer.user.agency] if viewer.user.agency else []


@router.get("/admin")
def admin_home(viewer: ViewerDep) -> Response:
    """What needs an administrator's attention, and the way to each list."""
    _admin_only(viewer)
    rows = _rows(viewer)
    attention = [r for r in rows if r.certification != "current" or r.locked]
    context: dict[str, object] = {
        "title": _("Administration"),
        "user_count": len(rows),
        "attention": attention,
        "is_system": viewer.role == Role.SYSTEM_ADMIN,
    }
    return viewer.render("admin.html", context)


@router.get("/admin/users")
def admin_users(viewer: ViewerDep, page: PageNumber = 1) -> Response:
    """The users an administrator manages, and the form that adds one."""
    _admin_only(viewer)
    shown, pager = paginate(_rows(viewer), page, "/admin/users", {})
    context: dict[str, object] = {
        "title": _("Users"),
        "rows": shown,
        "pager": pager,
        "roles": grantable_roles(viewer),
        "agencies": _agencies_for_new_users(viewer),
        "default_until": (_today() + timedelta(days=365)).isoformat(),
    }
    return viewer.render("admin_users.html", context)


@router.get("/admin/users/{username:path}")
def admin_user(username: str, viewer: ViewerDep) -> Response:
    """One account: its state, the forms that change it, and its API tokens."""
    _admin_only(viewer)
    found = [r for r in _rows(viewer) if r.user.username == username]
    if not found:
        raise NotFound(_("There is no user named %(name)r that you manage.") % {"name": username})
    tokens = [t for t in list_tokens(viewer.ctx).tokens if t.username == username]
    context: dict[str, object] = {
        "title": _("User %(name)s") % {"name": username},
        "row": found[0],
        "roles": grantable_roles(viewer),
        "tokens": [_token_row(t) for t in tokens],
    }
    return viewer.render("admin_user.html", context)


@router.get("/admin/agencies")
def admin_agencies(viewer: ViewerDep) -> Response:
    """Every agency; a system administrator also adds them here."""
    _admin_only(viewer)
    agencies: list[AgencyOut] = list_agencies(viewer.ctx).agencies
    context: dict[str, object] = {
        "title": _("Agencies"),
        "agencies": agencies,
        "can_add": viewer.role == Role.SYSTEM_ADMIN,
        "scheme_link": lambda name: _scheme_link(viewer, name),
    }
    return viewer.render("admin_agencies.html", context)


def _scheme_link(viewer: Viewer, agency: str) -> str | None:
    """The scheme page of ``agency`` if ``viewer`` may set its scheme, else None."""
    if viewer.role != Role.SYSTEM_ADMIN and agency != viewer.user.agency:
        return None
    return "/admin/scheme?" + urlencode({"agency": agency})


AgencyChoice = Annotated[str | None, Query(max_length=200)]


@router.get("/admin/scheme")
def admin_scheme(viewer: ViewerDep, agency: AgencyChoice = None) -> Response:
    """The category scheme an agency's number keys vote in, and the form that sets it: an
    agency administrator's own agency, any agency (``agency=``) for a system administrator."""
    _admin_only(viewer)
    is_system = viewer.role == Role.SYSTEM_ADMIN
    chosen = agency or viewer.user.agency
    if not is_system and chosen != viewer.user.agency:
        raise Forbidden(_("An agency administrator sets the scheme of their own agency only."))
    choices = [a.name for a in list_agencies(viewer.ctx).agencies] if is_system else []
    scheme = show_agency_scheme(viewer.ctx, chosen) if chosen else None
    lines = [f"{c.key}={c.code}={c.label}" for c in scheme.categories] if scheme else []
    context: dict[str, object] = {
        "title": _("Category scheme"),
        "agency": chosen,
        "choices": choices,
        "scheme": scheme,
        "lines": "\n".join(lines),
        "api": f"/api/v1/agencies/{quote(chosen, safe='')}/scheme" if chosen else None,
        "most": MOST_CATEGORIES,
        "name_longest": NAME_LONGEST,
        "code_longest": CODE_LONGEST,
        "label_longest": LABEL_LONGEST,
    }
    return viewer.render("admin_scheme.html", context)


@dataclass(frozen=True, slots=True)
class TokenRow:
    token: TokenOut
    api: str
    state: str  # "active", "revoked" or "expired"


def _token_row(token: TokenOut) -> TokenRow:
    if token.revoked_at is not None:
        state = "revoked"
    elif token.expires_at is not None and token.expires_at <= datetime.now(UTC):
        state = "expired"
    else:
        state = "active"
    return TokenRow(token=token, api=f"/api/v1/tokens/{token.id}", state=state)


@router.get("/admin/tokens")
def admin_tokens(viewer: ViewerDep, page: PageNumber = 1) -> Response:
    """API tokens, newest first (never their secrets), and the form that makes one."""
    _admin_only(viewer)
    rows = [_token_row(t) for t in list_tokens(viewer.ctx).tokens]
    shown, pager = paginate(rows, page, "/admin/tokens", {})
    usernames = [r.user.username for r in _rows(viewer) if not r.user.disabled]
    context: dict[str, object] = {
        "title": _("API tokens"),
        "rows": shown,
        "pager": pager,
        "usernames": usernames,
        "scopes": SCOPES,
        "default_days": DEFAULT_TOKEN_DAYS,
    }
    return viewer.render("admin_tokens.html", context)
