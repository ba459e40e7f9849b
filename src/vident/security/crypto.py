"""Encryption at rest: AES-256-GCM with numbered keys from a keyring file.

The keyring lives in ``<data>/keys/keyring.json`` (folder 0700, file 0600), outside the store,
so a copy of the database alone reads no encrypted field. Each ciphertext begins with the id
of the key that made it, so after :meth:`Keyring.rotate` old values still decrypt until they
are re-encrypted with the new key. When a passphrase is given (``VIDENT_KEY_PASSPHRASE``), the
keys themselves are encrypted with a key derived from it by scrypt, so a copy of the whole
data directory without the passphrase reads no encrypted field either.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import struct
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

FORMAT = "vident-keyring-1"
_MAGIC = b"VE1"
_HEADER = struct.Struct(">3sI")  # magic, key id
_NONCE = 12
#: scrypt cost: about 64 MiB and a fraction of a second, once per process.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**16, 8, 1


class KeyringError(Exception):
    """The keyring cannot be read or a value cannot be decrypted; the message says why."""


def keyring_path(data: Path) -> Path:
    return data / "keys" / "keyring.json"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _wrapping_key(passphrase: str, salt: bytes) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return kdf.derive(passphrase.encode("utf-8"))


@dataclass
class Keyring:
    """Numbered 256-bit keys; the highest number encrypts, every one decrypts."""

    path: Path
    keys: dict[int, bytes] = field(default_factory=dict)
    passphrase: str | None = None

    @property
    def current(self) -> int:
        return max(self.keys)

    @classmethod
    def open(cls, data: Path, passphrase: str | None = None) -> Keyring:
        """The keyring of data directory ``data``, made with one key on first use."""
        path = keyring_path(data)
        if not path.exists():
            ring = cls(path=path, keys={1: AESGCM.generate_key(256)}, passphrase=passphrase)
            ring.save()
            return ring
        keys, wrapped = _read(path, passphrase)
        ring = cls(path=path, keys=keys, passphrase=passphrase)
        if passphrase and not wrapped:
            ring.save()  # a passphrase set after the keyring was made protects it from now on
        return ring

    def save(self) -> None:
        """Write the keyring through a 0600 temporary file moved over the old one."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        inner = {"keys": {str(k): _b64(v) for k, v in sorted(self.keys.items())}}
        document: dict[str, object] = {"format": FORMAT}
        if self.passphrase:
            salt = secrets.token_bytes(16)
            nonce = secrets.token_bytes(_NONCE)
            sealed = AESGCM(_wrapping_key(self.passphrase, salt)).encrypt(
                nonce, json.dumps(inner).encode(), FORMAT.encode()
            )
            document["wrapped"] = {
                "kdf": "scrypt",
                "n": _SCRYPT_N,
                "r": _SCRYPT_R,
                "p": _SCRYPT_P,
                "salt": _b64(salt),
                "nonce": _b64(nonce),
                "ciphertext": _b64(sealed),
            }
        else:
            document.update(inner)
        tmp = self.path.with_name(self.path.name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def rotate(self) -> int:
        """Add a new key that encrypts from now on; returns its number."""
        number = self.current + 1
        self.keys[number] = AESGCM.generate_key(256)
        self.save()
        return number

    def encrypt(self, plaintext: bytes, purpose: bytes) -> bytes:
        """``plaintext`` sealed with the current key; ``purpose`` binds it to its place."""
        number = self.current
        nonce = secrets.token_bytes(_NONCE)
        sealed = AESGCM(self.keys[number]).encrypt(nonce, plaintext, purpose)
        return _HEADER.pack(_MAGIC, number) + nonce + sealed

    def decrypt(self, ciphertext: bytes, purpose: bytes) -> bytes:
        """The plaintext of ``ciphertext``, or a KeyringError saying why it cannot be read."""
        if len(ciphertext) < _HEADER.size + _NONCE + 16:
            raise KeyringError("an encrypted value is damaged (too short)")
        magic, number = _HEADER.unpack_from(ciphertext)
        if magic != _MAGIC:
            raise KeyringError("an encrypted value is damaged (unknown format)")
        key = self.keys.get(number)
        if key is None:
            raise KeyringError(
                f"an encrypted value needs key {number}, which is not in {self.path}: "
                "restore the keyring from its backup"
            )
        nonce = ciphertext[_HEADER.size : _HEADER.size + _NONCE]
        try:
            return AESGCM(key).decrypt(nonce, ciphertext[_HEADER.size + _NONCE :], purpose)
        except InvalidTag:
            raise KeyringError("an encrypted value is damaged or was moved") from None

    def key_id(self, ciphertext: bytes) -> int:
        """The number of the key ``ciphertext`` was made with."""
        return int(_HEADER.unpack_from(ciphertext)[1])


def _read(path: Path, passphrase: str | None) -> tuple[dict[int, bytes], bool]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT:
            raise KeyringError(f"{path} is not a vident keyring")
        wrapped = document.get("wrapped")
        if wrapped is not None:
            if not passphrase:
                raise KeyringError(
                    f"the keyring {path} is protected by a passphrase: set VIDENT_KEY_PASSPHRASE"
                )
            kdf = Scrypt(
                salt=_unb64(wrapped["salt"]),
                length=32,
                n=int(wrapped["n"]),
                r=int(wrapped["r"]),
                p=int(wrapped["p"]),
            )
            key = kdf.derive(passphrase.encode("utf-8"))
            try:
                plain = AESGCM(key).decrypt(
                    _unb64(wrapped["nonce"]), _unb64(wrapped["ciphertext"]), FORMAT.encode()
                )
            except InvalidTag:
                raise KeyringError(
                    f"the passphrase does not open the keyring {path}: check VIDENT_KEY_PASSPHRASE"
                ) from None
            document = json.loads(plain)
        keys = {int(k): _unb64(v) for k, v in document["keys"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyringError(
            f"the keyring {path} is damaged ({exc}): restore it from its backup"
        ) from None
    if not keys or any(len(v) != 32 for v in keys.values()):
        raise KeyringError(f"the keyring {path} is damaged: restore it from its backup")
    return keys, wrapped is not None
