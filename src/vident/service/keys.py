"""The keyring of a data directory as the use cases see it, and key rotation."""

from __future__ import annotations

from sqlalchemy import select

from vident.security.crypto import Keyring, KeyringError
from vident.security.settings import SecuritySettings, defaults
from vident.service.audit import record_in, require
from vident.service.context import Context, Role
from vident.service.errors import ServiceError
from vident.service.schemas import Model
from vident.store.models_security import User


class KeyringUnavailable(ServiceError):
    """The keyring cannot be opened or a value cannot be decrypted."""

    status = 500
    title = "keyring unavailable"


def open_keyring(ctx: Context, security: SecuritySettings | None = None) -> Keyring:
    """The keyring of the context's data directory, made on first use."""
    security = security or ctx.security or defaults()
    try:
        return Keyring.open(ctx.settings.data, security.passphrase)
    except KeyringError as exc:
        raise KeyringUnavailable(str(exc)) from None


def totp_purpose(username: str) -> bytes:
    """Binds a TOTP ciphertext to its user: copied onto another row it does not decrypt."""
    return b"app_user.totp_secret:" + username.encode("utf-8")


def seal_totp(keyring: Keyring, username: str, secret: str) -> bytes:
    return keyring.encrypt(secret.encode("ascii"), totp_purpose(username))


def open_totp(keyring: Keyring, username: str, sealed: bytes) -> str:
    try:
        return keyring.decrypt(sealed, totp_purpose(username)).decode("ascii")
    except KeyringError as exc:
        raise KeyringUnavailable(f"cannot read the TOTP secret of {username}: {exc}") from None


class RotateOut(Model):
    key_id: int
    reencrypted: int


def rotate_keys(ctx: Context, security: SecuritySettings | None = None) -> RotateOut:
    """Add a new key and re-encrypt every encrypted field with it; old keys stay to decrypt
    backups made before the rotation."""
    require(ctx, "keys.rotate", None, {Role.SYSTEM_ADMIN})
    keyring = open_keyring(ctx, security)
    with ctx.store.session() as session:
        users = list(session.execute(select(User).with_for_update()).scalars())
        secrets = {user.id: open_totp(keyring, user.username, user.totp_secret) for user in users}
        number = keyring.rotate()
        for user in users:
            user.totp_secret = seal_totp(keyring, user.username, secrets[user.id])
        record_in(session, ctx, "keys.rotate", None, "ok", {"key": number, "users": len(users)})
    return RotateOut(key_id=number, reencrypted=len(users))
