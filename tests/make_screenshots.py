"""Screenshots of the workspace's main pages for the README and docs (benign demo pictures).

Builds the demo workspace (as the browser tests do), serves it on a loopback port and saves one
PNG per page, 1280 px wide, under the folder given (default ``docs/screenshots``). Previews
stay veiled as an analyst first sees them, except the compare page, which shows one revealed
side as an analyst would after choosing to look. Run with
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
from vident.service.context import local_operator, open_context
from vident.service.sessions import login
from vident.web.app import create_app
from vident.web.auth import COOKIE


def _first_href(page: Page, selector: str) -> str | None:
    link = page.locator(selector).first
    return link.get_attribute("href") if link.count() else None


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
            media = _first_href(ana, ".verdict-near ~ a, [data-media] a[href^='/media/']")
            if media:
                save(ana, media, "media")
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
