"""Commands of the investigation: case, series, victim, offender, location, clue, category.

Registered on the ``vident`` application when :mod:`vident.cli` imports this module. Each
command calls one use case of :mod:`vident.service` acting as the data directory's local
operator and prints what it returns as a table or, with ``--format json``, as its JSON model.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from vident.cli_base import CliError, OutFormat, _context, _errors, _settings, _table, app, out

if TYPE_CHECKING:
    from vident.service.schemas import Model
    from vident.service.series import SeriesDetailOut
    from vident.service.victims import SubjectListOut, SubjectOut

case_app = typer.Typer(help="Cases, owned by an agency.", no_args_is_help=True)
series_app = typer.Typer(help="Series of material and their status.", no_args_is_help=True)
victim_app = typer.Typer(help="Victims: codes, identification.", no_args_is_help=True)
offender_app = typer.Typer(help="Offenders: codes, identification.", no_args_is_help=True)
location_app = typer.Typer(help="Places material was made or clues point to.", no_args_is_help=True)
clue_app = typer.Typer(
    help="Clues boxed in a media, worked on until resolved.", no_args_is_help=True
)
category_app = typer.Typer(help="Categorisation by agreeing votes.", no_args_is_help=True)
annotation_app = typer.Typer(
    help="Notes on a case, series, victim, offender, location, clue or media.",
    no_args_is_help=True,
)
app.add_typer(case_app, name="case")
app.add_typer(series_app, name="series")
app.add_typer(victim_app, name="victim")
app.add_typer(offender_app, name="offender")
app.add_typer(location_app, name="location")
app.add_typer(clue_app, name="clue")
app.add_typer(category_app, name="category")
app.add_typer(annotation_app, name="annotation")

FormatOption = Annotated[OutFormat, typer.Option("--format", help="table or json.")]
AgencyOption = Annotated[
    str | None,
    typer.Option("--agency", help="The agency (default: the one you act for)."),
]
SharingOption = Annotated[str, typer.Option("--sharing", help="agency, national or international.")]


def _json(model: Model) -> None:
    sys.stdout.write(model.model_dump_json(indent=1) + "\n")


def _when(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{text!r} is not a date: write it as YYYY-MM-DD") from None


# --- case -----------------------------------------------------------------------------------


@case_app.command("add")
def case_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The case's name.")],
    agency: AgencyOption = None,
    sharing: SharingOption = "agency",
) -> None:
    """Open a case owned by an agency."""
    from vident.service.cases import add_case

    with _errors(), _context(_settings(ctx)) as context:
        case = add_case(context, name, agency=agency, sharing=sharing)
    owner = f" owned by {case.agency}" if case.agency else ""
    out.print(f"case {case.name} added{owner}, shared: {case.sharing}", highlight=False)


@case_app.command("share")
def case_share(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The case's name.")],
    sharing: Annotated[str, typer.Argument(help="agency, national or international.")],
) -> None:
    """Share a case more or less widely (its owning agency only)."""
    from vident.service.cases import update_case

    with _errors(), _context(_settings(ctx)) as context:
        case = update_case(context, name, sharing=sharing)
    out.print(f"case {case.name} shared: {case.sharing}", highlight=False)


@case_app.command("list")
def case_list(ctx: typer.Context, fmt: FormatOption = OutFormat.table) -> None:
    """Every case, its owning agency and sharing level."""
    from vident.service.cases import list_cases

    with _errors(), _context(_settings(ctx)) as context:
        found = list_cases(context)
    if fmt is OutFormat.json:
        _json(found)
        return
    table = _table("case", "agency", "sharing", "created")
    for case in found.cases:
        table.add_row(case.name, case.agency or "", case.sharing, _when(case.created_at))
    out.print(table)


# --- series ---------------------------------------------------------------------------------


@series_app.command("add")
def series_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The series' name.")],
    case: Annotated[str | None, typer.Option("--case", help="The case it belongs to.")] = None,
    sharing: SharingOption = "agency",
    notes: Annotated[str | None, typer.Option("--notes", help="Free text.")] = None,
) -> None:
    """Start a series (unidentified)."""
    from vident.service.series import add_series

    with _errors(), _context(_settings(ctx)) as context:
        series = add_series(context, name, case=case, sharing=sharing, notes=notes)
    out.print(f"series {series.name} added ({series.status})", highlight=False)


@series_app.command("list")
def series_list(ctx: typer.Context, fmt: FormatOption = OutFormat.table) -> None:
    """Every series with its status and number of media."""
    from vident.service.series import list_series

    with _errors(), _context(_settings(ctx)) as context:
        found = list_series(context)
    if fmt is OutFormat.json:
        _json(found)
        return
    table = _table("series", "status", "media", "sharing", "case")
    for s in found.series:
        table.add_row(s.name, s.status, str(s.media), s.sharing, s.case or "")
    out.print(table)


@series_app.command("suggestions")
def series_suggestions(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The series' name.")],
    fmt: FormatOption = OutFormat.table,
) -> None:
    """Media linked to the series' media and not in it yet, best first."""
    from vident.service.series_suggestions import suggest_for_series

    with _errors(), _context(_settings(ctx)) as context:
        found = suggest_for_series(context, name)
    if fmt is OutFormat.json:
        _json(found)
        return
    table = _table("sha256", "by", "score", "source", "linked to")
    for s in found.suggestions:
        link = s.link
        table.add_row(link.sha256, link.by, f"{link.score:.3f}", link.source, s.member[:16])
    out.print(table)


