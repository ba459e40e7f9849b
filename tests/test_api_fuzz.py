"""The REST API fuzzed from its own OpenAPI schema: no request makes the server fail.

Schemathesis turns every operation of ``/api/v1/openapi.json`` into Hypothesis strategies of
requests, both valid ones (positive) and ones that break the schema (negative), and sends them
to the app in process. A 5xx is a bug whatever the request was: bad input is the client's
fault and must come back as a 4xx problem. Every error must be RFC 9457 problem JSON, so a
client can always parse a failure. Without credentials, every operation but health and login
must answer 401, whatever the request holds. The schema is read from the app, so a route
added later is fuzzed without touching this file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation
from schemathesis.core.result import Ok
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.conftest import jpeg_bytes, write_jpeg
from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.context import Role, local_operator, open_context
from vident.service.sources import ingest_source
from vident.service.tokens import create_token
from vident.service.users import add_user, bootstrap_admin
from vident.store.db import Store, upgrade
from vident.web.app import PREFIX, PUBLIC_ROUTES, create_app
from vident.web.problems import MEDIA_TYPE

PASSWORD = "a fine long password"
#: Examples per operation and generation mode: enough to reach every parameter's edge cases
#: while the whole file stays well under a minute.
EXAMPLES = 25
#: Fewer examples without credentials: the answer must not depend on the request at all.
UNAUTHENTICATED_EXAMPLES = 5
#: Operations slow by design, with fewer examples: a login hashes the password (argon2id).
COSTLY = {("POST", f"{PREFIX}/auth/login"): 5}
#: A system administrator (of an agency: scoped to it) whose name the fuzzer will not hit.
CHECKER = "after-fuzzing-checker-5c1e"
SELF_DESTRUCTIVE = frozenset(
    {("DELETE", f"{PREFIX}/tokens/{{token_id}}"), ("PATCH", f"{PREFIX}/users/{{username}}")}
)
Operation = APIOperation[Any, Any, Any, Any]
#: What is wrong with one answer to the request ``label`` describes, or None.
Check = Callable[[str, schemathesis.Response], str | None]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


@dataclass
class Fuzzed:
    """An app over a small real store, its schema, and an administrator's API token."""

    app: FastAPI
    schema: OpenApiSchema
    token: str
    settings: Settings

    def fresh_token(self) -> str:
        """A token made now for a system administrator the fuzzer never targets: the fuzzing
        may have revoked its own token or disabled its own user on the way."""
        ctx = open_context(self.settings, local_operator(self.settings))
        try:
            return create_token(ctx, CHECKER, "after fuzzing", 1, ["read", "write"]).secret
        finally:
            ctx.close()


@dataclass
class Tally:
    """What a fuzzing run sent and every answer that broke a rule (kept, not raised, so one
    run reports every broken operation at once)."""

    operations: int = 0
    requests: int = 0
    failures: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """A SQLite store with a bootstrapped system administrator and two ingested pictures."""
    root = tmp_path_factory.mktemp("fuzz")
    data = root / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'vident.db'}"
    store = Store(url)
    upgrade(store.engine)
    store.dispose()
    settings = Settings(data=data, db=url, workers=1)
    ctx = open_context(settings, local_operator(settings))
    bootstrap_admin(ctx, "root", PASSWORD)
    token = create_token(ctx, "root", "fuzz", 1, ["read", "write", "admin", "audit"]).secret
    seized = root / "seized"
    write_jpeg(seized / "a.jpg", 1)
    write_jpeg(seized / "b.jpg", 2)
    ingest_source(ctx, seized, "EX1", workers=1, signals=("pdq",))
    add_agency(ctx, "Checkers", "GB")
    until = date.today() + timedelta(days=30)
    add_user(ctx, CHECKER, "Checkers", Role.SYSTEM_ADMIN, until, PASSWORD)
    ctx.close()
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi(f"{PREFIX}/openapi.json", app)
    try:
        yield Fuzzed(app=app, schema=schema, token=token, settings=settings)
    finally:
        shutdown_lifespans()  # ends the app's lifespan, which closes its store


def _fuzz(
    schema: OpenApiSchema,
    headers: dict[str, str],
    examples: int,
    check: Check,
    *,
    skip: frozenset[tuple[str, str]] = frozenset(),
    only: frozenset[tuple[str, str]] | None = None,
) -> Tally:
    """Send up to ``examples`` requests per operation and mode; ``check`` names what is wrong
    with one answer, or returns None."""
    tally = Tally()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        key = (operation.method.upper(), operation.full_path)
        if key in skip or (only is not None and key not in only):
            continue
        tally.operations += 1
        for mode in MODES:
            count = min(examples, COSTLY.get(key, examples))
            try:
                _fuzz_operation(operation, mode, count, headers, check, tally)
            except Unsatisfiable:
                # Parameters that admit every value (a string in the path) cannot be broken.
                if mode is not schemathesis.GenerationMode.NEGATIVE:
                    raise
    assert tally.operations > 0
    return tally


def _fuzz_operation(
    operation: Operation,
    mode: schemathesis.GenerationMode,
    examples: int,
    headers: dict[str, str],
    check: Check,
    tally: Tally,
) -> None:
    strategy = operation.as_strategy(generation_mode=mode, headers=headers)

    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: a failure is reproducible
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def send(case: schemathesis.Case[Operation]) -> None:
        response = case.call(headers=headers)
        tally.requests += 1
        sent = response.request
        body = sent.body[:80] if isinstance(sent.body, bytes | str) else b""
        label = (
            f"{sent.method} {sent.url} ({mode.value}, {sent.headers.get('content-type')!r}, "
            f"{body!r})"
        )
        problem = check(label, response)
        if problem is not None:
            tally.failures.append(problem)

    send()


