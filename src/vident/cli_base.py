"""What every ``vident`` command shares: the app, global options, consoles, errors, tables.

The command modules (:mod:`vident.cli`, :mod:`vident.cli_links`, :mod:`vident.cli_admin`)
import this one and never each other, so there is no import cycle between them. Use cases are
imported inside the commands that call them: ``vident --version`` or a mistyped option should
not pay for loading the store, the indexes and the models.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer
from pydantic import JsonValue, ValidationError
from rich.text import Text

from vident import __version__
from vident.cli_text import LiteralConsole, LiteralTable, literal
from vident.config import Settings

if TYPE_CHECKING:
    from vident.service.context import Context

app = typer.Typer(
    name="vident",
    help="Victim-identification database: ingest seizures, recognise known material, triage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts hold [brackets] that are text, not markup
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


#: ``--cluster`` of the commands that read a source's files (ingest, signals compute).
ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Read the files on a Dask cluster: its scheduler (tcp://HOST:8786), or 'local' "
        "for a cluster of --workers local processes.",
    ),
]


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
    overrides: dict[str, Path | str] = {}
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


def _load_settings(overrides: dict[str, Path | str]) -> Settings:
    """The settings from the options and ``VIDENT_`` environment, or one line naming the bad one."""
    try:
        # Only the options given are passed, so the environment fills in the others.
        settings = Settings(**cast("dict[str, Any]", overrides))
    except ValidationError as exc:
        _fail(_invalid_setting(exc, overrides))
    if settings.data.exists() and not settings.data.is_dir():
        _fail(
            f"the data directory {settings.data} is a file: give a directory with --data "
            "or VIDENT_DATA"
        )
    _active["settings"] = settings
    return settings


def _invalid_setting(exc: ValidationError, overrides: dict[str, Path | str]) -> str:
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
    reason = exc.strerror or str(exc) or exc.__class__.__name__
    return f"{exc.filename}: {reason}" if exc.filename else reason


@contextmanager
def _errors() -> Iterator[None]:
    """Turn every expected failure into one clear line and exit status 1.

    Use cases raise :class:`ServiceError`; what still escapes from below (commands not yet on
    the service layer) is translated the same way here, once. Failures of the disk and of
    numbers too large for the store are mapped here too; what is committed stays committed,
    so the line can always end with what to do next.
    """
    from vident.service.errors import ServiceError
    from vident.service.failures import translated

    settings = _current_settings()
    try:
        with translated(settings.database_url if settings is not None else None):
            yield
    except (CliError, ServiceError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_failure(exc))
    except OverflowError:
        _fail(f"a number given is too large: ids go up to {MAX_ID}")
    except KeyboardInterrupt:
        err.print("interrupted: committed work is kept; run the same command again to resume")
        raise typer.Exit(130) from None


@contextmanager
def _context(settings: Settings) -> Iterator[Context]:
    """The context of one command: the store, acting as the data directory's local operator."""
    from vident.security.settings import SecuritySettings
    from vident.service.context import local_operator, open_context

    # The command line's edge reads the environment, as for Settings (the key passphrase).
    context = open_context(settings, local_operator(settings), SecuritySettings())
    try:
        yield context
    finally:
        context.close()


def _signal_names(text: str) -> tuple[str, ...]:
    from vident.service.sources import signal_names

    return signal_names(text)


def _named(option: str, value: str) -> str:
    """Refuse an empty or blank name: it would make a source nobody can tell apart or type."""
    if not value.strip():
        raise CliError(f"{option} is empty: give a name (a seizure, exhibit or case)")
    return value


def _reason_json(reason: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """A reason as the JSON output has always shown it: a score (4 places) and the evidence
    only when there is one; what follows the reason (a match's occurrences) stays last."""
    from vident.service.schemas import ReasonOut

    shown = dict(reason)
    score = shown.pop("score", None)
    detail = shown.pop("detail", None)
    after = {k: shown.pop(k) for k in list(shown) if k not in ReasonOut.model_fields}
    if isinstance(score, float | int):
        shown["score"] = round(score, 4)
    if detail:
        shown["detail"] = detail
    return {**shown, **after}
