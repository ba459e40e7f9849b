"""The store's generation: one counter that moves on with every change.

A result computed from the whole store (the triage of a source) is expensive and asked often;
it stays true exactly as long as nothing changed. Every use case that changes something moves
the counter on when it ends (:mod:`vident.service.use_case`), in every process that writes:
the server, the job runner, a command line run against the same store. A reader takes the
counter *before* it computes, so a change that lands during the computation always makes the
kept result stale.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from vident.store.base import Base
from vident.store.db import Store

__all__ = ["StoreGeneration", "current_generation", "move_on"]


class StoreGeneration(Base):
    """The single row (``id`` 1) of the counter."""

    __tablename__ = "store_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    #: Random, made with the store: a store made again at the same URL is another store.
    store_token: Mapped[str] = mapped_column(String(32))


def current_generation(session: Session) -> tuple[str, int]:
    """The store's token and counter now (("", 0) on a store whose row is missing)."""
    row = session.execute(
        select(StoreGeneration.store_token, StoreGeneration.value).where(StoreGeneration.id == 1)
    ).first()
    return (str(row[0]), int(row[1])) if row is not None else ("", 0)


def move_on(store: Store) -> None:
    """Increment the counter in a transaction of its own."""
    with store.session() as session:
        session.execute(
            update(StoreGeneration)
            .where(StoreGeneration.id == 1)
            .values(value=StoreGeneration.value + 1)
        )
