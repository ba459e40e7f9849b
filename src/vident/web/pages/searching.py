"""Search by picture, video, hashes or text; results as a grid with reasons.

The page holds three forms and no results: its script asks the API (``POST /api/v1/search``
with the file, ``GET /api/v1/media/{sha256}`` for each pasted hash, ``GET /api/v1/text``)
and builds the grid of veiled previews from the answers with text nodes only, so a file name
or recognised text full of markup shows as text.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from vident.web.pages.render import _
from vident.web.pages.session import PageRoute, ViewerDep

router = APIRouter(include_in_schema=False, route_class=PageRoute)

#: Most hashes one paste looks up (one API call each).
MOST_HASHES = 50


@router.get("/search")
def search_page(viewer: ViewerDep, q: str = "") -> Response:
    """The search forms; ``q`` fills the text search (a link may carry a word to look for)."""
    context = {"title": _("Search"), "query": q[:1000], "most_hashes": MOST_HASHES}
    return viewer.render("search.html", context)
