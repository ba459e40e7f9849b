"""Signed requests and answers between instances: anything altered is refused, with why."""

from __future__ import annotations

from pathlib import Path

import pytest

from vident.security.identity import Identity
from vident.security.signing import (
    SignatureRefused,
    SignedRequest,
    sign_request,
    sign_response,
    verify_request,
    verify_response,
)

NOW = 1_800_000_000.0
PATH = "/exchange/v1/hashes?since=12"
BODY = b'{"hashes": ["ab", "cd"]}'


@pytest.fixture(scope="module")
def nl(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return Identity.create(tmp_path_factory.mktemp("nl"), "nl-police")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return Identity.create(tmp_path_factory.mktemp("hub"), "hub")


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return Identity.create(tmp_path_factory.mktemp("other"), "nl-police")


def _keys(*identities: Identity) -> dict[str, bytes]:
    return {i.name: i.public().signing for i in identities}


def _verify(
    headers: dict[str, str],
    keys: dict[str, bytes],
    *,
    method: str = "POST",
    path: str = PATH,
    body: bytes = BODY,
    me: str = "hub",
    now: float = NOW,
) -> SignedRequest:
    return verify_request(headers, method, path, body, me=me, key_of=keys.get, now=now)


def _reason(headers: dict[str, str], keys: dict[str, bytes], **changes: object) -> str:
    with pytest.raises(SignatureRefused) as info:
        _verify(headers, keys, **changes)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(info.value.reason)
    return info.value.reason


def test_round_trip(nl: Identity, hub: Identity) -> None:
    headers = sign_request(nl, "hub", "POST", PATH, BODY, now=NOW)
    assert set(headers) == {
        "X-Vident-Peer",
        "X-Vident-To",
        "X-Vident-Timestamp",
        "X-Vident-Nonce",
        "X-Vident-Signature",
    }
    assert headers["X-Vident-Timestamp"] == "1800000000"
    assert len(headers["X-Vident-Nonce"]) == 32
    int(headers["X-Vident-Nonce"], 16)
    assert "=" not in headers["X-Vident-Signature"]
    signed = _verify(headers, _keys(nl, hub))
    assert signed == SignedRequest(
        sender="nl-police",
        recipient="hub",
        timestamp=1_800_000_000,
        nonce=headers["X-Vident-Nonce"],
    )


def test_each_request_gets_a_fresh_nonce(nl: Identity) -> None:
    first = sign_request(nl, "hub", "GET", "/", b"", now=NOW)
    second = sign_request(nl, "hub", "GET", "/", b"", now=NOW)
    assert first["X-Vident-Nonce"] != second["X-Vident-Nonce"]


def test_method_is_compared_case_insensitively(nl: Identity) -> None:
    headers = sign_request(nl, "hub", "post", PATH, BODY, now=NOW)
    assert _verify(headers, _keys(nl), method="POST").sender == "nl-police"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": BODY + b" "}, "bad signature"),
        ({"body": b""}, "bad signature"),
        ({"path": "/exchange/v1/hashes?since=0"}, "bad signature"),
        ({"path": "/exchange/v1/hashes"}, "bad signature"),
        ({"method": "PUT"}, "bad signature"),
        ({"me": "fr-ocrvp"}, "wrong recipient"),
        ({"now": NOW + 301}, "stale timestamp"),
        ({"now": NOW - 301}, "stale timestamp"),
    ],
)
def test_tampering_is_refused(nl: Identity, change: dict[str, object], reason: str) -> None:
    headers = sign_request(nl, "hub", "POST", PATH, BODY, now=NOW)
    assert _reason(headers, _keys(nl), **change) == reason


def test_timestamp_inside_skew_is_accepted(nl: Identity) -> None:
    headers = sign_request(nl, "hub", "POST", PATH, BODY, now=NOW)
    assert _verify(headers, _keys(nl), now=NOW + 300).sender == "nl-police"
    assert _verify(headers, _keys(nl), now=NOW - 300).sender == "nl-police"


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("X-Vident-To", "fr-ocrvp", "wrong recipient"),
        ("X-Vident-Timestamp", "1800000001", "bad signature"),
        ("X-Vident-Timestamp", "17e8", "malformed header"),
        ("X-Vident-Timestamp", "-1", "malformed header"),
        ("X-Vident-Nonce", "0" * 32, "bad signature"),
        ("X-Vident-Nonce", "0" * 31, "malformed header"),
        ("X-Vident-Nonce", "G" * 32, "malformed header"),
        ("X-Vident-Peer", "hub", "bad signature"),
        ("X-Vident-Peer", "Not A Name", "malformed header"),
        ("X-Vident-Peer", "stranger", "unknown peer"),
        ("X-Vident-Signature", "A" * 86, "bad signature"),
        ("X-Vident-Signature", "A" * 85, "malformed header"),
        ("X-Vident-Signature", "not base64 !", "malformed header"),
        ("X-Vident-Signature", "", "malformed header"),
    ],
)
def test_altered_headers_are_refused(
    nl: Identity, hub: Identity, header: str, value: str, reason: str
) -> None:
    headers = sign_request(nl, "hub", "POST", PATH, BODY, now=NOW)
    headers[header] = value
    assert _reason(headers, _keys(nl, hub)) == reason


