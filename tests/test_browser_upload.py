"""Uploading a seizure and searching in a real Chromium against the served demo workspace.

An analyst uploads a zip of two generated pictures into a new case and watches the ingest
reach its end; a viewer is offered no upload; search finds a demo picture by its pasted
SHA-256 (with the hash-set reason) and by the word printed in another.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile

from playwright.sync_api import Browser, Page, expect

from tests.browser import Watched
from tests.conftest import jpeg_bytes
from tests.workspace import Workspace
from vident.demo.scenario import TEXT_QUERY

#: A file name that would run script if a page let it through as markup.
HOSTILE_NAME = "<img src=x onerror=alert(1)>.jpg"
#: Seconds the ingest of two small pictures may take on a busy test machine.
INGEST_SECONDS = 120


def _zip_of_two_pictures(seed: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("DCIM/one.jpg", jpeg_bytes(seed, (320, 240)))
        archive.writestr("DCIM/two.jpg", jpeg_bytes(seed + 1, (320, 240)))
    return buffer.getvalue()


def _no_csp_violation(tab: Watched) -> None:
    violations = [m for m in tab.console_errors() if "Content Security Policy" in m]
    assert violations == [], violations


def _upload(page: Page, case: str, source: str, payload: bytes) -> None:
    page.goto("/upload")
    page.get_by_label("or a new case name").fill(case)
    page.get_by_label("File or archive").set_input_files(
        {"name": f"{source}.zip", "mimeType": "application/zip", "buffer": payload}
    )
    expect(page.locator("#chosen")).to_contain_text(f"{source}.zip")
    page.get_by_label("Source name (the seizure or exhibit)").fill(source)
    page.get_by_role("button", name="Start upload").click()


def test_an_analyst_uploads_a_zip_and_watches_it_to_the_end(
    browser: Browser, workspace: Workspace
) -> None:
    tag = uuid.uuid4().hex[:8]
    case, source = f"UP-case-{tag}", f"UP-src-{tag}"
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        _upload(page, case, source, _zip_of_two_pictures(7100))
        expect(page.locator("#sent-text")).to_have_text("sent", timeout=30_000)
        expect(page.locator("#job-status")).to_have_text("done", timeout=INGEST_SECONDS * 1000)
        expect(page.locator("#job-text")).to_contain_text("2 of 2 files")
        link = page.get_by_role("link", name="Open the triage of this source")
        expect(link).to_have_attribute("href", f"/sources/{source}/triage")
        assert page.locator("#ingested").evaluate("p => p.value === p.max")
        # The dashboard lists the finished job, its case among the analyst's cases.
        page.goto("/")
        row = page.locator("#jobs tr", has_text=source)
        expect(row).to_contain_text(case)
        expect(row.locator("[data-status]")).to_have_attribute("data-status", "done")
        expect(page.locator("#cases")).to_contain_text(case)
        _no_csp_violation(tab)


def test_several_dropped_files_are_refused_with_advice(
    browser: Browser, workspace: Workspace
) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/upload")
        files = page.evaluate_handle(
            """() => {
                const data = new DataTransfer();
                data.items.add(new File(["a"], "a.jpg", {type: "image/jpeg"}));
                data.items.add(new File(["b"], "<img src=x onerror=alert(1)>.jpg"));
                return data;
            }"""
        )
        page.locator("#drop").dispatch_event("drop", {"dataTransfer": files})
        expect(page.locator("#upload [data-error]")).to_contain_text("One file per upload")
        one = page.evaluate_handle(
            """() => {
                const data = new DataTransfer();
                data.items.add(new File(["x"], "<img src=x onerror=alert(1)>.jpg"));
                return data;
            }"""
        )
        page.locator("#drop").dispatch_event("drop", {"dataTransfer": one})
        expect(page.locator("#chosen")).to_contain_text("<img src=x onerror=alert(1)>.jpg")
        expect(page.locator("#upload [data-error]")).to_be_hidden()
        # No source name yet is filled from the file; without a file the form says so.
        page.get_by_label("Source name (the seizure or exhibit)").fill("")
        page.get_by_role("button", name="Start upload").click()
        expect(page.locator("#upload [data-error]")).to_have_text("Give the source a name.")


def test_a_viewer_is_offered_no_upload(browser: Browser, workspace: Workspace) -> None:
    with workspace.tab(browser, "vera") as tab:
        page = tab.page
        page.goto("/")
        expect(page.locator("nav .menu")).not_to_contain_text("Upload")
        response = page.goto("/upload")
        assert response is not None and response.status == 403
        expect(page.locator(".error")).to_contain_text("may not upload")
        expect(page.locator('input[type="file"]')).to_have_count(0)


def test_search_finds_a_known_picture_by_its_pasted_hash(
    browser: Browser, workspace: Workspace
) -> None:
    known = next(
        path
        for path, verdict in workspace.expected.items()
        if verdict == "known" and "/" not in path
    )
    sha = hashlib.sha256((workspace.data / "seizure" / known).read_bytes()).hexdigest()
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/search")
        page.get_by_label("SHA-256 hashes, one per line").fill(f"{sha}\n{'0' * 64}\n")
        page.get_by_role("button", name="Look up hashes").click()
        expect(page.locator("#summary")).to_have_text("1 of 2 hashes are stored media.")
        tile = page.locator(f'#tiles .tile[data-sha256="{sha}"]')
        expect(tile.locator(".verdict")).to_have_text("known")
        expect(tile.locator(".reason").first).to_contain_text("demo-reference")
        expect(tile.locator("img")).to_have_attribute("src", f"/api/v1/media/{sha}/preview")
        expect(tile.locator("a").first).to_have_attribute("href", f"/media/{sha}")
        expect(page.locator("#notes")).to_contain_text("0" * 64)
        _no_csp_violation(tab)


def test_search_finds_the_printed_word(browser: Browser, workspace: Workspace) -> None:
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/search")
        page.get_by_label('Words, "a phrase" or a prefix*').fill(TEXT_QUERY)
        page.get_by_role("button", name="Search text").click()
        expect(page.locator("#summary")).to_contain_text(f"matching {TEXT_QUERY}")
        expect(page.locator("#tiles .tile").first).to_be_visible()
        expect(page.locator("#tiles .snippet").first).to_contain_text(TEXT_QUERY, ignore_case=True)
        _no_csp_violation(tab)


def test_search_by_file_shows_the_verdict_and_the_stored_copies(
    browser: Browser, workspace: Workspace
) -> None:
    known = next(
        path
        for path, verdict in workspace.expected.items()
        if verdict == "known" and "/" not in path
    )
    picture = (workspace.data / "seizure" / known).read_bytes()
    sha = hashlib.sha256(picture).hexdigest()
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/search")
        page.locator("#search-file").set_input_files(
            {"name": HOSTILE_NAME, "mimeType": "image/jpeg", "buffer": picture}
        )
        page.get_by_role("button", name="Search by file").click()
        expect(page.locator("#summary")).to_contain_text(f"{HOSTILE_NAME}: known", timeout=60_000)
        tile = page.locator(f'#tiles .tile[data-sha256="{sha}"]')
        expect(tile.locator(".reason").first).to_contain_text("demo-seizure")
        expect(page.locator("#notes")).to_contain_text("demo-reference")
        _no_csp_violation(tab)
