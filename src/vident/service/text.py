"""Full-text search of the text recognised in pictures and keyframes (signs, screens, labels).

A read: no lock, no index. The query language (words, "phrases", prefix*) is the one of
:mod:`vident.match.text_search`, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pydantic import Field

from vident.match.text_search import search_text as find_text
from vident.service.context import Context
from vident.service.errors import Invalid
from vident.service.schemas import Model
from vident.service.scope import seen_sources
from vident.service.use_case import SEE_MEDIA, use_case

__all__ = ["TextHitOut", "TextSearchOut", "search_text"]


class TextHitOut(Model):
    """A media whose recognised text matches, with the matching words in context."""

    sha256: str
    path: str | None = Field(description="Where the media was first seen.")
    source: str | None = Field(description="The source (seizure) it was first seen in.")
    frame: int = Field(description="The keyframe that shows the text; 0 for a picture.")
    score: float = Field(description="Relevance; results are best first.")
    snippet: str


class TextSearchOut(Model):
    query: str
    results: list[TextHitOut]


@use_case("text.search", SEE_MEDIA)
def search_text(ctx: Context, query: str, *, limit: int = 50) -> TextSearchOut:
    """Media whose recognised text matches ``query``, best first, one hit per media."""
    if limit < 1:
        raise Invalid(f"ask for at least one result, not {limit}")
    with ctx.store.reader() as session:
        hits = find_text(session, query, limit=limit)
        # The snippet is the picture's own text: only material the principal sees is shown.
        seen = seen_sources(ctx, session, {h.source for h in hits if h.source is not None})
    hits = [hit for hit in hits if hit.source is None or hit.source in seen]
    return TextSearchOut(
        query=query,
        results=[
            TextHitOut(
                sha256=hit.sha256,
                path=hit.path,
                source=hit.source,
                frame=hit.frame,
                score=round(float(hit.score), 4),
                snippet=hit.snippet,
            )
            for hit in hits
        ],
    )
