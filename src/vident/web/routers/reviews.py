"""Review marks: media an analyst has looked at, as their agency sees them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from vident.service.reviews import MOST_MEDIA, ReviewsOut, mark_reviewed, show_reviews
from vident.service.schemas import Model
from vident.web.deps import ContextDep

router = APIRouter(tags=["places"])


class ReviewIn(Model):
    sha256: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        min_length=1, max_length=MOST_MEDIA, description="The media, by SHA-256 in hex."
    )
    reviewed: bool = Field(
        default=True, description="True: mark them reviewed; false: clear your agency's marks."
    )


@router.post("/reviews", response_model=ReviewsOut)
def post_reviews(body: ReviewIn, ctx: ContextDep) -> ReviewsOut:
    """Mark media reviewed by the caller (seen by their agency), or clear the agency's marks.
    All or nothing: a media the caller does not see fails the request (404)."""
    return mark_reviewed(ctx, body.sha256, body.reviewed)


@router.get("/reviews", response_model=ReviewsOut)
def get_reviews(
    ctx: ContextDep,
    sha256: Annotated[
        list[str], Query(min_length=1, max_length=MOST_MEDIA, description="SHA-256 in hex.")
    ],
) -> ReviewsOut:
    """Whether each media was reviewed, by whom and when, as the caller's agency sees it."""
    return show_reviews(ctx, sha256)
