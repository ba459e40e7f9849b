"""Search by hash: everything the store knows about a media it already holds.

An investigator who has only a SHA-256 (from a report, a hash set, another agency) asks the
same question as one who uploads the file: the media's stored signals stand in for reading
the file, and :func:`vident.match.search.search_probe` asks the questions search asks, so the
verdict and reasons are those an upload of the same bytes would get. A media the caller's
agency may not see is not found; matches in other agencies' material are redacted as search
redacts them.
"""

from __future__ import annotations

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vident.match import search as matching
from vident.match.links import Linker
from vident.match.probe import probe_media
from vident.match.triage import Verdict
from vident.service.context import Context
from vident.service.errors import NotFound
from vident.service.failures import translated
from vident.service.scope import check_media, hidden_series, redacted, seen_sources
from vident.service.search import MatchOut, OccurrenceOut, SearchOut
from vident.service.similar import parse_sha256
from vident.service.triage import reason_out
from vident.service.use_case import SEE_MEDIA, use_case
from vident.signals.registry import exact_kinds
from vident.store.models import Media, Occurrence, Signal, Source

__all__ = ["StoredMediaOut", "lookup_media"]


class StoredMediaOut(SearchOut):
    """A stored media as search sees it, plus what the store keeps of the media itself.

    ``file`` is the path where the media was first seen (in a source the caller sees).
    """

    size: int = Field(description="Bytes.")
    mime: str | None
    width: int | None
    height: int | None
    sources: list[str] = Field(
        description="Every source holding the media that the caller sees, first seen first."
    )


def _digests(session: Session, media_id: int) -> dict[str, bytes]:
    """The media's exact hashes, which a probe read from the store does not carry."""
    names = [kind.name for kind in exact_kinds()]
    rows = session.execute(
        select(Signal.kind, Signal.value).where(
            Signal.media_id == media_id, Signal.kind.in_(names), Signal.frame == 0
        )
    )
    return {kind: bytes(value) for kind, value in rows}


def _places(session: Session, media_id: int) -> list[tuple[str, str]]:
    """(source, first path in it) of every source holding the media, oldest source first."""
    rows = session.execute(
        select(Source.name, func.min(Occurrence.path))
        .join(Occurrence, Occurrence.source_id == Source.id)
        .where(Occurrence.media_id == media_id)
        .group_by(Source.id, Source.name)
        .order_by(Source.id)
    )
    return [(name, path) for name, path in rows]


@use_case("search.media", SEE_MEDIA)
def lookup_media(ctx: Context, sha256: str) -> StoredMediaOut:
    """Every exact, near and linked match of the stored media ``sha256``, and its verdict."""
    digest = parse_sha256(sha256)
    with translated(ctx.settings.database_url), ctx.store.reader() as session:
        media = session.scalar(select(Media).where(Media.sha256 == digest))
        if media is None:
            raise NotFound(f"no stored media has SHA-256 {digest.hex()}: ingest it first")
        check_media(ctx, session, media.id, digest.hex())
        probe = probe_media(session, digest, ctx.settings.pdq_min_quality)
        probe.digests = _digests(session, media.id)
        probe.error = media.decode_error
        linker = Linker(session, ctx.indexes(session), ctx.settings)
        places = _places(session, media.id)
        result = matching.search_probe(session, probe, linker, "")
        named = {name for name, _ in places}
        named |= {m.reason.source for m in result.matches if m.reason.source}
        named |= {s for m in result.matches for s, _ in m.occurrences}
        seen = seen_sources(ctx, session, named)
        unseen = hidden_series(
            ctx, session, {m.reason.series for m in result.matches if m.reason.series}
        )
        size, mime, width, height = media.size, media.mime, media.width, media.height
    shown = [(name, path) for name, path in places if name in seen]
    return StoredMediaOut(
        file=shown[0][1] if shown else "",
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
        size=size,
        mime=mime,
        width=width,
        height=height,
        sources=[name for name, _ in shown],
    )
