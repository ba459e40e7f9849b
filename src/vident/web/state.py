"""What one running API shares between requests: settings and the open store."""

from __future__ import annotations

from dataclasses import dataclass

from vident.config import Settings
from vident.security.settings import SecuritySettings
from vident.store.db import Store


@dataclass(frozen=True)
class WebState:
    settings: Settings
    security: SecuritySettings
    #: One store (a connection pool) for every request; each request gets its own Context.
    store: Store
