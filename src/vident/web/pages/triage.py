"""The triage grid of a source: new material first, filters, stacks, keyboard categorisation.

``/sources`` lists the sources the analyst sees; each row's verdict counts arrive on their own
(an htmx request per source), so the list stays fast however large the sources are.
``/sources/{name}/triage`` is one page of the grid, filtered by a plain GET form. Changes
(votes, series) go through the REST API from ``static/js/triage.js``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.responses import Response

from vident.service.errors import Invalid
from vident.service.schemas import ReasonOut
from vident.service.series import list_series
from vident.service.sources import list_sources
from vident.service.triage import Verdict, triage_source
from vident.service.triage_view import (
    TYPES,
    TriageFilter,
    category_keys,
    triage_view,
)
from vident.web.pages.render import _
from vident.web.pages.session import PageRoute, ViewerDep

router = APIRouter(include_in_schema=False, route_class=PageRoute)

Choice = Annotated[str | None, Query(max_length=200)]
#: The grid's order, which its verdict filter offers too.
VERDICTS = (Verdict.NEW, Verdict.RELATED, Verdict.ERROR, Verdict.NEAR, Verdict.KNOWN)


def reason_text(reason: ReasonOut | None) -> str:
    """One line saying why an item got its verdict (its first, strongest reason)."""
    if reason is None:
        return ""
    how = reason.signal
    if reason.signal in {"pdq", "vpdq"} and reason.distance:
        how = _("%(signal)s, %(bits)s bits apart") % {
            "signal": reason.signal,
            "bits": reason.distance,
        }
    elif reason.score is not None:
        how = _("%(signal)s, score %(score).2f") % {"signal": reason.signal, "score": reason.score}
    if reason.hashset:
        text = _("%(how)s: in hash set %(set)s") % {"how": how, "set": reason.hashset}
    elif reason.source:
        text = _("%(how)s: like material of %(source)s") % {"how": how, "source": reason.source}
    else:
        text = _("%(how)s: like stored material") % {"how": how}
    if reason.series:
        text += _(" (series %(series)s)") % {"series": reason.series}
    if reason.where:
        text += f"; {reason.where}"
    return text


def _flag(value: str | None, what: str) -> bool | None:
    if value in (None, ""):
        return None
    if value in {"yes", "no"}:
        return value == "yes"
    raise Invalid(_("%(what)s must be yes or no") % {"what": what})


def _page_number(value: str | None) -> int:
    if not value:
        return 1
    try:
        number = int(value)
    except ValueError:
        raise Invalid(_("the page must be a number")) from None
    return min(max(number, 1), 1_000_000)


def _wanted(
    verdict: str | None,
    type: str | None,
    category: str | None,
    face: str | None,
    text: str | None,
    series: str | None,
    page: str | None,
    unreviewed: str | None = None,
) -> TriageFilter:
    chosen = None
    if verdict:
        try:
            chosen = Verdict(verdict)
        except ValueError:
            names = ", ".join(v.value for v in VERDICTS)
            raise Invalid(
                _("no verdict %(v)r: use one of %(names)s") % {"v": verdict, "names": names}
            ) from None
    if type and type not in TYPES:
        raise Invalid(_("no type %(t)r: use image, video or other") % {"t": type})
    return TriageFilter(
        verdict=chosen,
        type=type or None,
        category=category or None,
        face=_flag(face, _("has faces")),
        text=_flag(text, _("has text")),
        series=series or None,
        unreviewed=bool(_flag(unreviewed, _("not reviewed only"))),
        page=_page_number(page),
    )


@router.get("/sources")
def sources_page(viewer: ViewerDep) -> Response:
    """The sources the analyst sees, each with a link to its triage."""
    found = list_sources(viewer.ctx).sources
    return viewer.render("sources.html", {"title": _("Sources"), "sources": found})


@router.get("/sources/{name}/counts")
def source_counts(viewer: ViewerDep, name: str) -> Response:
    """The verdict counts of one source: a fragment the sources list loads per row."""
    report = triage_source(viewer.ctx, name)
    counts = [(v.value, report.counts.get(v.value, 0)) for v in VERDICTS]
    return viewer.render("sources.html", {"fragment": True, "counts": counts, "name": name})


@router.get("/sources/{name}/triage")
def triage_page(
    viewer: ViewerDep,
    name: str,
    verdict: Choice = None,
    type: Choice = None,
    category: Choice = None,
    face: Choice = None,
    text: Choice = None,
    series: Choice = None,
    page: Choice = None,
    unreviewed: Choice = None,
) -> Response:
    """One page of the triage grid of source ``name``."""
    wanted = _wanted(verdict, type, category, face, text, series, page, unreviewed)
    view = triage_view(viewer.ctx, name, wanted)
    filters = {
        "verdict": verdict or "",
        "type": type or "",
        "category": category or "",
        "face": face or "",
        "text": text or "",
        "series": series or "",
        "unreviewed": "yes" if wanted.unreviewed else "",
    }
    kept = {key: value for key, value in filters.items() if value}

    def page_link(number: int) -> str:
        return "?" + urlencode({**kept, "page": number})

    def series_link(name: str) -> str:
        return "?" + urlencode({"series": name})

    reasons = {
        (tile.sha256 or tile.path): reason_text(tile.reason)
        for entry in view.tiles
        for tile in (entry.members if entry.kind == "stack" else [entry])
    }
    my_series = [s.name for s in list_series(viewer.ctx).series] if viewer.can_edit else []
    context: dict[str, object] = {
        "title": _("Triage of %(source)s") % {"source": view.source},
        "view": view,
        "filters": filters,
        "verdicts": [v.value for v in VERDICTS],
        "types": TYPES,
        # The number keys vote in the viewer's agency's scheme (the default without one).
        "keys": category_keys(view.scheme),
        "scheme": view.scheme.name,
        "reasons": reasons,
        "page_link": page_link,
        "series_link": series_link,
        "my_series": my_series,
    }
    return viewer.render("triage.html", context)
