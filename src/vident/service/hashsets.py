"""Hash sets as a resource: import known hashes from a file, list what is held, export one.

An import is resumable and partial by design: bad records are rejected one by one and the
rest kept; a file that cannot be read past a point leaves the set marked incomplete, and the
result says so rather than raising, so the caller can still show what was imported. A VICS
file read to its end also makes the series it names into series of the store
(:mod:`vident.service.vics_series`).

An export writes a set back out as VICS 2.0 JSON, entry by entry, with everything the import
kept (category, series, flags, tags, files, unknown VICS fields): importing the export
elsewhere gives the same entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vident import __version__
from vident.exchange.hashlists import detect_format, read_known_records
from vident.exchange.records import KnownRecord
from vident.exchange.vics import VicsWriter
from vident.index.near import open_all
from vident.ingest.lock import writer_lock
from vident.service.context import Context
from vident.service.errors import Invalid, NotFound
from vident.service.exports import check_destination
from vident.service.failures import translated
from vident.service.schemas import Model
from vident.service.use_case import SEE_MEDIA, WORK_ON_MEDIA, use_case
from vident.service.vics_series import SeriesImportOut, series_from_hashset
from vident.store.hashsets import ImportSummary, check_name, import_records
from vident.store.models import HashSet, HashSetEntry, HashSetHash

#: Entries read from the store at a time while exporting (memory stays flat).
EXPORT_CHUNK = 1000

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
    #: Series a VICS file named: made, moved from unidentified to identified, left alone
    #: (another agency's), and stored media that joined them as suggestions.
    series_created: int = 0
    series_updated: int = 0
    series_skipped: int = 0
    series_media_added: int = 0


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
    origin: str | None = None,
    progress: ByteProgress = _no_progress,
) -> HashSetImportOut:
    """Import the known hashes of ``file`` (CSV/TSV, a plain list, or VICS JSON) into ``name``.

    ``kind`` names the kind of 64-digit hashes in a plain list (sha256 or pdq). ``origin`` is
    recorded as where the set came from (default: the file's path; an upload's scratch copy
    would say nothing). Holds the writer lock: new entries are found by consecutive ids, and
    the PDQ index file is saved.
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
                    origin=origin or str(file),
                    file_format=file_format,
                    summary=summary,
                )
            series = SeriesImportOut()
            if file_format == "vics" and summary.fatal is None:
                series = series_from_hashset(ctx, name)
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
        series_created=series.created,
        series_updated=series.updated,
        series_skipped=series.skipped,
        series_media_added=series.media_added,
    )


class HashSetExportOut(Model):
    """How many entries of which hash set went where."""

    hashset: str
    entries: int
    destination: str


def _entry_records(session: Session, hashset_id: int) -> Iterator[KnownRecord]:
    """Every entry of the set with its hashes, in order of import, a chunk at a time."""
    last_id = 0
    while True:
        entries = session.execute(
            select(
                HashSetEntry.id,
                HashSetEntry.category,
                HashSetEntry.category_scheme,
                HashSetEntry.series,
                HashSetEntry.victim_identified,
                HashSetEntry.offender_identified,
                HashSetEntry.is_distributed,
                HashSetEntry.tags,
                HashSetEntry.comment,
                HashSetEntry.media_size,
                HashSetEntry.mime_type,
                HashSetEntry.files,
                HashSetEntry.extra,
            )
            .where(HashSetEntry.hashset_id == hashset_id, HashSetEntry.id > last_id)
            .order_by(HashSetEntry.id)
            .limit(EXPORT_CHUNK)
        ).all()
        if not entries:
            return
        last_id = entries[-1].id
        hashes: dict[int, dict[str, bytes]] = {row.id: {} for row in entries}
        for entry_id, kind, value in session.execute(
            select(HashSetHash.entry_id, HashSetHash.kind, HashSetHash.value)
            .where(HashSetHash.entry_id.in_(list(hashes)))
            .order_by(HashSetHash.id)
        ):
            hashes[entry_id][kind] = bytes(value)
        for row in entries:
            if not hashes[row.id]:
                continue
            yield KnownRecord(
                hashes=hashes[row.id],
                category=row.category,
                category_scheme=row.category_scheme,
                series=row.series,
                victim_identified=row.victim_identified,
                offender_identified=row.offender_identified,
                is_distributed=row.is_distributed,
                tags=[str(tag) for tag in row.tags or []],
                comment=row.comment,
                media_size=row.media_size,
                mime_type=row.mime_type,
                files=list(row.files or []),
                extra=dict(row.extra or {}),
            )


def _scheme(session: Session, hashset: HashSet) -> str:
    """The one category scheme of the set's entries: a VICS file numbers categories one way."""
    schemes = session.scalars(
        select(HashSetEntry.category_scheme)
        .where(
            HashSetEntry.hashset_id == hashset.id,
            HashSetEntry.category.is_not(None),
            HashSetEntry.category_scheme.is_not(None),
        )
        .distinct()
        .limit(2)
    ).all()
    if len(schemes) > 1:
        raise Invalid(
            f"hash set {hashset.name!r} mixes the category schemes {schemes[0]!r} and "
            f"{schemes[1]!r}, and a VICS file holds one: it cannot be exported as one file"
        )
    return schemes[0] if schemes and schemes[0] else "Default"


@use_case("hashset.export", WORK_ON_MEDIA)
def export_hashset_file(ctx: Context, name: str, output: Path) -> HashSetExportOut:
    """Write hash set ``name`` as VICS 2.0 JSON to the file ``output``, atomically."""
    check_destination(output)
    tmp = output.with_name(output.name + ".part")
    with translated(ctx.settings.database_url), ctx.store.reader() as session:
        hashset = session.scalar(select(HashSet).where(HashSet.name == name))
        if hashset is None:
            raise NotFound(f"no hash set named {name!r}")
        case = {
            "CaseNumber": name,
            "SourceApplicationName": "vident",
            "SourceApplicationVersion": __version__,
        }
        try:
            with (
                tmp.open("w", encoding="utf-8") as handle,
                VicsWriter(handle, case=case, scheme=_scheme(session, hashset)) as writer,
            ):
                for record in _entry_records(session, hashset.id):
                    writer.write(record)
            tmp.replace(output)
        except ValueError as exc:  # an entry VICS cannot hold as stored
            tmp.unlink(missing_ok=True)
            raise Invalid(f"hash set {name!r} cannot be written as VICS: {exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return HashSetExportOut(hashset=name, entries=writer.count, destination=str(output))
