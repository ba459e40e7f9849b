"""Person candidates as face grids: confirm, split, merge, reject, move and label.

``/people`` shows each candidate as a card of veiled face crops (cut from the picture's
preview on the server, see :func:`vident.service.people.face_preview`) with its label, whether
an analyst confirmed it, how many media it is in and the sources and cases of those media.
``/people/{id}`` shows every face of one candidate with the media, source and case it is in,
so an analyst can follow a face to an earlier case.

The pages only read. Decisions go to the REST API from ``static/js/people.js``: a face dragged
onto another card moves there, a card dragged onto another is merged into it, and each drag
has a keyboard way too (a face is a toggle button that Space selects; the toolbar moves or
splits off the selected faces; each card has a "merge into" choice). Viewers get no controls.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from vident.service.people import PersonOut, list_people, show_person
from vident.web.pages.paging import Pager
from vident.web.pages.paging import window as paged
from vident.web.pages.render import _
from vident.web.pages.session import PageRoute, ViewerDep

router = APIRouter(include_in_schema=False, route_class=PageRoute)

#: Person cards on one page of ``/people``.
PAGE_SIZE = 24
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]


def window(people: list[PersonOut], number: int) -> tuple[list[PersonOut], Pager]:
    """Page ``number`` of ``people`` (past the end: the last page) and its pager."""
    return paged(people, number, PAGE_SIZE)


def person_name(person: PersonOut) -> str:
    """How a person is named in a choice: its id, and its label when it has one."""
    if person.label:
        return _("Person %(id)s (%(label)s)") % {"id": person.id, "label": person.label}
    return _("Person %(id)s") % {"id": person.id}


@router.get("/people")
def people_page(viewer: ViewerDep, page: PageNumber = 1) -> Response:
    """Person candidates as cards of veiled faces, a page at a time."""
    people, pager = window(list_people(viewer.ctx).people, page)
    return viewer.render(
        "people.html",
        {"title": _("People"), "people": people, "pager": pager, "person_name": person_name},
    )


@router.get("/people/{person_id}")
def person_page(person_id: int, viewer: ViewerDep) -> Response:
    """One candidate: every face, the media it is in, and that media's source and case."""
    detail = show_person(viewer.ctx, person_id)
    everyone = list_people(viewer.ctx, min_faces=0).people
    person = next((p for p in everyone if p.id == person_id), None)
    others = [p for p in everyone if p.id != person_id]
    return viewer.render(
        "person.html",
        {
            "title": _("Person %(id)s") % {"id": person_id},
            "person": person,
            "person_id": person_id,
            "faces": detail.faces,
            "cases": detail.cases,
            "others": others,
            "person_name": person_name,
        },
    )
