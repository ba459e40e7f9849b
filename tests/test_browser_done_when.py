"""Issue 10's "done when", as one analyst's session on a fresh demo workspace.

After ``make demo`` and ``vident serve``, an analyst opens the demo seizure's triage: new
material first, every preview veiled (greyscale and blurred by the server); they reveal one,
which is veiled again when they move on, categorise with a number key, open the crop that PDQ
missed and see it side by side with its original with the matched keypoints drawn, follow a
face to the earlier case, merge two person candidates by dragging one onto the other, and
record a victim's identification in a series, which the triage then names. The workspace is
this module's own, so the story changes nothing other tests read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.workspace import Workspace, served_workspace

SEIZURE = "demo-seizure"
EARLIER = "demo-earlier-case"
VEILED = re.compile(r"/api/v1/media/[0-9a-f]{64}/preview$")
REVEALED = re.compile(r"/api/v1/media/[0-9a-f]{64}/preview\?reveal=true$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    data: Path = tmp_path_factory.mktemp("done-when") / "demo-data"
    with served_workspace(data) as served:
        yield served


def _triage_reveal_and_categorise(page: Page) -> None:
    page.goto(f"/sources/{SEIZURE}/triage")
    tiles = page.locator("[data-tile]:visible")
    expect(tiles.first).to_have_attribute("data-verdict", "new")
    verdicts = page.locator("[data-tile][data-verdict]:visible").evaluate_all(
        "ts => ts.map(t => t.getAttribute('data-verdict'))"
    )
    order = ["new", "related", "error", "near", "known"]
    assert verdicts == sorted(verdicts, key=order.index), "new material comes first"
    sources = page.locator("[data-tile] img").evaluate_all(
        "imgs => imgs.map(i => i.getAttribute('src'))"
    )
    assert sources and all(VEILED.search(src) for src in sources), "every preview veiled"
    first = tiles.first
    first.focus()
    page.keyboard.press("r")
    expect(first.locator("img")).to_have_attribute("src", REVEALED)
    page.keyboard.press("ArrowRight")
    expect(first.locator("img")).to_have_attribute("src", VEILED)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("3")
    expect(first.locator("[data-my-vote]")).to_have_text("your vote: C")


def _crop_side_by_side(page: Page) -> None:
    page.goto(f"/sources/{SEIZURE}/triage?verdict=near")
    crop = page.locator('[data-tile][data-verdict="near"]').filter(has_text="keypoints").first
    crop.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#verdict")).to_have_text("near")
    with page.expect_navigation():
        page.locator(".compare-link, a[href^='/compare']").first.click()
    lines = page.locator("svg[data-lines]")
    expect(lines).not_to_have_attribute("data-lines", "0")
    assert int(lines.get_attribute("data-lines") or 0) >= 8


def _face_to_earlier_case(page: Page) -> None:
    page.goto("/people")
    card = page.locator(".person-card").filter(
        has=page.locator(f'[data-sources]:has-text("{EARLIER}")')
    )
    card = card.filter(has=page.locator(f'[data-sources]:has-text("{SEIZURE}")')).first
    with page.expect_navigation():
        card.locator("h2 a").click()
    row = page.locator(".face-row").filter(has=page.locator(f'[data-source]:text-is("{EARLIER}")'))
    with page.expect_navigation():
        row.first.locator("[data-media-link]").click()
    expect(page.locator("main")).to_contain_text(EARLIER)


def _merge_two_people(page: Page) -> None:
    page.goto("/people")
    page.set_viewport_size({"width": 1400, "height": 3000})  # drags do not scroll headless
    cards = page.locator(".person-card")
    before = cards.count()
    assert before >= 2
    kept = cards.nth(0).get_attribute("data-person")
    gone = cards.nth(1).get_attribute("data-person")
    with page.expect_navigation():
        page.locator(f"#person-{gone} [data-label]").drag_to(
            page.locator(f"#person-{kept} [data-label]")
        )
    expect(page.locator(f"#person-{gone}")).to_have_count(0)
    expect(page.locator(f"#person-{kept}")).to_have_count(1)
    page.set_viewport_size({"width": 1280, "height": 800})


def _record_identification(page: Page, sha256: str) -> None:
    page.goto("/series")
    page.get_by_label("Name", exact=True).fill("DONE-WHEN")
    with page.expect_navigation():
        page.get_by_role("button", name="Start series").click()
    page.get_by_label("Add a stored media by SHA-256").fill(sha256)
    with page.expect_navigation():
        page.get_by_role("button", name="Add media").click()
    with page.expect_navigation():
        page.get_by_role("link", name="Record a victim in this series").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Record a victim").click()
    expect(page.locator("#subject-identification")).to_have_text("not identified")
    with page.expect_navigation():
        page.get_by_role("button", name="Record identification").click()
    today = date.today().isoformat()
    expect(page.locator("#subject-identification")).to_have_text(
        re.compile(rf"identified by Kripo Berlin \(de\), {today}", re.IGNORECASE)
    )


def test_an_analyst_works_the_demo_seizure_from_triage_to_identification(
    browser: Browser, demo: Workspace
) -> None:
    with demo.tab(browser, "ana") as tab:
        page = tab.page
        _triage_reveal_and_categorise(page)
        _crop_side_by_side(page)
        compared = page.url
        _face_to_earlier_case(page)
        _merge_two_people(page)
        original = re.search(r"b=([0-9a-f]{64})", compared)
        assert original is not None
        _record_identification(page, original.group(1))
        # The triage names the series and the identification on the crop of that picture.
        page.goto(f"/sources/{SEIZURE}/triage?verdict=near")
        expect(page.locator("main")).to_contain_text("DONE-WHEN")
