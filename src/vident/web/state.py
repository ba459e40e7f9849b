"""What one running API shares between requests: settings, the open store and indexes."""

from __future__ import annotations

from dataclasses import dataclass, field

from vident.config import Settings
from vident.index.catalog import SharedIndexes
from vident.security.settings import SecuritySettings
from vident.store.db import Store
from vident.web.job_runner import JobRunner
from vident.web.peer_limits import PeerLimits


@dataclass(frozen=True)
class WebState:
    settings: Settings
    security: SecuritySettings
    #: One store (a connection pool) for every request; each request gets its own Context.
    store: Store
    #: The background thread running uploaded seizures' ingest jobs.
    jobs: JobRunner | None = field(default=None)
    #: The indexes, opened by the first request that needs them and kept open (caught up with
    #: the store at each use): opening them per request cost most of a search's time.
    indexes: SharedIndexes = field(default_factory=SharedIndexes)
    #: Requests per peer in the last minute (the exchange's rate limit).
    peer_limits: PeerLimits = field(default_factory=PeerLimits)