def test_unknown_peer_is_refused(nl: Identity, hub: Identity) -> None:
    headers = sign_request(nl, "hub", "POST", PATH, BODY, now=NOW)
    assert _reason(headers, _keys(hub)) == "unknown peer"


def test_signature_from_another_key_under_the_same_name_is_refused(
    nl: Identity, other: Identity
) -> None:
    forged = sign_request(other, "hub", "POST", PATH, BODY, now=NOW)
    assert forged["X-Vident-Peer"] == "nl-police"
    assert _reason(forged, _keys(nl)) == "bad signature"


def test_stored_key_that_is_not_a_key_is_refused(nl: Identity) -> None:
    headers = sign_request(nl, "hub", "POST", PATH, BODY, now=NOW)
    assert _reason(headers, {"nl-police": b"short"}) == "unknown peer"


def test_missing_signature_is_unsigned(nl: Identity) -> None:
    headers = sign_request(nl, "hub", "POST", PATH, BODY, now=NOW)
    del headers["X-Vident-Signature"]
    assert _reason(headers, _keys(nl)) == "unsigned"
    assert _reason({}, _keys(nl)) == "unsigned"


@pytest.mark.parametrize(
    "header", ["X-Vident-Peer", "X-Vident-To", "X-Vident-Timestamp", "X-Vident-Nonce"]
)
def test_missing_header_is_malformed(nl: Identity, header: str) -> None:
    headers = sign_request(nl, "hub", "POST", PATH, BODY, now=NOW)
    del headers[header]
    assert _reason(headers, _keys(nl)) == "malformed header"


def test_header_names_are_case_insensitive(nl: Identity) -> None:
    headers = sign_request(nl, "hub", "POST", PATH, BODY, now=NOW)
    lower = {k.lower(): v for k, v in headers.items()}
    upper = {k.upper(): v for k, v in headers.items()}
    assert _verify(lower, _keys(nl)).sender == "nl-police"
    assert _verify(upper, _keys(nl)).sender == "nl-police"


def test_same_header_twice_with_two_values_is_malformed(nl: Identity) -> None:
    headers = sign_request(nl, "hub", "POST", PATH, BODY, now=NOW)
    headers["x-vident-to"] = "fr-ocrvp"
    assert _reason(headers, _keys(nl)) == "malformed header"


def test_paths_that_could_blur_the_signed_text_are_not_signed(nl: Identity) -> None:
    with pytest.raises(ValueError, match="path"):
        sign_request(nl, "hub", "POST", "/a\nnl-police", BODY, now=NOW)
    with pytest.raises(ValueError, match="method"):
        sign_request(nl, "hub", "PO\nST", PATH, BODY, now=NOW)


def test_response_round_trip(hub: Identity) -> None:
    signature = sign_response(hub, "ab" * 16, 200, b'{"ok": true}')
    verify_response(signature, hub.public().signing, "ab" * 16, 200, b'{"ok": true}')


@pytest.mark.parametrize(
    ("nonce", "status", "body"),
    [
        ("cd" * 16, 200, b'{"ok": true}'),
        ("ab" * 16, 500, b'{"ok": true}'),
        ("ab" * 16, 200, b'{"ok": false}'),
    ],
)
def test_response_tampering_is_refused(hub: Identity, nonce: str, status: int, body: bytes) -> None:
    signature = sign_response(hub, "ab" * 16, 200, b'{"ok": true}')
    with pytest.raises(SignatureRefused) as info:
        verify_response(signature, hub.public().signing, nonce, status, body)
    assert info.value.reason == "bad signature"


@pytest.mark.parametrize("signature", ["", "A" * 86, "garbage!", "A" * 200])
def test_response_garbage_signature_is_refused(hub: Identity, signature: str) -> None:
    with pytest.raises(SignatureRefused) as info:
        verify_response(signature, hub.public().signing, "ab" * 16, 200, b"")
    assert info.value.reason == "bad signature"


def test_response_from_another_peer_is_refused(hub: Identity, nl: Identity) -> None:
    signature = sign_response(nl, "ab" * 16, 200, b"")
    with pytest.raises(SignatureRefused) as info:
        verify_response(signature, hub.public().signing, "ab" * 16, 200, b"")
    assert info.value.reason == "bad signature"
    with pytest.raises(SignatureRefused):
        verify_response(signature, b"not a key", "ab" * 16, 200, b"")


def test_identities_are_real_files(tmp_path: Path) -> None:
    made = Identity.create(tmp_path, "hub")
    headers = sign_request(made, "nl-police", "GET", "/", b"", now=NOW)
    loaded = Identity.load(tmp_path)
    signed = verify_request(
        headers, "GET", "/", b"", me="nl-police", key_of=_keys(loaded).get, now=NOW
    )
    assert signed.sender == "hub"