def _series_detail(found: SeriesDetailOut, fmt: OutFormat) -> None:
    if fmt is OutFormat.json:
        _json(found)
        return
    s = found.series
    out.print(f"series {s.name}: {s.status}, {s.media} media, shared: {s.sharing}", highlight=False)
    table = _table("sha256", "added by", "added", "how")
    for m in found.media:
        table.add_row(m.sha256, m.added_by, _when(m.added_at), m.how)
    out.print(table)


@series_app.command("show")
def series_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The series.")],
    fmt: FormatOption = OutFormat.table,
) -> None:
    """A series and its media."""
    from vident.service.series import show_series

    with _errors(), _context(_settings(ctx)) as context:
        found = show_series(context, name)
    _series_detail(found, fmt)


@series_app.command("add-media")
def series_add_media(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The series.")],
    sha256: Annotated[list[str], typer.Argument(help="SHA-256 of stored media.")],
    suggestion: Annotated[
        bool, typer.Option("--suggestion", help="Added on a suggestion, not by hand.")
    ] = False,
    fmt: FormatOption = OutFormat.table,
) -> None:
    """Put stored media in a series."""
    from vident.service.series import add_series_media

    with _errors(), _context(_settings(ctx)) as context:
        found = add_series_media(
            context, name, sha256, how="suggestion" if suggestion else "manual"
        )
    _series_detail(found, fmt)


@series_app.command("remove-media")
def series_remove_media(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The series.")],
    sha256: Annotated[list[str], typer.Argument(help="SHA-256 of stored media.")],
    fmt: FormatOption = OutFormat.table,
) -> None:
    """Take media out of a series."""
    from vident.service.series import remove_series_media

    with _errors(), _context(_settings(ctx)) as context:
        found = remove_series_media(context, name, sha256)
    _series_detail(found, fmt)


@series_app.command("status")
def series_status(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The series.")],
    status: Annotated[
        str,
        typer.Argument(help="unidentified, victim_identified, offender_identified or closed."),
    ],
) -> None:
    """Set a series' status."""
    from vident.service.series import update_series

    with _errors(), _context(_settings(ctx)) as context:
        series = update_series(context, name, status=status)
    out.print(f"series {series.name}: {series.status}", highlight=False)


# --- victim and offender ----------------------------------------------------------------------


