"""The ``vident`` command line: init, hashset import, ingest, triage, search, index, export.

Global options (``--data``, ``--db``) come before the command. Errors are one line on
standard error with a non-zero exit status; results go to standard output.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TextIO

import typer
from pydantic import ValidationError
from rich.text import Text

from vident import __version__
from vident.cli_text import LiteralConsole, LiteralTable, literal, visible
from vident.config import Settings

app = typer.Typer(
    name="vident",
    help="Victim-identification database: ingest seizures, recognise known material, triage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
hashset_app = typer.Typer(help="Known hashes imported from elsewhere.", no_args_is_help=True)
index_app = typer.Typer(
    help="The near-duplicate indexes (caches of the store).", no_args_is_help=True
)
export_app = typer.Typer(help="Write data out in exchange formats.", no_args_is_help=True)
app.add_typer(hashset_app, name="hashset")
app.add_typer(index_app, name="index")
app.add_typer(export_app, name="export")

# Every string printed is data (file names are chosen by whoever made the evidence): shown
# literally, control characters visible; style goes through rich.text.Text.
out = LiteralConsole(soft_wrap=True, emoji=False)
err = LiteralConsole(stderr=True, soft_wrap=True, emoji=False)


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class OutFormat(StrEnum):
    table = "table"
    json = "json"


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


#: The settings of the command being run (set once the global options are read).
_active: dict[str, Settings] = {}

#: The largest id the store can hold (a signed 64-bit integer on both backends).
MAX_ID = 2**63 - 1


def _table(*columns: str, title: str | None = None) -> LiteralTable:
    """A table whose cells wrap rather than cut hashes and paths short, and show text as is."""
    table = LiteralTable(title=literal(title) if title is not None else None)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Data directory [env: VIDENT_DATA; default ./vident-data]."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store URL, e.g. postgresql+psycopg://... [env: VIDENT_DB]."),
    ] = None,
    version: Annotated[bool, typer.Option("--version", help="Show the version.")] = False,
) -> None:
    if version:
        out.print(f"vident {__version__}")
        raise typer.Exit()
    overrides: dict[str, Any] = {}
    if data is not None:
        overrides["data"] = data
    if db is not None:
        overrides["db"] = db
    ctx.obj = _load_settings(overrides)
    from vident.media.runtime import keep_inside

    ctx.call_on_close(keep_inside(ctx.obj))  # nothing written outside the data directory


def _fail(message: str) -> NoReturn:
    """Print ``message`` as the one line of a failed command and exit with status 1."""
    err.print(Text("error:", style="bold red"), message)
    raise typer.Exit(1)


def _load_settings(overrides: dict[str, Any]) -> Settings:
    """The settings from the options and ``VIDENT_`` environment, or one line naming the bad one."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        _fail(_invalid_setting(exc, overrides))
    if settings.data.exists() and not settings.data.is_dir():
        _fail(
            f"the data directory {settings.data} is a file: give a directory with --data "
            "or VIDENT_DATA"
        )
    _active["settings"] = settings
    return settings


def _invalid_setting(exc: ValidationError, overrides: dict[str, Any]) -> str:
    """Which option or environment variable holds a bad value, and why it is bad."""
    problem = exc.errors()[0]
    field = str(problem["loc"][0]) if problem["loc"] else "?"
    given = problem.get("input")
    if field in overrides:
        where = f"--{field} {given!r}"
    else:
        where = (
            f"VIDENT_{field.upper()}={given!r}"
            if isinstance(given, str)
            else f"VIDENT_{field.upper()}"
        )
    return f"{where} is not valid ({problem['msg']}): correct it or unset it"


def _current_settings() -> Settings | None:
    """The settings of the command being run, for error messages that name its store or disk."""
    return _active.get("settings")


def _os_failure(exc: OSError) -> str:
    """One line for a failed read or write: the file and the system's reason."""
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        settings = _current_settings()
        if exc.filename:
            where = Path(exc.filename).parent
        else:
            where = settings.data.absolute() if settings is not None else Path.cwd()
        return f"no space left on device in {where}: free space and run the same command again"
    reason = exc.strerror or exc.__class__.__name__
    return f"{exc.filename}: {reason}" if exc.filename else reason


