"""An agency's category scheme in a real browser: the agency administrator sets it on the
administration pages, and the grid of the agency's analyst shows its keys in the legend and
records a number key's vote in it. The workspace is shared: the test gives Kripo Berlin back
vident's default scheme when it ends, whatever happened."""

from __future__ import annotations

from urllib.parse import quote

from playwright.sync_api import Browser, Page, expect

from tests.workspace import AGENCY, Workspace
from vident.service.category_schemes import DEFAULT_CATEGORIES, DEFAULT_SCHEME

SCHEME = "SCHEMES-KB"
GRID = "/sources/demo-seizure/triage"
API = f"/api/v1/agencies/{quote(AGENCY, safe='')}/scheme"


def _patient(page: Page) -> Page:
    """The grid computes every verdict of its source on each load: seconds on a busy machine."""
    page.set_default_navigation_timeout(120_000)
    page.set_default_timeout(120_000)
    return page


def _restore(page: Page) -> None:
    """Kripo Berlin's default scheme back, through the API as the signed-in administrator."""
    page.goto("/admin")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    lines = [f"{key}={code}={label}" for key, code, label in DEFAULT_CATEGORIES]
    answer = page.request.put(
        API,
        data={"name": DEFAULT_SCHEME, "categories": lines},
        headers={"X-CSRF-Token": token},
    )
    assert answer.ok, answer.text()


def test_an_agency_admin_sets_the_scheme_and_the_analysts_keys_vote_in_it(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, "adam") as admin:
        page = _patient(admin.page)
        try:
            page.goto("/admin/agencies")
            page.get_by_role("link", name=f"Number keys of {AGENCY}").click()
            expect(page.locator("#scheme-keys tbody tr")).to_have_count(len(DEFAULT_CATEGORIES))
            form = page.locator("#set-scheme")
            form.get_by_label("Scheme name").fill(SCHEME)
            categories = form.get_by_label("Categories")
            categories.fill("5=one=Stufe 1\n6=two=Stufe 2 <b>\n0=none=Nicht relevant")
            form.get_by_role("button", name="Save scheme").click()
            expect(page.locator('#scheme-keys tr[data-key="6"]')).to_contain_text("Stufe 2 <b>")
            expect(page.locator("#scheme-keys tbody tr")).to_have_count(3)
            # A broken scheme is refused whole, and the reason shows in the form.
            categories.fill("5=one=Stufe 1\n5=two=Stufe 2")
            form.get_by_role("button", name="Save scheme").click()
            expect(form.locator("[data-error]")).to_contain_text("key 5 is given to two")

            with workspace.tab(browser, "ana") as tab:
                grid = _patient(tab.page)
                grid.goto(GRID + "?verdict=new")
                legend = grid.locator("[data-category-keys] li")
                expect(legend).to_have_text(["5 Stufe 1", "6 Stufe 2 <b>", "0 Nicht relevant"])
                expect(grid.locator(".key-legend")).to_contain_text(f"Categories ({SCHEME})")
                tile = grid.locator("[data-tile]:visible").first
                tile.focus()
                grid.keyboard.press("6")
                expect(tile.locator("[data-my-vote]")).to_have_text("your vote: two")
                sha = tile.get_attribute("data-sha") or ""
                answer = grid.request.get(f"/api/v1/media/{sha}/category?scheme={SCHEME}")
                assert answer.ok, answer.text()
                votes = [(v["voter"], v["category"]) for v in answer.json()["votes"]]
                assert votes == [("ana", "two")]
                grid.keyboard.press("3")  # the default scheme's key: no category here now
                expect(grid.locator("#flash")).to_have_text("No category on key 3.")
        finally:
            _restore(page)
        page.goto(f"/admin/scheme?agency={quote(AGENCY)}")
        expect(page.locator("#scheme-keys tbody tr")).to_have_count(len(DEFAULT_CATEGORIES))
        # No policy violation; the refused save above is the only failed request.
        errors = admin.console_errors()
        assert [m for m in errors if not m.startswith("Failed to load resource")] == [], errors