def _subject_line(subject: SubjectOut) -> str:
    if not subject.identified:
        return f"{subject.kind} {subject.code} (not identified)"
    return (
        f"{subject.kind} {subject.code} identified by {subject.identified_by}, "
        f"{subject.identified_country}, {_when(subject.identified_on)}"
    )


def _subjects(found: SubjectListOut, fmt: OutFormat) -> None:
    if fmt is OutFormat.json:
        _json(found)
        return
    table = _table("code", "identified", "series", "media", "name")
    for s in found.subjects:
        identified = (
            f"by {s.identified_by}, {s.identified_country}, {_when(s.identified_on)}"
            if s.identified
            else "no"
        )
        name = (s.personal.name or "") if s.personal else ""
        table.add_row(s.code, identified, ", ".join(s.series), str(len(s.media)), name)
    out.print(table)


def _add_subject(
    ctx: typer.Context,
    kind: str,
    name: str | None,
    birth_year: int | None,
    notes: str | None,
    series: list[str] | None,
    media: list[str] | None,
    person: int | None,
) -> None:
    from vident.service.victims import PersonalIn, add_offender, add_victim

    add = add_victim if kind == "victim" else add_offender
    with _errors(), _context(_settings(ctx)) as context:
        personal = PersonalIn(name=name, birth_year=birth_year, notes=notes)
        subject = add(context, personal=personal, series=series, media=media, person=person)
    out.print(f"{kind} {subject.code} added", highlight=False)


def _identify(
    ctx: typer.Context,
    kind: str,
    code: str,
    agency: str | None,
    country: str | None,
    on: str | None,
) -> None:
    from vident.service.victims import identify_offender, identify_victim

    identify = identify_victim if kind == "victim" else identify_offender
    with _errors(), _context(_settings(ctx)) as context:
        subject = identify(context, code, agency=agency, country=country, on=_day(on))
    out.print(_subject_line(subject), highlight=False)


NameOption = Annotated[
    str | None, typer.Option("--name", help="Name (encrypted at rest; analysts only).")
]
BirthOption = Annotated[int | None, typer.Option("--birth-year", help="Year of birth.")]
NotesOption = Annotated[str | None, typer.Option("--notes", help="Notes (encrypted at rest).")]
SeriesOption = Annotated[
    list[str] | None, typer.Option("--series", help="A series they appear in (repeatable).")
]
MediaOption = Annotated[
    list[str] | None, typer.Option("--media", help="SHA-256 of a media they appear in.")
]
PersonOption = Annotated[int | None, typer.Option("--person", help="Their person cluster.")]
CountryOption = Annotated[
    str | None, typer.Option("--country", help="Country code (default: the agency's).")
]
OnOption = Annotated[str | None, typer.Option("--on", help="Date, YYYY-MM-DD (default: today).")]
CodeArgument = Annotated[str, typer.Argument(help="The code, e.g. V-2026-0001.")]


@victim_app.command("add")
def victim_add(
    ctx: typer.Context,
    name: NameOption = None,
    birth_year: BirthOption = None,
    notes: NotesOption = None,
    series: SeriesOption = None,
    media: MediaOption = None,
    person: PersonOption = None,
) -> None:
    """Record a victim under a new pseudonymous code."""
    _add_subject(ctx, "victim", name, birth_year, notes, series, media, person)


@victim_app.command("list")
def victim_list(ctx: typer.Context, fmt: FormatOption = OutFormat.table) -> None:
    """Every victim: code, identification, series."""
    from vident.service.victims import list_victims

    with _errors(), _context(_settings(ctx)) as context:
        found = list_victims(context)
    _subjects(found, fmt)


@victim_app.command("identify")
def victim_identify(
    ctx: typer.Context,
    code: CodeArgument,
    agency: AgencyOption = None,
    country: CountryOption = None,
    on: OnOption = None,
) -> None:
    """Mark a victim identified; their series say so in every triage from now on."""
    _identify(ctx, "victim", code, agency, country, on)


