"""Running the migrations as one transaction, and clearing what an interrupted run left.

A migration killed halfway must leave the store as it was. PostgreSQL has transactional DDL;
SQLite has it too, but Python's driver only opens a transaction before data changes, so
``CREATE TABLE`` and the batch copies of a table (``_alembic_tmp_*``) would each commit on their
own and a kill would strand them. Here the driver's implicit transactions are switched off and
the whole upgrade runs inside one ``BEGIN IMMEDIATE`` ... ``COMMIT``, which also keeps a second
``init`` out until the first is done.

Stores an earlier vident left half-migrated (a batch copy table, or a first schema whose
version row was never written) are cleaned up inside the same transaction before migrating.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, inspect, text

from vident.store.metadata import metadata

#: Prefix of the table copies Alembic's SQLite batch mode makes while it rebuilds a table.
BATCH_TABLE_PREFIX = "_alembic_tmp_"


@contextmanager
def migration_transaction(connection: Connection) -> Iterator[None]:
    """Everything done on ``connection`` inside is committed at the end, or not at all."""
    if connection.dialect.name != "sqlite":
        with connection.begin():
            yield
        return
    # AUTOCOMMIT turns the driver's implicit transaction handling off (the pool restores it);
    # the transaction is then ours, opened and closed by the statements below.
    connection.execution_options(isolation_level="AUTOCOMMIT")
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.exec_driver_sql("ROLLBACK")
        raise
    connection.exec_driver_sql("COMMIT")


def clear_interrupted_upgrade(connection: Connection) -> list[str]:
    """Drop what an interrupted, non-transactional upgrade left behind; returns what went.

    A batch copy table still under its temporary name was never swapped in (the swap is the
    last step), so the original table is intact and the copy is debris. A SQLite store with
    vident's tables but no version row was killed during its very first migration; its tables
    can only be empty, and are dropped so that the migration can create them again. Anything
    else (a table holding rows, a table vident does not know) is left alone.
    """
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    dropped = sorted(name for name in tables if name.startswith(BATCH_TABLE_PREFIX))
    for name in dropped:
        connection.execute(text(f'DROP TABLE "{name}"'))
    tables -= set(dropped)
    if connection.dialect.name == "sqlite" and _unversioned(connection, tables):
        ours = set(metadata.tables)
        present = tables - {"alembic_version"}
        if present and present <= ours and not any(_has_rows(connection, t) for t in present):
            for table in reversed(metadata.sorted_tables):
                if table.name in present:
                    connection.execute(text(f'DROP TABLE "{table.name}"'))
                    dropped.append(table.name)
    return dropped


def _unversioned(connection: Connection, tables: set[str]) -> bool:
    if "alembic_version" not in tables:
        return True
    return connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 0


def _has_rows(connection: Connection, table: str) -> bool:
    return connection.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first() is not None
