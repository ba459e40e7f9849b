"""A browser that strays gets a page, never the API's JSON: a mistyped address is a 404 page,
a bad parameter a one-line 422 page for a signed-in analyst and the sign-in form for anyone
else; the API's own paths keep answering problem JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient

from tests.api_support import PASSWORD, Api, api_over
from vident.config import Settings
from vident.service.sessions import login
from vident.service.store_admin import init_store
from vident.web.auth import COOKIE
from vident.web.pages.render import PAGE_CSP


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data=tmp_path / "data")
    init_store(settings)
    with api_over(settings) as made:
        yield made


def _signed_in(api: Api) -> TestClient:
    opened = login(api.ctx, "ana", PASSWORD, pyotp.TOTP(api.secrets["ana"]).now())
    client = api.client_for("http://127.0.0.1")
    client.cookies.set(COOKIE, opened.secret)
    return client


def test_a_missing_page_is_a_page(api: Api) -> None:
    answer = api.client.get("/no/such/page")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-security-policy"] == PAGE_CSP
    assert "There is no page at this address." in answer.text
    on_api = api.client.get("/api/v1/no-such-route", headers=api.bearer("ana"))
    assert on_api.status_code == 404
    assert on_api.headers["content-type"] == "application/problem+json"


def test_a_bad_parameter_is_a_one_line_page_or_the_sign_in_form(api: Api) -> None:
    stranger = api.client.get("/sources/x/triage?page=many", follow_redirects=False)
    assert stranger.status_code == 303
    assert stranger.headers["location"].startswith("/login")
    analyst = _signed_in(api).get("/sources/x/triage?page=many")
    assert analyst.status_code == 422
    assert analyst.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in analyst.text and "page" in analyst.text
    assert "Traceback" not in analyst.text and '"detail"' not in analyst.text