@offender_app.command("add")
def offender_add(
    ctx: typer.Context,
    name: NameOption = None,
    birth_year: BirthOption = None,
    notes: NotesOption = None,
    series: SeriesOption = None,
    media: MediaOption = None,
    person: PersonOption = None,
) -> None:
    """Record an offender under a new pseudonymous code."""
    _add_subject(ctx, "offender", name, birth_year, notes, series, media, person)


@offender_app.command("list")
def offender_list(ctx: typer.Context, fmt: FormatOption = OutFormat.table) -> None:
    """Every offender: code, identification, series."""
    from vident.service.victims import list_offenders

    with _errors(), _context(_settings(ctx)) as context:
        found = list_offenders(context)
    _subjects(found, fmt)


@offender_app.command("identify")
def offender_identify(
    ctx: typer.Context,
    code: CodeArgument,
    agency: AgencyOption = None,
    country: CountryOption = None,
    on: OnOption = None,
) -> None:
    """Mark an offender identified."""
    _identify(ctx, "offender", code, agency, country, on)


# --- location -------------------------------------------------------------------------------


@location_app.command("add")
def location_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The place's name.")],
    country: Annotated[str | None, typer.Option("--country", help="Country code.")] = None,
    lat: Annotated[float | None, typer.Option("--lat", help="Latitude, degrees.")] = None,
    lon: Annotated[float | None, typer.Option("--lon", help="Longitude, degrees.")] = None,
    notes: Annotated[str | None, typer.Option("--notes", help="Free text.")] = None,
) -> None:
    """Record a place."""
    from vident.service.locations import add_location

    with _errors(), _context(_settings(ctx)) as context:
        found = add_location(context, name, country=country, lat=lat, lon=lon, notes=notes)
    out.print(f"location {found.id} added: {found.name}", highlight=False)


@location_app.command("list")
def location_list(ctx: typer.Context, fmt: FormatOption = OutFormat.table) -> None:
    """Every place."""
    from vident.service.locations import list_locations

    with _errors(), _context(_settings(ctx)) as context:
        found = list_locations(context)
    if fmt is OutFormat.json:
        _json(found)
        return
    table = _table("id", "name", "country", "lat", "lon", "notes")
    for loc in found.locations:
        table.add_row(
            str(loc.id),
            loc.name,
            loc.country or "",
            "" if loc.lat is None else f"{loc.lat:.6f}",
            "" if loc.lon is None else f"{loc.lon:.6f}",
            loc.notes or "",
        )
    out.print(table)


# --- clue -----------------------------------------------------------------------------------


def _box(text: str | None) -> tuple[int, int, int, int] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise CliError(f"--box {text!r}: write it as x,y,width,height in pixels") from None
    return x, y, w, h


@clue_app.command("add")
def clue_add(
    ctx: typer.Context,
    sha256: Annotated[str, typer.Argument(help="SHA-256 of the stored media.")],
    kind: Annotated[
        str,
        typer.Option("--kind", help="object, logo, text, clothing, landmark, sound or other."),
    ],
    box: Annotated[str | None, typer.Option("--box", help="x,y,width,height in pixels.")] = None,
    agency: AgencyOption = None,
    note: Annotated[str | None, typer.Option("--note", help="What it shows.")] = None,
) -> None:
    """Record a clue in a media."""
    from vident.service.clues import add_clue

    with _errors(), _context(_settings(ctx)) as context:
        clue = add_clue(context, sha256, kind=kind, box=_box(box), agency=agency, note=note)
    out.print(f"clue {clue.id} added ({clue.kind}, {clue.status})", highlight=False)


@clue_app.command("list")
def clue_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    fmt: FormatOption = OutFormat.table,
) -> None:
    """Clues, oldest first."""
    from vident.service.clues import list_clues

    with _errors(), _context(_settings(ctx)) as context:
        found = list_clues(context, status=status)
    if fmt is OutFormat.json:
        _json(found)
        return
    table = _table("id", "media", "kind", "status", "box", "agency", "note")
    for c in found.clues:
        box = ",".join(str(v) for v in c.box) if c.box else ""
        table.add_row(str(c.id), c.media[:16], c.kind, c.status, box, c.agency or "", c.note or "")
    out.print(table)


