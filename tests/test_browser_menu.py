"""The layout every signed-in page shares: a menu that offers each role only what it may open,
a sign-in that comes back to the page asked for, and pages that refuse strangers."""

from __future__ import annotations

from urllib.parse import urlparse

from playwright.sync_api import Browser, expect

from tests.workspace import PASSWORD, Workspace


def _menu(tab_page: object) -> list[str]:
    from playwright.sync_api import Page

    assert isinstance(tab_page, Page)
    return [text.strip() for text in tab_page.locator("nav .menu a").all_inner_texts()]


def test_each_role_sees_only_the_pages_it_may_open(browser: Browser, workspace: Workspace) -> None:
    with workspace.tab(browser, "vera") as tab:
        tab.page.goto("/")
        menu = _menu(tab.page)
        assert "Cases" in menu and "Search" in menu
        assert not {"Upload", "Admin", "Audit"} & set(menu), menu
    with workspace.tab(browser, "adam") as tab:
        tab.page.goto("/")
        assert {"Upload", "Admin"} <= set(_menu(tab.page))
        assert "Audit" not in _menu(tab.page)
    with workspace.tab(browser, "audrey") as tab:
        tab.page.goto("/")
        assert "Audit" in _menu(tab.page)
        expect(tab.page.locator(".who")).to_contain_text("audrey · auditor · Kripo Berlin")


def test_signing_in_returns_to_the_page_asked_for_and_never_elsewhere(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, None) as tab:
        page = tab.page
        page.goto("/settings")
        assert urlparse(page.url).path == "/login"
        assert page.locator('input[name="next"]').input_value() == "/settings"
        page.goto("/login?next=//elsewhere.test/x")
        assert page.locator('input[name="next"]').input_value() == "/"
        page.goto("/login?next=/cases")
        page.get_by_label("Username").fill("vera")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("One-time code").fill(workspace.code("vera"))
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        assert urlparse(page.url).path == "/cases"
