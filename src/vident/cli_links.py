"""Commands that compare and connect: similar, related, text, people, signals compute.

Each command parses its arguments, opens a service context as the local operator, calls one
use case of :mod:`vident.service` and renders the model it returns: JSON as the model dumps
it, tables through literal cells (evidence text is shown escaped, never interpreted).
Registered on the ``vident`` application when :mod:`vident.cli` imports this module.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel, JsonValue

from vident.cli_base import (
    MAX_ID,
    CliError,
    ClusterOption,
    OutFormat,
    _errors,
    _named,
    _settings,
    _table,
    app,
    err,
    out,
)

if TYPE_CHECKING:
    from vident.service.context import Context
    from vident.service.similar import LinkOut, Region

people_app = typer.Typer(
    help="Person candidates: faces clustered across every source, and the analyst's decisions.",
    invoke_without_command=True,
)
signals_app = typer.Typer(
    help="Picture signals of material already ingested.", no_args_is_help=True
)
app.add_typer(people_app, name="people")
app.add_typer(signals_app, name="signals")


@contextmanager
def _service(ctx: typer.Context) -> Iterator[Context]:
    """The command's service context; every failure becomes one line and exit status 1."""
    from vident.service.context import local_operator, open_context
    from vident.service.errors import ServiceError

    with _errors():
        settings = _settings(ctx)
        try:
            context = open_context(settings, local_operator(settings))
        except ServiceError as exc:
            raise CliError(str(exc)) from None
        try:
            yield context
        except ServiceError as exc:
            raise CliError(str(exc)) from None
        finally:
            context.close()


def _print_json(model: BaseModel) -> None:
    json.dump(model.model_dump(mode="json"), sys.stdout, indent=1)
    sys.stdout.write("\n")


def _parse_region(text: str | None) -> Region | None:
    if text is None:
        return None
    try:
        x, y, w, h = (int(part) for part in text.split(","))
    except ValueError:
        raise CliError(f"--region wants x,y,w,h in pixels of the picture, got {text!r}") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise CliError(f"--region {text}: x and y must be >= 0, w and h > 0")
    return x, y, w, h


#: Evidence shown in the table, in this order, when a link has it.
_DETAIL_KEYS = (
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
)


def _detail_text(detail: dict[str, JsonValue]) -> str:
    parts = []
    for key in _DETAIL_KEYS:
        value = detail.get(key)
        if value is not None:
            parts.append(f"{key} {value}" if not isinstance(value, str) else f"{key} {value!r}")
    return ", ".join(parts)


def _results_table(results: list[LinkOut], title: str) -> None:
    table = _table("score", "by", "verdict", "path", "source", "sha256", "evidence", title=title)
    for result in results:
        table.add_row(
            f"{result.score:.3f}",
            result.by,
            result.verdict or "",
            result.path,
            result.source,
            result.sha256[:16],
            "; ".join(t for t in (result.where, _detail_text(result.detail)) if t),
        )
    out.print(table)


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
    from vident.service.similar import BY_CHOICES, find_similar_media

    with _errors():
        if by is not None and by not in BY_CHOICES:
            raise CliError(f"--by {by!r} is not known; choose from {', '.join(BY_CHOICES)}")
        if not file.is_file():
            raise CliError(f"{file} is not a file")
        part = _parse_region(region)
    with _service(ctx) as context:
        found = find_similar_media(context, file, by=by, region=part, top=top)
    if fmt is OutFormat.json:
        _print_json(found)
    elif not found.results:
        out.print(f"{file}: nothing similar in the store")
    else:
        _results_table(found.results, f"similar to {file}" + (f" by {by}" if by else ""))


@app.command()
def related(
    ctx: typer.Context,
    sha256: Annotated[str, typer.Argument(help="SHA-256 of a stored media (see triage).")],
    fmt: Annotated[OutFormat, typer.Option("--format", help="table or json.")] = OutFormat.table,
) -> None:
    """Every strong link of one media: duplicates, same face or person, place, camera, text."""
    from vident.service.similar import find_related_media

    with _service(ctx) as context:
        found = find_related_media(context, sha256)
    if fmt is OutFormat.json:
        _print_json(found)
    elif not found.results:
        out.print(f"{sha256}: no strong link to any other media")
    else:
        _results_table(found.results, f"related to {sha256[:16]}")


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
    from vident.service.text import search_text

    with _service(ctx) as context:
        found = search_text(context, query, limit=limit)
    if fmt is OutFormat.json:
        _print_json(found)
        return
    if not found.results:
        out.print(f"no recognised text matches {query!r}")
        return
    table = _table("path", "source", "text", "sha256", title=f"text matching {query!r}")
    for hit in found.results:
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
    cluster: ClusterOption = None,
) -> None:
    """Add signals to material ingested before (reads the source's files again)."""
    from vident.progress import RichProgress
    from vident.service.signals import compute_signals

    with _errors():
        _named("--source", source)
    with _service(ctx) as context:
        progress = None if quiet else RichProgress(err)
        done = compute_signals(
            context, source, signals, workers=workers, progress=progress, cluster=cluster
        )
    if not quiet:
        err.print(
            f"source {source!r}: {', '.join(done.signals)} computed for {done.files} files "
            f"({done.errors} errors), {done.skipped} already had them, "
            f"in {done.seconds:.1f} s",
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
    from vident.service import people as people_service

    if ctx.invoked_subcommand is not None:
        return
    with _service(ctx) as context:
        found = people_service.list_people(context, min_faces=min_faces)
    if fmt is OutFormat.json:
        _print_json(found)
        return
    if not found.people:
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
    for s in found.people:
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
    with _errors():
        for value in ids:
            if not 0 < value <= MAX_ID:
                raise CliError(f"no {what} {value}: {what} ids run from 1 to {MAX_ID}")


ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor", help="Who decides (default: the data directory's operator, else the login)."
    ),
]


