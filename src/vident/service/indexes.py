"""The near-duplicate and vector indexes as a resource: rebuilt from the store on demand."""

from __future__ import annotations

from vident.index.catalog import rebuild_all
from vident.ingest.lock import writer_lock
from vident.service.context import Context
from vident.service.failures import translated
from vident.service.schemas import Model
from vident.service.use_case import MAINTAIN, use_case


class IndexSizeOut(Model):
    """One index and how many entries it holds after the rebuild."""

    name: str
    entries: int


class RebuildOut(Model):
    indexes: list[IndexSizeOut]


@use_case("index.rebuild", MAINTAIN)
def rebuild_indexes(ctx: Context) -> RebuildOut:
    """Throw every index away and read the store again (the store is the truth).

    Holds the data directory's writer lock: index files have one writer at a time.
    """
    with (
        translated(ctx.settings.database_url),
        writer_lock(ctx.settings.data),
        ctx.store.reader() as session,
    ):
        sizes = rebuild_all(session, ctx.settings)
    return RebuildOut(
        indexes=[IndexSizeOut(name=name, entries=size) for name, size in sizes.items()]
    )
