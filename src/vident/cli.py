"""The ``vident`` command line: init, hashset import, ingest, triage, search, index, export.

Global options (``--data``, ``--db``) come before the command. Errors are one line on
standard error with a non-zero exit status; results go to standard output. Each command is a
thin shell: it parses its options, calls one use case of :mod:`vident.service` acting as the
data directory's local operator, and renders the model it returns as a table, CSV or JSON.
What the commands share is in :mod:`vident.cli_base`; the compare-and-connect and
administration commands are in :mod:`vident.cli_links` and :mod:`vident.cli_admin`, which this
module imports to register them.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from vident.cli_base import (
    CliError,
    ClusterOption,
    Format,
    OutFormat,
    _context,
    _errors,
    _named,
    _reason_json,
    _settings,
    _signal_names,
    _table,
    app,
    err,
    export_app,
    hashset_app,
    index_app,
    out,
)
from vident.cli_text import literal, visible

if TYPE_CHECKING:
    from vident.service.schemas import ReasonOut
    from vident.service.search import MatchOut

#: ``app`` is the Typer application (tests drive it); ``main`` the console script.
__all__ = ["app", "main"]


@app.command()
def init(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="This instance's name among peers (default: the host's name); fixed once made.",
        ),
    ] = None,
) -> None:
    """Create the store (or migrate it to this version), the index directory and the
    instance's identity (the key pair peers know it by)."""
    settings = _settings(ctx)
    from vident.security.settings import SecuritySettings
    from vident.service.store_admin import init_store

    with _errors():
        ready = init_store(settings, SecuritySettings(), name=name)
    out.print(f"vident store ready: {ready.store}; data directory {ready.data}")
    out.print(f"instance {ready.instance}, key {ready.key} (fingerprint {ready.fingerprint})")


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
    from vident.service.hashsets import import_hashset

    with _errors():
        if not file.is_file():
            raise CliError(f"{file} is not a file")
        with _context(settings) as context:
            summary = import_hashset(
                context,
                file,
                name,
                kind=kind,
                progress=lambda label, total: _byte_progress(label, total, quiet),
            )
        out.print(
            f"hash set {name!r}: {summary.records} records read, {summary.new_entries} new "
            f"entries, {summary.rejected} rejected"
        )
        series = (
            summary.series_created,
            summary.series_updated,
            summary.series_skipped,
            summary.series_media_added,
        )
        if any(series):
            out.print(
                f"series: {series[0]} created, {series[1]} updated, {series[2]} skipped "
                f"(another agency's), {series[3]} stored media suggested for them"
            )
        for sample in summary.rejected_samples:
            err.print(f"  rejected: {sample}", highlight=False)
        unshown = summary.rejected - len(summary.rejected_samples)
        if unshown:
            err.print(f"  ... and {unshown} more rejected", highlight=False)
        if summary.fatal is not None:
            raise CliError(summary.fatal)


#: How each state of a hash set's last import is shown.
_HASHSET_STATUS = {
    "complete": "complete",
    "importing": "incomplete (import running or interrupted; run the same import again)",
    "incomplete": "incomplete (the file could not be read to its end)",
}


