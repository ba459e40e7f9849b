"""Sealed bundles: only the recipient opens one, and any damage is a BundleError."""

from __future__ import annotations

import contextlib
import random

import pytest

from vident.security.identity import Identity, PublicIdentity
from vident.security.sealing import MAGIC, BundleError, bundle_sender, open_bundle, seal

PAYLOAD = b'{"hashes": ["' + b"ab" * 40 + b'"]}'


@pytest.fixture(scope="module")
def nl(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return Identity.create(tmp_path_factory.mktemp("nl"), "nl-police")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return Identity.create(tmp_path_factory.mktemp("hub"), "hub")


@pytest.fixture(scope="module")
def fr(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return Identity.create(tmp_path_factory.mktemp("fr"), "fr-ocrvp")


@pytest.fixture(scope="module")
def bundle(nl: Identity, hub: Identity) -> bytes:
    return seal(nl, hub.public(), PAYLOAD)


def _keys(*identities: Identity) -> dict[str, bytes]:
    return {i.name: i.public().signing for i in identities}


def _reason(identity: Identity, raw: bytes, keys: dict[str, bytes]) -> str:
    with pytest.raises(BundleError) as info:
        open_bundle(identity, raw, keys.get)
    assert "\n" not in str(info.value)
    return info.value.reason


def test_round_trip(nl: Identity, hub: Identity, bundle: bytes) -> None:
    assert bundle.startswith(MAGIC)
    assert PAYLOAD not in bundle
    assert open_bundle(hub, bundle, _keys(nl).get) == ("nl-police", PAYLOAD)
    assert bundle_sender(bundle) == ("nl-police", "hub")


def test_empty_and_large_payloads(nl: Identity, hub: Identity) -> None:
    for payload in (b"", bytes(range(256)) * 4000):
        assert open_bundle(hub, seal(nl, hub.public(), payload), _keys(nl).get) == (
            "nl-police",
            payload,
        )


def test_two_seals_of_the_same_payload_differ(nl: Identity, hub: Identity) -> None:
    assert seal(nl, hub.public(), PAYLOAD) != seal(nl, hub.public(), PAYLOAD)


def test_header_layout(bundle: bytes) -> None:
    assert bundle[8] == len("nl-police")
    assert bundle[9:18] == b"nl-police"
    assert bundle[18] == len("hub")
    assert bundle[19:22] == b"hub"
    # 32-byte ephemeral key, 12-byte nonce, then signature + payload + 16-byte GCM tag.
    assert len(bundle) == 22 + 32 + 12 + 64 + len(PAYLOAD) + 16


def test_wrong_recipient(nl: Identity, fr: Identity, bundle: bytes) -> None:
    assert _reason(fr, bundle, _keys(nl)) == "wrong recipient"


def test_unknown_sender(fr: Identity, hub: Identity, bundle: bytes) -> None:
    assert _reason(hub, bundle, _keys(fr)) == "unknown sender"


def test_sender_key_that_differs_from_the_signer(
    nl: Identity, hub: Identity, fr: Identity, bundle: bytes
) -> None:
    assert _reason(hub, bundle, {"nl-police": fr.public().signing}) == "bad signature"


def test_another_instance_with_the_recipients_name_cannot_decrypt(
    tmp_path_factory: pytest.TempPathFactory, nl: Identity, bundle: bytes
) -> None:
    impostor = Identity.create(tmp_path_factory.mktemp("impostor"), "hub")
    assert _reason(impostor, bundle, _keys(nl)) == "cannot decrypt"
    with pytest.raises(BundleError, match="cannot decrypt: not sealed for this instance"):
        open_bundle(impostor, bundle, _keys(nl).get)


def test_bundle_for_b_cannot_be_opened_by_c(nl: Identity, fr: Identity, bundle: bytes) -> None:
    assert _reason(fr, bundle, _keys(nl, fr)) == "wrong recipient"
    # Relabelled for C in the header: C's own keys still do not decrypt it.
    relabelled = bundle[:18] + bytes([8]) + b"fr-ocrvp" + bundle[22:]
    assert bundle_sender(relabelled) == ("nl-police", "fr-ocrvp")
    assert _reason(fr, relabelled, _keys(nl, fr)) == "cannot decrypt"


def test_sealed_with_a_forged_sender_name_is_refused(
    tmp_path_factory: pytest.TempPathFactory, nl: Identity, hub: Identity
) -> None:
    forger = Identity.create(tmp_path_factory.mktemp("forger"), "nl-police")
    forged = seal(forger, hub.public(), PAYLOAD)
    assert _reason(hub, forged, _keys(nl)) == "bad signature"


def test_every_flipped_byte_is_refused(nl: Identity, hub: Identity, bundle: bytes) -> None:
    for index in range(len(bundle)):
        damaged = bytearray(bundle)
        damaged[index] ^= 0x01
        with pytest.raises(BundleError):
            open_bundle(hub, bytes(damaged), _keys(nl).get)


def test_every_truncation_is_refused(nl: Identity, hub: Identity, bundle: bytes) -> None:
    for length in range(len(bundle)):
        with pytest.raises(BundleError):
            open_bundle(hub, bundle[:length], _keys(nl).get)
    with pytest.raises(BundleError):
        open_bundle(hub, bundle + b"\0", _keys(nl).get)


@pytest.mark.parametrize("length", [0, 1, 7, 8, 9, 18, 21, 22, 66, 100, 145])
def test_truncated_header_is_malformed_for_bundle_sender(bundle: bytes, length: int) -> None:
    with pytest.raises(BundleError) as info:
        bundle_sender(bundle[:length])
    assert info.value.reason == "malformed"


def test_random_bytes_are_refused(nl: Identity, hub: Identity) -> None:
    rng = random.Random(20261207)
    for _ in range(300):
        length = rng.randrange(0, 400)
        garbage = bytes(rng.randrange(256) for _ in range(length))
        with_magic = MAGIC + garbage
        for raw in (garbage, with_magic):
            with pytest.raises(BundleError):
                open_bundle(hub, raw, _keys(nl).get)
            with contextlib.suppress(BundleError):  # names or a BundleError, nothing else
                bundle_sender(raw)


def test_plausible_header_with_garbage_body_cannot_decrypt(nl: Identity, hub: Identity) -> None:
    raw = MAGIC + bytes([9]) + b"nl-police" + bytes([3]) + b"hub" + bytes(32 + 12 + 200)
    assert bundle_sender(raw) == ("nl-police", "hub")
    # An all-zero ephemeral key is a low-order point: refused, not a crash.
    assert _reason(hub, raw, _keys(nl)) == "cannot decrypt"


def test_invalid_names_in_the_header_are_malformed(bundle: bytes) -> None:
    upper = bundle[:9] + b"NL-POLICE" + bundle[18:]
    with pytest.raises(BundleError) as info:
        bundle_sender(upper)
    assert info.value.reason == "malformed"
    not_utf8 = bundle[:9] + b"\xff" * 9 + bundle[18:]
    with pytest.raises(BundleError):
        bundle_sender(not_utf8)


def test_bad_recipient_sealing_key_is_a_bundle_error(nl: Identity) -> None:
    zero = PublicIdentity("hub", bytes(32), bytes(32))
    with pytest.raises(BundleError):
        seal(nl, zero, PAYLOAD)
