"""Markup from a seizure or typed by an analyst shows as text in Chromium and never runs.

The workspace's ``hostile-seizure`` holds pictures whose file names, EXIF and printed text are
markup. Each page that shows them (the sources list, the triage grid, every media's detail
page, the text search) is opened as ana; a series and a clue whose name or note is markup are
made through the API and their pages opened too. The tab fixture fails a test on any dialog
(``alert``) or script error; each test also checks the markup is on screen as text and that no
element it would have made (``img[src="x"]``, ``svg[onload]``, ...) exists in the DOM.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import Watched
from tests.workspace import HOSTILE_EXIF, HOSTILE_NAMES, HOSTILE_SOURCE, Workspace
from vident.service.context import local_operator, open_context
from vident.service.triage import TriageItemOut, triage_source

#: Markup an analyst types (this module's names: the workspace is shared).
SERIES = "hostile-<img src=x onerror=alert(9)>"
NOTE = "<svg onload=alert(10)><script>alert(11)</script>"
CLUE_NOTE = "hostile clue <img src=x onerror=alert(12)> <svg/onload=alert(13)>"
#: Elements the hostile markup would make if a page put it into the DOM as HTML.
INJECTED = (
    'img[src="x"]',
    "svg[onload]",
    "[onerror]",
    "[onload]",
    "[onmouseover]",
    'script[src^="data:"]',
    "main script",
    "main b",
)


def _nothing_injected(tab: Watched, timeout: float = 5_000) -> None:
    """No element of the markup is in the page, and the CSP blocked nothing on it (a blocked
    inline handler would mean markup reached the DOM as HTML)."""
    for selector in INJECTED:
        expect(tab.page.locator(selector)).to_have_count(0, timeout=timeout)
    blocked = [m for m in tab.console_errors() if "Content Security Policy" in m]
    assert blocked == [], blocked


@pytest.fixture(scope="module")
def hostile(workspace: Workspace) -> Iterator[list[TriageItemOut]]:
    """The hostile seizure's files (each stored, with its SHA-256)."""
    ctx = open_context(workspace.settings, local_operator(workspace.settings))
    try:
        items = triage_source(ctx, HOSTILE_SOURCE).items
    finally:
        ctx.close()
    assert {i.path for i in items} >= set(HOSTILE_NAMES)
    assert all(i.sha256 for i in items)
    yield items


def test_the_sources_list_and_the_triage_grid_show_names_as_text(
    browser: Browser, workspace: Workspace, hostile: list[TriageItemOut]
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/sources")
        expect(page.locator("main")).to_contain_text(HOSTILE_SOURCE)
        _nothing_injected(tab)
        page.goto(f"/sources/{HOSTILE_SOURCE}/triage")
        page.wait_for_load_state("networkidle")
        for name in HOSTILE_NAMES:
            expect(page.locator("main")).to_contain_text(name)
        expect(page.locator(".tile")).to_have_count(len(hostile))
        _nothing_injected(tab)


def test_each_hostile_media_page_shows_its_name_and_exif_as_text(
    browser: Browser, workspace: Workspace, hostile: list[TriageItemOut]
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        for item in hostile:
            page.goto(f"/media/{item.sha256}")
            page.wait_for_load_state("networkidle")
            expect(page.locator("main")).to_contain_text(item.path)
            if item.path in HOSTILE_NAMES:
                expect(page.locator("#exif")).to_contain_text(HOSTILE_EXIF)
                expect(page.locator("#exif")).to_contain_text("<script>alert('model')</script>")
            _nothing_injected(tab)


def test_the_text_search_shows_printed_markup_as_text(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/search")
        page.get_by_label('Words, "a phrase" or a prefix*').fill("harbour")
        page.get_by_role("button", name="Search text").click()
        expect(page.locator("#summary")).to_contain_text("matching harbour")
        tile = page.locator("#tiles .tile", has_text="<b>note<b>.png")
        expect(tile).to_have_count(1)
        expect(tile.locator(".snippet")).to_contain_text("harbour", ignore_case=True)
        _nothing_injected(tab)


def test_a_series_and_a_clue_made_of_markup_show_as_text(
    browser: Browser, workspace: Workspace, hostile: list[TriageItemOut]
) -> None:
    sha = str(hostile[0].sha256)
    headers = {"X-CSRF-Token": workspace.csrf("ana")}
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/series")
        made = page.request.post(
            "/api/v1/series", data={"name": SERIES, "notes": NOTE}, headers=headers
        )
        assert made.status in (201, 409), made.text()
        added = page.request.post(
            f"/api/v1/series/{quote(SERIES, safe='')}/media",
            data={"sha256": sha},
            headers=headers,
        )
        assert added.status == 200, added.text()
        clue = page.request.post(
            "/api/v1/clues",
            data={"sha256": sha, "kind": "text", "note": CLUE_NOTE},
            headers=headers,
        )
        assert clue.status == 201, clue.text()

        page.goto("/series")
        expect(page.locator("main")).to_contain_text(SERIES)
        _nothing_injected(tab)
        page.goto(f"/series/{quote(SERIES, safe='')}")
        expect(page.locator("h1")).to_contain_text(SERIES)
        expect(page.locator("main")).to_contain_text(NOTE)
        _nothing_injected(tab)
        page.goto("/clues")
        expect(page.locator("main")).to_contain_text(CLUE_NOTE)
        _nothing_injected(tab)
        page.goto(f"/media/{sha}")
        page.wait_for_load_state("networkidle")
        expect(page.locator("main")).to_contain_text(CLUE_NOTE)
        expect(page.locator("main")).to_contain_text(SERIES)
        _nothing_injected(tab)


def test_the_checks_catch_markup_that_reached_the_dom(
    browser: Browser, workspace: Workspace
) -> None:
    """The checks above can fail: markup put into a page as HTML is found, and the CSP's
    refusal of its handler is seen (no dialog opens, so only these checks catch it)."""
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/sources")
        page.evaluate(
            "html => document.querySelector('main').insertAdjacentHTML('beforeend', html)",
            "<img src=x onerror=alert(1)>",
        )
        with pytest.raises(AssertionError):
            _nothing_injected(tab, timeout=500)
        page.evaluate("() => document.querySelector('img[src=\\'x\\']').remove()")
        page.wait_for_timeout(1_000)
        with pytest.raises(AssertionError, match="Content Security Policy"):
            _nothing_injected(tab, timeout=500)
        tab.console.clear()
