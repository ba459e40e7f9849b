"""Review marks: which media an analyst has looked at, seen by their agency's colleagues.

An analyst marks media as reviewed (from the triage grid, many at once) so that they and the
colleagues of their agency see what is done and what is left. A mark belongs to its reviewer
and to the agency they acted for: another agency never sees it, even on material shared with
it (its own analysts review it for themselves). The local operator and a system administrator
without an agency share the marks of "no agency".

Marking and unmarking are one use case (``media.review``, the roles that record decisions),
all or nothing: a media the caller may not see fails the whole request with NotFound, as if it
did not exist. Unmarking clears the agency's marks on the media (a colleague's too): the
agency's answer to "was this looked at?" is then no again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from pydantic import Field
from sqlalchemy import ColumnElement, Select, delete, select
from sqlalchemy.orm import Session

from vident.service.context import Context
from vident.service.domain import READ, WRITE, parse_sha256, visible_media_id
from vident.service.errors import Invalid
from vident.service.schemas import Model
from vident.service.use_case import use_case
from vident.store.models import Media
from vident.store.models_cases import ReviewMark

__all__ = [
    "MOST_MEDIA",
    "ReviewOut",
    "ReviewsOut",
    "agency_marks",
    "mark_reviewed",
    "media_ids",
    "reviewed_among",
    "show_reviews",
]

#: Most media one request may name (a few pages of the triage grid).
MOST_MEDIA = 1000


class ReviewOut(Model):
    """Whether one media was reviewed, as the caller's agency sees it."""

    sha256: str
    reviewed: bool
    reviewers: list[str] = Field(description="Who of the caller's agency marked it.")
    at: datetime | None = Field(description="When it was last marked; null when not reviewed.")


class ReviewsOut(Model):
    reviews: list[ReviewOut]


def agency_marks(ctx: Context) -> ColumnElement[bool]:
    """SQL condition on ``ReviewMark``: the marks the caller's agency sees (its own)."""
    agency = ctx.principal.agency_id
    return ReviewMark.agency_id.is_(None) if agency is None else ReviewMark.agency_id == agency


def reviewed_among(
    ctx: Context, session: Session, media: Select[int] | Select[int | None]
) -> set[str]:
    """The SHA-256 of the media (ids the query ``media`` gives) that the caller's agency
    marked reviewed; whether the caller sees those media is for the caller to check."""
    query = (
        select(Media.sha256)
        .join(ReviewMark, ReviewMark.media_id == Media.id)
        .where(Media.id.in_(media), agency_marks(ctx))
        .distinct()
    )
    return {bytes(sha).hex() for sha in session.scalars(query)}


def _checked(sha256: Iterable[str]) -> list[str]:
    """The hashes in lower case, each once, in the order given; Invalid when none or too many."""
    shas = list(dict.fromkeys(parse_sha256(sha).hex() for sha in sha256))
    if not shas or len(shas) > MOST_MEDIA:
        raise Invalid(f"name 1 to {MOST_MEDIA} media by their SHA-256")
    return shas


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _reviews(ctx: Context, session: Session, ids: dict[str, int]) -> ReviewsOut:
    query = (
        select(ReviewMark.media_id, ReviewMark.reviewer, ReviewMark.at)
        .where(ReviewMark.media_id.in_(list(ids.values())), agency_marks(ctx))
        .order_by(ReviewMark.at, ReviewMark.id)
    )
    marks: dict[int, list[tuple[str, datetime]]] = {}
    for media_id, reviewer, at in session.execute(query):
        marks.setdefault(media_id, []).append((reviewer, _utc(at)))
    out = []
    for sha, media_id in ids.items():
        found = marks.get(media_id, [])
        out.append(
            ReviewOut(
                sha256=sha,
                reviewed=bool(found),
                reviewers=[reviewer for reviewer, _ in found],
                at=found[-1][1] if found else None,
            )
        )
    return ReviewsOut(reviews=out)


def _visible(ctx: Context, session: Session, shas: list[str]) -> dict[str, int]:
    return {sha: visible_media_id(ctx, session, sha) for sha in shas}


@use_case("media.review", WRITE)
def mark_reviewed(ctx: Context, sha256: Sequence[str], reviewed: bool = True) -> ReviewsOut:
    """Mark the media ``sha256`` reviewed by the caller, or (``reviewed`` false) clear the
    marks of the caller's agency on them; answers how each is seen now."""
    shas = _checked(sha256)
    with ctx.store.session() as session:
        ids = _visible(ctx, session, shas)
        if reviewed:
            mine = set(
                session.scalars(
                    select(ReviewMark.media_id).where(
                        ReviewMark.media_id.in_(list(ids.values())),
                        ReviewMark.reviewer == ctx.principal.name,
                    )
                )
            )
            for media_id in ids.values():
                if media_id not in mine:
                    session.add(
                        ReviewMark(
                            media_id=media_id,
                            agency_id=ctx.principal.agency_id,
                            reviewer=ctx.principal.name,
                        )
                    )
        else:
            session.execute(
                delete(ReviewMark).where(
                    ReviewMark.media_id.in_(list(ids.values())), agency_marks(ctx)
                )
            )
        session.flush()
        return _reviews(ctx, session, ids)


@use_case("media.reviews", READ)
def show_reviews(ctx: Context, sha256: Sequence[str]) -> ReviewsOut:
    """Whether each of the media ``sha256`` was reviewed, as the caller's agency sees it."""
    shas = _checked(sha256)
    with ctx.store.reader() as session:
        return _reviews(ctx, session, _visible(ctx, session, shas))


def media_ids(shas: Iterable[str]) -> Select[int]:
    """The ids of the stored media ``shas`` (hexadecimal), as a query."""
    return select(Media.id).where(Media.sha256.in_([parse_sha256(sha) for sha in shas]))
