"""Series: material showing the same victim in the same abuse, and the media that belong to it.

A series' status is what triage tells everyone who meets its material again: once the victim is
identified, a copy found in another seizure says so, and by whom.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from vident.service.context import Context
from vident.service.domain import (
    READ,
    SHARING,
    WRITE,
    checked_choice,
    checked_name,
    media_id,
    visible_media_id,
)
from vident.service.errors import Conflict, NotFound
from vident.service.schemas import Model
from vident.service.scope import (
    check_owner,
    check_series,
    sight_of,
    visible_cases,
    visible_series,
)
from vident.service.use_case import use_case
from vident.store.models import Case, Media
from vident.store.models_cases import CaseOwner, Series, SeriesMedia

STATUSES = ("unidentified", "victim_identified", "offender_identified", "closed")
HOW = ("manual", "suggestion")


class SeriesOut(Model):
    id: int
    name: str
    status: str
    sharing: str
    case: str | None
    notes: str | None
    media: int
    created_by: str
    created_at: datetime


class SeriesListOut(Model):
    series: list[SeriesOut]


class SeriesMediaOut(Model):
    sha256: str
    added_by: str
    added_at: datetime
    how: str


class SeriesDetailOut(Model):
    series: SeriesOut
    media: list[SeriesMediaOut]


def find_series(session: Session, name: str) -> Series:
    """The series called ``name``, or NotFound."""
    found = session.scalar(select(Series).where(Series.name == name))
    if found is None:
        raise NotFound(f"no series named {name!r}: add it first")
    return found


def seen_series(ctx: Context, session: Session, name: str) -> Series:
    """The series called ``name`` if the principal sees it, else NotFound."""
    return check_series(ctx, session, find_series(session, name))


def owned_series(ctx: Context, session: Session, name: str) -> Series:
    """The series called ``name`` if the principal's agency may change it."""
    series = seen_series(ctx, session, name)
    check_owner(ctx, session, series.agency_id, f"series {name!r}")
    return series


def _out(session: Session, series: Series) -> SeriesOut:
    count = session.scalar(
        select(func.count()).select_from(SeriesMedia).where(SeriesMedia.series_id == series.id)
    )
    case = session.get(Case, series.case_id) if series.case_id is not None else None
    return SeriesOut(
        id=series.id,
        name=series.name,
        status=series.status,
        sharing=series.sharing,
        case=case.name if case else None,
        notes=series.notes,
        media=count or 0,
        created_by=series.created_by,
        created_at=series.created_at,
    )


@use_case("series.add", WRITE)
def add_series(
    ctx: Context,
    name: str,
    *,
    case: str | None = None,
    sharing: str = "agency",
    notes: str | None = None,
) -> SeriesOut:
    """Start a series, unidentified, optionally within ``case``."""
    name = checked_name("series", name)
    checked_choice("sharing level", sharing, SHARING)
    with ctx.store.session() as session:
        if session.scalar(select(Series.id).where(Series.name == name)) is not None:
            raise Conflict(f"a series named {name!r} exists already")
        case_id = None
        owner: int | None = None
        sight = sight_of(ctx, session)
        if case is not None:
            case_id = session.scalar(select(Case.id).where(Case.name == case, visible_cases(sight)))
            if case_id is None:
                raise NotFound(f"no case named {case!r}: add it first")
            owner = session.scalar(select(CaseOwner.agency_id).where(CaseOwner.case_id == case_id))
            check_owner(ctx, session, owner, f"case {case!r}")
        series = Series(
            name=name,
            status="unidentified",
            sharing=sharing,
            # A series inside an agency's case is that agency's, whoever starts it (the local
            # operator acts for no agency, and an unowned series is seen by everyone).
            agency_id=ctx.principal.agency_id or owner,
            case_id=case_id,
            notes=notes,
            created_by=ctx.principal.name,
        )
        session.add(series)
        session.flush()
        return _out(session, series)


@use_case("series.list", READ)
def list_series(ctx: Context) -> SeriesListOut:
    """Every series by name, with its status and how many media it holds."""
    with ctx.store.reader() as session:
        query = select(Series).where(visible_series(sight_of(ctx, session)))
        rows = session.execute(query.order_by(Series.name)).scalars().all()
        return SeriesListOut(series=[_out(session, s) for s in rows])


@use_case("series.show", READ)
def show_series(ctx: Context, name: str) -> SeriesDetailOut:
    """A series and its media, in the order they were added."""
    with ctx.store.reader() as session:
        series = seen_series(ctx, session, name)
        rows = session.execute(
            select(Media.sha256, SeriesMedia.added_by, SeriesMedia.added_at, SeriesMedia.how)
            .join(Media, Media.id == SeriesMedia.media_id)
            .where(SeriesMedia.series_id == series.id)
            .order_by(SeriesMedia.added_at, SeriesMedia.id)
        ).all()
        return SeriesDetailOut(
            series=_out(session, series),
            media=[
                SeriesMediaOut(sha256=bytes(sha).hex(), added_by=by, added_at=at, how=how)
                for sha, by, at, how in rows
            ],
        )


@use_case("series.add_media", WRITE)
def add_series_media(
    ctx: Context, name: str, sha256: list[str], *, how: str = "manual"
) -> SeriesDetailOut:
    """Put stored media (by SHA-256) in series ``name``; media already there stay as they are."""
    checked_choice("way of adding", how, HOW)
    with ctx.store.session() as session:
        series = owned_series(ctx, session, name)
        have = set(
            session.scalars(select(SeriesMedia.media_id).where(SeriesMedia.series_id == series.id))
        )
        for text in sha256:
            found = visible_media_id(ctx, session, text)
            if found not in have:
                session.add(
                    SeriesMedia(
                        series_id=series.id, media_id=found, added_by=ctx.principal.name, how=how
                    )
                )
                have.add(found)
    return show_series(ctx, name)


@use_case("series.remove_media", WRITE)
def remove_series_media(ctx: Context, name: str, sha256: list[str]) -> SeriesDetailOut:
    """Take media (by SHA-256) out of series ``name``."""
    with ctx.store.session() as session:
        series = owned_series(ctx, session, name)
        ids = [media_id(session, text) for text in sha256]
        session.execute(
            delete(SeriesMedia).where(
                SeriesMedia.series_id == series.id, SeriesMedia.media_id.in_(ids)
            )
        )
    return show_series(ctx, name)


@use_case("series.update", WRITE)
def update_series(
    ctx: Context,
    name: str,
    *,
    status: str | None = None,
    sharing: str | None = None,
    notes: str | None = None,
) -> SeriesOut:
    """Change a series' status, sharing level or notes (what is None stays)."""
    if status is not None:
        checked_choice("series status", status, STATUSES)
    if sharing is not None:
        checked_choice("sharing level", sharing, SHARING)
    with ctx.store.session() as session:
        series = owned_series(ctx, session, name)
        if status is not None:
            series.status = status
        if sharing is not None:
            series.sharing = sharing
        if notes is not None:
            series.notes = notes
        session.flush()
        return _out(session, series)
