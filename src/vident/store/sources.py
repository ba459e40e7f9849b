"""Cases and sources: looking them up and opening them for ingest."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.signals.base import SignalKind
from vident.store.db import StoreError
from vident.store.models import Case, Occurrence, Signal, Source


def get_or_create_case(session: Session, name: str) -> Case:
    case = session.scalar(select(Case).where(Case.name == name))
    if case is None:
        case = Case(name=name)
        session.add(case)
        session.flush()
    return case


def get_source(session: Session, name: str) -> Source:
    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        known = session.scalars(select(Source.name).order_by(Source.id).limit(10)).all()
        hint = f"; known sources: {', '.join(known)}" if known else "; nothing is ingested yet"
        raise StoreError(f"no source named {name!r}{hint}")
    return source


def open_source(session: Session, name: str, origin: str, case_name: str | None) -> Source:
    """The source to ingest into: new, or the same one again (rerun, resume)."""
    source = session.scalar(select(Source).where(Source.name == name))
    if source is not None:
        if source.origin != origin:
            raise StoreError(
                f"source {name!r} was ingested from {source.origin}; "
                f"give {origin} another source name"
            )
        source.status = "running"
    else:
        source = Source(name=name, origin=origin, status="running")
        session.add(source)
    if case_name:
        source.case_id = get_or_create_case(session, case_name).id
    session.flush()
    return source


def done_paths(session: Session, source_id: int) -> set[str]:
    """Paths of the source that a previous run already committed."""
    rows = session.scalars(select(Occurrence.path).where(Occurrence.source_id == source_id))
    return set(rows)


def paths_with_signals(session: Session, source_id: int, kinds: Sequence[SignalKind]) -> set[str]:
    """Paths of the source that need no new signal: unreadable, or every kind already there.

    A kind counts as there when its media has a value of the kind's version and current model
    (a changed face model, for instance, makes every picture due again).
    """
    # The rows as a list: dict() on the Result itself takes it for a mapping (it has keys()).
    paths: dict[str, int | None] = dict(
        session.execute(
            select(Occurrence.path, Occurrence.media_id).where(Occurrence.source_id == source_id)
        ).all()
    )
    have: dict[int, int] = {}
    for kind in kinds:
        rows = session.execute(
            select(Signal.media_id)
            .join(Occurrence, Occurrence.media_id == Signal.media_id)
            .where(
                Occurrence.source_id == source_id,
                Signal.kind == kind.name,
                Signal.version == kind.version,
                Signal.model == kind.model,
            )
            .distinct()
        ).scalars()
        for media_id in rows:
            have[media_id] = have.get(media_id, 0) + 1
    return {
        path
        for path, media_id in paths.items()
        if media_id is None or have.get(media_id, 0) >= len(kinds)
    }
