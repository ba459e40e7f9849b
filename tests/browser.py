"""Real-browser tests: Chromium driven by Playwright against the real app on loopback.

Chromium comes from Debian (``make test`` installs it when it runs as root); Playwright's own
browser download is never used, since nothing may be fetched at run time. Where either is
missing the browser tests skip with the reason, so a machine without a browser does not fail.
Every page is confined to the server under test: any request elsewhere is aborted and noted.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

CHROMIUM = Path(os.environ.get("VIDENT_CHROMIUM", "/usr/lib/chromium/chromium"))
#: Headless flags that keep Chromium from calling home on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    from playwright.sync_api import (
        Browser,
        ConsoleMessage,
        Dialog,
        Page,
        Route,
        sync_playwright,
    )
except ImportError:  # pragma: no cover - the dev extra installs it
    PLAYWRIGHT = False
else:
    PLAYWRIGHT = True


def missing_browser() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if not PLAYWRIGHT:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}: run 'make test' as root or apt-get install chromium"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free loopback port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server under test did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright; skips the test where it cannot run.

    Test modules wrap it in a module-scoped fixture: starting the browser costs about a second.
    """
    reason = missing_browser()
    if reason is not None:
        pytest.skip(reason)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    """A page confined to one server, with what it said and tried on the way."""

    page: Page
    base: str
    console: list[ConsoleMessage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # uncaught page exceptions
    dialogs: list[str] = field(default_factory=list)  # alert/confirm/prompt that opened
    blocked: list[str] = field(default_factory=list)  # requests to anywhere else

    def url(self, path: str) -> str:
        return self.base + path

    def console_errors(self) -> list[str]:
        """Console errors and warnings (a CSP violation is reported as an error)."""
        return [m.text for m in self.console if m.type in {"error", "warning"}]


@contextmanager
def watched_page(browser: Browser, base: str) -> Iterator[Watched]:
    """A fresh browser context and page that may reach ``base`` only."""
    context = browser.new_context(base_url=base, java_script_enabled=True)
    page = context.new_page()
    watched = Watched(page=page, base=base)

    def confine(route: Route) -> None:
        url = route.request.url
        if url == base or url.startswith(base + "/"):
            route.continue_()
        else:
            watched.blocked.append(url)
            route.abort()

    def on_dialog(dialog: Dialog) -> None:
        watched.dialogs.append(dialog.message)
        dialog.dismiss()

    page.route("**/*", confine)
    page.on("console", lambda message: watched.console.append(message))
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on("dialog", on_dialog)
    try:
        yield watched
    finally:
        context.close()
