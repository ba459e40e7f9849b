"""Exports of a source in exchange formats (Project VIC VICS 2.0 JSON: hashes and metadata,
never pictures).

A file is written through a ``.part`` beside it and moved over the destination at the end:
the output is either complete or not there, and an earlier complete file stays as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from vident.exchange.export import export_source
from vident.service.context import Context
from vident.service.errors import Invalid
from vident.service.failures import translated
from vident.service.schemas import Model
from vident.service.scope import check_source
from vident.service.sources import find_source
from vident.service.use_case import WORK_ON_MEDIA, use_case


class ExportOut(Model):
    """How many media of which source went where."""

    source: str
    media: int
    destination: str


def check_destination(output: Path) -> None:
    """Refuse a destination that cannot be a new file, before any work is done."""
    if output.is_dir():
        raise Invalid(f"{output} is a directory: give the path of a file to write")
    if not output.parent.is_dir():
        raise Invalid(f"the folder {output.parent} does not exist: create it or write elsewhere")


@use_case("export.vics", WORK_ON_MEDIA)
def export_vics_file(ctx: Context, source: str, output: Path) -> ExportOut:
    """Write ``source`` as VICS 2.0 JSON to the file ``output``, atomically."""
    check_destination(output)
    tmp = output.with_name(output.name + ".part")
    with translated(ctx.settings.database_url), ctx.store.reader() as session:
        found = check_source(ctx, session, find_source(session, source))
        try:
            with tmp.open("w", encoding="utf-8") as handle:
                count = export_source(session, found, handle)
            tmp.replace(output)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return ExportOut(source=source, media=count, destination=str(output))


@use_case("export.vics", WORK_ON_MEDIA)
def export_vics_stream(ctx: Context, source: str, stream: TextIO) -> ExportOut:
    """Write ``source`` as VICS 2.0 JSON to an open text stream (standard output)."""
    with translated(ctx.settings.database_url), ctx.store.reader() as session:
        found = check_source(ctx, session, find_source(session, source))
        count = export_source(session, found, stream)
    return ExportOut(source=source, media=count, destination="-")