@people_app.command("show")
def people_show(
    ctx: typer.Context,
    person: Annotated[int, typer.Argument(help="Person id (see 'vident people').")],
    fmt: Annotated[OutFormat, typer.Option("--format", help="table or json.")] = OutFormat.table,
) -> None:
    """The faces of one person candidate, weakest first (the ones to check)."""
    from vident.service import people as people_service

    _ids("person", person)
    with _service(ctx) as context:
        found = people_service.show_person(context, person)
    if fmt is OutFormat.json:
        _print_json(found)
        return
    table = _table("face", "similarity", "box", "path", "source", "by analyst")
    for face in found.faces:
        table.add_row(
            str(face.id),
            f"{face.similarity:.3f}" if face.similarity is not None else "",
            ",".join(str(v) for v in face.box),
            face.path or "",
            face.source or "",
            "yes" if face.assigned_by_analyst else "",
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
    from vident.service import people as people_service

    with _service(ctx) as context:
        summary = people_service.cluster_people(context, again=again)
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
    from vident.service import people as people_service

    _ids("person", person)
    with _service(ctx) as context:
        people_service.confirm_person(context, person, actor=actor)
    out.print(f"person {person} confirmed")


@people_app.command("merge")
def people_merge(
    ctx: typer.Context,
    persons: Annotated[list[int], typer.Argument(help="Two or more person ids; the first stays.")],
    actor: ActorOption = None,
) -> None:
    """These candidates are one person."""
    from vident.service import people as people_service

    _ids("person", *persons)
    with _errors():
        if len(persons) < 2:
            raise CliError("merge needs two or more person ids")
    with _service(ctx) as context:
        done = people_service.merge_people(context, persons, actor=actor)
    out.print(f"merged into person {done.person}")


@people_app.command("split")
def people_split(
    ctx: typer.Context,
    person: Annotated[int, typer.Argument()],
    faces: Annotated[list[int], typer.Argument(help="Face ids that are someone else.")],
    actor: ActorOption = None,
) -> None:
    """These faces of PERSON are another person: they move to a new candidate."""
    from vident.service import people as people_service

    _ids("person", person)
    _ids("face", *faces)
    with _service(ctx) as context:
        done = people_service.split_person(context, person, faces, actor=actor)
    out.print(f"faces {' '.join(map(str, faces))} now form person {done.person}")


@people_app.command("reject")
def people_reject(
    ctx: typer.Context, face: Annotated[int, typer.Argument()], actor: ActorOption = None
) -> None:
    """FACE is not a usable face (a false detection, a poster): it joins no person."""
    from vident.service import people as people_service

    _ids("face", face)
    with _service(ctx) as context:
        people_service.reject_face(context, face, actor=actor)
    out.print(f"face {face} rejected")


@people_app.command("move")
def people_move(
    ctx: typer.Context,
    face: Annotated[int, typer.Argument()],
    person: Annotated[int, typer.Argument()],
    actor: ActorOption = None,
) -> None:
    """FACE belongs to PERSON."""
    from vident.service import people as people_service

    _ids("face", face)
    _ids("person", person)
    with _service(ctx) as context:
        people_service.move_face(context, face, person, actor=actor)
    out.print(f"face {face} moved to person {person}")


@people_app.command("label")
def people_label(
    ctx: typer.Context,
    person: Annotated[int, typer.Argument()],
    text: Annotated[str, typer.Argument(help="A code or name; empty to clear.")],
) -> None:
    """Give PERSON the analyst's label (a victim or offender code, a name once identified)."""
    from vident.service import people as people_service

    _ids("person", person)
    with _service(ctx) as context:
        people_service.label_person(context, person, text or None)
    out.print(f"person {person} labelled {text!r}")
