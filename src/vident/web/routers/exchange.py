"""Exports in exchange formats: a source as Project VIC VICS 2.0 JSON (hashes, never pictures).

Hash-set import and export live with the hash sets (``/hashsets``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from vident.service.exports import export_vics_file
from vident.web.deps import ContextDep
from vident.web.downloads import JSON_DOWNLOAD, ScratchFileDep, attachment

router = APIRouter(tags=["exchange"])


@router.get("/exports/vics", response_class=FileResponse, responses=JSON_DOWNLOAD)
def get_vics_export(
    ctx: ContextDep,
    scratch: ScratchFileDep,
    source: Annotated[str, Query(min_length=1, max_length=200, description="The source.")],
) -> FileResponse:
    """One source as a VICS 2.0 JSON file: every media's hashes, size, type and paths, and
    what hash sets say of it. The export is in the audit trail."""
    export_vics_file(ctx, source, scratch)
    return attachment(scratch, f"{source}.vics.json")
