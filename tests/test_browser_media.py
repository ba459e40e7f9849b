"""The media detail and compare pages in a real browser, on the demo workspace.

The demo's crop (near by keypoints only) leads to its original and to the compare page, where
the matched keypoints are drawn as lines and each side has its own reveal; a face is boxed on
its picture; the preview zooms, pans and reveals from the keyboard; a box drawn with the mouse
becomes a clue and a typed box searches that part of the picture; the hostile seizure's EXIF
and text show as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.workspace import HOSTILE_EXIF, HOSTILE_SOURCE, Workspace
from vident.service.compare import MediaFactsOut, media_facts
from vident.service.context import local_operator, open_context
from vident.service.triage import TriageItemOut, triage_source

#: The note of the clue this module records (the workspace is shared: a name of our own).
CLUE_NOTE = "media-test: a logo on the wall"


@dataclass(frozen=True)
class Demo:
    crop: str  # the near item found by keypoints only
    original: str  # the picture it was cropped from
    face: MediaFactsOut  # a picture of the seizure with a face and a preview
    hostile: list[TriageItemOut]
    video: str
    broken: str


@pytest.fixture(scope="module")
def demo(workspace: Workspace) -> Iterator[Demo]:
    ctx = open_context(workspace.settings, local_operator(workspace.settings))
    try:
        items = triage_source(ctx, "demo-seizure").items
        crop = next(
            i
            for i in items
            if i.verdict == "near" and {r.signal for r in i.reasons} == {"keypoints"}
        )
        original = next(r.media for r in crop.reasons if r.media)
        face = None
        for item in items:
            if item.type == "image" and item.sha256 and item.verdict != "error":
                facts = media_facts(ctx, item.sha256)
                if facts.preview and any(f.frame == 0 for f in facts.faces):
                    face = facts
                    break
        assert face is not None, "the demo has a face picture"
        hostile = triage_source(ctx, HOSTILE_SOURCE).items
        video = next(i.sha256 for i in items if i.type == "video" and i.sha256)
        broken = next(i.sha256 for i in items if i.verdict == "error" and i.sha256)
        assert crop.sha256 is not None and original is not None
        yield Demo(crop.sha256, original, face, hostile, video, broken)
    finally:
        ctx.close()


def _revealed(page: Page, selector: str) -> bool:
    return "reveal=true" in (page.locator(selector).get_attribute("src") or "")


def test_a_crop_leads_to_its_original_and_a_compare_with_keypoint_lines(
    browser: Browser, workspace: Workspace, demo: Demo
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto(f"/media/{demo.crop}")
        expect(page.locator("#verdict")).to_have_text("near")
        expect(page.locator("#reasons")).to_contain_text("keypoints")
        page.locator(f'#reasons a[href="/media/{demo.original}"]').click()
        page.wait_for_url(f"**/media/{demo.original}")
        expect(page.locator("#places")).to_contain_text("demo-earlier-case")
        page.go_back()
        page.locator(f'#reasons a[href="/compare?a={demo.crop}&b={demo.original}"]').click()
        page.wait_for_url("**/compare?**")
        expect(page.locator("#relation")).to_have_text("duplicate")
        lines = page.locator("svg.links line")
        expect(lines.first).to_be_attached()
        drawn = int(page.locator("svg.links").get_attribute("data-lines") or "0")
        assert drawn > 0 and lines.count() == drawn
        assert int(page.locator("#inliers").inner_text()) > 0
        expect(page.locator("#pdq-distance")).to_have_text(re.compile(r"^\d+$"))
        # Each side is veiled, and revealed on its own.
        assert not _revealed(page, "#img-a") and not _revealed(page, "#img-b")
        page.locator("#reveal-a").click()
        expect(page.locator("#reveal-a")).to_have_attribute("aria-pressed", "true")
        assert _revealed(page, "#img-a") and not _revealed(page, "#img-b")
        page.locator("#reveal-b").click()
        page.locator("#reveal-a").click()
        assert not _revealed(page, "#img-a") and _revealed(page, "#img-b")
        # Every line starts on picture A and ends on picture B.
        box_a = page.locator("#img-a").bounding_box()
        box_b = page.locator("#img-b").bounding_box()
        pair = page.locator("#pair").bounding_box()
        assert box_a and box_b and pair
        first = lines.first
        x1 = float(first.get_attribute("x1") or "-1") + pair["x"]
        x2 = float(first.get_attribute("x2") or "-1") + pair["x"]
        assert box_a["x"] - 1 <= x1 <= box_a["x"] + box_a["width"] + 1
        assert box_b["x"] - 1 <= x2 <= box_b["x"] + box_b["width"] + 1


def test_a_face_is_boxed_over_its_preview(
    browser: Browser, workspace: Workspace, demo: Demo
) -> None:
    face = next(f for f in demo.face.faces if f.frame == 0)
    assert demo.face.width and demo.face.height
    with workspace.tab(browser, "vera") as tab:
        page = tab.page
        page.goto(f"/media/{demo.face.sha256}")
        img = page.locator("#preview")
        expect(img).to_have_js_property("complete", True)
        boxes = page.locator(".box-face")
        assert boxes.count() == sum(1 for f in demo.face.faces if f.frame == 0)
        shown = boxes.first.bounding_box()
        picture = img.bounding_box()
        assert shown and picture
        scale = picture["width"] / demo.face.width
        assert shown["x"] - picture["x"] == pytest.approx(face.box.x * scale, abs=3)
        assert shown["y"] - picture["y"] == pytest.approx(face.box.y * scale, abs=3)
        assert shown["width"] == pytest.approx(face.box.w * scale, abs=3)
        # A viewer may look and search, but not record a clue.
        expect(page.locator("#region-search")).to_be_visible()
        expect(page.locator("#clue-add")).to_have_count(0)


def test_a_video_shows_a_veiled_frame_strip_and_a_broken_file_no_preview(
    browser: Browser, workspace: Workspace, demo: Demo
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto(f"/media/{demo.video}")
        expect(page.locator("#frame-strip img")).not_to_have_count(0)
        frames = page.locator("#frame-strip img").evaluate_all(
            "imgs => imgs.map(i => i.getAttribute('src'))"
        )
        assert all(src.endswith("/preview") for src in frames), "frames come veiled"
        expect(page.locator("#keyframes li")).not_to_have_count(0)
        expect(page.locator("video[autoplay], #preview")).to_have_count(0)
        expect(page.locator("#faces")).to_be_visible()
        page.goto(f"/media/{demo.broken}")
        expect(page.locator("#verdict")).to_have_text("error")
        expect(page.locator("#no-preview")).to_be_visible()


def test_the_preview_zooms_pans_and_reveals_from_the_keyboard(
    browser: Browser, workspace: Workspace, demo: Demo
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto(f"/media/{demo.crop}")
        stage = page.locator("#stage")
        stage.focus()
        page.keyboard.press("+")
        page.keyboard.press("+")
        assert float(stage.get_attribute("data-zoom") or "1") > 1.5
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowDown")
        assert int(stage.get_attribute("data-pan-x") or "0") < 0
        assert int(stage.get_attribute("data-pan-y") or "0") < 0
        page.keyboard.press("-")
        page.keyboard.press("0")
        expect(stage).to_have_attribute("data-zoom", "1")
        expect(stage).to_have_attribute("data-pan-x", "0")
        page.keyboard.press("r")
        expect(page.locator("#preview")).to_have_attribute("data-revealed", "true")
        expect(page.locator("#reveal")).to_have_attribute("aria-pressed", "true")
        page.keyboard.press("r")
        expect(page.locator("#preview")).to_have_attribute("data-revealed", "false")
        # The wheel zooms too.
        stage.hover()
        page.mouse.wheel(0, -200)
        expect(stage).not_to_have_attribute("data-zoom", "1")


def test_a_drawn_box_becomes_a_clue_and_a_typed_box_searches(
    browser: Browser, workspace: Workspace, demo: Demo
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto(f"/media/{demo.original}")
        expect(page.locator("#preview")).to_have_js_property("complete", True)
        page.locator("#draw-toggle").click()
        area = page.locator("#preview").bounding_box()
        assert area
        page.mouse.move(area["x"] + area["width"] * 0.2, area["y"] + area["height"] * 0.25)
        page.mouse.down()
        page.mouse.move(area["x"] + area["width"] * 0.5, area["y"] + area["height"] * 0.6, steps=5)
        page.mouse.up()
        expect(page.locator("#drawn")).to_be_visible()
        fields = {n: int(page.locator(f'#region input[name="{n}"]').input_value()) for n in "xywh"}
        assert fields["w"] > 0 and fields["h"] > 0 and fields["x"] > 0
        page.locator("#clue-kind").select_option("logo")
        page.locator("#clue-note").fill(CLUE_NOTE)
        with page.expect_navigation():
            page.locator("#clue-add").click()
        row = page.locator("#clues tr", has_text=CLUE_NOTE)
        expect(row).to_contain_text("logo")
        expect(row).to_contain_text(f"{fields['x']}, {fields['y']}, {fields['w']}, {fields['h']}")
        expect(page.locator(".box-clue")).not_to_have_count(0)
        # The keyboard way: type the box (the whole picture) and search that part.
        facts_width = int(page.locator("#viewer").get_attribute("data-width") or "0")
        facts_height = int(page.locator("#viewer").get_attribute("data-height") or "0")
        for name, value in (("x", 0), ("y", 0), ("w", facts_width), ("h", facts_height)):
            page.locator(f'#region input[name="{name}"]').fill(str(value))
        page.locator("#region-search").click()
        status = page.locator("#region-status")
        expect(status).to_have_text(re.compile(r"^\d+ results?$"), timeout=60_000)
        count = int(status.get_attribute("data-count") or "0")
        expect(page.locator("#region-tiles li")).to_have_count(count)


def test_hostile_exif_and_text_show_as_text(
    browser: Browser, workspace: Workspace, demo: Demo
) -> None:
    ctx = open_context(workspace.settings, local_operator(workspace.settings))
    try:
        facts = [media_facts(ctx, i.sha256) for i in demo.hostile if i.sha256]
    finally:
        ctx.close()
    tagged = next(f for f in facts if f.exif and f.exif.make == HOSTILE_EXIF)
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto(f"/media/{tagged.sha256}")
        expect(page.locator("#exif")).to_contain_text(HOSTILE_EXIF)
        expect(page.locator("#exif")).to_contain_text("<script>alert('model')</script>")
        expect(page.locator("#exif img")).to_have_count(0)
        expect(page.locator(".media-name")).to_contain_text("<")
        read = [f for f in facts if f.text]
        for media in read:
            page.goto(f"/media/{media.sha256}")
            expect(page.locator("#text-lines")).to_contain_text(media.text[0].text)
            expect(page.locator("#text-lines script")).to_have_count(0)
