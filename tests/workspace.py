"""The demo seizure served to a real Chromium: the workspace every page test browses.

``make demo``'s scenario (benign pictures: known, near, related and new items, an earlier case
with a person and a place, a video) is built and ingested once per test session into a
temporary data directory, then served by the real app on a loopback port. Accounts of every
role are made by the service layer and each signs in once through the real login use case
(a TOTP code may be used only once, so tests share the sessions): a test opens a tab already
signed in as the role it needs with :meth:`Workspace.tab`. A session left unused for most of
the server's 30 idle minutes (a full run reaches its last page tests long after its first) is
signed in again before it is handed out.

The fixtures ``workspace`` and ``browser`` are registered in ``tests/conftest.py``, so every test
module shares one workspace per test session (a fixture imported into each module would be a
fixture of that module, built again for each).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image, ImageDraw, ImageFont
from PIL.ExifTags import Base

from tests.browser import Watched, chromium, live_server, missing_browser, watched_page
from vident.config import Settings
from vident.demo.__main__ import run as run_demo
from vident.demo.synthetic import photo_like
from vident.security.totp import code_at, current_step
from vident.service.agencies import add_agency
from vident.service.context import Role, local_operator, open_context
from vident.service.sessions import login
from vident.service.users import EnrolmentOut, add_user, bootstrap_admin
from vident.store.db import Store, upgrade
from vident.web.app import create_app
from vident.web.auth import COOKIE, csrf_token

if TYPE_CHECKING:
    from playwright.sync_api import Browser

PASSWORD = "a fine long password for tests"
AGENCY = "Kripo Berlin"
OTHER_AGENCY = "Met"
#: A session handed out this long ago (seconds) is signed in again first: the server ends one
#: after 30 idle minutes, and a test that took it may have used it up to its end.
STALE_SESSION = 15 * 60
#: A seizure whose names, EXIF and printed text are markup, as a hostile device's could be.
HOSTILE_SOURCE = "hostile-seizure"
#: What a page must show as text and never run (each would open a dialog or fail the CSP).
HOSTILE_NAMES = (
    "<script src=data:,alert('name')>.jpg",
    '"><img src=x onerror=alert(1)>.jpg',
    "<svg onload=alert(2)>.png",
)
HOSTILE_EXIF = "<img src=x onerror=alert('exif')>"
#: username -> (agency, role) of the accounts the workspace makes (besides ``root``).
ACCOUNTS: dict[str, tuple[str, Role]] = {
    "ana": (AGENCY, Role.ANALYST),
    "vera": (AGENCY, Role.VIEWER),
    "audrey": (AGENCY, Role.AUDITOR),
    "adam": (AGENCY, Role.AGENCY_ADMIN),
    "otto": (OTHER_AGENCY, Role.ANALYST),
}


def _secret(enrolment: EnrolmentOut) -> str:
    return parse_qs(urlparse(enrolment.totp_uri).query)["secret"][0]


@dataclass
class Workspace:
    """The served demo: its URL, data directory, expected verdicts and signed-in sessions."""

    base: str
    data: Path
    settings: Settings
    #: seizure path -> the verdict the demo made it for (``expected.json``).
    expected: dict[str, str]
    #: username -> session secret (the cookie's value)
    sessions: dict[str, str] = field(default_factory=dict)
    #: username -> TOTP secret, for tests that sign in through the form themselves.
    totp: dict[str, str] = field(default_factory=dict)
    #: username -> the newest TOTP step used for it (a code is never accepted twice).
    steps: dict[str, int] = field(default_factory=dict)
    #: username -> when its session was last handed out (``time.monotonic()``).
    handed_out: dict[str, float] = field(default_factory=dict)

    def session(self, username: str) -> str:
        """The session secret of ``username``, signed in again first when it went unused
        long enough that the server may end it before the test is done with it."""
        if time.monotonic() - self.handed_out.get(username, -math.inf) > STALE_SESSION:
            self.sign_in(username)
        self.handed_out[username] = time.monotonic()
        return self.sessions[username]

    def sign_in(self, username: str) -> None:
        """A new session for ``username`` through the real login use case, with a code of a
        step not used before (waiting for it when the next one is taken)."""
        step = max(current_step(), self.steps.get(username, -1) + 1)
        while step > current_step() + 1:
            time.sleep(1)
        ctx = open_context(self.settings, local_operator(self.settings))
        try:
            code = code_at(self.totp[username], step)
            self.sessions[username] = login(ctx, username, PASSWORD, code).secret
        finally:
            ctx.close()
        self.steps[username] = step

    def csrf(self, username: str) -> str:
        return csrf_token(self.session(username))

    def code(self, username: str) -> str:
        """A one-time code a sign-in form accepts now, of a step not used before."""
        step = max(current_step() + 1, self.steps.get(username, -1) + 1)
        self.steps[username] = step
        return code_at(self.totp[username], step)

    @contextmanager
    def tab(self, browser: Browser, username: str | None = "ana") -> Iterator[Watched]:
        """A fresh tab signed in as ``username`` (None: nobody), confined to this server.

        When the test ends it checks what every page test must hold: nothing was loaded from
        elsewhere, no script failed, and no dialog opened (stored markup never runs).
        """
        with watched_page(browser, self.base) as watched:
            if username is not None:
                secret = self.session(username)
                watched.page.context.add_cookies(
                    [{"name": COOKIE, "value": secret, "url": self.base}]
                )
            yield watched
            assert watched.blocked == [], f"the page reached elsewhere: {watched.blocked}"
            assert watched.errors == [], f"script errors on the page: {watched.errors}"
            assert watched.dialogs == [], f"a dialog opened: {watched.dialogs}"


def hostile_seizure(folder: Path) -> Path:
    """Pictures named, tagged and printed with markup (a zip member too), in ``folder``."""
    folder.mkdir(parents=True)
    for index, name in enumerate(HOSTILE_NAMES):
        picture = photo_like(480, 360, 9100 + index)
        exif = Image.Exif()
        exif[Base.Make] = HOSTILE_EXIF
        exif[Base.Model] = "<script>alert('model')</script>"
        exif[Base.Artist] = "</textarea><b onmouseover=alert(3)>x</b>"
        kind = "PNG" if name.endswith(".png") else "JPEG"
        picture.save(folder / name, kind, exif=exif.tobytes())
    page = Image.new("RGB", (900, 300), "white")
    font = ImageFont.load_default(size=40)
    ImageDraw.Draw(page).text((20, 110), "<script>alert(4)</script> harbour", "black", font=font)
    page.save(folder / "<b>note<b>.png")
    return folder


def _ingest(data: Path, folder: Path, source: str) -> None:
    command = [sys.executable, "-m", "vident", "--data", str(data), "ingest", str(folder)]
    subprocess.run([*command, "--source", source], check=True, capture_output=True)


def build_workspace(data: Path) -> tuple[Settings, dict[str, str], dict[str, str]]:
    """The demo ingested into ``data`` plus the accounts; (settings, expected, totp secrets)."""
    with contextlib.redirect_stdout(io.StringIO()):
        status = run_demo(data, fresh=True)
    assert status == 0, "the demo's verdicts differ from the expected ones"
    expected: dict[str, Any] = json.loads((data / "expected.json").read_text())
    _ingest(data, hostile_seizure(data / "hostile"), HOSTILE_SOURCE)
    settings = Settings(data=data)
    ctx = open_context(settings, local_operator(settings))
    until = date.today() + timedelta(days=365)
    secrets = {"root": _secret(bootstrap_admin(ctx, "root", PASSWORD))}
    add_agency(ctx, AGENCY, "de")
    add_agency(ctx, OTHER_AGENCY, "gb")
    for username, (agency, role) in ACCOUNTS.items():
        secrets[username] = _secret(add_user(ctx, username, agency, role, until, PASSWORD))
    ctx.close()
    return settings, {str(k): str(v) for k, v in expected.items()}, secrets


def cached_workspace(data: Path) -> tuple[Settings, dict[str, str], dict[str, str]]:
    """:func:`build_workspace`, copied from ``$VIDENT_WORKSPACE_CACHE`` when that is set (built
    there first, under a lock): developers running page tests again skip the 50 s build. CI
    leaves it unset and builds afresh."""
    cache = os.environ.get("VIDENT_WORKSPACE_CACHE")
    if not cache:
        return build_workspace(data)
    root = Path(cache)
    root.mkdir(parents=True, exist_ok=True)
    built = root / "demo-data"
    facts = root / "facts.json"
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not facts.exists():
            shutil.rmtree(built, ignore_errors=True)
            _settings, expected, secrets = build_workspace(built)
            facts.write_text(json.dumps({"expected": expected, "totp": secrets}))
        shutil.copytree(built, data)
    # A cache built before a newer migration is brought up to the schema of this checkout.
    copied = Store(Settings(data=data).database_url)
    try:
        upgrade(copied.engine)
    finally:
        copied.dispose()
    saved = json.loads(facts.read_text())
    return Settings(data=data), saved["expected"], saved["totp"]


@contextmanager
def served_workspace(data: Path) -> Iterator[Workspace]:
    """A demo workspace of its own in ``data``, served, every account signed in once."""
    reason = missing_browser()
    if reason is not None:
        pytest.skip(reason)
    settings, expected, secrets = cached_workspace(data)
    with live_server(create_app(settings)) as base:
        served = Workspace(base=base, data=data, settings=settings, expected=expected)
        served.totp = secrets
        for username in secrets:
            served.sign_in(username)
            served.handed_out[username] = time.monotonic()
        yield served


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The workspace the page tests share (each keeps to names of its own when it changes)."""
    with served_workspace(tmp_path_factory.mktemp("workspace") / "demo-data") as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched
