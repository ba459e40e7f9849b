"""Administration and the audit trail in a real Chromium, on the shared demo workspace.

An agency administrator adds a user and sees the enrolment once (the QR code an image of the
SVG, the secrets as text), changes a role and makes and revokes an API token; the system
administrator adds an agency; the auditor filters the trail and reads the chain check; and
neither a viewer nor an analyst is offered, or let into, the administration. Names made here
start with ``admin-`` so that other tests of the shared workspace never meet them.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.sync_api import Browser, Page, expect

from tests.browser import Watched
from tests.workspace import AGENCY, Workspace


def _refused_by_policy(tab: Watched) -> list[str]:
    """Console errors but the API's refusals a test asked for (a CSP violation is one)."""
    return [m for m in tab.console_errors() if not m.startswith("Failed to load resource")]


def _menu(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("nav .menu a").all_inner_texts()]


def test_viewers_and_analysts_are_neither_offered_nor_let_into_admin(
    browser: Browser, workspace: Workspace
) -> None:
    for who in ("vera", "ana"):
        with workspace.tab(browser, who) as tab:
            tab.page.goto("/")
            assert "Admin" not in _menu(tab.page)
            for url in ("/admin", "/admin/users"):
                response = tab.page.goto(url)
                assert response is not None and response.status == 403, url
            expect(tab.page.get_by_role("alert")).to_contain_text(
                "Administration is for agency and system administrators only"
            )
            expect(tab.page.locator("#users")).to_have_count(0)


def test_an_agency_admin_adds_a_user_sees_the_enrolment_once_and_changes_the_role(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, "adam") as tab:
        page = tab.page
        page.goto("/")
        page.get_by_role("link", name="Admin", exact=True).click()
        page.get_by_role("link", name="Users").first.click()
        expect(page).to_have_url(re.compile(r"/admin/users$"))
        expect(page.locator("#enrolment")).to_be_hidden()
        form = page.locator("#new-user")
        expect(form.get_by_label("Agency")).to_have_value(AGENCY)
        form.get_by_label("Username").fill("admin-newbie")
        form.get_by_label("Role").select_option("analyst")
        form.get_by_role("button", name="Add user").click()

        enrolment = page.locator("#enrolment")
        expect(enrolment).to_be_visible()
        expect(enrolment.locator('[data-field="username"]')).to_have_text("admin-newbie")
        password = enrolment.locator('[data-field="password"]').inner_text()
        assert len(password) >= 12
        uri = enrolment.locator('[data-field="totp_uri"]').inner_text()
        assert uri.startswith("otpauth://totp/") and "secret=" in uri
        expect(enrolment.locator('[data-field="recovery_codes"] li')).not_to_have_count(0)
        qr = enrolment.locator('img[data-field="qr"]')
        assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml")
        expect(qr).to_have_js_property("complete", True)
        assert qr.evaluate("img => img.naturalWidth") > 0  # the SVG drew as an image
        assert _refused_by_policy(tab) == []  # the QR image and all else were allowed

        # Once hidden, the enrolment is gone for good; the list shows the new account.
        enrolment.get_by_role("button", name="Handed over: hide it").click()
        row = page.locator('tr[data-user="admin-newbie"]')
        expect(row).to_be_visible()
        expect(enrolment).to_be_hidden()
        assert password not in page.content() and uri not in page.content()
        expect(row.locator("[data-role]")).to_have_text("analyst")
        expect(row).to_contain_text("not yet used")

        # Adding the same name again says why, in the form.
        form.get_by_label("Username").fill("admin-newbie")
        form.get_by_role("button", name="Add user").click()
        expect(form.locator("[data-error]")).to_contain_text("exists already")

        row.get_by_role("link", name="admin-newbie").click()
        expect(page.locator("#account [data-role]")).to_have_text("analyst")
        change = page.locator("#change-role")
        change.get_by_label("New role").select_option("viewer")
        change.get_by_role("button", name="Change role").click()
        expect(page.locator("#account [data-role]")).to_have_text("viewer")
        expect(change.get_by_label("New role")).to_have_value("viewer")
        # A role above an agency administrator's is not offered, and the API refuses it anyway.
        assert "system_admin" not in change.get_by_label("New role").inner_text()
        soon = date.today() + timedelta(days=10)
        page.locator("#certify").get_by_label("Certified until").fill(soon.isoformat())
        page.locator("#certify").get_by_role("button", name="Record certification").click()
        expect(page.locator("#account .cert-expiring")).to_have_text(
            f"expires {soon.isoformat()} (in 10 days)"
        )
        page.locator("#disable").click()
        expect(page.locator("#account [data-state]")).to_have_text("disabled")
        expect(page.locator("#enable")).to_be_visible()