@contextmanager
def _errors() -> Iterator[None]:
    """Turn every expected failure into one clear line and exit status 1.

    Failures of the store, of the disk and of numbers too large for the store are mapped here,
    once, rather than where they happen; what is committed stays committed, so the line can
    always end with what to do next.
    """
    from sqlalchemy.exc import DBAPIError

    from vident.exchange.records import RecordError
    from vident.ingest.lock import DataDirBusy
    from vident.ingest.walk import SourceNotFound
    from vident.store.db import StoreError, store_failure

    try:
        yield
    except (CliError, StoreError, SourceNotFound, DataDirBusy, RecordError) as exc:
        _fail(str(exc))
    except DBAPIError as exc:
        settings = _current_settings()
        _fail(store_failure(exc, settings.database_url if settings is not None else None))
    except OSError as exc:
        _fail(_os_failure(exc))
    except OverflowError:
        _fail(f"a number given is too large: ids go up to {MAX_ID}")
    except KeyboardInterrupt:
        err.print("interrupted: committed work is kept; run the same command again to resume")
        raise typer.Exit(130) from None


def _store(settings: Settings, *, check: bool = True) -> Any:
    from vident.store.db import Store, check_current

    if settings.db is None and not (settings.data / "vident.db").exists():
        raise CliError(
            f"no vident store in {settings.data}: run 'vident --data {settings.data} init' first"
        )
    store = Store(settings.database_url)
    if check:
        check_current(store.engine)
    return store


def _indexes(settings: Settings, store: Any) -> dict[str, Any]:
    from vident.index.near import open_all

    with store.reader() as session:
        return open_all(session, settings.index_dir, settings.pdq_min_quality)


