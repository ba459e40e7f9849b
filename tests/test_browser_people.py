"""The people pages in a real Chromium over the demo seizure: person candidates as cards of
veiled faces, decisions by dragging and by keyboard, labels, and following a face from a
person to the earlier case's picture.

The workspace is shared with other page tests, so every decision here is undone or made on a
person this module makes itself: the merge joins a face split off the demo's three-face
person back into it, the moved face is moved back, and the label is cleared again.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from playwright.sync_api import APIResponse, Browser, Page, expect

from tests.workspace import Workspace

EARLIER = "demo-earlier-case"
SEIZURE = "demo-seizure"


def _people(page: Page) -> list[dict[str, object]]:
    answer = page.request.get("/api/v1/people")
    assert answer.ok, answer.text()
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def _person(page: Page, sources: list[str], faces: int) -> int:
    """The id of the demo's first person with exactly these sources and this many faces."""
    for person in _people(page):
        if person["sources"] == sources and person["faces"] == faces:
            return int(str(person["id"]))
    raise AssertionError(f"no person of {sources} with {faces} faces")


def _post(page: Page, workspace: Workspace, path: str, body: object) -> APIResponse:
    answer = page.request.post(
        f"/api/v1{path}", data=body, headers={"X-CSRF-Token": workspace.csrf("ana")}
    )
    assert answer.ok, answer.text()
    return answer


def _face_ids(page: Page, person: int) -> list[int]:
    answer = page.request.get(f"/api/v1/people/{person}")
    assert answer.ok, answer.text()
    return [int(face["id"]) for face in answer.json()["faces"]]


def test_people_are_cards_of_veiled_faces(browser: Browser, workspace: Workspace) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/people")
        expect(page.locator("h1")).to_have_text("People")
        earlier = _person(page, [EARLIER, SEIZURE], 3)
        assert page.locator(".person-card").count() == len(_people(page)) >= 7
        card = page.locator(f"#person-{earlier}")
        expect(card.locator("[data-sources]")).to_have_text(f"{EARLIER}, {SEIZURE}")
        faces = card.locator("img[data-face-img]")
        expect(faces).to_have_count(3)
        for n in range(3):
            image = faces.nth(n)
            assert (image.get_attribute("src") or "").endswith("/preview")  # veiled
            image.scroll_into_view_if_needed()
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
            )
        # revealing one face is the face itself, and back
        first = faces.first
        card.get_by_role("button", name="Reveal").first.click()
        expect(first).to_have_attribute("src", re.compile(r"/preview\?reveal=true$"))
        card.get_by_role("button", name="Reveal").first.click()
        expect(first).to_have_attribute("src", re.compile(r"/preview$"))
        assert tab.console_errors() == []


def test_a_person_dragged_onto_another_is_merged_into_it(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/people")
        kept = _person(page, [SEIZURE], 3)
        face = _face_ids(page, kept)[-1]
        split = _post(page, workspace, f"/people/{kept}/split", {"faces": [face]})
        other = int(split.json()["person"])
        page.reload()
        expect(page.locator(f"#person-{kept} [data-faces]")).to_have_text("2")
        # a drag goes between cards on the screen: the whole grid is (headless Chromium
        # does not scroll while dragging)
        page.set_viewport_size({"width": 1400, "height": 3000})
        with page.expect_navigation():
            page.locator(f"#person-{other} [data-label]").drag_to(
                page.locator(f"#person-{kept} [data-label]")
            )
        expect(page.locator(f"#person-{other}")).to_have_count(0)
        expect(page.locator(f"#person-{kept} [data-faces]")).to_have_text("3")
        assert face in _face_ids(page, kept)
        assert page.request.get(f"/api/v1/people/{other}").status == 404
        assert tab.console_errors() == []


def test_a_face_is_moved_with_the_keyboard_alone(browser: Browser, workspace: Workspace) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/people")
        source = _person(page, [SEIZURE], 3)
        target = _person(page, [SEIZURE], 2)
        pick = page.locator(f"#person-{source} [data-pick]").first
        face = int(pick.locator("xpath=..").get_attribute("data-face") or 0)
        pick.focus()
        page.keyboard.press("Space")
        expect(pick).to_have_attribute("aria-pressed", "true")
        expect(page.locator("[data-selected-count]")).to_have_text("1")
        page.locator("#move-target").focus()
        page.locator("#move-target").select_option(str(target))
        page.locator("[data-move-selected]").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page.locator(f"#person-{target} [data-faces]")).to_have_text("3")
        expect(page.locator(f"#person-{source} [data-faces]")).to_have_text("2")
        assert face in _face_ids(page, target)
        _post(page, workspace, f"/faces/{face}/move", {"person": source})  # as it was
        assert face in _face_ids(page, source)
        assert tab.console_errors() == []


