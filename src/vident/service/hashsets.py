"""Hash sets as a resource: import known hashes from a file, list what is held.

An import is resumable and partial by design: bad records are rejected one by one and the
rest kept; a file that cannot be read past a point leaves the set marked incomplete, and the
result says so rather than raising, so the caller can still show what was imported.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from sqlalchemy import func, select

from vident.exchange.hashlists import detect_format, read_known_records
from vident.index.near import open_all
from vident.ingest.lock import writer_lock
from vident.service.context import Context
from vident.service.errors import Invalid
from vident.service.failures import translated
from vident.service.schemas import Model
from vident.service.use_case import SEE_MEDIA, WORK_ON_MEDIA, use_case
from vident.store.hashsets import ImportSummary, check_name, import_records
from vident.store.models import HashSet, HashSetEntry

#: Told the label and the size in bytes of the file, gives the callback for bytes read.
ByteProgress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


class HashSetOut(Model):
    """One hash set; ``status`` is complete, importing (running or interrupted) or incomplete."""

    name: str
    entries: int
    format: str | None
    status: str
    origin: str | None


class HashSetListOut(Model):
    hashsets: list[HashSetOut]


class HashSetImportOut(Model):
    """What an import did; ``fatal`` is set when the file could not be read to its end."""

    hashset: str
    format: str
    records: int
    new_entries: int
    rejected: int
    #: The first few rejected records, each with its line or record number.
    rejected_samples: list[str]
    fatal: str | None


@use_case("hashset.list", SEE_MEDIA)
def list_hashsets(ctx: Context) -> HashSetListOut:
    """Every hash set by name, with its size and the state of its last import."""
    query = (
        select(
            HashSet.name,
            func.count(HashSetEntry.id),
            HashSet.format,
            HashSet.status,
            HashSet.origin,
        )
        .outerjoin(HashSetEntry, HashSetEntry.hashset_id == HashSet.id)
        .group_by(HashSet.id)
        .order_by(HashSet.name)
    )
    with translated(ctx.settings.database_url), ctx.store.reader() as session:
        rows = session.execute(query).all()
    return HashSetListOut(
        hashsets=[
            HashSetOut(name=name, entries=count, format=fmt, status=status, origin=origin)
            for name, count, fmt, status, origin in rows
        ]
    )


def _no_progress(_label: str, _total: int) -> AbstractContextManager[Callable[[int], None]]:
    return nullcontext(lambda _count: None)


@use_case("hashset.import", WORK_ON_MEDIA)
def import_hashset(
    ctx: Context,
    file: Path,
    name: str,
    *,
    kind: str | None = None,
    progress: ByteProgress = _no_progress,
) -> HashSetImportOut:
    """Import the known hashes of ``file`` (CSV/TSV, a plain list, or VICS JSON) into ``name``.

    ``kind`` names the kind of 64-digit hashes in a plain list (sha256 or pdq). Holds the
    writer lock: new entries are found by consecutive ids, and the PDQ index file is saved.
    """
    settings = ctx.settings
    with translated(ctx.settings.database_url):
        if not file.is_file():
            raise Invalid(f"{file} is not a file")
        check_name(name)
        summary = ImportSummary(hashset=name)
        file_format = detect_format(file)
        with writer_lock(settings.data):
            label = f"import {file.name} ({file_format})"
            with progress(label, file.stat().st_size) as on_bytes:
                try:
                    records = read_known_records(
                        file,
                        text_kind=kind,
                        on_error=summary.reject,
                        on_bytes=on_bytes,
                        max_line=settings.max_hashset_line,
                        max_field=settings.max_hashset_field,
                    )
                except ValueError as exc:  # an unknown kind
                    raise Invalid(str(exc)) from None
                import_records(
                    ctx.store,
                    name,
                    records,
                    origin=str(file),
                    file_format=file_format,
                    summary=summary,
                )
            with ctx.store.reader() as session:
                indexes = open_all(session, settings.index_dir, settings.pdq_min_quality)
            for index in indexes.values():
                index.save()
    fatal = None
    if summary.fatal is not None:
        fatal = (
            f"{summary.fatal}; hash set {name!r} is incomplete: what came before is kept, "
            "mend the file and run the same import again"
        )
    return HashSetImportOut(
        hashset=name,
        format=file_format,
        records=summary.records,
        new_entries=summary.new_entries,
        rejected=summary.errors,
        rejected_samples=list(summary.error_samples),
        fatal=fatal,
    )
