"""Records in a real Chromium over the demo workspace: an analyst starts a series, fills it
from a seized media and its suggestions, records a victim seen in it and their
identification; a wrong value keeps the analyst on the form with the API's reason; a viewer
is offered no forms; an analyst of another agency is not shown an unshared series.

Every name made here starts with "REC-" and a random part: the workspace is shared by all
browser tests of the session.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from urllib.parse import quote, urlparse

from playwright.sync_api import Browser, Page, expect

from tests.workspace import Workspace

HOSTILE = "<img src=x onerror=alert(1)>"


def _name() -> str:
    return f"REC-{uuid.uuid4().hex[:10]}"


def _related_media(page: Page) -> str:
    """A demo media related to others (so a series of it gets suggestions)."""
    triage = page.request.get("/api/v1/sources/demo-seizure/triage")
    assert triage.ok, triage.text()
    items = triage.json()["items"]
    related = [i["sha256"] for i in items if i["verdict"] == "related" and i["type"] == "image"]
    assert related, "the demo has no related picture"
    return str(related[0])


def _make_series(page: Page, workspace: Workspace, username: str, name: str) -> None:
    made = page.request.post(
        "/api/v1/series",
        data={"name": name},
        headers={"X-CSRF-Token": workspace.csrf(username)},
    )
    assert made.status == 201, made.text()


def test_an_analyst_builds_a_series_and_records_an_identified_victim(
    browser: Browser, workspace: Workspace
) -> None:
    name = _name()
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        sha = _related_media(page)
        page.goto("/series")
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Notes").fill(HOSTILE)
        with page.expect_navigation(url=f"**/series/{name}"):
            page.get_by_role("button", name="Start series").click()
        expect(page.locator("h1")).to_have_text(f"Series {name}")
        expect(page.locator("#series-facts .notes")).to_have_text(HOSTILE)

        page.get_by_label("Add a stored media by SHA-256").fill(sha)
        with page.expect_navigation():
            page.get_by_role("button", name="Add media").click()
        tiles = page.locator("#series-media .tile")
        expect(tiles).to_have_count(1)
        expect(tiles.first.locator("img")).to_have_attribute("data-sha", sha)
        expect(tiles.first.locator("a")).to_have_attribute("href", f"/media/{sha}")

        # What the member links to is offered; taking it records it as a suggestion.
        offered = page.locator("#series-suggestions .tile")
        expect(offered.first).to_be_visible()
        taken = offered.first.locator("img").get_attribute("data-sha")
        with page.expect_navigation():
            offered.first.get_by_role("button", name="Add to series").click()
        expect(tiles).to_have_count(2)
        expect(page.locator(f'#series-media img[data-sha="{taken}"]')).to_have_count(1)
        expect(page.locator("#series-media")).to_contain_text("(suggestion)")
        expect(page.locator("#series-count")).to_have_text("2")

        with page.expect_navigation():
            page.get_by_role("link", name="Record a victim in this series").click()
        expect(page.get_by_label("Series they appear in (comma separated)")).to_have_value(name)
        page.get_by_label("Name (optional)").fill(HOSTILE)
        page.get_by_label("Birth year (optional)").fill("2012")
        with page.expect_navigation(url=re.compile(r"/victims/V-\d{4}-\d{4}$")):
            page.get_by_role("button", name="Record a victim").click()
        code = urlparse(page.url).path.rsplit("/", 1)[1]
        expect(page.locator("#subject-identification")).to_have_text("not identified")
        expect(page.locator("#subject-personal")).to_contain_text(HOSTILE)
        expect(page.locator("#subject-facts")).to_contain_text(name)

        with page.expect_navigation():
            page.get_by_role("button", name="Record identification").click()
        today = date.today().isoformat()
        expect(page.locator("#subject-identification")).to_have_text(
            re.compile(rf"identified by Kripo Berlin \(de\), {today}", re.IGNORECASE)
        )
        expect(page.locator("#identify-form")).to_have_count(0)

        page.goto(f"/series/{quote(name)}")
        expect(page.locator("#series-status")).to_have_text("victim_identified")
        expect(page.locator("#series-subjects")).to_contain_text(f"Victim {code}")
        page.goto("/victims")
        expect(page.locator("#subjects")).to_contain_text(code)


def test_a_case_is_opened_and_shared_wider_from_its_page(
    browser: Browser, workspace: Workspace
) -> None:
    name = _name()
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/cases")
        page.get_by_label("Name", exact=True).fill(name)
        with page.expect_navigation(url=f"**/cases/{name}"):
            page.get_by_role("button", name="Open case").click()
        expect(page.locator("#case-sharing-level")).to_have_text("agency")
        expect(page.locator("#case-facts")).to_contain_text("Kripo Berlin")
        expect(page.locator("#case-media")).to_have_text("0")
        page.get_by_label("Sharing", exact=True).select_option("national")
        with page.expect_navigation():
            page.get_by_role("button", name="Save sharing").click()
        expect(page.locator("#case-sharing-level")).to_have_text("national")
        with page.expect_navigation():
            page.get_by_role("link", name="Start a series in this case").click()
        expect(page.get_by_label("Case (optional)")).to_have_value(name)


def test_a_refused_value_shows_the_apis_reason_in_the_form(
    browser: Browser, workspace: Workspace
) -> None:
    name = _name()
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        _make_series(page, workspace, "ana", name)
        page.goto("/series")
        error = page.locator("#series-form [data-error]")
        expect(error).to_be_hidden()
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_role("button", name="Start series").click()
        expect(error).to_be_visible()
        expect(error).to_have_text(f"a series named '{name}' exists already")
        assert urlparse(page.url).path == "/series"
        expect(page.get_by_role("button", name="Start series")).to_be_enabled()

        page.goto("/locations")
        page.get_by_label("Name", exact=True).fill(f"{name} place")
        page.get_by_label("Latitude (optional, with longitude)").fill("52.5")
        page.get_by_role("button", name="Record location").click()
        expect(page.locator("#location-form [data-error]")).to_have_text(
            "give both latitude and longitude, or neither"
        )


def test_a_viewer_is_offered_no_forms(browser: Browser, workspace: Workspace) -> None:
    with workspace.tab(browser, "vera") as tab:
        page = tab.page
        for path in ("/cases", "/series", "/victims", "/offenders", "/locations", "/clues"):
            page.goto(path)
            expect(page.locator("main h1")).to_be_visible()
            expect(page.locator("main form")).to_have_count(0)
            expect(page.locator("main button")).to_have_count(0)


def test_another_agency_is_not_shown_an_unshared_series(
    browser: Browser, workspace: Workspace
) -> None:
    name = _name()
    with workspace.tab(browser, "ana") as tab:
        _make_series(tab.page, workspace, "ana", name)
        tab.page.goto(f"/series/{name}")
        expect(tab.page.locator("h1")).to_have_text(f"Series {name}")
    with workspace.tab(browser, "otto") as tab:
        response = tab.page.goto(f"/series/{name}")
        assert response is not None and response.status == 404
        expect(tab.page.get_by_role("alert")).to_contain_text(name)
        tab.page.goto("/series")
        expect(tab.page.locator("main")).not_to_contain_text(name)
