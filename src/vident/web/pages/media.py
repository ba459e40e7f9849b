"""One media in detail, and two side by side.

``/media/{sha256}`` shows everything the analyst may see of one stored media: the veiled
preview (revealed on request, zoomed and panned by the page's script; for a video, a strip
of veiled keyframe previews, each revealed on its own), the hashes, camera facts, faces and
recognised text with their boxes drawn over the preview, every place it was seen, why it
matches what is known, its links to other media and the series it is in. A box drawn on the
preview searches that part of the picture or records a clue, through the API.

``/compare?a=...&b=...`` puts two media side by side with the keypoints they share drawn
between them (the script reads the pairs from a ``data-`` attribute: no data in script).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from vident.service.clues import KINDS as CLUE_KINDS
from vident.service.clues import list_clues
from vident.service.compare import MediaFactsOut, compare, media_facts
from vident.service.errors import Invalid
from vident.service.media_lookup import lookup_media
from vident.service.previews import frame_strip
from vident.service.schemas import ReasonOut
from vident.service.similar import find_related_media
from vident.service.triage import Verdict, triage_source
from vident.web.pages.render import _
from vident.web.pages.session import PageRoute, Viewer, ViewerDep

router = APIRouter(include_in_schema=False, route_class=PageRoute)

#: Longest accepted hash parameter (a SHA-256 is 64 hex digits; the service says what is wrong).
SHA_LENGTH = 128
ShaQuery = Annotated[str, Query(max_length=SHA_LENGTH)]


def short(sha256: str) -> str:
    """The first 12 hex digits of a hash: enough to tell media apart on a page."""
    return sha256[:12]


def _verdict(
    viewer: Viewer, facts: MediaFactsOut
) -> tuple[Verdict, Sequence[ReasonOut], str | None]:
    """The media's verdict and reasons in the first source it was seen in (triage compares
    it with what was stored before that source), and that source's name; a media in no
    source the viewer sees gets the verdict a search for its file would get."""
    if facts.places:
        source = facts.places[0].source
        for item in triage_source(viewer.ctx, source).items:
            if item.sha256 == facts.sha256:
                return item.verdict, item.reasons, source
    found = lookup_media(viewer.ctx, facts.sha256)
    # A search finds the stored media itself: that is no reason.
    return found.verdict, [m for m in found.matches if m.media != facts.sha256], None


@router.get("/media/{sha256}")
def media_page(sha256: str, viewer: ViewerDep) -> Response:
    """Everything the viewer may see of one stored media."""
    if len(sha256) > SHA_LENGTH:
        raise Invalid(_("That is not a SHA-256: it has too many characters."))
    facts = media_facts(viewer.ctx, sha256)
    verdict, reasons, triaged = _verdict(viewer, facts)
    related = find_related_media(viewer.ctx, facts.sha256)
    clues = list_clues(viewer.ctx, sha256=facts.sha256).clues
    strip = frame_strip(viewer.ctx, facts.sha256).frames if facts.type == "video" else []
    name = facts.places[0].path if facts.places else facts.sha256
    context: dict[str, object] = {
        "title": _("Media %(sha)s") % {"sha": short(facts.sha256)},
        "facts": facts,
        "verdict": verdict,
        "reasons": reasons,
        "triaged": triaged,
        "name": name,
        "related": related.results,
        "clues": clues,
        "clue_kinds": CLUE_KINDS,
        "strip": strip,
        "short": short,
    }
    return viewer.render("media.html", context)


@router.get("/compare")
def compare_page(viewer: ViewerDep, a: ShaQuery = "", b: ShaQuery = "") -> Response:
    """Two media side by side, with the keypoints they share."""
    if not a.strip() or not b.strip():
        raise Invalid(_("Name two media to compare: /compare?a=SHA-256&b=SHA-256."))
    result = compare(viewer.ctx, a, b)
    sides = [media_facts(viewer.ctx, result.a), media_facts(viewer.ctx, result.b)]
    drawing = {
        "a_size": result.a_size,
        "b_size": result.b_size,
        "pairs": [[*pair.a, *pair.b] for pair in result.pairs],
    }
    context: dict[str, object] = {
        "title": _("Compare %(a)s and %(b)s") % {"a": short(result.a), "b": short(result.b)},
        "result": result,
        "sides": sides,
        "drawing": drawing,
        "short": short,
    }
    return viewer.render("compare.html", context)
