"""The store on both backends: migrations equal the models, SQLite runs in WAL mode."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from vident.store.db import (
    SCHEMA_REVISION,
    Store,
    check_current,
    current_revision,
    head_revision,
    upgrade,
)
from vident.store.models import Base


def test_migrations_create_exactly_the_models(store_url: str) -> None:
    store = Store(store_url)
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    store.dispose()
    assert diff == []


def test_store_is_at_head_and_upgrade_is_idempotent(store_url: str) -> None:
    store = Store(store_url)
    assert current_revision(store.engine) == head_revision() == SCHEMA_REVISION
    upgrade(store.engine)
    check_current(store.engine)
    store.dispose()


def test_sqlite_uses_wal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(f"sqlite:///{tmp_path / 'v.db'}")
    upgrade(store.engine)
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    store.dispose()
