"""Clues and annotations: what in a picture may lead to a place or a person, and analysts' notes.

A clue is boxed in the media's pixels, has a kind (a logo, a text, clothing, a landmark ...) and
is worked on by one agency until resolved. An annotation is a note on any row of the
investigation, named by its kind and id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from vident.service.context import Context
from vident.service.domain import READ, WRITE, acting_agency, checked_choice, visible_media_id
from vident.service.errors import Invalid, NotFound
from vident.service.schemas import Model
from vident.service.scope import (
    media_seen,
    sight_of,
    visible_cases,
    visible_media,
    visible_series,
    visible_subjects,
)
from vident.service.use_case import use_case
from vident.store.models import Case, Media
from vident.store.models_cases import Annotation, Clue, Location, Series, Subject
from vident.store.models_security import Agency

KINDS = ("object", "logo", "text", "clothing", "landmark", "sound", "other")
STATUSES = ("open", "in_progress", "resolved")
TARGETS = ("case", "series", "victim", "offender", "location", "clue", "media")

Box = tuple[int, int, int, int]


class ClueOut(Model):
    id: int
    media: str
    box: Box | None
    kind: str
    status: str
    agency: str | None
    note: str | None
    created_by: str
    created_at: datetime


class ClueListOut(Model):
    clues: list[ClueOut]


class AnnotationOut(Model):
    id: int
    target_kind: str
    target_id: int
    text: str
    author: str
    at: datetime


class AnnotationListOut(Model):
    annotations: list[AnnotationOut]


def _out(clue: Clue, sha256: bytes, agency: str | None) -> ClueOut:
    box = None
    if clue.x is not None and clue.y is not None and clue.w is not None and clue.h is not None:
        box = (clue.x, clue.y, clue.w, clue.h)
    return ClueOut(
        id=clue.id,
        media=bytes(sha256).hex(),
        box=box,
        kind=clue.kind,
        status=clue.status,
        agency=agency,
        note=clue.note,
        created_by=clue.created_by,
        created_at=clue.created_at,
    )


@use_case("clue.add", WRITE)
def add_clue(
    ctx: Context,
    sha256: str,
    *,
    kind: str,
    box: Box | None = None,
    agency: str | None = None,
    note: str | None = None,
) -> ClueOut:
    """Record a clue in stored media ``sha256``, assigned to ``agency`` (default: the
    principal's); ``box`` is x, y, width, height in pixels."""
    checked_choice("clue kind", kind, KINDS)
    if box is not None and (box[0] < 0 or box[1] < 0 or box[2] <= 0 or box[3] <= 0):
        raise Invalid(f"box {box}: x and y must be >= 0, width and height > 0")
    with ctx.store.session() as session:
        found = visible_media_id(ctx, session, sha256)
        owner = acting_agency(ctx, session, agency)
        x, y, w, h = box if box is not None else (None, None, None, None)
        clue = Clue(
            media_id=found,
            x=x,
            y=y,
            w=w,
            h=h,
            kind=kind,
            status="open",
            agency_id=owner.id if owner else None,
            note=note,
            created_by=ctx.principal.name,
        )
        session.add(clue)
        session.flush()
        media = session.get(Media, found)
        assert media is not None
        return _out(clue, media.sha256, owner.name if owner else None)


@use_case("clue.list", READ)
def list_clues(
    ctx: Context, *, status: str | None = None, sha256: str | None = None
) -> ClueListOut:
    """Clues in the order they were recorded, optionally of one status or one media."""
    if status is not None:
        checked_choice("clue status", status, STATUSES)
    with ctx.store.reader() as session:
        query = (
            select(Clue, Media.sha256, Agency.name)
            .join(Media, Media.id == Clue.media_id)
            .outerjoin(Agency, Agency.id == Clue.agency_id)
            .where(visible_media(sight_of(ctx, session)))
            .order_by(Clue.id)
        )
        if status is not None:
            query = query.where(Clue.status == status)
        if sha256 is not None:
            query = query.where(Clue.media_id == visible_media_id(ctx, session, sha256))
        rows = session.execute(query).all()
        return ClueListOut(clues=[_out(c, sha, agency) for c, sha, agency in rows])


@use_case("clue.status", WRITE)
def set_clue_status(ctx: Context, clue_id: int, status: str) -> ClueOut:
    """Move a clue to ``status`` (open, in_progress, resolved)."""
    checked_choice("clue status", status, STATUSES)
    with ctx.store.session() as session:
        clue = session.get(Clue, clue_id)
        if clue is None or not media_seen(ctx, session, clue.media_id):
            raise NotFound(f"no clue {clue_id}")
        clue.status = status
        media = session.get(Media, clue.media_id)
        agency = session.get(Agency, clue.agency_id) if clue.agency_id is not None else None
        assert media is not None
        return _out(clue, media.sha256, agency.name if agency else None)


@use_case("annotation.add", WRITE)
def add_annotation(ctx: Context, target_kind: str, target_id: int, text: str) -> AnnotationOut:
    """Leave a note on a case, series, victim, offender, location, clue or media (by id)."""
    checked_choice("kind of target", target_kind, TARGETS)
    if not text.strip():
        raise Invalid("an annotation needs some text")
    with ctx.store.session() as session:
        _check_target(ctx, session, target_kind, target_id)
        row = Annotation(
            target_kind=target_kind, target_id=target_id, text=text, author=ctx.principal.name
        )
        session.add(row)
        session.flush()
        return _annotation(row)


@use_case("annotation.list", READ)
def list_annotations(ctx: Context, target_kind: str, target_id: int) -> AnnotationListOut:
    """The notes on one target, oldest first."""
    checked_choice("kind of target", target_kind, TARGETS)
    with ctx.store.reader() as session:
        _check_target(ctx, session, target_kind, target_id)
        rows = session.scalars(
            select(Annotation)
            .where(Annotation.target_kind == target_kind, Annotation.target_id == target_id)
            .order_by(Annotation.id)
        ).all()
        return AnnotationListOut(annotations=[_annotation(r) for r in rows])


def _check_target(ctx: Context, session: Session, kind: str, target_id: int) -> None:
    """NotFound unless the annotated thing exists and the principal sees it."""
    sight = sight_of(ctx, session)
    query: Select[int]
    if kind == "case":
        query = select(Case.id).where(Case.id == target_id, visible_cases(sight))
    elif kind == "series":
        query = select(Series.id).where(Series.id == target_id, visible_series(sight))
    elif kind in ("victim", "offender"):
        query = select(Subject.id).where(
            Subject.id == target_id, Subject.kind == kind, visible_subjects(sight)
        )
    elif kind == "location":
        query = select(Location.id).where(Location.id == target_id)
    elif kind == "clue":
        query = (
            select(Clue.id)
            .join(Media, Media.id == Clue.media_id)
            .where(Clue.id == target_id, visible_media(sight))
        )
    else:
        query = select(Media.id).where(Media.id == target_id, visible_media(sight))
    if session.scalar(query) is None:
        raise NotFound(f"no {kind} {target_id}")


def _annotation(row: Annotation) -> AnnotationOut:
    return AnnotationOut(
        id=row.id,
        target_kind=row.target_kind,
        target_id=row.target_id,
        text=row.text,
        author=row.author,
        at=row.at,
    )
