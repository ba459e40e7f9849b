"""The account pages in Chromium: wellbeing settings change the veiled previews, the break
reminder appears as a polite banner, sessions are listed and ended, and a new account sets up
its authenticator at its first sign-in.

Each test makes its own account (``acct-...``) so that the shared workspace's users keep
their settings and sessions.
"""

from __future__ import annotations

import io
import itertools
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.workspace import AGENCY, PASSWORD, Workspace
from vident.service.context import Role, local_operator, open_context
from vident.service.errors import Unauthenticated
from vident.service.sessions import login, touch_session
from vident.service.users import add_user
from vident.store.models import Media
from vident.web.auth import COOKIE

_serial = itertools.count()


def _account(workspace: Workspace, stem: str, sessions: int = 1) -> tuple[str, list[str], str]:
    """A new analyst of the workspace's agency: (name, session secrets, TOTP secret)."""
    name = f"acct-{stem}-{next(_serial)}"
    ctx = open_context(workspace.settings, local_operator(workspace.settings))
    try:
        until = date.today() + timedelta(days=30)
        made = add_user(ctx, name, AGENCY, Role.ANALYST, until, PASSWORD)
        secret = parse_qs(urlparse(made.totp_uri).query)["secret"][0]
        opened = []
        for step in range(sessions):
            when = datetime.now(UTC) + timedelta(seconds=30 * step)
            code = pyotp.TOTP(secret).at(when)
            opened.append(login(ctx, name, PASSWORD, code, remote=f"10.9.8.{step}").secret)
    finally:
        ctx.close()
    return name, opened, secret


def _sign_in_as(page: Page, workspace: Workspace, secret: str) -> None:
    page.context.add_cookies([{"name": COOKIE, "value": secret, "url": workspace.base}])


def _a_previewed_media(page: Page, workspace: Workspace) -> str:
    ctx = open_context(workspace.settings, local_operator(workspace.settings))
    try:
        with ctx.store.reader() as session:
            shas = [raw.hex() for raw in session.scalars(select(Media.sha256).limit(40))]
    finally:
        ctx.close()
    for sha in shas:
        if page.request.get(f"/api/v1/media/{sha}/preview").ok:
            return sha
    raise AssertionError("no media of the demo has a preview")


def test_changing_blur_and_colour_changes_the_veiled_preview(
    browser: Browser, workspace: Workspace
) -> None:
    _name, secrets, _totp = _account(workspace, "veil")
    with workspace.tab(browser, None) as tab:
        page = tab.page
        _sign_in_as(page, workspace, secrets[0])
        sha = _a_previewed_media(page, workspace)
        before = page.request.get(f"/api/v1/media/{sha}/preview").body()
        with Image.open(io.BytesIO(before)) as shown:
            assert shown.mode == "L"
        page.goto("/settings")
        expect(page.locator("#wellbeing-source")).to_contain_text("vident's defaults")
        page.get_by_label("Blur of veiled previews").select_option("2")
        page.get_by_label("Show veiled previews in greyscale").uncheck()
        with page.expect_navigation():
            page.get_by_role("button", name="Save my settings").click()
        expect(page.locator("#wellbeing-source")).to_contain_text("You chose these settings")
        expect(page.get_by_label("Blur of veiled previews")).to_have_value("2")
        after = page.request.get(f"/api/v1/media/{sha}/preview").body()
        assert after != before
        with Image.open(io.BytesIO(after)) as shown:
            assert shown.mode == "RGB"
        # Back to the defaults: the preview is as before.
        with page.expect_navigation():
            page.get_by_role("button", name="Use the defaults again").click()
        expect(page.locator("#wellbeing-source")).to_contain_text("vident's defaults")
        assert page.request.get(f"/api/v1/media/{sha}/preview").body() == before
        # A reveal counts in this session's exposure.
        assert page.request.get(f"/api/v1/media/{sha}/preview?reveal=true").ok
        page.reload()
        expect(page.locator("#exposure-reveals")).to_have_text("1")


