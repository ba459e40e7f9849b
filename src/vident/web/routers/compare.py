"""Two stored media side by side: the keypoints they share and how one maps onto the other."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from vident.service.compare import CompareOut, compare
from vident.web.deps import ContextDep

router = APIRouter(tags=["search"])

Sha256 = Annotated[str, Query(min_length=1, max_length=128, description="SHA-256 in hex.")]


@router.get("/compare", response_model=CompareOut)
def get_compare(a: Sha256, b: Sha256, ctx: ContextDep) -> CompareOut:
    """How stored media ``b`` relates to stored media ``a`` by their local features: the
    keypoint pairs that agree (in pixels of each one's preview), the transform from a to b,
    the inlier count and the PDQ distance. Both must be media the caller sees."""
    return compare(ctx, a, b)