def test_a_person_is_labelled_and_the_label_shows_as_text(
    browser: Browser, workspace: Workspace
) -> None:
    label = "PEOPLE-V7 <b>x</b>"
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/people")
        person = _person(page, [SEIZURE], 2)
        field = page.locator(f"#label-{person}")
        field.fill(label)
        with page.expect_navigation():
            field.press("Enter")
        expect(page.locator(f"#person-{person} [data-label]")).to_have_text(label)
        expect(page.locator(f"#person-{person} [data-label] b")).to_have_count(0)
        page.goto(f"/people/{person}")
        expect(page.locator("[data-label]")).to_have_text(label)
        # an empty label clears it
        page.locator(f"#label-{person}").fill("")
        with page.expect_navigation():
            page.get_by_role("button", name="Save label").click()
        expect(page.locator("[data-label]")).to_have_text("no label")
        assert tab.console_errors() == []


def test_a_face_is_followed_to_the_earlier_case(browser: Browser, workspace: Workspace) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/people")
        person = _person(page, [EARLIER, SEIZURE], 3)
        page.locator(f"#person-{person} h2 a").click()
        assert urlparse(page.url).path == f"/people/{person}"
        row = page.locator(".face-row").filter(
            has=page.locator(f'[data-source]:text-is("{EARLIER}")')
        )
        expect(row).to_have_count(1)
        link = row.locator("[data-media-link]")
        sha = (link.get_attribute("href") or "").removeprefix("/media/")
        assert len(sha) == 64
        link.click()
        page.wait_for_url(f"**/media/{sha}")
        assert urlparse(page.url).path == f"/media/{sha}"
        assert page.locator("h1").count() == 1


def test_a_viewer_sees_faces_but_no_controls(browser: Browser, workspace: Workspace) -> None:
    with workspace.tab(browser, "vera") as tab:
        page = tab.page
        page.goto("/people")
        expect(page.locator(".person-card").first).to_be_visible()
        assert page.locator("img[data-face-img]").count() > 0
        for control in ("[draggable='true']", "[data-merge]", "[data-label-form]", "[data-pick]"):
            expect(page.locator(control)).to_have_count(0)
        expect(page.locator("#people-tools")).to_have_count(0)


def test_selected_faces_are_split_off_from_the_person_page(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/people")
        person = _person(page, [SEIZURE], 2)
        before = {int(str(p["id"])) for p in _people(page)}
        page.goto(f"/people/{person}")
        split = page.get_by_role("button", name="Split off as a new person")
        expect(split).to_be_disabled()
        pick = page.locator("[data-pick]").first
        face = int(pick.locator("xpath=..").get_attribute("data-face") or 0)
        pick.click()
        expect(split).to_be_enabled()
        with page.expect_navigation():
            split.click()
        expect(page.locator("[data-faces]")).to_have_text("1")
        made = {int(str(p["id"])) for p in _people(page)} - before
        assert len(made) == 1 and _face_ids(page, made.pop()) == [face]
        _post(page, workspace, f"/faces/{face}/move", {"person": person})  # as it was
        back = _face_ids(page, person)
        assert face in back and len(back) == 2
        assert tab.console_errors() == []
