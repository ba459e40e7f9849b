"""Commands that compare and connect: similar, related, text, people, signals compute.

Registered on the ``vident`` application when :mod:`vident.cli` imports this module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from vident.cli import (
    MAX_ID,
    CliError,
    OutFormat,
    _errors,
    _named,
    _settings,
    _signal_names,
    _store,
    _table,
    app,
    err,
    out,
)
from vident.config import Settings

people_app = typer.Typer(
    help="Person candidates: faces clustered across every source, and the analyst's decisions.",
    invoke_without_command=True,
)
signals_app = typer.Typer(
    help="Picture signals of material already ingested.", no_args_is_help=True
)
app.add_typer(people_app, name="people")
app.add_typer(signals_app, name="signals")


def _parse_region(text: str | None) -> tuple[int, int, int, int] | None:
    if text is None:
        return None
    try:
        x, y, w, h = (int(part) for part in text.split(","))
    except ValueError:
        raise CliError(f"--region wants x,y,w,h in pixels of the picture, got {text!r}") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise CliError(f"--region {text}: x and y must be >= 0, w and h > 0")
    return x, y, w, h


def _print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=1)
    sys.stdout.write("\n")


def _detail_text(result: dict[str, Any]) -> str:
    detail = result["detail"]
    parts = []
    for key in (
        "distance",
        "relation",
        "inliers",
        "cosine",
        "serial",
        "distance_m",
        "seconds",
        "person_id",
        "query_matched",
        "candidate_matched",
        "text",
        "ts",
    ):
        if key in detail and detail[key] is not None:
            value = detail[key]
            parts.append(f"{key} {value}" if not isinstance(value, str) else f"{key} {value!r}")
    return ", ".join(parts)


def _results_table(results: list[dict[str, Any]], title: str) -> None:
    table = _table("score", "by", "path", "source", "sha256", "evidence", title=title)
    for result in results:
        table.add_row(
            f"{result['score']:.3f}",
            result["by"],
            result["path"],
            result["source"],
            result["sha256"][:16],
            _detail_text(result),
        )
    out.print(table)


def _linker(settings: Settings, store: Any, session: Any) -> Any:
    from vident.index.catalog import open_indexes
    from vident.match.links import Linker

    return Linker(session, open_indexes(session, settings), settings)


@app.command()
def similar(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A picture or a video.")],
    by: Annotated[
        str | None,
        typer.Option("--by", help="pdq, face, scene, text or camera (default: all of them)."),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option("--region", help="x,y,w,h: search by this part of the picture only."),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many results.")] = 10,
    fmt: Annotated[OutFormat, typer.Option("--format", help="table or json.")] = OutFormat.table,
) -> None:
    """Stored media most like FILE: same picture, face, place, text or camera; best first."""
    settings = _settings(ctx)
    with _errors():
        from vident.ingest.pipeline import limits_of
        from vident.match.connect import BY_CHOICES, records
        from vident.match.connect import similar as find_similar
        from vident.match.probe import describe_probe, probe_file
        from vident.media.errors import MediaError

        if by is not None and by not in BY_CHOICES:
            raise CliError(f"--by {by!r} is not known; choose from {', '.join(BY_CHOICES)}")
        if not file.is_file():
            raise CliError(f"{file} is not a file")
        store = _store(settings)
        try:
            probe = probe_file(
                file,
                limits_of(settings),
                region=_parse_region(region),
                min_pdq_quality=settings.pdq_min_quality,
            )
        except MediaError as exc:
            raise CliError(f"cannot read {file}: {exc}") from None
        with store.reader() as session:
            linker = _linker(settings, store, session)
            probe.media_id = _stored_media_id(session, probe.sha256)
            results = records(session, find_similar(linker, probe, by, top))
        if fmt is OutFormat.json:
            _print_json({"query": {**describe_probe(probe), "path": str(file)}, "results": results})
            return
        if not results:
            out.print(f"{file}: nothing similar in the store")
            return
        _results_table(results, f"similar to {file}" + (f" by {by}" if by else ""))


def _stored_media_id(session: Any, sha256: bytes | None) -> int | None:
    from sqlalchemy import select

    from vident.store.models import Media

    if sha256 is None:
        return None
    found: int | None = session.scalar(select(Media.id).where(Media.sha256 == sha256))
    return found


@app.command()
def related(
    ctx: typer.Context,
    sha256: Annotated[str, typer.Argument(help="SHA-256 of a stored media (see triage).")],
    fmt: Annotated[OutFormat, typer.Option("--format", help="table or json.")] = OutFormat.table,
) -> None:
    """Every strong link of one media: duplicates, same face or person, place, camera, text."""
    settings = _settings(ctx)
    with _errors():
        from vident.match.connect import records
        from vident.match.connect import related as find_related
        from vident.match.probe import describe_probe, probe_media

        try:
            digest = bytes.fromhex(sha256.strip())
        except ValueError:
            raise CliError(f"{sha256!r} is not a SHA-256 in hexadecimal") from None
        if len(digest) != 32:
            raise CliError(f"a SHA-256 has 64 hex digits, got {len(sha256.strip())}")
        store = _store(settings)
        with store.reader() as session:
            try:
                probe = probe_media(session, digest, settings.pdq_min_quality)
            except LookupError as exc:
                raise CliError(str(exc)) from None
            linker = _linker(settings, store, session)
            results = records(session, find_related(linker, probe))
        if fmt is OutFormat.json:
            _print_json({"query": describe_probe(probe), "results": results})
            return
        if not results:
            out.print(f"{sha256}: no strong link to any other media")
            return
        _results_table(results, f"related to {sha256[:16]}")


@app.command("text")
def text_search(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(help="Words to find in recognised text; word* for prefixes.")
    ],
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most results.")] = 50,
    fmt: Annotated[OutFormat, typer.Option("--format", help="table or json.")] = OutFormat.table,
) -> None:
    """Media whose recognised text (signs, screens, packaging) matches QUERY."""
    settings = _settings(ctx)
    with _errors():
        from vident.match.text_search import search_text

        store = _store(settings)
        with store.reader() as session:
            hits = search_text(session, query, limit=limit)
        rows = [
            {
                "sha256": hit.sha256,
                "path": hit.path,
                "source": hit.source,
                "frame": hit.frame,
                "score": round(float(hit.score), 4),
                "snippet": hit.snippet,
            }
            for hit in hits
        ]
        if fmt is OutFormat.json:
            _print_json({"query": query, "results": rows})
            return
        if not rows:
            out.print(f"no recognised text matches {query!r}")
            return
        table = _table("path", "source", "text", "sha256", title=f"text matching {query!r}")
        for hit in hits:
            table.add_row(hit.path or "", hit.source or "", hit.snippet, hit.sha256[:16])
        out.print(table)


@signals_app.command("compute")
def signals_compute(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--source", help="Source ingested before.")],
    signals: Annotated[str, typer.Option("--signals", help="Signals to add, e.g. face,text.")],
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Worker processes (default: cores).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Add signals to material ingested before (reads the source's files again)."""
    settings = _settings(ctx)
    with _errors():
        from vident.ingest.pipeline import compute_signals
        from vident.progress import RichProgress

        _named("--source", source)
        kinds = _signal_names(signals)
        store = _store(settings)
        summary = compute_signals(
            store,
            settings,
            source,
            kinds,
            workers=workers,
            progress=None if quiet else RichProgress(err),
        )
        if not quiet:
            err.print(
                f"source {source!r}: {', '.join(kinds)} computed for {summary.files} files "
                f"({summary.errors} errors), {summary.skipped} already had them, "
                f"in {summary.seconds:.1f} s",
                highlight=False,
            )


