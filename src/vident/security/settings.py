"""Security settings: lockout, session lifetimes and the keyring passphrase.

Read from the environment with the ``VIDENT_`` prefix by the interface (the command line or the
web server) and handed to the use cases, which never read the environment themselves.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SecuritySettings(BaseSettings):
    """CJIS-style defaults: 5 failed logins lock for 10 minutes, 30-minute idle sessions at most."""

    model_config = SettingsConfigDict(env_prefix="VIDENT_", extra="ignore")

    key_passphrase: SecretStr | None = Field(
        default=None, description="Passphrase that encrypts the keyring in <data>/keys."
    )
    lockout_attempts: int = Field(
        default=5, ge=1, le=5, description="Failed logins in a row that lock an account."
    )
    lockout_minutes: int = Field(
        default=10, ge=10, description="How long a locked account stays locked."
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, le=30, description="A session unused this long ends."
    )
    session_absolute_hours: int = Field(
        default=12, ge=1, le=24, description="A session ends this long after login, used or not."
    )

    @property
    def passphrase(self) -> str | None:
        return self.key_passphrase.get_secret_value() if self.key_passphrase else None


def defaults() -> SecuritySettings:
    """The defaults, ignoring the environment (for callers that pass none)."""
    return SecuritySettings.model_construct()
