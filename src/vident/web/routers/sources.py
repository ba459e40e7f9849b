"""Sources (seizures) and their triage."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from vident.service.sources import SourceListOut, list_sources
from vident.service.triage import TriageOut, Verdict, triage_source
from vident.web.deps import ContextDep

router = APIRouter(tags=["sources"])


@router.get("/sources", response_model=SourceListOut)
def get_sources(ctx: ContextDep) -> SourceListOut:
    """Every source with its file and error counts."""
    return list_sources(ctx)


@router.get("/sources/{name}/triage", response_model=TriageOut)
def get_triage(
    name: str,
    ctx: ContextDep,
    verdict: Annotated[
        list[Verdict] | None, Query(description="Keep items of these verdicts (repeatable).")
    ] = None,
    order: Annotated[
        Literal["path", "priority"],
        Query(description="path, or priority: new, related, error, near, known."),
    ] = "path",
    limit: Annotated[int | None, Query(ge=1, description="Items to return (default all).")] = None,
    offset: Annotated[int, Query(ge=0, description="Items to skip.")] = 0,
) -> TriageOut:
    """The triage of one source: every file's verdict with its reasons. ``counts`` always
    covers the whole source; ``verdict``, ``order``, ``limit`` and ``offset`` pick the items."""
    found = triage_source(ctx, name)
    items = found.by_priority() if order == "priority" else list(found.items)
    if verdict:
        wanted = set(verdict)
        items = [item for item in items if item.verdict in wanted]
    end = None if limit is None else offset + limit
    return found.model_copy(update={"items": items[offset:end]})
