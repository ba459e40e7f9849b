"""What a series could absorb: media that its own media are linked to, offered as suggestions.

A series grows by what its material connects to: a near duplicate, the same room or object,
the same camera, the same person. For every media of the series this asks the same linker as
``related`` and returns, best first, each linked media the principal sees that is not in the
series yet, with the strongest reason and which member led to it. An analyst accepts one by
adding it with ``how="suggestion"`` (recorded as such), so nothing joins a series unseen.
"""

from __future__ import annotations

from sqlalchemy import select

from vident.match.connect import records
from vident.match.connect import related as find_related
from vident.match.links import Linker
from vident.match.probe import probe_media
from vident.service.context import Context
from vident.service.domain import READ
from vident.service.schemas import Model
from vident.service.scope import seen_sources
from vident.service.series import seen_series
from vident.service.similar import LinkOut
from vident.service.use_case import use_case
from vident.store.models import Media
from vident.store.models_cases import SeriesMedia

#: Most members of a series asked for links (the newest first) in one call.
MOST_MEMBERS = 200


class SuggestionOut(Model):
    """A media the series could absorb, why, and the member of the series it is linked to."""

    link: LinkOut
    member: str


class SuggestionListOut(Model):
    series: str
    suggestions: list[SuggestionOut]


@use_case("series.suggestions", READ)
def suggest_for_series(ctx: Context, name: str) -> SuggestionListOut:
    """Media linked to the series' media (near, related, same person) and not in it yet."""
    best: dict[str, SuggestionOut] = {}
    with ctx.store.reader() as session:
        series = seen_series(ctx, session, name)
        members = [
            bytes(sha)
            for sha in session.scalars(
                select(Media.sha256)
                .join(SeriesMedia, SeriesMedia.media_id == Media.id)
                .where(SeriesMedia.series_id == series.id)
                .order_by(SeriesMedia.id.desc())
                .limit(MOST_MEMBERS)
            )
        ]
        inside = {sha.hex() for sha in members}
        linker = Linker(session, ctx.indexes(session), ctx.settings)
        for sha in members:
            probe = probe_media(session, sha, ctx.settings.pdq_min_quality)
            for found in records(session, find_related(linker, probe)):
                link = LinkOut.model_validate(found)
                if link.sha256 in inside:
                    continue
                held = best.get(link.sha256)
                if held is None or link.score > held.link.score:
                    best[link.sha256] = SuggestionOut(link=link, member=sha.hex())
        seen = seen_sources(ctx, session, {s.link.source for s in best.values()})
    shown = [s for s in best.values() if s.link.source in seen]
    shown.sort(key=lambda s: (-s.link.score, s.link.sha256))
    return SuggestionListOut(series=name, suggestions=shown)
