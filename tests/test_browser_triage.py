"""The triage grid in a real browser: new material first behind veiled previews, a filter form,
arrow keys between tiles, a reveal that lasts only while the tile has focus, number keys that
vote a category, stacks of known series, and a viewer whose keys change nothing."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Browser, Locator, Page, expect

from tests.workspace import Workspace
from vident.service.triage_view import KEY_SCHEME

GRID = "/sources/demo-seizure/triage"
VEILED = re.compile(r"^/api/v1/media/[0-9a-f]{64}/preview$")


def _patient(page: Page) -> Page:
    """``page`` waiting long for navigations: every grid page computes the verdict of every
    item of its source (the triage service does), which takes seconds on a busy machine."""
    page.set_default_navigation_timeout(120_000)
    page.set_default_timeout(120_000)
    return page


def _tiles(page: Page) -> Locator:
    return page.locator("[data-tile]:visible")


def _no_csp_violation(messages: list[str]) -> None:
    assert not [m for m in messages if "Content Security Policy" in m], messages


def _votes(page: Page, sha: str) -> list[tuple[str, str]]:
    answer = page.request.get(f"/api/v1/media/{sha}/category?scheme={KEY_SCHEME}")
    assert answer.ok, answer.text()
    return [(v["voter"], v["category"]) for v in answer.json()["votes"]]


def test_new_material_comes_first_veiled_and_the_filter_form_works_by_keyboard(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = _patient(tab.page)
        page.goto("/sources")
        link = page.get_by_role("link", name="demo-seizure")
        counted = page.locator('tr[data-source="demo-seizure"] [data-verdict="new"]')
        expect(counted).to_contain_text("10", timeout=60_000)  # every verdict is computed
        link.click()
        assert urlparse(page.url).path == GRID
        tiles = _tiles(page)
        verdicts = [tiles.nth(i).get_attribute("data-verdict") for i in range(tiles.count())]
        new = verdicts.count("new")
        assert new == 10 and verdicts[:new] == ["new"] * new, verdicts
        sources = page.locator("[data-tile] img").evaluate_all(
            "els => els.map(e => e.getAttribute('src'))"
        )
        assert sources and all(VEILED.match(src) for src in sources), sources
        page.get_by_label("Verdict").select_option("near")
        page.get_by_role("button", name="Filter").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert parse_qs(urlparse(page.url).query)["verdict"] == ["near"]
        kept = _tiles(page)
        expect(kept).to_have_count(9)
        assert {kept.nth(i).get_attribute("data-verdict") for i in range(9)} == {"near"}
        _no_csp_violation(tab.console_errors())


def test_arrow_keys_move_and_a_reveal_lasts_while_the_tile_has_focus(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = _patient(tab.page)
        page.set_viewport_size({"width": 1200, "height": 900})
        page.goto(GRID + "?verdict=new")
        tiles = _tiles(page)
        first, second = tiles.nth(0), tiles.nth(1)
        expect(first).to_have_attribute("tabindex", "0")
        first.focus()
        page.keyboard.press("ArrowRight")
        expect(second).to_be_focused()
        expect(second).to_have_attribute("tabindex", "0")
        expect(first).to_have_attribute("tabindex", "-1")
        img = second.locator("img")
        page.keyboard.press("r")
        expect(img).to_have_attribute("src", re.compile(r"/preview\?reveal=true$"))
        expect(second).to_have_class(re.compile(r"\brevealed\b"))
        page.keyboard.press("ArrowLeft")
        expect(first).to_be_focused()
        expect(img).to_have_attribute("src", VEILED)  # moving on veiled it again
        # Down goes to the tile below: the same column, the next row.
        page.keyboard.press("ArrowDown")
        below = page.locator("[data-tile]:focus")
        top, box = first.bounding_box(), below.bounding_box()  # both after any scrolling
        assert top is not None
        assert box is not None and box["y"] > top["y"] and abs(box["x"] - top["x"]) < 5
        page.keyboard.press("ArrowUp")
        expect(first).to_be_focused()
        page.keyboard.press(" ")  # Space reveals too, and Tab away veils
        expect(first.locator("img")).to_have_attribute("src", re.compile(r"reveal=true$"))
        page.keyboard.press("Tab")
        expect(first.locator("img")).to_have_attribute("src", VEILED)
        sha = first.get_attribute("data-sha")
        first.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert urlparse(page.url).path == f"/media/{sha}"


def test_number_keys_vote_for_the_focused_and_selected_tiles(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = _patient(tab.page)
        page.goto(GRID + "?verdict=related")
        tiles = _tiles(page)
        one, two = tiles.nth(0), tiles.nth(1)
        one.focus()
        page.keyboard.press("1")
        expect(one.locator("[data-my-vote]")).to_have_text("your vote: A")
        expect(page.locator("#flash")).to_have_text("Category A recorded for 1 items.")
        sha_one = one.get_attribute("data-sha") or ""
        assert ("ana", "A") in _votes(page, sha_one)
        # x selects; a number key then votes for the selection and the focused tile.
        page.keyboard.press("x")
        expect(one).to_have_attribute("data-selected", "true")
        expect(page.locator("[data-selected-count]")).to_have_text("1 selected")
        page.keyboard.press("ArrowRight")
        expect(two).to_be_focused()
        page.keyboard.press("2")
        expect(one.locator("[data-my-vote]")).to_have_text("your vote: B")
        expect(two.locator("[data-my-vote]")).to_have_text("your vote: B")
        assert ("ana", "B") in _votes(page, two.get_attribute("data-sha") or "")
        assert ("ana", "B") in _votes(page, sha_one)  # a second vote replaced the first
        page.reload()  # the votes are stored, not only shown
        expect(_tiles(page).nth(1).locator("[data-my-vote]")).to_have_text("your vote: B")


def test_known_material_of_a_series_is_one_stack_that_expands(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = _patient(tab.page)
        page.goto(GRID + "?verdict=known")
        stack = page.locator('[data-stack="demo-series-1"]')
        expect(stack).to_contain_text("series demo-series-1: 2 items")
        members = page.locator('[data-member-of="demo-series-1"]')
        expect(members).to_have_count(2)
        expect(members.first).to_be_hidden()
        expect(_tiles(page)).to_have_count(3)  # the stack and two series of one item
        stack.focus()
        page.keyboard.press("Enter")
        expect(members.first).to_be_visible()
        expect(members.nth(1)).to_be_visible()
        expect(stack.get_by_role("button")).to_have_attribute("aria-expanded", "true")
        page.keyboard.press("ArrowRight")
        expect(members.first).to_be_focused()
        stack.get_by_role("button").click()
        expect(members.first).to_be_hidden()


def test_a_viewer_cannot_categorise(browser: Browser, workspace: Workspace) -> None:
    with workspace.tab(browser, "vera") as tab:
        page = _patient(tab.page)
        page.goto(GRID + "?verdict=new")
        expect(page.locator("[data-toolbar]")).to_have_count(0)
        tile = _tiles(page).first
        tile.focus()
        page.keyboard.press("3")
        expect(page.locator("#flash")).to_have_text("Your role reads only: nothing was changed.")
        expect(tile.locator("[data-my-vote]")).to_have_text("")
        sha = tile.get_attribute("data-sha") or ""
        assert not [v for v in _votes(page, sha) if v[0] == "vera"]


def test_the_toolbar_puts_the_selection_in_a_series(browser: Browser, workspace: Workspace) -> None:
    series = "triage-toolbar-series"
    with workspace.tab(browser, "ana") as tab:
        page = _patient(tab.page)
        made = page.request.post(
            "/api/v1/series",
            data={"name": series},
            headers={"X-CSRF-Token": workspace.csrf("ana")},
        )
        assert made.status == 201, made.text()
        page.goto(GRID + "?verdict=new")
        tiles = _tiles(page)
        chosen = [tiles.nth(2), tiles.nth(3)]
        for tile in chosen:
            tile.focus()
            page.keyboard.press("x")
        expect(page.locator("[data-selected-count]")).to_have_text("2 selected")
        page.locator("[data-series-choice]").select_option(series)
        page.get_by_role("button", name="Add selected to series").click()
        expect(page.locator("#flash")).to_have_text(f"Added 2 items to series {series}.")
        shown = page.request.get(f"/api/v1/series/{series}").json()
        assert {m["sha256"] for m in shown["media"]} == {
            t.get_attribute("data-sha") for t in chosen
        }
        page.get_by_role("button", name="Clear selection").click()
        expect(page.locator("[data-selected-count]")).to_have_text("Nothing selected")


def _unmark(page: Page, workspace: Workspace, shas: list[str]) -> None:
    answer = page.request.post(
        "/api/v1/reviews",
        data={"sha256": shas, "reviewed": False},
        headers={"X-CSRF-Token": workspace.csrf("ana")},
    )
    assert answer.ok, answer.text()


def test_mark_reviewed_dims_the_selection_and_the_filter_hides_it(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = _patient(tab.page)
        page.goto(GRID + "?verdict=near")
        tiles = _tiles(page)
        chosen = [tiles.nth(0), tiles.nth(1)]
        shas = [t.get_attribute("data-sha") or "" for t in chosen]
        try:
            for tile in chosen:
                tile.focus()
                page.keyboard.press("x")
            page.get_by_role("button", name="Mark reviewed", exact=True).click()
            expect(page.locator("#flash")).to_have_text("Marked 2 items reviewed.")
            for tile in chosen:
                expect(tile).to_have_attribute("data-reviewed", "true")
                expect(tile).to_have_class(re.compile(r"\breviewed\b"))
                expect(tile.locator("[data-reviewed-mark]")).to_have_text("reviewed")
                expect(tile).to_have_attribute("aria-label", re.compile(r", reviewed, selected$"))
            assert tiles.nth(2).get_attribute("data-reviewed") == "false"
            page.get_by_label("Not reviewed only").check()
            with page.expect_navigation():
                page.get_by_role("button", name="Filter").click()
            assert parse_qs(urlparse(page.url).query)["unreviewed"] == ["yes"]
            left = _tiles(page)
            expect(left).to_have_count(7)  # nine near items, two reviewed
            for sha in shas:
                expect(page.locator(f'[data-sha="{sha}"]')).to_have_count(0)
            # m marks the focused tile, u takes the mark back.
            first = left.first
            first.focus()
            page.keyboard.press("m")
            expect(first.locator("[data-reviewed-mark]")).to_have_text("reviewed")
            expect(page.locator("#flash")).to_have_text("Marked 1 items reviewed.")
            page.keyboard.press("u")
            expect(first.locator("[data-reviewed-mark]")).to_have_text("")
            expect(first).to_have_attribute("data-reviewed", "false")
            expect(page.locator("#flash")).to_have_text("1 items no longer marked reviewed.")
        finally:
            _unmark(page, workspace, shas)
        _no_csp_violation(tab.console_errors())


def test_a_viewer_cannot_mark_reviewed(browser: Browser, workspace: Workspace) -> None:
    with workspace.tab(browser, "vera") as tab:
        page = _patient(tab.page)
        page.goto(GRID + "?verdict=near")
        expect(page.get_by_role("button", name="Mark reviewed")).to_have_count(0)
        tile = _tiles(page).first
        tile.focus()
        page.keyboard.press("m")
        expect(page.locator("#flash")).to_have_text("Your role reads only: nothing was changed.")
        expect(tile).to_have_attribute("data-reviewed", "false")
        sha = tile.get_attribute("data-sha") or ""
        refused = page.request.post(
            "/api/v1/reviews",
            data={"sha256": [sha]},
            headers={"X-CSRF-Token": workspace.csrf("vera")},
        )
        assert refused.status == 403, refused.text()
        shown = page.request.get(f"/api/v1/reviews?sha256={sha}").json()
        assert shown["reviews"] == [{"sha256": sha, "reviewed": False, "reviewers": [], "at": None}]
