"""Making a data directory's store: create it, or migrate it to this version.

This is the one use case that runs before a store exists, so it takes the settings rather
than a :class:`~vident.service.context.Context`.
"""

from __future__ import annotations

from vident.config import Settings
from vident.service.failures import translated
from vident.service.schemas import Model
from vident.store.db import Store, upgrade


class InitOut(Model):
    """Where the store and the data directory are, once ready."""

    store: str
    data: str


def init_store(settings: Settings) -> InitOut:
    """Create the store (or migrate it to this version) and the index directory."""
    with translated(settings.database_url):
        store = Store(settings.database_url)  # a bad URL is refused before anything is made
        try:
            settings.data.mkdir(parents=True, exist_ok=True)
            settings.index_dir.mkdir(parents=True, exist_ok=True)
            upgrade(store.engine)
            where = store.engine.url.render_as_string(hide_password=True)
        finally:
            store.dispose()
    return InitOut(store=where, data=str(settings.data))
