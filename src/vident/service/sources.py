"""Sources (a seizure or exhibit) as a resource: list them, ingest one.

Ingest is the one long job of a data directory: it holds the writer lock while it runs and
commits in batches, so an interrupted ingest resumes where it stopped when asked again.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vident.ingest import pipeline
from vident.ingest.pipeline import ProgressSink
from vident.service.alerts import scan_alerts
from vident.service.context import Context
from vident.service.errors import Invalid, NotFound
from vident.service.failures import translated
from vident.service.previews import preview_sealer
from vident.service.schemas import Model
from vident.service.scope import sight_of, visible_sources
from vident.service.targets import claim_ingest_target, ensure_case
from vident.service.use_case import SEE_MEDIA, WORK_ON_MEDIA, use_case
from vident.signals.registry import parse_signal_names
from vident.store.db import StoreError
from vident.store.models import Occurrence, Source
from vident.store.sources import get_source


class SourceOut(Model):
    """One ingested source and how many of its files could not be read."""

    name: str
    files: int
    errors: int
    status: str
    origin: str


class SourceListOut(Model):
    sources: list[SourceOut]


class FileErrorOut(Model):
    """A file that could not be read, and why."""

    path: str
    reason: str


class IngestOut(Model):
    """What one run of an ingest did (a rerun counts finished files as skipped)."""

    source: str
    files: int
    errors: int
    skipped: int
    new_media: int
    bytes: int
    seconds: float
    error_samples: list[FileErrorOut]
    notes: list[str]


def signal_names(text: str) -> tuple[str, ...]:
    """The picture signals named in ``text`` (comma-separated), or one error naming the bad one."""
    try:
        return parse_signal_names(text)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def find_source(session: Session, name: str) -> Source:
    """The source called ``name``, or NotFound listing some that exist."""
    try:
        return get_source(session, name)
    except StoreError as exc:
        raise NotFound(str(exc)) from None


@use_case("source.list", SEE_MEDIA)
def list_sources(ctx: Context) -> SourceListOut:
    """Every source the principal sees, in the order first ingested, with file and error
    counts."""
    query = (
        select(
            Source.name,
            func.count(Occurrence.id),
            func.count(Occurrence.error),
            Source.status,
            Source.origin,
        )
        .outerjoin(Occurrence, Occurrence.source_id == Source.id)
        .group_by(Source.id)
        .order_by(Source.id)
    )
    with translated(ctx.settings.database_url), ctx.store.reader() as session:
        rows = session.execute(query.where(visible_sources(sight_of(ctx, session)))).all()
    return SourceListOut(
        sources=[
            SourceOut(name=name, files=files, errors=errors, status=status, origin=origin)
            for name, files, errors, status, origin in rows
        ]
    )


@use_case("source.ingest", WORK_ON_MEDIA)
def ingest_source(
    ctx: Context,
    path: Path,
    source: str,
    *,
    case: str | None = None,
    workers: int | None = None,
    signals: tuple[str, ...] | None = None,
    progress: ProgressSink | None = None,
    cluster: str | None = None,
) -> IngestOut:
    """Hash, decode and store every file under ``path`` as source ``source``.

    ``signals`` names the picture signals to compute (default: the configured ones); safe to
    run again, which resumes an interrupted ingest and skips what is done. ``cluster`` is a
    Dask scheduler's address (or ``local``) whose workers read the files.
    """
    if not source.strip():
        raise Invalid("the source name is empty: give a name (a seizure, exhibit or case)")
    if case is not None and not case.strip():
        raise Invalid("the case name is empty: give a name, or none")
    kinds = signals if signals is not None else signal_names(ctx.settings.signals)
    with translated(ctx.settings.database_url):
        ensure_case(ctx, case)
    with translated(ctx.settings.database_url), ctx.store.session() as session:
        claim_ingest_target(ctx, session, source, case)
    seal, unsealed = preview_sealer(ctx)
    with translated(ctx.settings.database_url):
        summary = pipeline.ingest_source(
            ctx.store,
            ctx.settings,
            path,
            source,
            case=case,
            workers=workers,
            progress=progress,
            signals=kinds,
            seal_preview=seal,
            cluster=cluster,
        )
    # Material an alert watches may have just arrived: tell its owner now.
    scan_alerts(ctx)
    return IngestOut(
        source=summary.source,
        files=summary.files,
        errors=summary.errors,
        skipped=summary.skipped,
        new_media=summary.new_media,
        bytes=summary.bytes,
        seconds=summary.seconds,
        error_samples=[FileErrorOut(path=p, reason=r) for p, r in summary.error_samples],
        notes=[*([unsealed] if unsealed else []), *summary.notes],
    )
