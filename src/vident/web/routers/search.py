"""Asking about one picture or video: search by upload or by hash, similar, related, text."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from vident.service.errors import Invalid
from vident.service.media_lookup import StoredMediaOut, lookup_media
from vident.service.search import SearchOut, search_file
from vident.service.similar import (
    BY_CHOICES,
    Region,
    RelatedOut,
    SimilarOut,
    find_related_media,
    find_similar_media,
)
from vident.service.text import TextSearchOut, search_text
from vident.web.deps import ContextDep
from vident.web.uploads import UPLOAD_BODY, UploadDep

router = APIRouter(tags=["search"])

#: Largest coordinate or size of a region, in pixels (far beyond any picture that is decoded).
MOST_PIXELS = 1_000_000


def _region(x: int | None, y: int | None, w: int | None, h: int | None) -> Region | None:
    """The region the four query parameters name: all four, or none for the whole picture."""
    given = (x, y, w, h)
    if all(value is None for value in given):
        return None
    if x is None or y is None or w is None or h is None:
        raise Invalid("a region needs all of x, y, w and h (in pixels of the picture), or none")
    return (x, y, w, h)


@router.post("/search", response_model=SearchOut, openapi_extra=UPLOAD_BODY)
def post_search(upload: UploadDep, ctx: ContextDep) -> SearchOut:
    """Everything the store knows about the uploaded file (the file is not kept)."""
    found = search_file(ctx, upload.path)
    return found.model_copy(update={"file": upload.filename})


@router.post("/similar", response_model=SimilarOut, openapi_extra=UPLOAD_BODY)
def post_similar(
    upload: UploadDep,
    ctx: ContextDep,
    by: Annotated[str | None, Query(description=f"One of {', '.join(BY_CHOICES)}.")] = None,
    top: Annotated[int, Query(ge=1, le=1000)] = 10,
    x: Annotated[int | None, Query(ge=0, le=MOST_PIXELS, description="Region: left.")] = None,
    y: Annotated[int | None, Query(ge=0, le=MOST_PIXELS, description="Region: top.")] = None,
    w: Annotated[int | None, Query(ge=1, le=MOST_PIXELS, description="Region: width.")] = None,
    h: Annotated[int | None, Query(ge=1, le=MOST_PIXELS, description="Region: height.")] = None,
) -> SimilarOut:
    """The stored media most like the uploaded file, best first.

    With ``x``, ``y``, ``w`` and ``h`` (pixels of the picture) only that part of it is
    compared: a bedspread, a poster, a logo seen elsewhere.
    """
    found = find_similar_media(ctx, upload.path, by=by, region=_region(x, y, w, h), top=top)
    query = found.query.model_copy(update={"path": upload.filename})
    return found.model_copy(update={"query": query})


@router.get("/media/{sha256}", response_model=StoredMediaOut)
def get_media(sha256: str, ctx: ContextDep) -> StoredMediaOut:
    """Everything the store knows about one stored media, as a search for its file answers."""
    return lookup_media(ctx, sha256)


@router.get("/media/{sha256}/related", response_model=RelatedOut)
def get_related(sha256: str, ctx: ContextDep) -> RelatedOut:
    """Every strong link of one stored media, strongest first."""
    return find_related_media(ctx, sha256)


@router.get("/text", response_model=TextSearchOut)
def get_text(
    ctx: ContextDep,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> TextSearchOut:
    """Media whose recognised text matches ``q``, best first."""
    return search_text(ctx, q, limit=limit)