@people_app.callback()
def people(
    ctx: typer.Context,
    min_faces: Annotated[
        int, typer.Option("--min-faces", min=1, help="Hide candidates with fewer faces.")
    ] = 1,
    fmt: Annotated[OutFormat, typer.Option("--format", help="table or json.")] = OutFormat.table,
) -> None:
    """Person candidates across every source (show, confirm, split, merge, reject, label)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(ctx)
    with _errors():
        from dataclasses import asdict

        from vident.cases.people import list_people

        store = _store(settings)
        with store.reader() as session:
            summaries = list_people(session, _face_model(), min_faces=min_faces)
        if fmt is OutFormat.json:
            _print_json({"people": [asdict(s) for s in summaries]})
            return
        if not summaries:
            out.print("no person candidates yet: ingest pictures with faces (signal 'face')")
            return
        table = _table(
            "person",
            "label",
            "confirmed",
            "faces",
            "media",
            "sources",
            "sample faces",
            title="person candidates",
        )
        for s in summaries:
            table.add_row(
                str(s.id),
                s.label or "",
                "yes" if s.confirmed else "",
                str(s.faces),
                str(s.media),
                ", ".join(s.sources),
                " ".join(str(f) for f in s.sample_faces),
            )
        out.print(table)
        out.print("next: vident people show PERSON; confirm, split, merge, reject, move, label")


def _ids(what: str, *ids: int) -> None:
    """Refuse ids the store cannot hold (64-bit signed) before a query trips over them."""
    for value in ids:
        if not 0 < value <= MAX_ID:
            raise CliError(f"no {what} {value}: {what} ids run from 1 to {MAX_ID}")


def _face_model() -> str:
    from vident.signals.registry import get

    return get("face").model


def _actor(actor: str | None) -> str:
    import getpass

    return actor or getpass.getuser()


ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Who decides (default: the login name).")
]


def _people_write(ctx: typer.Context, action: Any) -> Any:
    """Run one analyst action in one transaction, under the data directory's writer lock."""
    settings = _settings(ctx)
    from vident.ingest.lock import writer_lock

    store = _store(settings)
    with writer_lock(settings.data), store.session() as session:
        return action(session)


