"""One uploaded file, streamed to a scratch file inside the data directory and deleted after.

The multipart body is parsed as it arrives (never held whole in memory, never spooled where
the system keeps temporary files): the part named ``file`` goes to ``<data>/cache/tmp``, and
the upload is refused with 413 as soon as it passes ``max_file_bytes`` (a file that large
would not be read anyway). The file is removed when the request ends, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, BinaryIO

from fastapi import Depends, Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from vident.media.runtime import scratch_dir
from vident.service.errors import Invalid
from vident.web.deps import StateDep
from vident.web.problems import InsufficientStorage, TooLarge

FIELD = "file"
#: Bytes of multipart framing and other fields allowed on top of the file itself.
OVERHEAD = 64 * 1024

#: The OpenAPI description of an upload body, for routes that take one.
UPLOAD_BODY: dict[str, object] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@dataclass(frozen=True)
class Upload:
    """The uploaded file on disk and the name the client gave it (a base name only)."""

    path: Path
    filename: str


@dataclass
class _Part:
    """Parser state: headers of the part being read, and where its bytes go."""

    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    #: Raw header values: multipart headers are bytes (UTF-8 by custom), and decoding them
    #: before parsing would let a character outside latin-1 break the parser.
    headers: dict[str, bytes] = field(default_factory=dict)
    target: BinaryIO | None = None
    written: int = 0
    filename: str | None = None
    found: bool = False


def _base_name(name: str) -> str:
    """The client's file name without any folders (it is shown, never used as a path)."""
    base = PureWindowsPath(PurePosixPath(name).name).name
    return base[:255] or "upload"


def _boundary(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise Invalid(f"send the file as multipart/form-data in a part named {FIELD!r}")
    return options[b"boundary"]


#: Bytes received between two checks of the free disk space.
DISK_CHECK_EVERY = 16 * 1024 * 1024


def _check_disk(folder: Path, needed: int, reserve: int) -> None:
    """InsufficientStorage unless ``needed`` more bytes leave ``reserve`` free."""
    free = shutil.disk_usage(folder).free
    if free - needed < reserve:
        raise InsufficientStorage(
            f"the data directory's disk has {free} bytes free and must keep {reserve}: "
            "free some space or ask an administrator"
        )


async def receive(request: Request, folder: Path, limit: int, reserve: int = 0) -> Upload:
    """Stream the part ``file`` of ``request`` into a new file in ``folder``; refused with
    413 past ``limit`` bytes and with 507 when the disk would keep less than ``reserve``."""
    boundary = _boundary(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + OVERHEAD:
        raise TooLarge(f"the upload is larger than the limit of {limit} bytes")
    folder.mkdir(parents=True, exist_ok=True)
    _check_disk(folder, int(declared) if declared.isdigit() else 0, reserve)
    handle, name = tempfile.mkstemp(prefix="upload-", dir=folder)
    path = Path(name)
    part = _Part()
    with os.fdopen(handle, "wb") as out:

        def on_header_field(data: bytes, start: int, end: int) -> None:
            part.header_field += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            part.header_value += data[start:end]

        def on_header_end() -> None:
            key = part.header_field.decode("latin-1").strip().lower()
            part.headers[key] = bytes(part.header_value)
            part.header_field.clear()
            part.header_value.clear()

        def on_headers_finished() -> None:
            _kind, options = parse_options_header(part.headers.get("content-disposition"))
            if options.get(b"name") == FIELD.encode() and not part.found:
                part.found = True
                part.target = out
                part.filename = _base_name(options.get(b"filename", b"").decode("utf-8", "replace"))

        def on_part_data(data: bytes, start: int, end: int) -> None:
            if part.target is None:
                return
            part.written += end - start
            if part.written > limit:
                raise TooLarge(f"the upload is larger than the limit of {limit} bytes")
            part.target.write(data[start:end])

        def on_part_end() -> None:
            part.target = None
            part.headers.clear()

        parser = MultipartParser(
            boundary,
            {
                "on_header_field": on_header_field,
                "on_header_value": on_header_value,
                "on_header_end": on_header_end,
                "on_headers_finished": on_headers_finished,
                "on_part_data": on_part_data,
                "on_part_end": on_part_end,
            },
        )
        received = checked = 0
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit + OVERHEAD:
                    raise TooLarge(f"the upload is larger than the limit of {limit} bytes")
                if received - checked >= DISK_CHECK_EVERY:
                    checked = received
                    _check_disk(folder, 0, reserve)
                parser.write(chunk)
            parser.finalize()
        except MultipartParseError:
            path.unlink(missing_ok=True)
            raise Invalid("the multipart body is malformed") from None
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    if not part.found:
        path.unlink(missing_ok=True)
        raise Invalid(f"the upload has no part named {FIELD!r}")
    return Upload(path=path, filename=part.filename or "upload")


async def uploaded_file(request: Request, state: StateDep) -> AsyncIterator[Upload]:
    """The request's uploaded file for the length of the request, then deleted."""
    settings = state.settings
    upload = await receive(
        request, scratch_dir(settings), settings.max_file_bytes, settings.disk_reserve_bytes
    )
    try:
        yield upload
    finally:
        upload.path.unlink(missing_ok=True)


UploadDep = Annotated[Upload, Depends(uploaded_file)]


async def uploaded_seizure(request: Request, state: StateDep) -> AsyncIterator[Upload]:
    """A seizure uploaded for ingest (up to ``max_upload_bytes``, keeping the disk reserve)
    for the length of the request, then deleted (the job keeps a sealed copy)."""
    settings = state.settings
    upload = await receive(
        request, scratch_dir(settings), settings.max_upload_bytes, settings.disk_reserve_bytes
    )
    try:
        yield upload
    finally:
        upload.path.unlink(missing_ok=True)


SeizureDep = Annotated[Upload, Depends(uploaded_seizure)]
