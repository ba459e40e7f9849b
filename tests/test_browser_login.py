"""Signing in and out in a real Chromium against the real app served by uvicorn.

The store is a real SQLite file with users made by the service layer; one-time codes come
from each user's enrolment secret. The page may reach the server under test only, and every
test checks that the browser logged no error (a CSP violation is one) and opened no dialog.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from playwright.sync_api import Browser, expect

from tests.browser import Watched, chromium, live_server, watched_page
from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.context import Role, local_operator, open_context
from vident.service.store_admin import init_store
from vident.service.users import EnrolmentOut, add_user, bootstrap_admin, disable_user
from vident.web.app import create_app
from vident.web.auth import COOKIE
from vident.web.pages.render import PAGE_CSP

PASSWORD = "a fine long password"
#: Stored names that would run script if a page let them through as markup.
HOSTILE_AGENCY = "<img src=x onerror=alert(1)>"
HOSTILE_USER = "<svg/onload=alert(1)>"


@dataclass
class Site:
    base: str
    secrets: dict[str, str]  # username -> TOTP secret

    def code(self, username: str) -> str:
        return pyotp.TOTP(self.secrets[username]).now()


def _secret(enrolment: EnrolmentOut) -> str:
    return parse_qs(urlparse(enrolment.totp_uri).query)["secret"][0]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    settings = Settings(data=tmp_path_factory.mktemp("browser") / "data")
    init_store(settings)
    ctx = open_context(settings, local_operator(settings))
    until = date.today() + timedelta(days=365)
    secrets = {"root": _secret(bootstrap_admin(ctx, "root", PASSWORD))}
    add_agency(ctx, "Met", "gb")
    add_agency(ctx, HOSTILE_AGENCY, "de")
    secrets["ana"] = _secret(add_user(ctx, "ana", "Met", Role.ANALYST, until, PASSWORD))
    secrets["eve"] = _secret(add_user(ctx, "eve", HOSTILE_AGENCY, Role.VIEWER, until, PASSWORD))
    add_user(ctx, HOSTILE_USER, "Met", Role.ANALYST, until, PASSWORD)
    disable_user(ctx, HOSTILE_USER)
    ctx.close()
    with live_server(create_app(settings)) as base:
        yield Site(base, secrets)


@pytest.fixture
def tab(browser: Browser, site: Site) -> Iterator[Watched]:
    with watched_page(browser, site.base) as watched:
        yield watched
    assert watched.blocked == [], "the page tried to reach another server"
    assert watched.errors == [], "script errors on the page"
    assert watched.dialogs == [], "a dialog opened: stored markup ran as script"


def _sign_in(tab: Watched, username: str, password: str, code: str) -> None:
    """Fill the form from the keyboard alone, as someone without a mouse would."""
    page = tab.page
    page.goto("/login")
    page.get_by_label("Username").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Tab")
    page.keyboard.type(code)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_wrong_password_shows_one_line_error_and_keeps_the_username(tab: Watched) -> None:
    _sign_in(tab, "ana", "not the password", "123456")
    page = tab.page
    assert urlparse(page.url).path == "/login"
    expect(page.get_by_role("alert")).to_have_text("wrong username, password or one-time code")
    expect(page.get_by_label("Username")).to_have_value("ana")
    expect(page.get_by_label("Password")).to_have_value("")
    # A login form posted from another site is refused before any credential is checked.
    body: dict[str, str | float | bool] = {"username": "ana", "password": PASSWORD, "code": "1"}
    foreign = page.request.post("/login", form=body, headers={"Origin": "https://elsewhere.test"})
    assert foreign.status == 403 and COOKIE not in foreign.headers.get("set-cookie", "")
    # The refused login answers 401: the only console line is Chromium noting that status.
    assert all("status of 401" in line for line in tab.console_errors()), tab.console_errors()


def test_sign_in_reaches_the_dashboard_and_sign_out_ends_the_session(
    tab: Watched, site: Site
) -> None:
    page = tab.page
    first = page.goto("/")
    assert urlparse(page.url).path == "/login", "the dashboard let a stranger in"
    assert first is not None and first.headers["content-security-policy"] == PAGE_CSP
    _sign_in(tab, "ana", PASSWORD, site.code("ana"))
    assert urlparse(page.url).path == "/"
    expect(page.locator("main")).to_contain_text("Signed in as ana (analyst, Met)")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    styles = page.locator("link[rel=stylesheet]").evaluate_all(
        "links => links.map(l => l.getAttribute('href'))"
    )
    assert styles and all(href.startswith("/static/") for href in styles), styles
    assert page.locator("main h1").evaluate("e => getComputedStyle(e).fontFamily") != ""
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    # The API accepts the page's session cookie too.
    assert page.request.get("/api/v1/sources").status == 200
    # A sign-out post without the session's CSRF token changes nothing.
    forged = page.request.post("/logout", form={"csrf_token": "0" * 64})
    assert forged.status == 403
    page.reload()
    expect(page.locator("#signed-in")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    assert all(c["name"] != COOKIE for c in page.context.cookies())
    page.goto("/")
    assert urlparse(page.url).path == "/login"
    assert page.request.get("/api/v1/sources").status == 401
    assert tab.console_errors() == []


def test_markup_in_stored_names_shows_as_text_and_never_runs(tab: Watched, site: Site) -> None:
    page = tab.page
    _sign_in(tab, "eve", PASSWORD, site.code("eve"))
    shown = page.locator("#signed-in")
    expect(shown).to_have_text(f"Signed in as eve (viewer, {HOSTILE_AGENCY})")
    expect(page.locator("main img")).to_have_count(0)
    assert tab.console_errors() == []
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    # A refusal that names the account echoes the stored username back into the page.
    _sign_in(tab, HOSTILE_USER, "anything at all", "123456")
    expect(page.get_by_role("alert")).to_contain_text(f"the account {HOSTILE_USER} is disabled")
    expect(page.get_by_label("Username")).to_have_value(HOSTILE_USER)
    expect(page.locator("main svg")).to_have_count(0)
    page.wait_for_timeout(200)  # an onload or onerror handler would have fired by now
    refused = [line for line in tab.console_errors() if "status of 401" not in line]
    assert refused == [], "the page broke its Content-Security-Policy"