def _problem_json(label: str, response: schemathesis.Response) -> str | None:
    """What is wrong with an error answer that is not problem JSON, else None."""
    kind = response.headers.get("content-type", [])
    if kind != [MEDIA_TYPE]:
        return f"{label}: {response.status_code} as {kind}"
    body = json.loads(response.content)
    if not isinstance(body, dict) or body.get("status") != response.status_code:
        return f"{label}: problem status differs from {response.status_code}: {body!r}"
    if not isinstance(body.get("title"), str) or not body["title"]:
        return f"{label}: problem without a title: {body!r}"
    return None


def _no_server_error(label: str, response: schemathesis.Response) -> str | None:
    if response.status_code == 503 and b'"title":"busy"' in response.content:
        # A fuzzed upload's ingest job holds the writer lock: "try again later" is the answer.
        return _problem_json(label, response)
    if response.status_code >= 500:
        return f"{label}: {response.status_code} {response.content[:300]!r}"
    if response.status_code >= 400:
        return _problem_json(label, response)
    return None


def _unauthenticated(label: str, response: schemathesis.Response) -> str | None:
    if response.status_code != 401:
        answer = response.content[:200]
        return f"{label}: {response.status_code} without credentials, not 401: {answer!r}"
    return _problem_json(label, response)


def _client(app: FastAPI) -> TestClient:
    """A client for single requests; never entered, since ending its lifespan would close the
    store the fuzzer's lifespan still uses."""
    return TestClient(app, base_url="http://127.0.0.1")


def test_no_request_makes_the_api_fail_and_every_error_is_problem_json(
    fuzzed: Fuzzed, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = {"Authorization": f"Bearer {fuzzed.token}"}
    # Operations that may take the fuzzer's own rights away (revoke its token, disable or
    # demote its user) run last, so that they cannot silence the fuzzing of the others.
    tally = _fuzz(fuzzed.schema, headers, EXAMPLES, _no_server_error, skip=SELF_DESTRUCTIVE)
    last = _fuzz(fuzzed.schema, headers, EXAMPLES, _no_server_error, only=SELF_DESTRUCTIVE)
    tally.requests += last.requests
    tally.failures += last.failures
    with capsys.disabled():
        print(f"\nAPI fuzz with a token: {tally.requests} requests")
    assert tally.failures == []
    assert tally.requests >= 2 * len(list(fuzzed.schema.get_all_operations()))


def test_without_credentials_every_operation_but_health_and_login_answers_401(
    fuzzed: Fuzzed, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = _fuzz(fuzzed.schema, {}, UNAUTHENTICATED_EXAMPLES, _unauthenticated, skip=PUBLIC_ROUTES)
    with capsys.disabled():
        print(f"\nAPI fuzz without credentials: {tally.requests} requests")
    assert tally.failures == []
    assert tally.requests > 0


def test_an_upload_whose_part_headers_are_not_latin_1_is_read(fuzzed: Fuzzed) -> None:
    """Found by the fuzzer: a part name outside latin-1 made the multipart parser fail (500),
    and a UTF-8 file name came back garbled. Part headers are UTF-8 bytes and kept so."""
    name = "Beweis-ü-\U0001f4f7.jpg"
    client = _client(fuzzed.app)
    response = client.post(
        f"{PREFIX}/search",
        headers={"Authorization": f"Bearer {fuzzed.fresh_token()}"},
        files={"\U0008feb9": ("x", b"{}"), "file": (name, jpeg_bytes(1))},
    )
    assert response.status_code == 200, response.text
    assert response.json()["file"] == name


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{", 422), (b'"\xff"', 400), (b"[" * 100_000, 400)],
    ids=["truncated-json", "not-utf-8", "nested-too-deep"],
)
def test_a_body_that_cannot_be_parsed_is_refused_without_credentials_first(
    fuzzed: Fuzzed, body: bytes, status: int
) -> None:
    """Found by the fuzzer: FastAPI parses a body before the route's dependencies, so a
    malformed body answered 422 or 400 to a caller without credentials instead of 401."""
    url = f"{PREFIX}/people/1/label"
    json_type = {"Content-Type": "application/json"}
    client = _client(fuzzed.app)
    anonymous = client.post(url, content=body, headers=json_type)
    bearer = {**json_type, "Authorization": f"Bearer {fuzzed.fresh_token()}"}
    known = client.post(url, content=body, headers=bearer)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["content-type"] == MEDIA_TYPE
    assert anonymous.json()["title"] == "unauthenticated"
    assert known.status_code == status, known.text
    assert known.headers["content-type"] == MEDIA_TYPE


def test_the_fuzzed_store_holds_the_ingested_source(fuzzed: Fuzzed) -> None:
    """The fuzzing ran against real data: the ingested source is what the API lists."""
    client = _client(fuzzed.app)
    headers = {"Authorization": f"Bearer {fuzzed.fresh_token()}"}
    response = client.get(f"{PREFIX}/sources", headers=headers)
    assert response.status_code == 200
    # Fuzzed uploads may have added sources of their own (POST /jobs).
    assert "EX1" in [source["name"] for source in response.json()["sources"]]
