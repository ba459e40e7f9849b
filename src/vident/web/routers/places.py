"""Locations, clues, annotations and category votes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

from vident.service.categories import CategoryOut, show_category, vote_category
from vident.service.clues import (
    AnnotationOut,
    ClueOut,
    add_annotation,
    add_clue,
    list_annotations,
    list_clues,
    set_clue_status,
)
from vident.service.locations import LocationOut, add_location, list_locations
from vident.service.schemas import Model
from vident.web.deps import ContextDep
from vident.web.paging import Page, PageDep, paged

router = APIRouter(tags=["places"])

#: The largest id or pixel coordinate the store's integer columns hold on every backend.
MAX_INT = 2**31 - 1
Coordinate = Annotated[int, Field(ge=0, le=MAX_INT)]
RowId = Annotated[int, Field(ge=1, le=MAX_INT)]

CLUE_STATUS = "open, in_progress or resolved."
TARGET_KIND = "case, series, victim, offender, location, clue or media."


class LocationIn(Model):
    name: str = Field(max_length=200)
    country: str | None = Field(default=None, max_length=8, description="ISO 3166-1 alpha-2.")
    lat: float | None = Field(default=None, description="Latitude, degrees (WGS 84).")
    lon: float | None = Field(default=None, description="Longitude, degrees (WGS 84).")
    notes: str | None = Field(default=None, max_length=10_000)


class ClueIn(Model):
    sha256: str = Field(max_length=128, description="SHA-256 of the stored media, in hex.")
    kind: str = Field(
        max_length=16, description="object, logo, text, clothing, landmark, sound or other."
    )
    box: tuple[Coordinate, Coordinate, Coordinate, Coordinate] | None = Field(
        default=None, description="x, y, width, height in pixels of the media."
    )
    agency: str | None = Field(
        default=None, max_length=200, description="Who works on it; default: the caller's."
    )
    note: str | None = Field(default=None, max_length=10_000, description="What it shows.")


class ClueStatusIn(Model):
    status: str = Field(max_length=16, description=CLUE_STATUS)


class AnnotationIn(Model):
    kind: str = Field(max_length=16, description=TARGET_KIND)
    id: RowId = Field(description="The id of the target row.")
    text: str = Field(max_length=10_000)


class VoteIn(Model):
    scheme: str = Field(max_length=32, description="The scheme, e.g. US or UK-CAID.")
    category: str = Field(max_length=64, description="The category under the scheme.")


@router.get("/locations", response_model=Page[LocationOut])
def get_locations(ctx: ContextDep, page: PageDep) -> Page[LocationOut]:
    """Places material was made or clues point to, by name."""
    return paged(list_locations(ctx).locations, page)


@router.post("/locations", response_model=LocationOut, status_code=201)
def post_location(body: LocationIn, ctx: ContextDep) -> LocationOut:
    """Record a place; latitude and longitude both or neither."""
    return add_location(
        ctx, body.name, country=body.country, lat=body.lat, lon=body.lon, notes=body.notes
    )


@router.get("/clues", response_model=Page[ClueOut])
def get_clues(
    ctx: ContextDep,
    page: PageDep,
    status: Annotated[str | None, Query(max_length=16, description=CLUE_STATUS)] = None,
    sha256: Annotated[
        str | None, Query(max_length=128, description="Only the clues of this media.")
    ] = None,
) -> Page[ClueOut]:
    """Clues in the order they were recorded, optionally of one status or one media."""
    return paged(list_clues(ctx, status=status, sha256=sha256).clues, page)


@router.post("/clues", response_model=ClueOut, status_code=201)
def post_clue(body: ClueIn, ctx: ContextDep) -> ClueOut:
    """Record a clue boxed in a stored media; it starts open."""
    return add_clue(
        ctx, body.sha256, kind=body.kind, box=body.box, agency=body.agency, note=body.note
    )


@router.post("/clues/{clue_id}/status", response_model=ClueOut)
def post_clue_status(
    clue_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: ClueStatusIn, ctx: ContextDep
) -> ClueOut:
    """Move a clue to another status."""
    return set_clue_status(ctx, clue_id, body.status)


@router.get("/annotations", response_model=Page[AnnotationOut])
def get_annotations(
    ctx: ContextDep,
    page: PageDep,
    kind: Annotated[str, Query(max_length=16, description=TARGET_KIND)],
    target_id: Annotated[
        int, Query(alias="id", ge=1, le=MAX_INT, description="The id of the target row.")
    ],
) -> Page[AnnotationOut]:
    """The notes on one case, series, victim, offender, location, clue or media, oldest first."""
    return paged(list_annotations(ctx, kind, target_id).annotations, page)


@router.post("/annotations", response_model=AnnotationOut, status_code=201)
def post_annotation(body: AnnotationIn, ctx: ContextDep) -> AnnotationOut:
    """Leave a note on a case, series, victim, offender, location, clue or media."""
    return add_annotation(ctx, body.kind, body.id, body.text)


@router.get("/media/{sha256}/category", response_model=CategoryOut)
def get_category(
    sha256: str,
    ctx: ContextDep,
    scheme: Annotated[str, Query(max_length=32, description="The scheme, e.g. US or UK-CAID.")],
) -> CategoryOut:
    """The votes on a media under one scheme, and the category they agree on (if any)."""
    return show_category(ctx, sha256, scheme)


@router.post("/media/{sha256}/votes", response_model=CategoryOut)
def post_vote(sha256: str, body: VoteIn, ctx: ContextDep) -> CategoryOut:
    """The caller's vote on a media's category (a second vote replaces the first)."""
    return vote_category(ctx, sha256, body.scheme, body.category)
