"""What one running API shares between requests: settings and the open store."""

from __future__ import annotations

from dataclasses import dataclass, field

from vident.config import Settings
from vident.security.settings import SecuritySettings
from vident.store.db import Store
from vident.web.job_runner import JobRunner


@dataclass(frozen=True)
class WebState:
    settings: Settings
    security: SecuritySettings
    #: One store (a connection pool) for every request; each request gets its own Context.
    store: Store
    #: The background thread running uploaded seizures' ingest jobs.
    jobs: JobRunner | None = field(default=None)
