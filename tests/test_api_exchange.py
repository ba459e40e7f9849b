"""The routes other instances call, as a peer calls them: signed requests, signed answers.

A hub with one international series answers a national peer's pull, push, match and private
match; each answer is signed for the very request it answers. Unsigned, unknown and
over-eager callers are refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api_support import record_route
from tests.conftest import write_jpeg
from vident.config import Settings
from vident.exchange.private_match import PrivateQuery, psi_item
from vident.security.identity import Identity
from vident.security.signing import NONCE, SIGNATURE, sign_request, verify_response
from vident.service.agencies import add_agency
from vident.service.audit import list_events
from vident.service.cases import add_case
from vident.service.context import local_operator, open_context
from vident.service.peers import add_peer, load_identity
from vident.service.sources import ingest_source
from vident.service.store_admin import init_store
from vident.web.app import create_app

API = "/api/v1"


@dataclass
class Hub:
    client: TestClient
    me: Identity
    hub_key: bytes
    shas: list[str]
    data: Path

    def call(self, method: str, route: str, payload: object | None = None) -> tuple[int, object]:
        """A signed request as peer ``country-nl``; the answer's signature is checked."""
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = sign_request(self.me, "hub", method, API + route, body)
        headers["Content-Type"] = "application/json"
        path, _, query = route.partition("?")
        answer = self.client.request(
            method,
            API + path,
            params=dict(p.split("=") for p in query.split("&") if p),
            content=body or None,
            headers=headers,
        )
        if answer.status_code == 200:
            verify_response(
                answer.headers[SIGNATURE], self.hub_key, headers[NONCE], 200, answer.content
            )
        return answer.status_code, answer.json()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    settings = Settings(data=tmp_path / "hub", peer_requests_per_minute=8)
    init_store(settings, name="hub")
    op = open_context(settings, local_operator(settings))
    folder = tmp_path / "seized"
    shas = [write_jpeg(folder / f"{i}.jpg", 900 + i) for i in range(2)]
    add_agency(op, "Interpol CAC", "FR")
    add_case(op, "shared-op", agency="Interpol CAC", sharing="international")
    ingest_source(op, folder, "S1", case="shared-op", workers=1, signals=("pdq",))
    me = Identity.create(tmp_path / "nl", "country-nl")
    add_peer(op, "country-nl", "http://127.0.0.1:9", me.public().key_text(), role="national")
    hub_key = load_identity(op).public().signing
    op.close()
    api = create_app(settings)
    with TestClient(api, base_url="http://127.0.0.1") as client:
        client.event_hooks = {"request": [record_route(api)], "response": []}
        digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in shas]
        yield Hub(client, me, hub_key, digests, settings.data)
    api.state.vident.store.dispose()


def test_a_peer_pulls_pushes_and_matches(hub: Hub) -> None:
    status, pulled = hub.call("GET", "/exchange/changes?since=0&limit=10")
    assert status == 200 and isinstance(pulled, dict)
    keys = {r["key"] for r in pulled["records"]}
    assert keys == set(hub.shas)
    assert all(r["facts"]["agency"] == "Interpol CAC" for r in pulled["records"])
    status, again = hub.call("GET", f"/exchange/changes?since={pulled['upto']}&limit=10")
    assert status == 200 and isinstance(again, dict) and again["records"] == []

    record = {
        "origin": "country-nl",
        "key": "ab" * 32,
        "revision": 1,
        "level": "international",
        "hashes": {"sha256": "ab" * 32},
        "facts": {"series": "nl-series", "victim_identified": True},
    }
    status, taken = hub.call("POST", "/exchange/changes", {"records": [record], "upto": 1})
    assert status == 200 and isinstance(taken, dict) and taken["added"] == 1
    status, taken = hub.call("POST", "/exchange/changes", {"records": [record], "upto": 1})
    assert status == 200 and isinstance(taken, dict) and taken["unchanged"] == 1

    query = {
        "hashes": [{"kind": "sha256", "value": hub.shas[0]}, {"kind": "sha256", "value": "cd" * 32}]
    }
    status, found = hub.call("POST", "/exchange/match", query)
    assert status == 200 and isinstance(found, dict)
    assert [(m["query"], m["record"]["key"]) for m in found["matches"]] == [(0, hub.shas[0])]

    asked = PrivateQuery(
        [psi_item("sha256", bytes.fromhex(hub.shas[1])), psi_item("sha256", b"\1" * 32)]
    )
    request = base64.b64encode(asked.request()).decode()
    status, answer = hub.call("POST", "/exchange/private-match", {"request": request})
    assert status == 200 and isinstance(answer, dict)
    held = asked.matched(base64.b64decode(answer["setup"]), base64.b64decode(answer["response"]))
    assert held == [psi_item("sha256", bytes.fromhex(hub.shas[1]))]


def test_unsigned_foreign_and_eager_callers_are_refused(hub: Hub, tmp_path: Path) -> None:
    assert hub.client.get(f"{API}/exchange/changes").status_code == 401
    stranger = Hub(
        hub.client, Identity.create(tmp_path / "x", "country-nl"), hub.hub_key, [], hub.data
    )
    assert stranger.call("POST", "/exchange/match", {"hashes": []})[0] == 401
    status, problem = hub.call("POST", "/exchange/private-match", {"request": "bm90IHBzaQ=="})
    assert status == 422 and isinstance(problem, dict)
    statuses = [hub.call("GET", "/exchange/changes?since=0&limit=1")[0] for _ in range(9)]
    assert statuses.count(429) >= 1 and statuses[0] == 200


def test_an_address_that_keeps_failing_is_turned_away_unaudited(hub: Hub) -> None:
    """Forged requests cost a signature check and an audit event each: after 20 refusals a
    minute the address gets 429 before either, so a flood cannot fill the trail."""
    statuses = [hub.client.get(f"{API}/exchange/changes").status_code for _ in range(25)]
    assert statuses[:20] == [401] * 20
    assert set(statuses[20:]) == {429}
    settings = Settings(data=hub.data)
    ctx = open_context(settings, local_operator(settings))
    try:
        refused = list_events(ctx, action="peer.refused").events
    finally:
        ctx.close()
    assert len(refused) == 20
