"""Cases, series, victims, offenders, locations and clues: lists, details and edit forms.

Every page reads through the service layer as the signed-in analyst and shows only what the
use case returns (a victim's sealed personal details appear only when the service opened them
for this analyst). Every form on these pages sends its change to the REST API; viewers are
shown no forms at all. Names typed by analysts go into links percent-encoded as one path
segment, and into the page only through the templates' autoescaping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Query
from starlette.responses import Response

from vident.service.case_views import show_case
from vident.service.cases import list_cases
from vident.service.clues import KINDS as CLUE_KINDS
from vident.service.clues import STATUSES as CLUE_STATUSES
from vident.service.clues import list_clues
from vident.service.domain import SHARING
from vident.service.locations import list_locations
from vident.service.series import STATUSES as SERIES_STATUSES
from vident.service.series import list_series, show_series
from vident.service.series_suggestions import suggest_for_series
from vident.service.victims import (
    SubjectOut,
    list_offenders,
    list_victims,
    show_offender,
    show_victim,
)
from vident.web.pages.paging import Pager
from vident.web.pages.paging import window as paged
from vident.web.pages.render import _
from vident.web.pages.session import PageRoute, Viewer, ViewerDep

router = APIRouter(include_in_schema=False, route_class=PageRoute)

#: Rows of a list page.
PAGE_SIZE = 100
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
#: Longest text a query field of these pages takes (the API's longest name).
QueryText = Annotated[str | None, Query(max_length=200)]
T = TypeVar("T")


def segment(text: str) -> str:
    """``text`` as one percent-encoded path segment (a ``/`` in a name stays inside it)."""
    return quote(text, safe="")


def window(items: Sequence[T], number: int) -> tuple[list[T], Pager]:
    """Page ``number`` of ``items`` (past the end: the last page) and its pager."""
    return paged(items, number, PAGE_SIZE)


def show(viewer: Viewer, template: str, title: str, **context: object) -> Response:
    """``template`` with what every records page uses: the path quoting and the choices."""
    full: dict[str, object] = {
        "title": title,
        "q": segment,
        "sharing_levels": SHARING,
    }
    full.update(context)
    return viewer.render(template, full)


# --- cases -----------------------------------------------------------------------------------


@router.get("/cases")
def cases_page(viewer: ViewerDep, page: PageNumber = 1) -> Response:
    """Every case the analyst sees, and a form to open one."""
    cases, pager = window(list_cases(viewer.ctx).cases, page)
    return show(viewer, "records_cases.html", _("Cases"), cases=cases, pager=pager)


@router.get("/cases/{name}")
def case_page(name: str, viewer: ViewerDep) -> Response:
    """One case: owner, sharing level (its owner may change it), sources, series, media."""
    detail = show_case(viewer.ctx, name)
    title = _("Case %(name)s") % {"name": detail.case.name}
    return show(viewer, "records_case.html", title, detail=detail)


# --- series ----------------------------------------------------------------------------------


@router.get("/series")
def series_list_page(viewer: ViewerDep, page: PageNumber = 1, case: QueryText = None) -> Response:
    """Every series the analyst sees, and a form to start one (``case`` fills its case)."""
    series, pager = window(list_series(viewer.ctx).series, page)
    case_names = [c.name for c in list_cases(viewer.ctx).cases] if viewer.can_edit else []
    return show(
        viewer,
        "records_series_list.html",
        _("Series"),
        series=series,
        pager=pager,
        case_names=case_names,
        case=case or "",
    )


@router.get("/series/{name}")
def series_page(name: str, viewer: ViewerDep) -> Response:
    """One series: its media as veiled tiles, the victims and offenders seen in it, and the
    media its own media link to, each with a button to add it."""
    detail = show_series(viewer.ctx, name)
    known = detail.series.name
    victims = [v for v in list_victims(viewer.ctx).subjects if known in v.series]
    offenders = [o for o in list_offenders(viewer.ctx).subjects if known in o.series]
    suggestions = suggest_for_series(viewer.ctx, known).suggestions
    return show(
        viewer,
        "records_series.html",
        _("Series %(name)s") % {"name": known},
        detail=detail,
        victims=victims,
        offenders=offenders,
        suggestions=suggestions,
        statuses=SERIES_STATUSES,
    )


# --- victims and offenders -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kind:
    """Victims or offenders: the words and paths of one kind of subject."""

    key: str
    plural: str
    title: str
    new_label: str

    @property
    def path(self) -> str:
        return f"/{self.plural}"


VICTIMS = Kind("victim", "victims", _("Victims"), _("Record a victim"))
OFFENDERS = Kind("offender", "offenders", _("Offenders"), _("Record an offender"))


def _subjects_page(
    viewer: Viewer, kind: Kind, subjects: list[SubjectOut], page: int, series: str | None
) -> Response:
    shown, pager = window(subjects, page)
    series_names = [s.name for s in list_series(viewer.ctx).series] if viewer.can_edit else []
    return show(
        viewer,
        "records_subjects.html",
        kind.title,
        kind=kind,
        subjects=shown,
        pager=pager,
        series=series or "",
        series_names=series_names,
        this_year=date.today().year,
    )


def _subject_page(viewer: Viewer, kind: Kind, subject: SubjectOut) -> Response:
    title = _("%(kind)s %(code)s") % {"kind": kind.key.capitalize(), "code": subject.code}
    return show(viewer, "records_subject.html", title, kind=kind, subject=subject)


@router.get("/victims")
def victims_page(viewer: ViewerDep, page: PageNumber = 1, series: QueryText = None) -> Response:
    """Victims by code with whether and by whom they were identified, and a form to record
    one (``series`` fills the series they appear in)."""
    return _subjects_page(viewer, VICTIMS, list_victims(viewer.ctx).subjects, page, series)


@router.get("/victims/{code}")
def victim_page(code: str, viewer: ViewerDep) -> Response:
    """One victim: identification, series, media, and a form to record the identification."""
    return _subject_page(viewer, VICTIMS, show_victim(viewer.ctx, code))


@router.get("/offenders")
def offenders_page(viewer: ViewerDep, page: PageNumber = 1, series: QueryText = None) -> Response:
    """Offenders by code, as victims are listed."""
    return _subjects_page(viewer, OFFENDERS, list_offenders(viewer.ctx).subjects, page, series)


@router.get("/offenders/{code}")
def offender_page(code: str, viewer: ViewerDep) -> Response:
    """One offender, as a victim is shown."""
    return _subject_page(viewer, OFFENDERS, show_offender(viewer.ctx, code))


# --- locations and clues ---------------------------------------------------------------------


@router.get("/locations")
def locations_page(viewer: ViewerDep, page: PageNumber = 1) -> Response:
    """Every location by name, and a form to record one."""
    locations, pager = window(list_locations(viewer.ctx).locations, page)
    return show(viewer, "records_locations.html", _("Locations"), locations=locations, pager=pager)


@router.get("/clues")
def clues_page(
    viewer: ViewerDep,
    page: PageNumber = 1,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """Clues in the order recorded (optionally of one status), with buttons that move each
    to another status, and a form to record one."""
    clues, pager = window(list_clues(viewer.ctx, status=status or None).clues, page)
    return show(
        viewer,
        "records_clues.html",
        _("Clues"),
        clues=clues,
        pager=pager,
        status=status or "",
        clue_statuses=CLUE_STATUSES,
        clue_kinds=CLUE_KINDS,
    )
