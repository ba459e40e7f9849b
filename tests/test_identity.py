"""Instance identity: keys made once, kept encrypted on disk, shared as a pasteable token."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from vident.security.identity import (
    Identity,
    IdentityError,
    PublicIdentity,
    b64url,
    check_name,
    identity_path,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_create_then_load_gives_the_same_keys(tmp_path: Path) -> None:
    made = Identity.create(tmp_path, "nl-police")
    loaded = Identity.load(tmp_path)
    assert loaded.name == "nl-police"
    assert loaded.public() == made.public()
    message = b"hash list 42"
    signature = loaded.sign(message)
    assert len(signature) == 64
    assert signature == made.sign(message)  # ed25519 is deterministic: same private key


def test_identity_file_is_private_and_holds_no_raw_private_key(tmp_path: Path) -> None:
    made = Identity.create(tmp_path, "hub")
    path = identity_path(tmp_path)
    assert path == tmp_path / "keys" / "identity.json"
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    document = json.loads(path.read_text())
    assert document["name"] == "hub"
    assert not list(path.parent.glob("*.part"))
    text = path.read_text()
    raw = made.x25519_private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    assert raw.hex() not in text
    assert b64url(raw) not in text


def test_second_create_is_refused_and_keeps_the_first_keys(tmp_path: Path) -> None:
    first = Identity.create(tmp_path, "hub")
    with pytest.raises(IdentityError, match="already exists"):
        Identity.create(tmp_path, "hub")
    assert Identity.load(tmp_path).public() == first.public()


def test_ensure_creates_once_then_loads(tmp_path: Path) -> None:
    made = Identity.ensure(tmp_path, "de-bka")
    again = Identity.ensure(tmp_path, "de-bka")
    assert again.public() == made.public()
    with pytest.raises(IdentityError, match="already holds the identity 'de-bka'"):
        Identity.ensure(tmp_path, "fr-ocrvp")


def test_load_without_identity_says_run_init(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match=r"no identity in .*: run vident init"):
        Identity.load(tmp_path)


def test_load_of_damaged_file_is_one_clear_line(tmp_path: Path) -> None:
    Identity.create(tmp_path, "hub")
    path = identity_path(tmp_path)
    document = json.loads(path.read_text())
    path.write_text("{not json")
    with pytest.raises(IdentityError, match="damaged") as info:
        Identity.load(tmp_path)
    assert "\n" not in str(info.value)
    # A private key swapped for another sealed value fails the public key check or decryption.
    document["signing_private"], document["sealing_private"] = (
        document["sealing_private"],
        document["signing_private"],
    )
    path.write_text(json.dumps(document))
    with pytest.raises(IdentityError):
        Identity.load(tmp_path)


def test_load_with_another_keyring_cannot_decrypt(tmp_path: Path) -> None:
    Identity.create(tmp_path / "a", "hub")
    Identity.create(tmp_path / "b", "hub")
    (tmp_path / "a" / "keys" / "keyring.json").write_bytes(
        (tmp_path / "b" / "keys" / "keyring.json").read_bytes()
    )
    with pytest.raises(IdentityError, match="private keys"):
        Identity.load(tmp_path / "a")


@pytest.mark.parametrize(
    "name",
    ["", "Hub", "-hub", ".hub", "hub name", "hub/x", "hub\n", "é", "a" * 65, "hub:1"],
)
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(IdentityError, match="invalid instance name"):
        check_name(name)
    with pytest.raises(IdentityError):
        Identity.create(tmp_path, name)
    assert not identity_path(tmp_path).exists()


@pytest.mark.parametrize("name", ["a", "0", "nl-police", "hub.eu_1", "a" * 64])
def test_good_names_are_accepted(name: str) -> None:
    assert check_name(name) == name


def test_key_text_round_trips_and_tolerates_surrounding_space(tmp_path: Path) -> None:
    public = Identity.create(tmp_path, "hub").public()
    text = public.key_text()
    assert text.startswith("vk1.")
    assert "=" not in text
    assert PublicIdentity.parse_key("hub", text) == public
    assert PublicIdentity.parse_key("hub", f"  {text}\n") == public


def _token(signing: str, sealing: str, prefix: str = "vk1") -> str:
    return f"{prefix}.{signing}.{sealing}"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "vk1",
        _token("A" * 43, "A" * 43, prefix="vk2"),
        _token("A" * 43, "A" * 43, prefix="VK1"),
        _token("A" * 42, "A" * 43),
        _token("A" * 43, "A" * 44),
        _token("A" * 43, "A" * 43) + ".A",
        _token("A" * 42 + "=", "A" * 43),
        _token("A" * 42 + "+", "A" * 43),
        _token("A" * 42 + "/", "A" * 43),
        _token("A" * 42 + "B", "A" * 43),  # non-zero padding bits: not canonical
        _token("A" * 43, "A" * 42 + "!"),
        "vk1 " + "A" * 43 + "." + "A" * 43,
    ],
)
def test_malformed_key_text_is_refused(text: str) -> None:
    with pytest.raises(IdentityError):
        PublicIdentity.parse_key("hub", text)


def test_parse_key_checks_the_name() -> None:
    with pytest.raises(IdentityError, match="invalid instance name"):
        PublicIdentity.parse_key("Bad Name", _token("A" * 43, "A" * 43))


def test_fingerprint_is_stable_and_depends_on_both_keys() -> None:
    a = PublicIdentity("hub", bytes(32), bytes(32))
    assert a.fingerprint() == "f5a5:fd42:d16a:2030"  # sha256 of 64 zero bytes
    assert a.fingerprint() == PublicIdentity("other", bytes(32), bytes(32)).fingerprint()
    assert a.fingerprint() != PublicIdentity("hub", bytes(31) + b"\1", bytes(32)).fingerprint()
    assert a.fingerprint() != PublicIdentity("hub", bytes(32), bytes(31) + b"\1").fingerprint()


def test_fingerprint_of_a_loaded_identity_matches_the_created_one(tmp_path: Path) -> None:
    made = Identity.create(tmp_path, "hub").public().fingerprint()
    assert Identity.load(tmp_path).public().fingerprint() == made
    assert len(made) == 19 and made.count(":") == 3


def test_public_identity_refuses_wrong_key_lengths() -> None:
    with pytest.raises(IdentityError):
        PublicIdentity("hub", bytes(31), bytes(32))
    with pytest.raises(IdentityError):
        PublicIdentity("hub", bytes(32), bytes(33))


def test_passphrase_protected_keyring(tmp_path: Path) -> None:
    made = Identity.create(tmp_path, "hub", passphrase="long enough passphrase")
    assert Identity.load(tmp_path, "long enough passphrase").public() == made.public()
    with pytest.raises(IdentityError, match="passphrase") as info:
        Identity.load(tmp_path, "wrong passphrase")
    assert "\n" not in str(info.value)
    with pytest.raises(IdentityError, match="passphrase"):
        Identity.load(tmp_path)


def test_missing_keyring_is_reported_not_replaced(tmp_path: Path) -> None:
    Identity.create(tmp_path, "hub")
    ring = tmp_path / "keys" / "keyring.json"
    ring.unlink()
    with pytest.raises(IdentityError, match=r"keyring .* is missing"):
        Identity.load(tmp_path)
    assert not ring.exists()
