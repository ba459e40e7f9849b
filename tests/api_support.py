"""What the REST API tests share: an app over a real store with users of every role, a client
that notes which route each request was for, and the problem-JSON check.

:data:`HIT` collects the routes requested by every API test module; ``test_api_zcoverage``
runs after them and fails for a route that no test requested.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.context import Context, Role, local_operator, open_context
from vident.service.tokens import create_token
from vident.service.users import EnrolmentOut, add_user, bootstrap_admin
from vident.web.app import PUBLIC_ROUTES, create_app

PASSWORD = "a fine long password"
API = "/api/v1"
#: (method, path template) of every route some test here requested.
__all__ = [
    "API",
    "HIT",
    "PASSWORD",
    "PUBLIC_ROUTES",
    "Api",
    "api_over",
    "problem",
    "record_route",
    "routes_of",
    "secret_of",
]
HIT: set[tuple[str, str]] = set()
PROBLEM_KEYS = {"type", "title", "status", "detail"}


def routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route of ``app``, read from its OpenAPI schema (no
    route is hidden from it, and the schema is FastAPI's public view of the routes)."""
    paths = app.openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def route_pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


def record_route(app: FastAPI) -> Callable[[httpx.Request], None]:
    """An httpx request hook noting which route of ``app`` each request is for."""
    templates = [(m, t, route_pattern(t)) for m, t in routes_of(app)]

    def hook(request: httpx.Request) -> None:
        for method, template, pattern in templates:
            if method == request.method and pattern.match(request.url.path):
                HIT.add((method, template))

    return hook


def secret_of(enrolment: EnrolmentOut) -> str:
    return parse_qs(urlparse(enrolment.totp_uri).query)["secret"][0]


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    ctx: Context
    secrets: dict[str, str]  # username -> TOTP secret
    tokens: dict[str, str]  # username -> API token

    def bearer(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def client_for(self, base_url: str) -> TestClient:
        client = TestClient(self.app, base_url=base_url)
        client.event_hooks = {"request": [record_route(self.app)], "response": []}
        return client

    def login(self, client: TestClient, username: str) -> httpx.Response:
        code = pyotp.TOTP(self.secrets[username]).now()
        body = {"username": username, "password": PASSWORD, "totp": code}
        response: httpx.Response = client.post(f"{API}/auth/login", json=body)
        return response


@contextmanager
def api_over(settings: Settings) -> Iterator[Api]:
    """An app over a store with an admin, an agency and one user of each working role."""
    ctx = open_context(settings, local_operator(settings))
    secrets = {"root": secret_of(bootstrap_admin(ctx, "root", PASSWORD))}
    add_agency(ctx, "Met", "gb")
    until = date.today() + timedelta(days=365)
    for name, role in (("vera", Role.VIEWER), ("ana", Role.ANALYST), ("aud", Role.AUDITOR)):
        secrets[name] = secret_of(add_user(ctx, name, "Met", role, until, PASSWORD))
    tokens = {
        name: create_token(ctx, name, "tests", 30, ["read", "write", "admin", "audit"]).secret
        for name in ("root", "vera", "ana", "aud")
    }
    app = create_app(settings)
    made = Api(app, TestClient(app), ctx, secrets, tokens)
    made.client = made.client_for("http://127.0.0.1")
    with made.client:
        yield made
    ctx.close()


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status
    assert str(body["type"]).startswith("urn:vident:problem:")
    assert "Traceback" not in response.text
    return dict(body)


#: A script element a page must never carry: one with code in it. Scripts come from files
#: (``src=``); a ``type="application/json"`` block is data the browser never runs.
INLINE_SCRIPT = re.compile(r'<script(?![^>]*\b(?:src=|type="application/json"))[^>]*>')
