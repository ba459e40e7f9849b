"""Person candidates across every source, and analysts' decisions about them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import Field

from vident.service.people import (
    DecisionOut,
    PersonFacesOut,
    PersonOut,
    confirm_person,
    face_preview,
    label_person,
    list_people,
    merge_people,
    move_face,
    reject_face,
    show_person,
    split_person,
)
from vident.service.schemas import Model
from vident.web.deps import ContextDep
from vident.web.paging import Page, PageDep, paged

router = APIRouter(tags=["people"])

#: Most ids one decision may name (a person has rarely more faces than this in one look).
MOST_IDS = 1000


class LabelIn(Model):
    label: str | None = Field(max_length=200, description="The code or name; null clears it.")


class MergeIn(Model):
    people: list[int] = Field(
        min_length=1, max_length=MOST_IDS, description="The other persons, merged into this one."
    )


class SplitIn(Model):
    faces: list[int] = Field(
        min_length=1, max_length=MOST_IDS, description="Faces of this person that are someone else."
    )


class MoveIn(Model):
    person: int = Field(description="The person the face belongs to.")


@router.get("/people", response_model=Page[PersonOut])
def get_people(
    ctx: ContextDep, page: PageDep, min_faces: Annotated[int, Query(ge=0)] = 1
) -> Page[PersonOut]:
    """Person candidates with at least ``min_faces`` faces."""
    return paged(list_people(ctx, min_faces=min_faces).people, page)


@router.get("/people/{person_id}", response_model=PersonFacesOut)
def get_person(person_id: int, ctx: ContextDep) -> PersonFacesOut:
    """The faces of one person, weakest first."""
    return show_person(ctx, person_id)


@router.post("/people/{person_id}/confirm", response_model=DecisionOut)
def post_confirm(person_id: int, ctx: ContextDep) -> DecisionOut:
    """Every face of the person was checked: clustering keeps them together."""
    return confirm_person(ctx, person_id)


@router.post("/people/{person_id}/label", response_model=DecisionOut)
def post_label(person_id: int, body: LabelIn, ctx: ContextDep) -> DecisionOut:
    """Give the person a label (a victim or offender code); null clears it."""
    return label_person(ctx, person_id, body.label)


@router.post("/people/{person_id}/merge", response_model=DecisionOut)
def post_merge(person_id: int, body: MergeIn, ctx: ContextDep) -> DecisionOut:
    """The other persons are this one: it keeps its id and gets every face of theirs."""
    return merge_people(ctx, [person_id, *body.people])


@router.post("/people/{person_id}/split", response_model=DecisionOut)
def post_split(person_id: int, body: SplitIn, ctx: ContextDep) -> DecisionOut:
    """These faces of the person are someone else: they become a new person candidate."""
    return split_person(ctx, person_id, body.faces)


@router.post("/faces/{face_id}/reject", response_model=DecisionOut)
def post_reject(face_id: int, ctx: ContextDep) -> DecisionOut:
    """The face is no usable face (a false detection, a poster): it joins no person."""
    return reject_face(ctx, face_id)


@router.post("/faces/{face_id}/move", response_model=DecisionOut)
def post_move(face_id: int, body: MoveIn, ctx: ContextDep) -> DecisionOut:
    """The face belongs to the given person (a rejected face is taken back)."""
    return move_face(ctx, face_id, body.person)


@router.get(
    "/faces/{face_id}/preview",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "A JPEG, 160 px at most."}},
)
def get_face_preview(
    face_id: int,
    ctx: ContextDep,
    reveal: Annotated[
        bool, Query(description="The face as it is, not veiled (audited as a reveal).")
    ] = False,
) -> Response:
    """The face cut from its picture's preview: greyscale and blurred unless ``reveal``.

    Each reveal is an audit event of its own (``face.reveal``), like a picture's.
    """
    made = face_preview(ctx, face_id, reveal=reveal)
    return Response(
        content=made.content, media_type=made.media_type, headers={"Cache-Control": "no-store"}
    )
