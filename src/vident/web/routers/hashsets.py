"""Hash sets imported from elsewhere: list, import a hash list, export one as VICS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from vident.service.hashsets import (
    HashSetImportOut,
    HashSetListOut,
    export_hashset_file,
    import_hashset,
    list_hashsets,
)
from vident.web.deps import ContextDep
from vident.web.downloads import JSON_DOWNLOAD, ScratchFileDep, attachment
from vident.web.uploads import UPLOAD_BODY, UploadDep

router = APIRouter(tags=["hashsets"])


@router.get("/hashsets", response_model=HashSetListOut)
def get_hashsets(ctx: ContextDep) -> HashSetListOut:
    """Every hash set, its size and whether its last import finished."""
    return list_hashsets(ctx)


@router.post("/hashsets", response_model=HashSetImportOut, openapi_extra=UPLOAD_BODY)
def post_hashset(
    upload: UploadDep,
    ctx: ContextDep,
    name: Annotated[str, Query(min_length=1, max_length=200, description="The hash set.")],
    kind: Annotated[
        str | None,
        Query(max_length=32, description="Kind of 64-digit hashes in a plain list: sha256, pdq."),
    ] = None,
) -> HashSetImportOut:
    """Import the uploaded hash list (CSV/TSV with a header, plain hex list, or VICS JSON).

    The file is streamed to disk and read record by record, never held in memory. Bad records
    are rejected one by one and the rest kept; ``fatal`` says when the file could not be read
    to its end (the set is then incomplete: send the mended file again). A set that exists
    gains the new entries only.
    """
    return import_hashset(ctx, upload.path, name, kind=kind, origin=upload.filename)


@router.get("/hashsets/{name}/export", response_class=FileResponse, responses=JSON_DOWNLOAD)
def get_hashset_export(name: str, ctx: ContextDep, scratch: ScratchFileDep) -> FileResponse:
    """The hash set as a Project VIC VICS 2.0 JSON file, which every import reads back."""
    export_hashset_file(ctx, name, scratch)
    return attachment(scratch, f"{name}.vics.json")
