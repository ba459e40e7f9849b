"""Files a route writes for the client to download: written in the data directory's scratch
folder, sent, then deleted.

An export is written to a file by its use case (audited, atomic) before the response starts,
so a failure is still a problem JSON answer and never a download cut short; the file is then
streamed from disk, so memory does not grow with its size, and removed when the request ends,
whatever happened.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import Depends
from fastapi.responses import FileResponse

from vident.media.runtime import scratch_dir
from vident.web.deps import StateDep

JSON = "application/json"

#: The OpenAPI description of a JSON file download.
JSON_DOWNLOAD: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The file, as an attachment.",
        "content": {JSON: {"schema": {"type": "string", "format": "binary"}}},
    }
}


def scratch_file(state: StateDep) -> Iterator[Path]:
    """A new path in the scratch folder for the length of the request, then deleted."""
    folder = scratch_dir(state.settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"download-{secrets.token_hex(8)}"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


ScratchFileDep = Annotated[Path, Depends(scratch_file, scope="request")]


def attachment(path: Path, filename: str, media_type: str = JSON) -> FileResponse:
    """``path`` sent as a download the client saves under ``filename``."""
    return FileResponse(path, media_type=media_type, filename=filename)
