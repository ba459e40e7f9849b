"""The search page: three forms and an empty result grid for the script to fill, for anyone
signed in; what is typed into a link comes back as text, never as markup."""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient

from tests.api_support import INLINE_SCRIPT, PASSWORD, Api, api_over
from vident.config import Settings
from vident.service.sessions import login
from vident.web.auth import COOKIE


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


def _signed_in(api: Api, username: str) -> TestClient:
    code = pyotp.TOTP(api.secrets[username]).now()
    client = TestClient(api.app, base_url="http://127.0.0.1")
    client.cookies.set(COOKIE, login(api.ctx, username, PASSWORD, code).secret)
    return client


def test_the_search_page_has_a_form_for_files_hashes_and_text(api: Api) -> None:
    page = _signed_in(api, "vera").get("/search")
    assert page.status_code == 200
    for form in ("by-file", "by-hash", "by-text"):
        assert f'<form id="{form}"' in page.text
    assert '<ul class="tiles" id="tiles">' in page.text
    assert '<script src="/static/js/search.js" defer></script>' in page.text
    assert INLINE_SCRIPT.search(page.text) is None
    assert " style=" not in page.text and " onclick=" not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_a_query_in_the_link_is_text(api: Api) -> None:
    page = _signed_in(api, "ana").get("/search", params={"q": '"><script>alert(1)</script>'})
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page.text
    assert "<script>alert(1)" not in page.text


def test_search_needs_a_session(api: Api) -> None:
    stranger = TestClient(api.app, base_url="http://127.0.0.1")
    response = stranger.get("/search", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/search"
