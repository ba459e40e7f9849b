"""Alembic environment: runs on the engine vident hands over (SQLite or PostgreSQL).

The whole upgrade is one transaction on both backends (see :mod:`vident.store.migrate`), so a
process killed while migrating leaves the store at its old revision, with nothing half-made.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

from vident.store.db import include_object
from vident.store.metadata import metadata
from vident.store.migrate import clear_interrupted_upgrade, migration_transaction

config = context.config
engine: Engine | None = config.attributes.get("engine")
if engine is None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")

with engine.connect() as connection, migration_transaction(connection):
    clear_interrupted_upgrade(connection)
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
        transactional_ddl=True,
    )
    context.run_migrations()
