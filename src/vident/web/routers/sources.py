"""Sources (seizures) and their triage."""

from __future__ import annotations

from fastapi import APIRouter

from vident.service.sources import SourceListOut, list_sources
from vident.service.triage import TriageOut, triage_source
from vident.web.deps import ContextDep

router = APIRouter(tags=["sources"])


@router.get("/sources", response_model=SourceListOut)
def get_sources(ctx: ContextDep) -> SourceListOut:
    """Every source with its file and error counts."""
    return list_sources(ctx)


@router.get("/sources/{name}/triage", response_model=TriageOut)
def get_triage(name: str, ctx: ContextDep) -> TriageOut:
    """The triage of one source, new material first, each verdict with its reasons."""
    return triage_source(ctx, name)
