"""Every main page of the workspace passes axe-core's WCAG 2.1 A/AA checks with no serious or
critical violation, signed in as the role that may open it (the demo's data on screen).

The pages with a name or number in their path are opened on the demo's own records: a
seized media and the picture it was cropped from, a person candidate; the case, the
series and the victim the demo lacks are made through the API as ana (names of this module's
own, since the workspace is shared).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.a11y import violations
from tests.workspace import Workspace
from vident.service.context import local_operator, open_context
from vident.service.people import list_people
from vident.service.triage import triage_source
from vident.web.auth import COOKIE

#: The case and series this module makes (the workspace is shared: a name of our own).
SERIES = "a11y-series"
CASE = "a11y-case"

#: (who, path) of the pages checked; each must answer 200 to its user. ``{name}`` fields are
#: filled from the ``names`` fixture.
PAGES = [
    (None, "/login"),
    ("ana", "/"),
    ("ana", "/sources"),
    ("ana", "/sources/demo-seizure/triage"),
    ("ana", "/media/{sha}"),
    ("ana", "/compare?a={crop}&b={original}"),
    ("ana", "/people"),
    ("ana", "/people/{person}"),
    ("ana", "/cases"),
    ("ana", "/cases/{case}"),
    ("ana", "/series"),
    ("ana", "/series/{series}"),
    ("ana", "/victims"),
    ("ana", "/victims/{victim}"),
    ("ana", "/offenders"),
    ("ana", "/locations"),
    ("ana", "/clues"),
    ("ana", "/upload"),
    ("ana", "/search"),
    ("ana", "/settings"),
    ("ana", "/settings/sessions"),
    ("root", "/admin"),
    ("root", "/admin/users"),
    ("root", "/admin/users/ana"),
    ("root", "/admin/agencies"),
    ("root", "/admin/tokens"),
    ("adam", "/admin/scheme"),
    ("audrey", "/audit"),
]


@pytest.fixture(scope="module")
def names(browser: Browser, workspace: Workspace) -> Iterator[dict[str, str]]:
    """The concrete names and ids the detail pages are opened on."""
    ctx = open_context(workspace.settings, local_operator(workspace.settings))
    try:
        items = triage_source(ctx, "demo-seizure").items
        crop = next(i for i in items if i.verdict == "near" and any(r.media for r in i.reasons))
        original = next(r.media for r in crop.reasons if r.media)
        person = list_people(ctx).people[0].id
    finally:
        ctx.close()
    assert crop.sha256 is not None and original is not None
    context = browser.new_context(base_url=workspace.base)
    try:
        request = context.request
        headers = {
            "X-CSRF-Token": workspace.csrf("ana"),
            "Cookie": f"{COOKIE}={workspace.session('ana')}",
        }
        if request.get(f"/api/v1/cases/{CASE}", headers=headers).status == 404:
            opened = request.post("/api/v1/cases", data={"name": CASE}, headers=headers)
            assert opened.status == 201, opened.text()
        if request.get(f"/api/v1/series/{SERIES}", headers=headers).status == 404:
            made = request.post(
                "/api/v1/series",
                data={"name": SERIES, "case": CASE, "notes": "Seen in the a11y check."},
                headers=headers,
            )
            assert made.status == 201, made.text()
            added = request.post(
                f"/api/v1/series/{SERIES}/media", data={"sha256": crop.sha256}, headers=headers
            )
            assert added.status == 200, added.text()
        victim = request.post("/api/v1/victims", data={"series": [SERIES]}, headers=headers)
        assert victim.status == 201, victim.text()
        code = str(victim.json()["code"])
    finally:
        context.close()
    yield {
        "sha": crop.sha256,
        "crop": crop.sha256,
        "original": original,
        "person": str(person),
        "case": CASE,
        "series": SERIES,
        "victim": code,
    }


@pytest.mark.parametrize(("username", "path"), PAGES)
def test_page_has_no_serious_accessibility_violation(
    browser: Browser,
    workspace: Workspace,
    names: dict[str, str],
    username: str | None,
    path: str,
) -> None:
    url = path.format(**names)
    with workspace.tab(browser, username) as tab:
        response = tab.page.goto(url)
        assert response is not None and response.status == 200, url
        tab.page.wait_for_load_state("networkidle")
        assert violations(tab.page) == [], url


def test_search_results_drawn_by_script_have_no_serious_violation(
    browser: Browser, workspace: Workspace
) -> None:
    """The search page's results are built by its script: checked once they are shown."""
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/search")
        page.get_by_label('Words, "a phrase" or a prefix*').fill("harbour")
        page.get_by_role("button", name="Search text").click()
        expect(page.locator("#tiles .tile").first).to_be_visible()
        assert violations(page) == []
        page.get_by_label("SHA-256 hashes, one per line").fill("0" * 64 + "\n")
        page.get_by_role("button", name="Look up hashes").click()
        expect(page.locator("#notes")).to_contain_text("0" * 64)
        assert violations(page) == []


def test_the_check_can_fail(browser: Browser, workspace: Workspace) -> None:
    """axe does report a page's faults: a field without a label and grey text on grey."""
    with workspace.tab(browser, None) as tab:
        tab.page.goto("/login")
        tab.page.evaluate(
            """() => {
                const main = document.querySelector("main");
                main.insertAdjacentHTML("beforeend", "<input type=text><p>faint</p>");
                main.lastElementChild.style.color = "#ccc";
                main.lastElementChild.style.background = "#ddd";
            }"""
        )
        found = violations(tab.page)
        assert any(line.startswith("label ") for line in found), found
        assert any(line.startswith("color-contrast ") for line in found), found
