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
    include_object,
    upgrade,
)
from vident.store.metadata import metadata


def test_migrations_create_exactly_the_models(store_url: str) -> None:
    store = Store(store_url)
    with store.engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"include_object": include_object}),
            metadata,
        )
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


def test_migration_from_0001_keeps_signals(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A store made by the first release upgrades in place: old signals become frame 0."""
    from alembic import command

    from vident.store.db import alembic_config

    store = Store(f"sqlite:///{tmp_path / 'v.db'}")
    command.upgrade(alembic_config(store.engine), "0001")
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO media (id, sha256, size, media_type, created_at) "
                "VALUES (1, x'00', 1, 'image', '2026-01-01')"
            )
        )
        connection.execute(
            text("INSERT INTO signal (media_id, kind, version, value) VALUES (1, 'md5', 1, x'01')")
        )
    upgrade(store.engine)
    with store.engine.connect() as connection:
        row = connection.execute(text("SELECT frame, model FROM signal")).one()
    assert tuple(row) == (0, "")
    store.dispose()


def test_full_text_index_follows_media_text(store_url: str) -> None:
    """The backend-native full-text index is built by the migration and kept in step."""
    store = Store(store_url)
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO media (id, sha256, size, media_type, created_at) "
                "VALUES (1, :sha, 1, 'image', '2026-01-01')"
            ),
            {"sha": b"\x01"},
        )
        connection.execute(
            text(
                "INSERT INTO signal (id, media_id, kind, version, value, frame, model) "
                "VALUES (1, 1, 'text', 1, :v, 0, '')"
            ),
            {"v": b"x"},
        )
        connection.execute(
            text(
                "INSERT INTO media_text (signal_id, media_id, frame, text) "
                "VALUES (1, 1, 0, 'Springfield Elementary School')"
            )
        )
        if store.engine.dialect.name == "sqlite":
            query = "SELECT rowid FROM media_text_fts WHERE media_text_fts MATCH 'elementary'"
        else:
            query = (
                "SELECT id FROM media_text WHERE to_tsvector('simple', text) "
                "@@ plainto_tsquery('simple', 'elementary')"
            )
        assert connection.execute(text(query)).all() == [(1,)]
    store.dispose()
