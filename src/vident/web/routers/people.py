"""Person candidates across every source, and analysts' decisions about them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from vident.service.people import (
    DecisionOut,
    PeopleOut,
    PersonFacesOut,
    confirm_person,
    label_person,
    list_people,
    show_person,
)
from vident.service.schemas import Model
from vident.web.deps import ContextDep

router = APIRouter(tags=["people"])


class LabelIn(Model):
    label: str | None = Field(max_length=200, description="The code or name; null clears it.")


@router.get("/people", response_model=PeopleOut)
def get_people(ctx: ContextDep, min_faces: Annotated[int, Query(ge=0)] = 1) -> PeopleOut:
    """Person candidates with at least ``min_faces`` faces."""
    return list_people(ctx, min_faces=min_faces)


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
