"""An instance's identity: its name and the two key pairs peers know it by.

Every vident instance (a national database, the international hub) signs each message it sends
with an ed25519 key and receives sealed bundle files with an x25519 key. The public halves travel
as one copy-pasteable token (:meth:`PublicIdentity.key_text`) that admins exchange out of band and
check by reading the :meth:`PublicIdentity.fingerprint` aloud. The private halves live in
``<data>/keys/identity.json`` encrypted with the data directory's keyring, so the file alone (or a
copy of the database) signs nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from vident.security.crypto import Keyring, KeyringError, keyring_path

FORMAT = "vident-identity-1"
KEY_PREFIX = "vk1"
_SIGNING_PURPOSE = b"identity:signing"
_SEALING_PURPOSE = b"identity:sealing"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
#: 32 bytes in base64url without padding: 43 characters.
_KEY_B64 = re.compile(r"[A-Za-z0-9_-]{43}")
_ANY_B64 = re.compile(r"[A-Za-z0-9_-]+")
_RAW = serialization.Encoding.Raw
_RAW_PUBLIC = serialization.PublicFormat.Raw
_RAW_PRIVATE = serialization.PrivateFormat.Raw


class IdentityError(Exception):
    """The identity cannot be made, read or parsed; the message says what to do."""


def identity_path(data: Path) -> Path:
    return data / "keys" / "identity.json"


def check_name(name: str) -> str:
    """``name`` when it is a valid instance name, else IdentityError.

    Names appear in headers, signed texts and bundle files, so they are kept to a short
    lowercase alphabet with no separators those formats use.
    """
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise IdentityError(
            f"invalid instance name {name!r}: use 1-64 characters a-z, 0-9, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def b64url(raw: bytes) -> str:
    """Base64url without padding: the form keys and signatures take in text."""
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def unb64url(text: str, pattern: re.Pattern[str]) -> bytes | None:
    """The bytes of canonical base64url ``text`` matching ``pattern``, else None."""
    if pattern.fullmatch(text) is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if b64url(raw) == text else None  # refuse non-zero padding bits


@dataclass(frozen=True)
class PublicIdentity:
    """What a peer knows of an instance: its name and its two public keys."""

    name: str
    signing: bytes
    sealing: bytes

    def __post_init__(self) -> None:
        check_name(self.name)
        if len(self.signing) != 32 or len(self.sealing) != 32:
            raise IdentityError(f"the public keys of {self.name!r} must be 32 bytes each")

    def key_text(self) -> str:
        """One token holding both public keys, safe to paste into a form or a chat."""
        return f"{KEY_PREFIX}.{b64url(self.signing)}.{b64url(self.sealing)}"

    @classmethod
    def parse_key(cls, name: str, text: str) -> PublicIdentity:
        """The identity of peer ``name`` from the token its admin sent (see :meth:`key_text`)."""
        parts = text.strip().split(".")
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            raise IdentityError(
                f"not a vident key: expected '{KEY_PREFIX}.<signing>.<sealing>' as printed by "
                "the peer's 'vident peer identity' command"
            )
        signing = unb64url(parts[1], _KEY_B64)
        sealing = unb64url(parts[2], _KEY_B64)
        if signing is None or sealing is None:
            raise IdentityError("the vident key is damaged: copy it again from the peer")
        return cls(name=check_name(name), signing=signing, sealing=sealing)

    def fingerprint(self) -> str:
        """Sixteen hex digits in groups of four, for two admins to compare by voice."""
        digest = hashlib.sha256(self.signing + self.sealing).hexdigest()[:16]
        return ":".join(digest[i : i + 4] for i in range(0, 16, 4))


class Identity:
    """This instance's name and private keys; signs messages and opens bundles."""

    def __init__(
        self, name: str, signing_key: Ed25519PrivateKey, sealing_key: X25519PrivateKey
    ) -> None:
        self._name = check_name(name)
        self._signing = signing_key
        self._sealing = sealing_key

    @property
    def name(self) -> str:
        return self._name

    @property
    def x25519_private(self) -> X25519PrivateKey:
        """The key bundles sealed for this instance are opened with."""
        return self._sealing

    def public(self) -> PublicIdentity:
        return PublicIdentity(
            name=self._name,
            signing=self._signing.public_key().public_bytes(_RAW, _RAW_PUBLIC),
            sealing=self._sealing.public_key().public_bytes(_RAW, _RAW_PUBLIC),
        )

    def sign(self, message: bytes) -> bytes:
        """The 64-byte ed25519 signature of ``message``."""
        return self._signing.sign(message)

    @classmethod
    def create(cls, data: Path, name: str, passphrase: str | None = None) -> Identity:
        """New keys for instance ``name``, written to ``data``; refuses to replace an identity.

        Replacing keys would silently cut this instance off from every peer that knows the
        old ones, so an existing file is an error rather than something to overwrite.
        """
        check_name(name)
        path = identity_path(data)
        if path.exists():
            raise IdentityError(
                f"{path} already exists: this instance has an identity, load it instead"
            )
        identity = cls(name, Ed25519PrivateKey.generate(), X25519PrivateKey.generate())
        try:
            ring = Keyring.open(data, passphrase)
        except KeyringError as exc:
            raise IdentityError(f"cannot open the keyring to protect the identity: {exc}") from None
        public = identity.public()
        no_encryption = serialization.NoEncryption()
        signing_raw = identity._signing.private_bytes(_RAW, _RAW_PRIVATE, no_encryption)
        sealing_raw = identity._sealing.private_bytes(_RAW, _RAW_PRIVATE, no_encryption)
        document = {
            "format": FORMAT,
            "name": name,
            "signing_public": b64url(public.signing),
            "sealing_public": b64url(public.sealing),
            "signing_private": b64url(ring.encrypt(signing_raw, _SIGNING_PURPOSE)),
            "sealing_private": b64url(ring.encrypt(sealing_raw, _SEALING_PURPOSE)),
        }
        _write_private(path, json.dumps(document, indent=1).encode("utf-8"))
        return identity

    @classmethod
    def load(cls, data: Path, passphrase: str | None = None) -> Identity:
        """The identity stored in ``data``, or IdentityError saying why it cannot be read."""
        path = identity_path(data)
        if not path.exists():
            raise IdentityError(f"no identity in {data}: run vident init")
        if not keyring_path(data).exists():
            raise IdentityError(
                f"the keyring {keyring_path(data)} that protects the identity is missing: "
                "restore it from its backup"
            )
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise IdentityError(f"cannot read {path}: {exc.strerror}") from None
        except ValueError:
            raise IdentityError(f"{path} is damaged: restore it from its backup") from None
        try:
            ring = Keyring.open(data, passphrase)
            return cls._from_document(document, ring, path)
        except KeyringError as exc:
            raise IdentityError(f"cannot read the identity's private keys: {exc}") from None

    @classmethod
    def ensure(cls, data: Path, name: str, passphrase: str | None = None) -> Identity:
        """The identity in ``data``, made with ``name`` when there is none yet.

        An existing identity under another name is an error: quietly answering with a
        different name than the caller asked for would mislabel every message it signs.
        """
        check_name(name)
        if not identity_path(data).exists():
            return cls.create(data, name, passphrase)
        identity = cls.load(data, passphrase)
        if identity.name != name:
            raise IdentityError(
                f"{data} already holds the identity {identity.name!r}, not {name!r}: "
                "use that name or another data directory"
            )
        return identity

    @classmethod
    def _from_document(cls, document: object, ring: Keyring, path: Path) -> Identity:
        damaged = IdentityError(f"{path} is damaged: restore it from its backup")
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise damaged
        fields = ("name", "signing_public", "sealing_public", "signing_private", "sealing_private")
        values = [document.get(key) for key in fields]
        if not all(isinstance(value, str) for value in values):
            raise damaged
        name, signing_public, sealing_public, signing_private, sealing_private = (
            str(value) for value in values
        )
        if _NAME.fullmatch(name) is None:
            raise damaged
        sealed_signing = unb64url(signing_private, _ANY_B64)
        sealed_sealing = unb64url(sealing_private, _ANY_B64)
        if sealed_signing is None or sealed_sealing is None:
            raise damaged
        signing_raw = ring.decrypt(sealed_signing, _SIGNING_PURPOSE)
        sealing_raw = ring.decrypt(sealed_sealing, _SEALING_PURPOSE)
        if len(signing_raw) != 32 or len(sealing_raw) != 32:
            raise damaged
        identity = cls(
            name,
            Ed25519PrivateKey.from_private_bytes(signing_raw),
            X25519PrivateKey.from_private_bytes(sealing_raw),
        )
        public = identity.public()
        if b64url(public.signing) != signing_public or b64url(public.sealing) != sealing_public:
            raise damaged  # the public keys on file must be the ones the private keys make
        return identity


def _write_private(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` (0600, folder 0700) through a temporary file and rename."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)  # os.replace: atomic on the same filesystem
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
