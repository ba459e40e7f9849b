"""The peer commands as an administrator types them: identity, add, list, deny, allow, remove.

A peer denied here is refused like an unknown one when it signs a request, and allowed again
it is taken; both refusals and the peer changes are in the audit trail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from vident.cli import app
from vident.config import Settings
from vident.security.identity import Identity
from vident.security.signing import sign_request
from vident.service.audit import list_events
from vident.service.context import local_operator, open_context
from vident.web.app import create_app

runner = CliRunner(env={"COLUMNS": "200"})


def vident(data: Path, *args: str) -> Result:
    return runner.invoke(app, ["--data", str(data), *args])


def ok(data: Path, *args: str) -> str:
    result = vident(data, *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "hub"
    ok(folder, "init", "--name", "hub")
    return folder


def _push(data: Path, peer: Identity) -> int:
    """A signed (empty) push from ``peer``: the HTTP status the hub answers."""
    body = b'{"records":[],"upto":0,"more":false}'
    path = "/api/v1/exchange/changes"
    headers = sign_request(peer, "hub", "POST", path, body)
    headers["Content-Type"] = "application/json"
    api = create_app(Settings(data=data))
    try:
        with TestClient(api, base_url="http://127.0.0.1") as client:
            return int(client.post(path, content=body, headers=headers).status_code)
    finally:
        api.state.vident.store.dispose()


def test_identity_add_list_deny_allow_remove(data: Path, tmp_path: Path) -> None:
    lines = ok(data, "peer", "identity").splitlines()
    assert lines[0] == "name: hub"
    assert lines[1].startswith("key: vk1.")
    assert lines[2].startswith("fingerprint: ")
    national = Identity.create(tmp_path / "nl", "country-nl")
    key = national.public().key_text()
    added = ok(data, "peer", "add", "country-nl", "http://127.0.0.1:9", key, "--role", "national")
    assert f"fingerprint {national.public().fingerprint()}" in added
    listed = ok(data, "peer", "list")
    assert "country-nl" in listed and "national" in listed
    assert _push(data, national) == 200

    assert "refused" in ok(data, "peer", "deny", "country-nl")
    assert _push(data, national) == 401
    assert "allowed" in ok(data, "peer", "allow", "country-nl")
    assert _push(data, national) == 200

    assert "removed" in ok(data, "peer", "remove", "country-nl")
    assert "country-nl" not in ok(data, "peer", "list")
    assert _push(data, national) == 401

    settings = Settings(data=data)
    ctx = open_context(settings, local_operator(settings))
    try:
        events = list_events(ctx, limit=1000).events
    finally:
        ctx.close()
    actions = [e.action for e in events]
    for action in ("peer.add", "peer.update", "peer.remove", "exchange.push"):
        assert action in actions
    refused = [e for e in events if e.action == "peer.refused"]
    assert len(refused) == 2
    assert {e.detail["reason"] for e in refused if e.detail} == {"unknown peer"}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["country-x", "http://127.0.0.1:9", "vk1.bad"], "key"),
        (["country-x", "http://203.0.113.5:8000", "KEY"], "https"),
        (["hub", "http://127.0.0.1:9", "KEY"], "own name"),
        (["country-x", "ftp://127.0.0.1", "KEY"], "not an http"),
        (["country-x", "http://127.0.0.1:9", "KEY", "--role", "boss"], "role"),
    ],
)
def test_a_bad_peer_is_refused_in_one_line(
    data: Path, tmp_path: Path, args: list[str], says: str
) -> None:
    key = Identity.create(tmp_path / "x", "country-x").public().key_text()
    result = vident(data, "peer", "add", *[key if a == "KEY" else a for a in args])
    assert result.exit_code == 1
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