def test_an_agency_admin_creates_a_token_sees_its_secret_once_and_revokes_it(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, "adam") as tab:
        page = tab.page
        page.goto("/admin/tokens")
        form = page.locator("#new-token")
        form.get_by_label("Acts as").select_option("ana")
        form.get_by_label("What it is for").fill("admin-sync")
        form.get_by_label("write").check()
        form.get_by_role("button", name="Create token").click()
        shown = page.locator("#new-secret")
        expect(shown).to_be_visible()
        secret = shown.locator('[data-field="secret"]').inner_text()
        assert secret.startswith("vt_")
        shown.get_by_role("button", name="Copied: hide it").click()
        row = page.locator("tr[data-token]", has_text="admin-sync")
        expect(row).to_contain_text("read, write")
        assert secret not in page.content()
        row.get_by_role("button", name="Revoke admin-sync").click()
        expect(page.locator("tr[data-token]", has_text="admin-sync")).to_contain_text("revoked")
        assert _refused_by_policy(tab) == []


def test_the_system_admin_adds_an_agency(browser: Browser, workspace: Workspace) -> None:
    with workspace.tab(browser, "root") as tab:
        page = tab.page
        page.goto("/admin/agencies")
        form = page.locator("#new-agency")
        form.get_by_label("Name").fill("admin-Gendarmerie <b>nationale</b>")
        form.get_by_label("Country").fill("fr")
        form.get_by_role("button", name="Add agency").click()
        row = page.locator("#agencies tr", has_text="admin-Gendarmerie")
        expect(row).to_contain_text("admin-Gendarmerie <b>nationale</b>")
        expect(row).to_contain_text("FR")
        form.get_by_label("Name").fill("admin-Gendarmerie <b>nationale</b>")
        form.get_by_label("Country").fill("fr")
        form.get_by_role("button", name="Add agency").click()
        expect(form.locator("[data-error]")).to_contain_text("exists already")
        assert _refused_by_policy(tab) == []


def test_the_auditor_filters_by_action_and_reads_the_chain_check(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, "audrey") as tab:
        page = tab.page
        page.goto("/")
        page.get_by_role("link", name="Audit", exact=True).click()
        expect(page.locator("#chain")).to_have_text(re.compile(r"^Chain intact: \d+ events\."))
        page.get_by_label("Action").fill("user.login")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(re.compile(r"action=user\.login"))
        actions = page.locator("#events td[data-action]")
        expect(actions.first).to_have_text("user.login")
        assert set(actions.all_inner_texts()) == {"user.login"}
        expect(page.get_by_label("Action")).to_have_value("user.login")
        page.get_by_label("Outcome").select_option("ok")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(re.compile(r"outcome=ok"))
        assert set(page.locator("#events td[class^=outcome-]").all_inner_texts()) == {"ok"}
        assert set(actions.all_inner_texts()) == {"user.login"}
        page.get_by_label("Actor").fill("admin-nobody")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("#events tbody")).to_contain_text("No event matches these filters.")
        page.get_by_role("link", name="Clear filters").click()
        expect(page.get_by_label("Action")).to_have_value("")
        assert _refused_by_policy(tab) == []
