"""Hash sets imported from elsewhere."""

from __future__ import annotations

from fastapi import APIRouter

from vident.service.hashsets import HashSetListOut, list_hashsets
from vident.web.deps import ContextDep

router = APIRouter(tags=["hashsets"])


@router.get("/hashsets", response_model=HashSetListOut)
def get_hashsets(ctx: ContextDep) -> HashSetListOut:
    """Every hash set, its size and whether its last import finished."""
    return list_hashsets(ctx)
