"""Add picture signals to material ingested before, by reading its source again.

This is ingest work, not an analyst's decision: it writes signals, index entries and new
faces in bulk, so it runs as the one writer of the data directory (the ingest pipeline takes
that lock itself) and another job holding it makes this one :class:`Busy`.
"""

from __future__ import annotations

from pydantic import Field

from vident.ingest.pipeline import ProgressSink
from vident.ingest.pipeline import compute_signals as run_compute
from vident.service.context import Context
from vident.service.errors import Invalid, NotFound
from vident.service.failures import translated
from vident.service.schemas import Model
from vident.service.use_case import WORK_ON_MEDIA, use_case
from vident.signals.registry import parse_signal_names
from vident.store.db import StoreError
from vident.store.sources import get_source

__all__ = ["SignalsComputedOut", "compute_signals"]


class SignalsComputedOut(Model):
    """What a run of signal computation did for one source."""

    source: str
    signals: list[str] = Field(description="The kinds computed, in the order asked.")
    files: int = Field(description="Files read and given the signals.")
    errors: int = Field(description="Files that could not be read.")
    skipped: int = Field(description="Files whose media already had every kind asked.")
    seconds: float


@use_case("signals.compute", WORK_ON_MEDIA)
def compute_signals(
    ctx: Context,
    source: str,
    signals: str,
    *,
    workers: int | None = None,
    progress: ProgressSink | None = None,
    cluster: str | None = None,
) -> SignalsComputedOut:
    """Compute ``signals`` (e.g. ``"face,text"``) for the files of ``source``; resumable.

    ``cluster`` is a Dask scheduler's address (or ``local``) whose workers read the files.
    """
    if not source.strip():
        raise Invalid("the source name is empty: give a name (a seizure, exhibit or case)")
    try:
        kinds = parse_signal_names(signals)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if not kinds:
        raise Invalid("no signal named: give one or more, e.g. face,text")
    if workers is not None and workers < 1:
        raise Invalid(f"at least one worker is needed, not {workers}")
    with ctx.store.reader() as session:
        try:
            get_source(session, source)
        except StoreError as exc:
            raise NotFound(str(exc)) from None
    with translated(ctx.settings.database_url):
        summary = run_compute(
            ctx.store,
            ctx.settings,
            source,
            kinds,
            workers=workers,
            progress=progress,
            cluster=cluster,
        )
    return SignalsComputedOut(
        source=source,
        signals=list(kinds),
        files=summary.files,
        errors=summary.errors,
        skipped=summary.skipped,
        seconds=summary.seconds,
    )
