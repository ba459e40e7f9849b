"""Search for one file: what the store knows of it, wherever it was seen.

Unlike triage every source counts, and verified crops are reported even when a hash matched:
search answers "where has this been seen", not "is it new here".
"""

from __future__ import annotations

from pathlib import Path

from vident.ingest.pipeline import limits_of
from vident.match import search as matching
from vident.match.links import Linker
from vident.match.triage import Verdict
from vident.service.context import Context
from vident.service.errors import Invalid
from vident.service.failures import translated
from vident.service.schemas import Model, ReasonOut
from vident.service.scope import hidden_series, redacted, seen_sources
from vident.service.triage import reason_out
from vident.service.use_case import SEE_MEDIA, use_case


class OccurrenceOut(Model):
    """Where the matched media was seen: a source and the path inside it."""

    source: str
    path: str


class MatchOut(ReasonOut):
    """A reason the file matches, plus where the matched media was seen (at most 20 places).

    The reason's fields stay at the top level: one match reads as one flat JSON object.
    """

    occurrences: list[OccurrenceOut]


class SearchOut(Model):
    """The file's identity, its verdict as if a new source held it, and every match."""

    file: str
    sha256: str | None
    type: str
    verdict: Verdict
    error: str | None
    matches: list[MatchOut]


@use_case("search.file", SEE_MEDIA)
def search_file(ctx: Context, file: Path) -> SearchOut:
    """Every exact, near and linked match of ``file`` in any source, and its verdict."""
    if not file.is_file():
        raise Invalid(f"{file} is not a file")
    with translated(ctx.settings.database_url), ctx.store.reader() as session:
        linker = Linker(session, ctx.indexes(session), ctx.settings)
        result = matching.search_file(session, file, linker, limits_of(ctx.settings))
        named = {r.source for m in result.matches for r in [m.reason] if r.source}
        named |= {s for m in result.matches for s, _ in m.occurrences}
        seen = seen_sources(ctx, session, named)
        unseen = hidden_series(
            ctx, session, {m.reason.series for m in result.matches if m.reason.series}
        )
    return SearchOut(
        file=result.file,
        sha256=result.sha256,
        type=result.type,
        verdict=Verdict(result.verdict),
        error=result.error,
        matches=[
            MatchOut(
                **redacted([reason_out(m.reason)], seen, unseen)[0].model_dump(),
                occurrences=[
                    OccurrenceOut(source=s, path=p) for s, p in m.occurrences if s in seen
                ],
            )
            for m in result.matches
        ],
    )