def test_the_break_reminder_is_a_polite_banner_after_the_interval(
    browser: Browser, workspace: Workspace
) -> None:
    _name, secrets, _totp = _account(workspace, "break")
    with workspace.tab(browser, None) as tab:
        page = tab.page
        _sign_in_as(page, workspace, secrets[0])
        page.goto("/settings")
        page.get_by_label("Suggest a break after (minutes, 0 for never)").fill("1")
        with page.expect_navigation():
            page.get_by_role("button", name="Save my settings").click()
        page.clock.install()
        page.goto("/")
        expect(page.locator("html")).to_have_attribute("data-wellbeing", "ready")
        reminder = page.locator("#break-reminder")
        page.clock.run_for(1000)
        expect(reminder).to_be_hidden()
        page.clock.fast_forward("01:05")
        expect(reminder).to_be_visible()
        expect(reminder).to_have_attribute("role", "status")
        expect(reminder).to_contain_text("Time for a short break")
        reminder.get_by_role("button", name="Dismiss").click()
        expect(reminder).to_be_hidden()
        page.clock.fast_forward("01:01")
        expect(reminder).to_be_visible()


def test_the_sessions_page_lists_the_current_one_and_ends_another(
    browser: Browser, workspace: Workspace
) -> None:
    _name, secrets, _totp = _account(workspace, "sessions", sessions=2)
    with workspace.tab(browser, None) as tab:
        page = tab.page
        _sign_in_as(page, workspace, secrets[0])
        page.goto("/settings")
        page.get_by_role("link", name="Your sessions").click()
        rows = page.locator("#sessions tbody tr")
        expect(rows).to_have_count(2)
        current = page.locator('#sessions tr[aria-current="true"]')
        expect(current).to_have_count(1)
        expect(current).to_contain_text("(this session)")
        expect(current).to_contain_text("10.9.8.0")
        with page.expect_navigation():
            page.get_by_role("button", name="End").click()
        expect(rows).to_have_count(1)
        expect(page.locator('#sessions tr[aria-current="true"]')).to_have_count(1)
    ctx = open_context(workspace.settings, local_operator(workspace.settings))
    try:
        try:
            touch_session(ctx, secrets[1])
        except Unauthenticated:
            pass
        else:
            raise AssertionError("the ended session still works")
        assert touch_session(ctx, secrets[0]).user.username.startswith("acct-sessions")
    finally:
        ctx.close()


def test_a_new_account_sets_up_its_authenticator_at_first_sign_in(
    browser: Browser, workspace: Workspace
) -> None:
    name, _none, _handed_over = _account(workspace, "enrol", sessions=0)
    with workspace.tab(browser, None) as tab:
        page = tab.page
        page.goto("/login")
        page.get_by_label("Username").fill(name)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        assert urlparse(page.url).path == "/enrol"
        qr = page.get_by_role("img", name="QR code of your new authenticator secret")
        expect(qr).to_be_visible()
        assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
        secret = page.locator("#totp-secret").inner_text().strip()
        page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
        with page.expect_navigation():
            page.get_by_role("button", name="Finish setting up").click()
        codes = page.locator("#recovery-codes li")
        expect(codes).to_have_count(10)
        page.get_by_role("link", name="continue to the dashboard").click()
        page.wait_for_url(f"{workspace.base}/")
        expect(page.locator(".who")).to_contain_text(name)


def test_a_stale_workspace_session_is_signed_in_again_and_the_tab_uses_it(
    browser: Browser, workspace: Workspace
) -> None:
    """A full run reaches its last page tests long after the workspace signed everyone in:
    a session unused for most of the 30 idle minutes is replaced before a tab gets it."""
    before = workspace.session("audrey")
    assert workspace.session("audrey") == before  # fresh: handed out again as it is
    workspace.handed_out["audrey"] -= 20 * 60
    after = workspace.session("audrey")
    assert after != before
    with workspace.tab(browser, "audrey") as tab:
        tab.page.goto("/")
        expect(tab.page.get_by_role("button", name="Sign out")).to_be_visible()
        cookies = {c["name"]: c["value"] for c in tab.page.context.cookies()}
        assert cookies[COOKIE] == after
