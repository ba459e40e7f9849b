"""The page scripts' messages: one table (vident.web.pages.messages), carried by every page as
a JSON data block the scripts read through ``vident.t``; no English text left in the scripts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from tests.api_support import PASSWORD, Api, api_over
from tests.workspace import Workspace
from vident.config import Settings
from vident.web.pages import messages as messages_module
from vident.web.pages.messages import MESSAGES
from vident.web.pages.render import STATIC

BLOCK = re.compile(
    r'<script type="application/json" id="vident-messages">(?P<body>.*?)</script>', re.DOTALL
)
#: ``vident.t("key"`` or a script's local alias ``t("key"`` (``var t = window.vident.t``).
CALL = re.compile(r'\bt\(\s*"(?P<key>[^"]+)"')
PLACEHOLDER = re.compile(r"%\((?P<name>\w+)\)s")

HOSTILE = '</script><script>alert("x")</script><!--'


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


def _signed_in(api: Api, username: str) -> TestClient:
    client = api.client_for("http://127.0.0.1")
    code = pyotp.TOTP(api.secrets[username]).now()
    form = {"username": username, "password": PASSWORD, "code": code}
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client


def _block(html: str) -> dict[str, str]:
    """The page's messages block, decoded; exactly one on the page."""
    found = BLOCK.findall(html)
    assert len(found) == 1, "one messages block per page"
    decoded = json.loads(found[0])
    assert isinstance(decoded, dict)
    return {str(key): str(value) for key, value in decoded.items()}


def _script_keys() -> dict[str, set[str]]:
    """Every message key the page scripts ask for, by script file name."""
    keys: dict[str, set[str]] = {}
    for script in sorted((STATIC / "js").glob("*.js")):
        keys[script.name] = {match["key"] for match in CALL.finditer(script.read_text())}
    return keys


def test_the_sign_in_form_and_a_signed_in_page_carry_every_message(api: Api) -> None:
    anonymous = api.client_for("http://127.0.0.1")
    login = anonymous.get("/login")
    assert login.status_code == 200
    assert _block(login.text) == dict(MESSAGES)
    client = _signed_in(api, "ana")
    for path in ("/", "/search", "/upload", "/settings"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert _block(page.text) == dict(MESSAGES), path
        # The block comes before the scripts that read it, which the CSP lets run (no inline
        # script: a JSON data block is not run).
        assert page.text.index('id="vident-messages"') < page.text.index("/static/js/vident.js")
        assert "script-src 'self'" in page.headers["content-security-policy"]


def test_a_message_cannot_close_its_block(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(messages_module._MESSAGES, "test.hostile", HOSTILE)
    page = api.client_for("http://127.0.0.1").get("/login")
    raw = BLOCK.search(page.text)
    assert raw is not None
    assert "<" not in raw["body"] and ">" not in raw["body"]
    assert page.text.count("<script>alert") == 0
    assert _block(page.text)["test.hostile"] == HOSTILE


def test_every_key_the_scripts_use_is_a_message_and_every_message_is_used() -> None:
    by_script = _script_keys()
    used = set().union(*by_script.values())
    assert by_script["vident.js"] == {"api.status"}
    for name in ("triage.js", "media.js", "people.js", "search.js", "upload.js", "admin.js"):
        assert by_script[name], f"{name} shows no message through vident.t"
    missing = sorted(used - set(MESSAGES))
    assert missing == [], f"keys the scripts use but messages.py lacks: {missing}"
    unused = sorted(set(MESSAGES) - used)
    assert unused == [], f"messages no script uses: {unused}"


def test_the_scripts_hold_no_english_sentences() -> None:
    """A user-facing literal ("Searching…", "The upload was interrupted") in a script would
    escape translation; code strings (selectors, URLs, event names) are not sentences."""
    sentence = re.compile(
        r'"(?:\s?[A-Z][a-z]*(?: [\w…]+)+|[a-z]+(?: [a-z]+){2,}|\s[a-z]+)'  # "Box drawn", " results"
        r'|(?:textContent|alt|title) = "[A-Za-z]'  # a word set as text: "compare", "Dismiss"
    )
    for script in sorted((STATIC / "js").glob("*.js")):
        code = [
            line
            for line in script.read_text().splitlines()
            if not line.lstrip().startswith(("*", "/*", "//", '"use strict"'))
        ]
        found = [line.strip() for line in code if sentence.search(line.split("//")[0])]
        assert found == [], f"{script.name}: {found}"


def test_messages_use_named_placeholders_that_python_can_fill() -> None:
    for key, text in MESSAGES.items():
        assert re.fullmatch(r"[a-z]+\.[a-z-]+", key), key
        assert "{" not in text, f"{key}: use %(name)s placeholders"
        names = {match["name"] for match in PLACEHOLDER.finditer(text)}
        filled = text % {name: f"<{name}>" for name in names}
        assert "%(" not in filled, key


def test_scripts_show_the_pages_messages_filled_in(browser: Browser, workspace: Workspace) -> None:
    with workspace.tab(browser, "vera") as tab:
        page = tab.page
        page.goto("/search")
        filled = page.evaluate(
            """() => [
                window.vident.t("upload.chosen", { name: "<b>x</b>.zip", size: "1.0 MB" }),
                window.vident.t("no.such-message", { n: 1 }),
                window.vident.t("search.too-many"),
            ]"""
        )
        assert filled == [
            "Chosen: <b>x</b>.zip (1.0 MB)",
            "no.such-message",
            "Paste at most  hashes at once.",
        ]
        form = page.locator("#by-hash")
        error = form.locator("[data-error]")
        form.locator('[type="submit"]').click()
        expect(error).to_have_text("Paste at least one SHA-256 hash.")
        page.fill("#hashes", "<svg/onload=alert(1)>")
        form.locator('[type="submit"]').click()
        expect(error).to_have_text("Not a SHA-256 hash (64 hex digits): <svg/onload=alert(1)>")
