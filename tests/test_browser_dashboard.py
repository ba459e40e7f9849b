"""The dashboard in a real Chromium: a job's progress follows the ingest without a reload
(htmx asks for the progress fragment until the job is done), the verdict counts arrive after
the page, and the analyst's cases and the signed-in line are there."""

from __future__ import annotations

import io
import uuid
import zipfile

from playwright.sync_api import Browser, expect

from tests.conftest import jpeg_bytes
from tests.workspace import Workspace

#: Seconds the ingest of a few small pictures may take on a busy test machine.
INGEST_SECONDS = 120


def _zip(seed: int, count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n in range(count):
            archive.writestr(f"p{n}.jpg", jpeg_bytes(seed + n, (320, 240)))
    return buffer.getvalue()


def test_the_dashboard_follows_a_job_live_and_counts_verdicts(
    browser: Browser, workspace: Workspace
) -> None:
    tag = uuid.uuid4().hex[:8]
    case, source = f"UP-dash-{tag}", f"UP-dash-src-{tag}"
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto("/")
        expect(page.locator("#signed-in")).to_have_text("Signed in as ana (analyst, Kripo Berlin)")
        # The verdict counts come as a fragment once the page is shown: the demo's files.
        counts = page.locator("#verdicts")
        expect(counts.locator('[data-verdict="known"] dd')).not_to_have_text("0")
        expect(counts).to_contain_text("demo-seizure")
        expect(page.locator("#alerts")).to_contain_text("No seizure of another case")

        answer = page.request.post(
            "/api/v1/jobs",
            params={"source": source, "case": case},
            multipart={
                "file": {"name": "dash.zip", "mimeType": "application/zip", "buffer": _zip(7300, 4)}
            },
            headers={"X-CSRF-Token": workspace.csrf("ana")},
        )
        assert answer.status == 202, answer.text()
        job_id = answer.json()["id"]
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        page.goto("/")
        page.evaluate("window.stillTheSamePage = true")
        job = page.locator(f"#job-{job_id}")
        expect(job).to_be_visible()
        first_status = job.get_attribute("data-status")
        expect(job).to_have_attribute("data-status", "done", timeout=INGEST_SECONDS * 1000)
        expect(job).to_contain_text("4 of 4 files")
        assert page.evaluate("window.stillTheSamePage === true"), "the page was reloaded"
        assert job.get_attribute("hx-get") is None  # a finished job stops asking
        if first_status != "done":  # it ran when the page came: the fragment was asked for
            assert any(url.endswith(f"/jobs/{job_id}/progress") for url in asked), asked
        expect(job.locator("progress")).to_have_attribute("value", "4")
        page.reload()
        expect(page.get_by_role("link", name=source)).to_have_attribute(
            "href", f"/sources/{source}/triage"
        )
        expect(page.locator("#cases")).to_contain_text(case)