def _signal_names(text: str) -> tuple[str, ...]:
    from vident.signals.registry import parse_signal_names

    try:
        return parse_signal_names(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _named(option: str, value: str) -> str:
    """Refuse an empty or blank name: it would make a source nobody can tell apart or type."""
    if not value.strip():
        raise CliError(f"{option} is empty: give a name (a seizure, exhibit or case)")
    return value


def _check_destination(output: Path) -> None:
    if output.is_dir():
        raise CliError(f"{output} is a directory: give the path of a file to write")
    if not output.parent.is_dir():
        raise CliError(f"the folder {output.parent} does not exist: create it or write elsewhere")


def _write_file(output: Path, write: Callable[[TextIO], int]) -> int:
    """Write ``output`` through a ``.part`` file moved over it at the end.

    A failed or interrupted write removes the ``.part`` file: the output is either complete
    or not there (an earlier complete file stays as it was).
    """
    _check_destination(output)
    tmp = output.with_name(output.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            count = write(handle)
        tmp.replace(output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def _thresholds(settings: Settings) -> dict[str, int]:
    return {"pdq": settings.pdq_threshold}


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the store (or migrate it to this version) and the index directory."""
    settings = _settings(ctx)
    with _errors():
        from vident.store.db import Store, upgrade

        store = Store(settings.database_url)  # a bad URL is refused before anything is made
        settings.data.mkdir(parents=True, exist_ok=True)
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        upgrade(store.engine)
        where = store.engine.url.render_as_string(hide_password=True)
        out.print(f"vident store ready: {where}; data directory {settings.data}")
        store.dispose()


@contextmanager
def _byte_progress(label: str, total: int, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A Rich bar over the bytes of an input file (MB/s, time left); silent when quiet."""
    if quiet:
        yield lambda _count: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err) as progress:
        task = progress.add_task(visible(label), total=max(total, 1))
        yield lambda count: progress.advance(task, count)


@hashset_app.command("import")
def hashset_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV/TSV, plain hex list, or VICS JSON.")],
    name: Annotated[str, typer.Option("--name", help="Name of the hash set.")],
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="Kind of 64-digit hashes in a plain list: sha256 or pdq."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Import known hashes (CSV/TSV with a header, a plain list, or Project VIC VICS JSON).

    Bad records are rejected one by one (the first few shown with their line or record) and the
    rest imported. A file that cannot be read past a point ends with one error line and leaves
    the set marked incomplete; run the same import again after an interruption to finish it.
    """
    settings = _settings(ctx)
    with _errors():
        from vident.exchange.hashlists import detect_format, read_known_records
        from vident.ingest.lock import writer_lock
        from vident.store.hashsets import ImportSummary, check_name, import_records

        if not file.is_file():
            raise CliError(f"{file} is not a file")
        check_name(name)
        store = _store(settings)
        summary = ImportSummary(hashset=name)
        file_format = detect_format(file)
        with writer_lock(settings.data):
            with _byte_progress(
                f"import {file.name} ({file_format})", file.stat().st_size, quiet
            ) as on_bytes:
                try:
                    records = read_known_records(
                        file,
                        text_kind=kind,
                        on_error=summary.reject,
                        on_bytes=on_bytes,
                        max_line=settings.max_hashset_line,
                        max_field=settings.max_hashset_field,
                    )
                except ValueError as exc:  # an unknown --kind
                    raise CliError(str(exc)) from None
                import_records(
                    store,
                    name,
                    records,
                    origin=str(file),
                    file_format=file_format,
                    summary=summary,
                )
            indexes = _indexes(settings, store)
            for index in indexes.values():
                index.save()
        out.print(
            f"hash set {name!r}: {summary.records} records read, {summary.new_entries} new "
            f"entries, {summary.errors} rejected"
        )
        for sample in summary.error_samples:
            err.print(f"  rejected: {sample}", highlight=False)
        unshown = summary.errors - len(summary.error_samples)
        if unshown:
            err.print(f"  ... and {unshown} more rejected", highlight=False)
        if summary.fatal is not None:
            raise CliError(
                f"{summary.fatal}; hash set {name!r} is incomplete: what came before is kept, "
                "mend the file and run the same import again"
            )


@hashset_app.command("list")
def hashset_list(ctx: typer.Context) -> None:
    """List the hash sets, their sizes and whether their last import finished."""
    settings = _settings(ctx)
    with _errors():
        from sqlalchemy import func, select

        from vident.store.models import HashSet, HashSetEntry

        store = _store(settings)
        table = _table("name", "entries", "format", "status", "origin")
        shown_status = {
            "complete": "complete",
            "importing": "incomplete (import running or interrupted; run the same import again)",
            "incomplete": "incomplete (the file could not be read to its end)",
        }
        with store.reader() as session:
            rows = session.execute(
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
            for name, count, fmt, status, origin in rows:
                table.add_row(
                    name, str(count), fmt or "", shown_status.get(status, status), origin or ""
                )
        out.print(table)


@app.command()
def ingest(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Folder, file, zip or tar (gz, bz2, xz).")],
    source: Annotated[str, typer.Option("--source", help="Name of this seizure or exhibit.")],
    case: Annotated[str | None, typer.Option("--case", help="Case it belongs to.")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Worker processes (default: cores).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    signals: Annotated[
        str | None,
        typer.Option(
            "--signals",
            help="Picture signals to compute, e.g. pdq,face (default: all configured; "
            "hashes always). Add the others later with 'vident signals compute'.",
        ),
    ] = None,
) -> None:
    """Load a seizure: hash, decode and store every file; safe to rerun or resume."""
    settings = _settings(ctx)
    with _errors():
        from vident.ingest.pipeline import ingest_source
        from vident.progress import RichProgress

        _named("--source", source)
        if case is not None:
            _named("--case", case)
        kinds = _signal_names(signals) if signals is not None else _signal_names(settings.signals)
        store = _store(settings)
        progress = None if quiet else RichProgress(err)
        summary = ingest_source(
            store,
            settings,
            path,
            source,
            case=case,
            workers=workers,
            progress=progress,
            signals=kinds,
        )
        if quiet:
            return
        rate = summary.files / summary.seconds if summary.seconds else 0.0
        err.print(
            f"source {source!r}: {summary.files} files ingested ({summary.new_media} new media, "
            f"{summary.errors} errors), {summary.skipped} already done, "
            f"{summary.bytes / 1e6:.1f} MB in {summary.seconds:.1f} s ({rate:.1f} files/s)",
            highlight=False,
        )
        for item_path, reason in summary.error_samples[:10]:
            err.print(f"  error: {item_path}: {reason}", highlight=False)
        for note in summary.notes:
            err.print(f"  note: {note}", highlight=False)
        err.print(f"next: vident triage --source {source}", highlight=False)


@app.command()
def triage(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--source", help="Source to triage.")],
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.table,
) -> None:
    """The verdict of every file of a source: known, near, new or error, with reasons."""
    settings = _settings(ctx)
    with _errors():
        from vident.index.catalog import open_indexes
        from vident.match.links import Linker
        from vident.match.triage import VERDICT_ORDER, triage_source
        from vident.store.sources import get_source

        _named("--source", source)
        store = _store(settings)
        with store.reader() as session:
            indexes = open_indexes(session, settings)
            report = triage_source(
                session,
                get_source(session, source),
                indexes.near,
                _thresholds(settings),
                Linker(session, indexes, settings),
            )
        if fmt is Format.json:
            json.dump(report.as_dict(), sys.stdout, indent=1)
            sys.stdout.write("\n")
            return
        items = sorted(report.items, key=lambda i: (VERDICT_ORDER[i.verdict], i.path))
        if fmt is Format.csv:
            writer = csv.writer(sys.stdout)
            writer.writerow(["verdict", "path", "type", "sha256", "reason", "error"])
            for item in items:
                writer.writerow(
                    [
                        item.verdict.value,
                        item.path,
                        item.type,
                        item.sha256 or "",
                        _reason_text(item.reasons),
                        item.error or "",
                    ]
                )
            return
        table = _table("verdict", "path", "type", "reason", title=f"triage of {source}")
        styles = {
            "new": "bold yellow",
            "related": "bold magenta",
            "error": "red",
            "near": "cyan",
            "known": "green",
        }
        for item in items:
            reason = _reason_text(item.reasons) or (item.error or "")
            if item.error and item.reasons:
                reason += f" (also: {item.error})"
            table.add_row(
                literal(item.verdict.value, styles[item.verdict.value]),
                item.path,
                item.type,
                reason,
            )
        out.print(table)
        counts = report.counts
        out.print(
            "  ".join(f"{k}: {counts[k]}" for k in ("new", "related", "near", "known", "error")),
            highlight=False,
        )


def _reason_text(reasons: list[Any]) -> str:
    """The first target and every signal that found it, e.g. 'md5+sha1 -> hash set X'."""
    if not reasons:
        return ""
    first = reasons[0]
    same = [r for r in reasons if (r.hashset, r.media) == (first.hashset, first.media)]
    signals = "+".join(dict.fromkeys(r.signal for r in same))
    if first.signal == "pdq":
        signals += f" distance {first.distance}"
    elif first.score is not None:
        signals += f" score {first.score:.2f}"
    if first.hashset:
        where = f"hash set {first.hashset}"
    else:
        where = f"media {first.media[:12]} in {first.source}"
    details = [
        f"category {first.category}" if first.category else "",
        f"series {first.series}" if first.series else "",
    ]
    text = f"{signals} -> {where}"
    if any(details):
        text += f" ({', '.join(d for d in details if d)})"
    others = len({(r.hashset, r.media) for r in reasons}) - 1
    if others:
        text += f" +{others} more"
    return text


@app.command()
def search(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A picture or any file.")],
    fmt: Annotated[OutFormat, typer.Option("--format", help="table or json.")] = OutFormat.table,
) -> None:
    """What the store knows about one file: exact, near and linked matches, where they were seen."""
    settings = _settings(ctx)
    with _errors():
        from vident.index.catalog import open_indexes
        from vident.ingest.pipeline import limits_of
        from vident.match.links import Linker
        from vident.match.search import search_file

        if not file.is_file():
            raise CliError(f"{file} is not a file")
        store = _store(settings)
        with store.reader() as session:
            linker = Linker(session, open_indexes(session, settings), settings)
            result = search_file(session, file, linker, limits_of(settings))
        if fmt is OutFormat.json:
            json.dump(result.as_dict(), sys.stdout, indent=1)
            sys.stdout.write("\n")
            return
        out.print(
            f"{file}: {result.type}, sha256 {result.sha256 or '-'}, {result.verdict}",
            highlight=False,
        )
        if result.error:
            out.print(f"  could not be fully read: {result.error}", highlight=False)
        if not result.matches:
            out.print("  no match: this file is new to the store")
            return
        table = _table("signal", "distance", "score", "matched", "category", "series", "seen at")
        rows: dict[tuple[Any, ...], list[Any]] = {}
        for match in result.matches:  # one row per target and distance, naming every signal
            r = match.reason
            key = (r.hashset, r.media, r.distance, r.category, r.series)
            rows.setdefault(key, []).append(match)
        for (hashset, media, distance, category, series), group in rows.items():
            signals = "+".join(m.reason.signal for m in group)
            score = next((m.reason.score for m in group if m.reason.score is not None), None)
            matched = f"hash set {hashset}" if hashset else f"media {media}"
            seen = Text("\n").join(literal(f"{s}: {p}") for s, p in group[0].occurrences[:5])
            table.add_row(
                signals,
                str(distance),
                f"{score:.3f}" if score is not None else "",
                matched,
                category or "",
                series or "",
                seen,
            )
        out.print(table)


@index_app.command("rebuild")
def index_rebuild(ctx: typer.Context) -> None:
    """Rebuild every index from the store (the store is the truth)."""
    settings = _settings(ctx)
    with _errors():
        from vident.index.catalog import rebuild_all
        from vident.ingest.lock import writer_lock

        store = _store(settings)
        with writer_lock(settings.data), store.reader() as session:
            for name, size in rebuild_all(session, settings).items():
                out.print(f"index {name}: {size} entries")


@export_app.command("vics")
def export_vics(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--source", help="Source to export.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write (- for stdout).")],
) -> None:
    """Write a source as Project VIC VICS 2.0 JSON (hashes and metadata, never pictures)."""
    settings = _settings(ctx)
    with _errors():
        from vident.exchange.export import export_source
        from vident.store.sources import get_source

        _named("--source", source)
        to_stdout = str(output) == "-"
        if not to_stdout:  # a bad destination is refused before any work is done
            _check_destination(output)
        store = _store(settings)
        with store.reader() as session:
            src = get_source(session, source)
            if to_stdout:
                count = export_source(session, src, sys.stdout)
            else:
                count = _write_file(output, lambda handle: export_source(session, src, handle))
        err.print(f"exported {count} media of {source!r} to {output}", highlight=False)


@app.command()
def sources(ctx: typer.Context) -> None:
    """List the ingested sources."""
    settings = _settings(ctx)
    with _errors():
        from sqlalchemy import func, select

        from vident.store.models import Occurrence, Source

        store = _store(settings)
        table = _table("source", "files", "errors", "status", "origin")
        with store.reader() as session:
            rows = session.execute(
                select(
                    Source.name,
                    func.count(Occurrence.id),
                    func.count(Occurrence.error),
                    Source.status,
                    Source.origin,
                )
                .outerjoin(Occurrence, Occurrence.source_id == Source.id)
                .group_by(Source.id)
                .order_by(Source.id)
            )
            for name, files, errors, status, origin in rows:
                table.add_row(name, str(files), str(errors), status, origin)
        out.print(table)


# Commands that compare and connect media live beside this module; importing it registers them.
from vident import cli_links  # noqa: E402, F401


def main() -> None:
    app()