@people_app.command("show")
def people_show(
    ctx: typer.Context,
    person: Annotated[int, typer.Argument(help="Person id (see 'vident people').")],
    fmt: Annotated[OutFormat, typer.Option("--format", help="table or json.")] = OutFormat.table,
) -> None:
    """The faces of one person candidate, weakest first (the ones to check)."""
    settings = _settings(ctx)
    with _errors():
        from dataclasses import asdict

        from vident.cases.people import person_faces
        from vident.match.links import describe_media

        _ids("person", person)

        store = _store(settings)
        with store.reader() as session:
            faces = person_faces(session, person)
            refs = describe_media(session, (f.media_id for f in faces))
        rows = []
        for face in faces:
            ref = refs.get(face.media_id)
            rows.append(
                {
                    **asdict(face),
                    "sha256": ref.sha256.hex() if ref else None,
                    "path": ref.path if ref else None,
                    "source": ref.source if ref else None,
                }
            )
        if fmt is OutFormat.json:
            _print_json({"person": person, "faces": rows})
            return
        table = _table("face", "similarity", "box", "path", "source", "by analyst")
        for row in rows:
            similarity = row["similarity"]
            table.add_row(
                str(row["id"]),
                f"{similarity:.3f}" if similarity is not None else "",
                ",".join(str(v) for v in row["box"]),
                row["path"] or "",
                row["source"] or "",
                "yes" if row["assigned_by_analyst"] else "",
            )
        out.print(table)


@people_app.command("cluster")
def people_cluster(
    ctx: typer.Context,
    again: Annotated[
        bool, typer.Option("--again", help="Recluster every face (analyst decisions are kept).")
    ] = False,
) -> None:
    """Put faces without a person into person candidates (ingest does this by itself)."""
    with _errors():
        from vident.cases.people import cluster_configured

        summary = _people_write(ctx, lambda session: cluster_configured(session, again=again))
        out.print(
            f"{summary.faces} faces: {summary.joined} joined existing people, "
            f"{summary.new_persons} new candidates",
            highlight=False,
        )


@people_app.command("confirm")
def people_confirm(
    ctx: typer.Context, person: Annotated[int, typer.Argument()], actor: ActorOption = None
) -> None:
    """An analyst checked every face of PERSON: clustering will never break it up."""
    with _errors():
        from vident.cases.people import confirm

        _ids("person", person)

        _people_write(ctx, lambda session: confirm(session, person, _actor(actor)))
        out.print(f"person {person} confirmed")


@people_app.command("merge")
def people_merge(
    ctx: typer.Context,
    persons: Annotated[list[int], typer.Argument(help="Two or more person ids; the first stays.")],
    actor: ActorOption = None,
) -> None:
    """These candidates are one person."""
    with _errors():
        from vident.cases.people import merge

        _ids("person", *persons)

        if len(persons) < 2:
            raise CliError("merge needs two or more person ids")
        kept = _people_write(ctx, lambda session: merge(session, persons, _actor(actor)).id)
        out.print(f"merged into person {kept}")


@people_app.command("split")
def people_split(
    ctx: typer.Context,
    person: Annotated[int, typer.Argument()],
    faces: Annotated[list[int], typer.Argument(help="Face ids that are someone else.")],
    actor: ActorOption = None,
) -> None:
    """These faces of PERSON are another person: they move to a new candidate."""
    with _errors():
        from vident.cases.people import split

        _ids("person", person)
        _ids("face", *faces)

        new = _people_write(ctx, lambda session: split(session, person, faces, _actor(actor)).id)
        out.print(f"faces {' '.join(map(str, faces))} now form person {new}")


@people_app.command("reject")
def people_reject(
    ctx: typer.Context, face: Annotated[int, typer.Argument()], actor: ActorOption = None
) -> None:
    """FACE is not a usable face (a false detection, a poster): it joins no person."""
    with _errors():
        from vident.cases.people import reject_face

        _ids("face", face)

        _people_write(ctx, lambda session: reject_face(session, face, _actor(actor)))
        out.print(f"face {face} rejected")


@people_app.command("move")
def people_move(
    ctx: typer.Context,
    face: Annotated[int, typer.Argument()],
    person: Annotated[int, typer.Argument()],
    actor: ActorOption = None,
) -> None:
    """FACE belongs to PERSON."""
    with _errors():
        from vident.cases.people import move_face

        _ids("face", face)
        _ids("person", person)

        _people_write(ctx, lambda session: move_face(session, face, person, _actor(actor)))
        out.print(f"face {face} moved to person {person}")


@people_app.command("label")
def people_label(
    ctx: typer.Context,
    person: Annotated[int, typer.Argument()],
    text: Annotated[str, typer.Argument(help="A code or name; empty to clear.")],
) -> None:
    """Give PERSON the analyst's label (a victim or offender code, a name once identified)."""
    with _errors():
        from vident.cases.people import label

        _ids("person", person)

        _people_write(ctx, lambda session: label(session, person, text or None))
        out.print(f"person {person} labelled {text!r}")