@hashset_app.command("list")
def hashset_list(ctx: typer.Context) -> None:
    """List the hash sets, their sizes and whether their last import finished."""
    settings = _settings(ctx)
    from vident.service.hashsets import list_hashsets

    with _errors(), _context(settings) as context:
        found = list_hashsets(context)
    table = _table("name", "entries", "format", "status", "origin")
    for hs in found.hashsets:
        status = _HASHSET_STATUS.get(hs.status, hs.status)
        table.add_row(hs.name, str(hs.entries), hs.format or "", status, hs.origin or "")
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
    cluster: ClusterOption = None,
) -> None:
    """Load a seizure: hash, decode and store every file; safe to rerun or resume."""
    settings = _settings(ctx)
    from vident.progress import RichProgress
    from vident.service.sources import ingest_source

    with _errors():
        _named("--source", source)
        if case is not None:
            _named("--case", case)
        kinds = _signal_names(signals if signals is not None else settings.signals)
        with _context(settings) as context:
            summary = ingest_source(
                context,
                path,
                source,
                case=case,
                workers=workers,
                signals=kinds,
                progress=None if quiet else RichProgress(err),
                cluster=cluster,
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
    for sample in summary.error_samples[:10]:
        err.print(f"  error: {sample.path}: {sample.reason}", highlight=False)
    for note in summary.notes:
        err.print(f"  note: {note}", highlight=False)
    err.print(f"next: vident triage --source {source}", highlight=False)


#: How each verdict is styled in the triage table.
_VERDICT_STYLES = {
    "new": "bold yellow",
    "related": "bold magenta",
    "error": "red",
    "near": "cyan",
    "known": "green",
}


@app.command()
def triage(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--source", help="Source to triage.")],
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.table,
) -> None:
    """The verdict of every file of a source: known, near, new or error, with reasons."""
    settings = _settings(ctx)
    from vident.service.triage import triage_source

    with _errors():
        _named("--source", source)
        with _context(settings) as context:
            report = triage_source(context, source)
    if fmt is Format.json:
        shown = report.model_dump(mode="json")
        for item in shown["items"]:
            item["reasons"] = [_reason_json(r) for r in item["reasons"]]
        json.dump(shown, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    items = report.by_priority()
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
    for item in items:
        reason = _reason_text(item.reasons) or (item.error or "")
        if item.error and item.reasons:
            reason += f" (also: {item.error})"
        verdict = item.verdict.value
        table.add_row(literal(verdict, _VERDICT_STYLES[verdict]), item.path, item.type, reason)
    out.print(table)
    counts = report.counts
    out.print(
        "  ".join(f"{k}: {counts[k]}" for k in ("new", "related", "near", "known", "error")),
        highlight=False,
    )


def _reason_text(reasons: Sequence[ReasonOut]) -> str:
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
        where = f"media {(first.media or '')[:12]} in {first.source}"
    details = [
        f"category {first.category}" if first.category else "",
        f"series {first.series}" if first.series else "",
        first.identified or "",
    ]
    text = f"{signals} -> {where}"
    if any(details):
        text += f" ({', '.join(d for d in details if d)})"
    if first.where:
        text += f"; {first.where}"
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
    from vident.service.search import search_file

    with _errors():
        if not file.is_file():
            raise CliError(f"{file} is not a file")
        with _context(settings) as context:
            result = search_file(context, file)
    if fmt is OutFormat.json:
        shown = result.model_dump(mode="json")
        shown["matches"] = [_reason_json(m) for m in shown["matches"]]
        json.dump(shown, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    out.print(
        f"{file}: {result.type}, sha256 {result.sha256 or '-'}, {result.verdict.value}",
        highlight=False,
    )
    if result.error:
        out.print(f"  could not be fully read: {result.error}", highlight=False)
    if not result.matches:
        out.print("  no match: this file is new to the store")
        return
    table = _table("signal", "distance", "score", "matched", "category", "series", "seen at")
    rows: dict[tuple[str | int | None, ...], list[MatchOut]] = {}
    for match in result.matches:  # one row per target and distance, naming every signal
        key = (match.hashset, match.media, match.distance, match.category, match.series)
        rows.setdefault(key, []).append(match)
    for group in rows.values():
        first = group[0]
        signals = "+".join(m.signal for m in group)
        score = next((m.score for m in group if m.score is not None), None)
        matched = f"hash set {first.hashset}" if first.hashset else f"media {first.media}"
        seen = Text("\n").join(literal(f"{o.source}: {o.path}") for o in first.occurrences[:5])
        table.add_row(
            signals,
            str(first.distance),
            f"{score:.3f}" if score is not None else "",
            matched,
            first.category or "",
            first.series or "",
            seen,
        )
    out.print(table)


@index_app.command("rebuild")
def index_rebuild(ctx: typer.Context) -> None:
    """Rebuild every index from the store (the store is the truth)."""
    settings = _settings(ctx)
    from vident.service.indexes import rebuild_indexes

    with _errors(), _context(settings) as context:
        rebuilt = rebuild_indexes(context)
    for index in rebuilt.indexes:
        out.print(f"index {index.name}: {index.entries} entries")


@export_app.command("vics")
def export_vics(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--source", help="Source to export.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write (- for stdout).")],
) -> None:
    """Write a source as Project VIC VICS 2.0 JSON (hashes and metadata, never pictures)."""
    settings = _settings(ctx)
    from vident.service.exports import check_destination, export_vics_file, export_vics_stream

    with _errors():
        _named("--source", source)
        to_stdout = str(output) == "-"
        if not to_stdout:  # a bad destination is refused before any work is done
            check_destination(output)
        with _context(settings) as context:
            if to_stdout:
                done = export_vics_stream(context, source, sys.stdout)
            else:
                done = export_vics_file(context, source, output)
    err.print(f"exported {done.media} media of {source!r} to {done.destination}", highlight=False)


@app.command()
def sources(ctx: typer.Context) -> None:
    """List the ingested sources."""
    settings = _settings(ctx)
    from vident.service.sources import list_sources

    with _errors(), _context(settings) as context:
        found = list_sources(context)
    table = _table("source", "files", "errors", "status", "origin")
    for src in found.sources:
        table.add_row(src.name, str(src.files), str(src.errors), src.status, src.origin)
    out.print(table)


# The compare-and-connect and administration commands register themselves on ``app`` when
# imported; after the core commands, so that help lists those first.
from vident import cli_admin, cli_cases, cli_links, cli_peers, cli_serve  # noqa: E402

#: The command modules besides this one.
COMMAND_MODULES = (cli_links, cli_admin, cli_serve, cli_cases, cli_peers)


def main() -> None:
    app()
