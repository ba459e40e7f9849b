"""The security building blocks on their own: passwords, TOTP, recovery codes, tokens, keys."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from vident.security import passwords, recovery, tokens, totp
from vident.security.crypto import Keyring, KeyringError, keyring_path


def test_password_hash_is_argon2id_and_verifies_only_the_password() -> None:
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, "correct horse battery")
    assert not passwords.verify_password(stored, "correct horse batterz")
    assert not passwords.verify_password("not a hash", "correct horse battery")
    assert not passwords.needs_rehash(stored)
    assert passwords.needs_rehash("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo")
    assert passwords.weak_reason("short") is not None
    assert passwords.weak_reason(passwords.generate_password()) is None


def test_totp_accepts_one_step_either_side_and_never_the_same_step_twice() -> None:
    secret = totp.new_secret()
    now = 1_800_000_000.0
    here = totp.current_step(now)
    assert totp.verify(secret, totp.code_at(secret, here), None, now) == here
    assert totp.verify(secret, totp.code_at(secret, here - 1), None, now) == here - 1
    assert totp.verify(secret, totp.code_at(secret, here + 1), None, now) == here + 1
    assert totp.verify(secret, totp.code_at(secret, here - 2), None, now) is None
    # Replay: the step already used (or an older one) is refused even inside the window.
    assert totp.verify(secret, totp.code_at(secret, here), here, now) is None
    assert totp.verify(secret, totp.code_at(secret, here - 1), here, now) is None
    assert totp.verify(secret, "12345", None, now) is None
    assert totp.verify(secret, "abcdef", None, now) is None


def test_totp_enrolment_uri_and_qr() -> None:
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, "alice")
    assert uri.startswith("otpauth://totp/vident:alice?") and f"secret={secret}" in uri
    svg = totp.qr_svg(uri)
    assert svg.startswith("<svg") and "</svg>" in svg


def test_recovery_codes_are_stored_hashed_and_work_once() -> None:
    codes = recovery.generate()
    assert len(codes) == 10 == len(set(codes))
    stored = [recovery.digest(code) for code in codes]
    assert not any(code in stored or recovery.normalise(code) in stored for code in codes)
    assert all(recovery.looks_like_code(code) for code in codes)
    left = recovery.use(stored, codes[3].upper())
    assert left is not None and len(left) == 9
    assert recovery.use(left, codes[3]) is None
    assert recovery.use(left, "aaaa-bbbb-cccc-dddd") is None


def test_token_format_and_digest() -> None:
    secret = tokens.new_secret()
    text = tokens.format_token(42, secret)
    assert tokens.parse_token(text) == (42, secret)
    assert tokens.matches(tokens.digest(secret), secret)
    assert not tokens.matches(tokens.digest(secret), secret + "x")
    for bad in ("", "vt_x_abc", "xx_1_abc", "vt_1_", "vt_1"):
        assert tokens.parse_token(bad) is None


def test_keyring_is_private_and_old_ciphertexts_decrypt_after_rotation(tmp_path: Path) -> None:
    ring = Keyring.open(tmp_path)
    path = keyring_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    old = ring.encrypt(b"secret one", b"purpose")
    assert b"secret one" not in old
    assert ring.rotate() == 2
    new = Keyring.open(tmp_path).encrypt(b"secret two", b"purpose")
    again = Keyring.open(tmp_path)
    assert (again.key_id(old), again.key_id(new)) == (1, 2)
    assert again.decrypt(old, b"purpose") == b"secret one"
    assert again.decrypt(new, b"purpose") == b"secret two"
    with pytest.raises(KeyringError, match="moved"):
        again.decrypt(old, b"another place")
    damaged = old[:-1] + bytes([old[-1] ^ 1])
    with pytest.raises(KeyringError, match="damaged"):
        again.decrypt(damaged, b"purpose")


def test_passphrase_wraps_the_keyring(tmp_path: Path) -> None:
    plain = Keyring.open(tmp_path)
    sealed = plain.encrypt(b"totp secret", b"p")
    # Setting a passphrase later wraps the existing keys; the file no longer holds them.
    Keyring.open(tmp_path, "a long passphrase")
    document = json.loads(keyring_path(tmp_path).read_text())
    assert "keys" not in document and document["wrapped"]["kdf"] == "scrypt"
    assert Keyring.open(tmp_path, "a long passphrase").decrypt(sealed, b"p") == b"totp secret"
    with pytest.raises(KeyringError, match="VIDENT_KEY_PASSPHRASE"):
        Keyring.open(tmp_path)
    with pytest.raises(KeyringError, match="does not open"):
        Keyring.open(tmp_path, "wrong passphrase")


def test_damaged_keyring_is_one_clear_error(tmp_path: Path) -> None:
    Keyring.open(tmp_path)
    keyring_path(tmp_path).write_text("{not json")
    with pytest.raises(KeyringError, match="damaged"):
        Keyring.open(tmp_path)