@clue_app.command("status")
def clue_status(
    ctx: typer.Context,
    clue_id: Annotated[int, typer.Argument(help="The clue's number.")],
    status: Annotated[str, typer.Argument(help="open, in_progress or resolved.")],
) -> None:
    """Set a clue's status."""
    from vident.service.clues import set_clue_status

    with _errors(), _context(_settings(ctx)) as context:
        clue = set_clue_status(context, clue_id, status)
    out.print(f"clue {clue.id}: {clue.status}", highlight=False)


# --- category -------------------------------------------------------------------------------

SchemeOption = Annotated[str, typer.Option("--scheme", help="The scheme, e.g. US or UK-CAID.")]


@category_app.command("vote")
def category_vote(
    ctx: typer.Context,
    sha256: Annotated[str, typer.Argument(help="SHA-256 of the stored media.")],
    category: Annotated[str, typer.Argument(help="The category under the scheme.")],
    scheme: SchemeOption,
    fmt: FormatOption = OutFormat.table,
) -> None:
    """Vote a media's category; it is agreed once enough analysts agree."""
    from vident.service.categories import vote_category

    with _errors(), _context(_settings(ctx)) as context:
        found = vote_category(context, sha256, scheme, category)
    _category(found, fmt)


@category_app.command("show")
def category_show(
    ctx: typer.Context,
    sha256: Annotated[str, typer.Argument(help="SHA-256 of the stored media.")],
    scheme: SchemeOption,
    fmt: FormatOption = OutFormat.table,
) -> None:
    """The votes on a media and its agreed category, if any."""
    from vident.service.categories import show_category

    with _errors(), _context(_settings(ctx)) as context:
        found = show_category(context, sha256, scheme)
    _category(found, fmt)


def _category(found: Model, fmt: OutFormat) -> None:
    from vident.service.categories import CategoryOut

    assert isinstance(found, CategoryOut)
    if fmt is OutFormat.json:
        _json(found)
        return
    agreed = found.agreed or f"none yet ({found.needed} agreeing votes needed)"
    out.print(f"{found.scheme} category: {agreed}", highlight=False)
    table = _table("category", "votes")
    for category, count in found.tally.items():
        table.add_row(category, str(count))
    out.print(table)


AnnotationKind = Annotated[
    str, typer.Argument(help="case, series, victim, offender, location, clue or media.")
]
AnnotationTarget = Annotated[
    int, typer.Argument(help="Its number (the id in the list commands' JSON).")
]


@annotation_app.command("add")
def annotation_add(
    ctx: typer.Context,
    kind: AnnotationKind,
    target: AnnotationTarget,
    text: Annotated[str, typer.Argument(help="The note.")],
) -> None:
    """Leave a note on something of the investigation."""
    from vident.service.clues import add_annotation

    with _errors(), _context(_settings(ctx)) as context:
        note = add_annotation(context, kind, target, text)
    out.print(f"note {note.id} on {note.target_kind} {note.target_id}", highlight=False)


@annotation_app.command("list")
def annotation_list(
    ctx: typer.Context,
    kind: AnnotationKind,
    target: AnnotationTarget,
    fmt: FormatOption = OutFormat.table,
) -> None:
    """The notes on one thing, oldest first."""
    from vident.service.clues import list_annotations

    with _errors(), _context(_settings(ctx)) as context:
        found = list_annotations(context, kind, target)
    if fmt is OutFormat.json:
        _json(found)
        return
    table = _table("id", "at", "author", "text")
    for a in found.annotations:
        table.add_row(str(a.id), f"{a.at:%Y-%m-%d %H:%M}", a.author, a.text)
    out.print(table)
