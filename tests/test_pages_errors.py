"""A browser that strays gets a page, never the API's JSON: a mistyped address is a 404 page,
a bad parameter a one-line 422 page for a signed-in analyst and the sign-in form for anyone
else; the API's own paths keep answering problem JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import TimeoutError as NoFreeConnection

from tests.api_support import API, PASSWORD, Api, api_over, problem
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


def _failing(exc: BaseException) -> Callable[..., object]:
    def fail(*_args: object, **_kwargs: object) -> object:
        raise exc

    return fail


def test_an_unexpected_failure_is_problem_json_for_the_api_and_a_page_for_a_browser(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug must not reach a client as Starlette's plain-text 500 (which API clients cannot
    parse) nor as a traceback: problem JSON for the API, an error page for a browser."""
    import vident.web.pages.dashboard
    import vident.web.routers.sources

    monkeypatch.setattr(vident.web.routers.sources, "list_sources", _failing(RuntimeError("x")))
    monkeypatch.setattr(vident.web.pages.dashboard, "my_week", _failing(KeyError("secret")))
    quiet = TestClient(api.app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    answer = quiet.get(f"{API}/sources", headers=api.bearer("ana"))
    body = problem(answer, 500)
    assert body["title"] == "internal error" and "logged" in str(body["detail"])

    browser = _signed_in(api)
    quiet.cookies.set(COOKIE, browser.cookies[COOKIE])
    page = quiet.get("/")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "The server failed" in page.text
    assert "secret" not in page.text and "Traceback" not in page.text


def test_no_free_store_connection_is_busy_not_a_server_error(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that waited past the connection pool's timeout may simply be tried again."""
    import vident.web.routers.sources

    waited = NoFreeConnection("QueuePool limit of size 10 overflow 40 reached")
    monkeypatch.setattr(vident.web.routers.sources, "list_sources", _failing(waited))
    quiet = TestClient(api.app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    body = problem(quiet.get(f"{API}/sources", headers=api.bearer("ana")), 503)
    assert body["title"] == "busy" and "try again" in str(body["detail"])
    assert "QueuePool" not in str(body["detail"])
