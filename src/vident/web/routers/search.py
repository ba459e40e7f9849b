"""Asking about one picture or video: search by upload, similar, related, text."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from vident.service.search import SearchOut, search_file
from vident.service.similar import (
    BY_CHOICES,
    RelatedOut,
    SimilarOut,
    find_related_media,
    find_similar_media,
)
from vident.service.text import TextSearchOut, search_text
from vident.web.deps import ContextDep
from vident.web.uploads import UPLOAD_BODY, UploadDep

router = APIRouter(tags=["search"])


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
) -> SimilarOut:
    """The stored media most like the uploaded file, best first."""
    found = find_similar_media(ctx, upload.path, by=by, top=top)
    query = found.query.model_copy(update={"path": upload.filename})
    return found.model_copy(update={"query": query})


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
