"""Runs after every other API test module: each route of the app was requested by some test.

A new route without a test that uses it fails here. The check is skipped when only part of the
API tests ran (a single module or test), since then the others' requests are missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api_support import HIT, routes_of
from vident.config import Settings
from vident.web.app import create_app

API_TESTS = sorted(p.stem for p in Path(__file__).parent.glob("test_api_*.py"))


def test_every_route_is_requested_by_some_test(
    request: pytest.FixtureRequest, settings: Settings
) -> None:
    ran: dict[str, set[str]] = {}
    for item in request.session.items:
        module = getattr(item, "module", None)
        if module is not None and module.__name__.split(".")[-1] in API_TESTS:
            ran.setdefault(module.__name__, set()).add(getattr(item, "originalname", item.name))
    for name in API_TESTS:
        module_name = f"tests.{name}"
        if name == Path(__file__).stem:
            continue
        module = __import__(module_name, fromlist=["_"])
        tests = {n for n in dir(module) if n.startswith("test_")}
        if ran.get(module_name) != tests:
            pytest.skip(f"{name} did not run whole: route coverage needs every API test")
    routes = routes_of(create_app(settings))
    missing = sorted(routes - HIT)
    assert missing == [], f"routes no test requests: {missing}"
