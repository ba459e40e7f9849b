"""The demo seizure served to a real Chromium: the workspace every page test browses.

``make demo``'s scenario (benign pictures: known, near, related and new items, an earlier case
with a person and a place, a video) is built and ingested once per test session into a
temporary data directory, then served by the real app on a loopback port. Accounts of every
role are made by the service layer and each signs in once through the real login use case
(a TOTP code may be used only once, so tests share the sessions): a test opens a tab already
signed in as the role it needs with :meth:`Workspace.tab`.

The fixtures ``workspace`` and ``browser`` are registered in ``tests/conftest.py``, so every test
module shares one workspace per test session (a fixture imported into each module would be a
fixture of that module, built again for each).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
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

import pyotp
import pytest
from PIL import Image, ImageDraw, ImageFont
from PIL.ExifTags import Base

from tests.browser import Watched, chromium, live_server, missing_browser, watched_page
from vident.config import Settings
from vident.demo.__main__ import run as run_demo
from vident.demo.synthetic import photo_like
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

    def csrf(self, username: str) -> str:
        return csrf_token(self.sessions[username])

    def code(self, username: str) -> str:
        """A one-time code a sign-in form accepts now: the next time step's, since the
        fixture's own sign-in used this step's and a code is never accepted twice."""
        return pyotp.TOTP(self.totp[username]).at(time.time() + 30)

    @contextmanager
    def tab(self, browser: Browser, username: str | None = "ana") -> Iterator[Watched]:
        """A fresh tab signed in as ``username`` (None: nobody), confined to this server.

        When the test ends it checks what every page test must hold: nothing was loaded from
        elsewhere, no script failed, and no dialog opened (stored markup never runs).
        """
        with watched_page(browser, self.base) as watched:
            if username is not None:
                watched.page.context.add_cookies(
                    [{"name": COOKIE, "value": self.sessions[username], "url": self.base}]
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
        ctx = open_context(settings, local_operator(settings))
        try:
            for username, secret in secrets.items():
                code = pyotp.TOTP(secret).now()
                opened = login(ctx, username, PASSWORD, code)
                served.sessions[username] = opened.secret
        finally:
            ctx.close()
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
