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
