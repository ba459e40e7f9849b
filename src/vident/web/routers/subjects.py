"""Victims and offenders: pseudonymous codes, identification, sealed personal details.

Personal details are sent in and shown back only as the service allows: analysts and
administrators read them, viewers get ``personal: null``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from vident.service.schemas import Model
from vident.service.victims import (
    PersonalIn,
    SubjectOut,
    add_offender,
    add_victim,
    identify_offender,
    identify_victim,
    list_offenders,
    list_victims,
    show_offender,
    show_victim,
)
from vident.web.deps import ContextDep
from vident.web.paging import Page, PageDep, paged

router = APIRouter(tags=["subjects"])

SeriesName = Annotated[str, Field(max_length=200)]
Sha256 = Annotated[str, Field(max_length=128)]


class PersonalBody(Model):
    """Encrypted at rest, bound to the subject's code; only analysts and administrators
    read it back."""

    name: str | None = Field(default=None, max_length=200)
    birth_year: int | None = None
    notes: str | None = Field(default=None, max_length=10_000)


class SubjectIn(Model):
    personal: PersonalBody | None = None
    series: list[SeriesName] = Field(
        default_factory=list, max_length=100, description="Series they appear in, by name."
    )
    media: list[Sha256] = Field(
        default_factory=list, max_length=1000, description="SHA-256 of media they appear in."
    )
    person: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="Their person candidate, if known."
    )

    def sealed(self) -> PersonalIn | None:
        """The personal details as the service takes them."""
        if self.personal is None:
            return None
        return PersonalIn.model_validate(self.personal.model_dump())


class IdentifyIn(Model):
    agency: str | None = Field(
        default=None,
        max_length=200,
        description="Who identified them; default: the caller's agency.",
    )
    country: str | None = Field(
        default=None, max_length=8, description="ISO 3166-1 alpha-2; default: the agency's."
    )
    on: date | None = Field(default=None, description="When; default: today.")


@router.get("/victims", response_model=Page[SubjectOut])
def get_victims(ctx: ContextDep, page: PageDep) -> Page[SubjectOut]:
    """Victims by code: identification, series and media (personal details as allowed)."""
    return paged(list_victims(ctx).subjects, page)


@router.post("/victims", response_model=SubjectOut, status_code=201)
def post_victim(body: SubjectIn, ctx: ContextDep) -> SubjectOut:
    """Record a victim under a new pseudonymous code."""
    return add_victim(
        ctx, personal=body.sealed(), series=body.series, media=body.media, person=body.person
    )


@router.get("/victims/{code}", response_model=SubjectOut)
def get_victim(code: str, ctx: ContextDep) -> SubjectOut:
    """One victim by code."""
    return show_victim(ctx, code)


@router.post("/victims/{code}/identify", response_model=SubjectOut)
def post_victim_identify(code: str, body: IdentifyIn, ctx: ContextDep) -> SubjectOut:
    """Mark a victim identified; their series say so in every later triage."""
    return identify_victim(ctx, code, agency=body.agency, country=body.country, on=body.on)


@router.get("/offenders", response_model=Page[SubjectOut])
def get_offenders(ctx: ContextDep, page: PageDep) -> Page[SubjectOut]:
    """Offenders by code: identification, series and media (personal details as allowed)."""
    return paged(list_offenders(ctx).subjects, page)


@router.post("/offenders", response_model=SubjectOut, status_code=201)
def post_offender(body: SubjectIn, ctx: ContextDep) -> SubjectOut:
    """Record an offender under a new pseudonymous code."""
    return add_offender(
        ctx, personal=body.sealed(), series=body.series, media=body.media, person=body.person
    )


@router.get("/offenders/{code}", response_model=SubjectOut)
def get_offender(code: str, ctx: ContextDep) -> SubjectOut:
    """One offender by code."""
    return show_offender(ctx, code)


@router.post("/offenders/{code}/identify", response_model=SubjectOut)
def post_offender_identify(code: str, body: IdentifyIn, ctx: ContextDep) -> SubjectOut:
    """Mark an offender identified; their unidentified series become offender_identified."""
    return identify_offender(ctx, code, agency=body.agency, country=body.country, on=body.on)
