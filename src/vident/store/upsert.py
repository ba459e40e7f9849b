"""Insert-or-ignore on both backends: what makes every write idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], conflict: Sequence[str]
) -> None:
    """Insert ``rows``, silently skipping any that collide on the ``conflict`` columns."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(table).on_conflict_do_nothing(index_elements=list(conflict))
        session.execute(pg, list(rows))
    elif dialect == "sqlite":
        lite = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(conflict))
        session.execute(lite, list(rows))
    else:
        raise NotImplementedError(f"vident does not support the {dialect} database")


def chunked(values: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    """Slices small enough for an IN (...) list on every backend."""
    return [values[i : i + size] for i in range(0, len(values), size)]


def insert_tuples(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    conflict: Sequence[str] | None = None,
) -> None:
    """Insert plain tuples through the driver's own ``executemany``.

    For bulk loads (hash sets of millions of entries) SQLAlchemy's per-row parameter
    processing costs more than the database's own work; here values must already be in the
    driver's types (bytes, int, str, bool, None; JSON already serialised).
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect not in {"sqlite", "postgresql"}:
        raise NotImplementedError(f"vident does not support the {dialect} database")
    marker = "?" if dialect == "sqlite" else "%s"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    session.connection().exec_driver_sql(sql, list(rows))
