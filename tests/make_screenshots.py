"""Screenshots of the workspace's main pages for the README and docs (benign demo pictures).

Builds the demo workspace (as the browser tests do), serves it on a loopback port and saves one
PNG per page, 1280 px wide, under the folder given (default ``docs/screenshots``). Previews
stay veiled as an analyst first sees them, except a second shot of the compare page with one
side revealed, as an analyst would after choosing to look (benign demo pictures). Run with
``python -m tests.make_screenshots [FOLDER]`` (needs Chromium; ``make chromium`` installs it).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pyotp
from playwright.sync_api import Page, sync_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS, live_server
from tests.workspace import PASSWORD, build_workspace
from vident.config import Settings
from vident.service.context import local_operator, open_context
from vident.service.sessions import login
from vident.service.triage import triage_source
from vident.web.app import create_app
from vident.web.auth import COOKIE


def _crop_and_original(settings: Settings) -> tuple[str, str]:
    """The demo's crop that only local features recognise, and the picture it came from."""
    ctx = open_context(settings, local_operator(settings))
    try:
        for item in triage_source(ctx, "demo-seizure").items:
            signals = {reason.signal for reason in item.reasons}
            if item.verdict == "near" and signals == {"keypoints"} and item.sha256:
                original = next(r.media for r in item.reasons if r.media)
                if original:
                    return item.sha256, original
    finally:
        ctx.close()
    raise SystemExit("the demo has no crop found by keypoints")


def shoot(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="vident-shots-") as scratch:
        settings, _expected, secrets = build_workspace(Path(scratch) / "demo-data")
        ctx = open_context(settings, local_operator(settings))
        try:
            sessions = {
                name: login(ctx, name, PASSWORD, pyotp.TOTP(secrets[name]).now()).secret
                for name in ("ana", "root", "audrey")
            }
        finally:
            ctx.close()
        with live_server(create_app(settings)) as base, sync_playwright() as driver:
            browser = driver.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )

            def page_as(username: str) -> Page:
                context = browser.new_context(viewport={"width": 1280, "height": 860})
                context.add_cookies([{"name": COOKIE, "value": sessions[username], "url": base}])
                return context.new_page()

            def save(page: Page, path: str, name: str) -> None:
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                target = folder / f"{name}.png"
                page.screenshot(path=str(target), full_page=False)
                made.append(target)

            ana = page_as("ana")
            save(ana, "/", "dashboard")
            save(ana, "/sources/demo-seizure/triage", "triage")
            crop, original = _crop_and_original(settings)
            save(ana, f"/media/{crop}", "media")
            save(ana, f"/compare?a={crop}&b={original}", "compare")
            ana.locator("#reveal-a").click()  # one side revealed, the other still veiled
            ana.wait_for_load_state("networkidle")
            target = folder / "compare-revealed.png"
            ana.screenshot(path=str(target))
            made.append(target)
            save(ana, "/people", "people")
            save(ana, "/series", "series")
            save(ana, "/upload", "upload")
            save(ana, "/search", "search")
            save(ana, "/settings", "settings")
            save(page_as("root"), "/admin/users", "admin")
            save(page_as("audrey"), "/audit", "audit")
            browser.close()
    return made


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots")
    for shot in shoot(out):
        print(shot)
