"""Making a data directory's store: create it, or migrate it to this version.

This is the one use case that runs before a store exists, so it takes the settings rather
than a :class:`~vident.service.context.Context`.
"""

from __future__ import annotations

from vident.config import Settings
from vident.security.settings import SecuritySettings
from vident.service.failures import translated
from vident.service.peers import ensure_identity
from vident.service.schemas import Model
from vident.store.db import Store, upgrade


class InitOut(Model):
    """Where the store and the data directory are, once ready, and the instance's identity."""

    store: str
    data: str
    instance: str
    key: str
    fingerprint: str


def init_store(
    settings: Settings, security: SecuritySettings | None = None, *, name: str | None = None
) -> InitOut:
    """Create the store (or migrate it to this version), the index directory and the
    instance's identity (named ``name``, else as the settings say; kept once made)."""
    with translated(settings.database_url):
        store = Store(settings.database_url)  # a bad URL is refused before anything is made
        try:
            settings.data.mkdir(parents=True, exist_ok=True)
            settings.index_dir.mkdir(parents=True, exist_ok=True)
            upgrade(store.engine)
            where = store.engine.url.render_as_string(hide_password=True)
        finally:
            store.dispose()
    if name is not None:
        settings = settings.model_copy(update={"instance": name})
    public = ensure_identity(settings, security).public()
    return InitOut(
        store=where,
        data=str(settings.data),
        instance=public.name,
        key=public.key_text(),
        fingerprint=public.fingerprint(),
    )
