"""Cases and series: the investigation's groupings of material."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from vident.service.case_views import CaseDetailOut, show_case
from vident.service.cases import CaseOut, add_case, list_cases, update_case
from vident.service.schemas import Model
from vident.service.series import (
    SeriesDetailOut,
    SeriesOut,
    add_series,
    add_series_media,
    list_series,
    remove_series_media,
    show_series,
    update_series,
)
from vident.service.series_suggestions import SuggestionListOut, suggest_for_series
from vident.web.deps import ContextDep
from vident.web.paging import Page, PageDep, paged

router = APIRouter(tags=["cases"])

SHARING = "agency, national or international."


class CaseIn(Model):
    name: str = Field(max_length=200, description="The case's name, unique in the store.")
    sharing: str = Field(default="agency", max_length=16, description=SHARING)
    agency: str | None = Field(
        default=None,
        max_length=200,
        description="The owning agency; default: the caller's own (only a system "
        "administrator names another).",
    )


class SeriesIn(Model):
    name: str = Field(max_length=200, description="The series' name, unique in the store.")
    case: str | None = Field(default=None, max_length=200, description="The case it belongs to.")
    sharing: str = Field(default="agency", max_length=16, description=SHARING)
    notes: str | None = Field(default=None, max_length=10_000)


class SeriesPatch(Model):
    """What to change; a field left out (or null) stays as it is."""

    status: str | None = Field(
        default=None,
        max_length=32,
        description="unidentified, victim_identified, offender_identified or closed.",
    )
    sharing: str | None = Field(default=None, max_length=16, description=SHARING)
    notes: str | None = Field(default=None, max_length=10_000)


class SeriesMediaIn(Model):
    sha256: str = Field(max_length=128, description="SHA-256 of a stored media, in hex.")
    how: str = Field(
        default="manual", max_length=16, description="manual, or suggestion (added on a hint)."
    )


@router.get("/cases", response_model=Page[CaseOut])
def get_cases(ctx: ContextDep, page: PageDep) -> Page[CaseOut]:
    """Cases by name, with their owning agency and sharing level."""
    return paged(list_cases(ctx).cases, page)


@router.post("/cases", response_model=CaseOut, status_code=201)
def post_case(body: CaseIn, ctx: ContextDep) -> CaseOut:
    """Open a case owned by an agency and shared as ``sharing`` says."""
    return add_case(ctx, body.name, agency=body.agency, sharing=body.sharing)


@router.get("/cases/{name}", response_model=CaseDetailOut)
def get_case(name: str, ctx: ContextDep) -> CaseDetailOut:
    """One case: its owner, sharing level, and the sources and series gathered under it."""
    return show_case(ctx, name)


@router.get("/series", response_model=Page[SeriesOut])
def get_series_list(ctx: ContextDep, page: PageDep) -> Page[SeriesOut]:
    """Series by name, with their status and how many media each holds."""
    return paged(list_series(ctx).series, page)


@router.post("/series", response_model=SeriesOut, status_code=201)
def post_series(body: SeriesIn, ctx: ContextDep) -> SeriesOut:
    """Start a series (unidentified), optionally within a case."""
    return add_series(ctx, body.name, case=body.case, sharing=body.sharing, notes=body.notes)


@router.get("/series/{name}", response_model=SeriesDetailOut)
def get_series(name: str, ctx: ContextDep) -> SeriesDetailOut:
    """One series and its media, in the order they were added."""
    return show_series(ctx, name)


@router.patch("/series/{name}", response_model=SeriesOut)
def patch_series(name: str, body: SeriesPatch, ctx: ContextDep) -> SeriesOut:
    """Change a series' status, sharing level or notes."""
    return update_series(ctx, name, status=body.status, sharing=body.sharing, notes=body.notes)


@router.post("/series/{name}/media", response_model=SeriesDetailOut)
def post_series_media(name: str, body: SeriesMediaIn, ctx: ContextDep) -> SeriesDetailOut:
    """Put a stored media in the series (already there: nothing changes); the series back."""
    return add_series_media(ctx, name, [body.sha256], how=body.how)


@router.delete("/series/{name}/media/{sha256}", response_model=SeriesDetailOut)
def delete_series_media(name: str, sha256: str, ctx: ContextDep) -> SeriesDetailOut:
    """Take a media out of the series; the series back."""
    return remove_series_media(ctx, name, [sha256])


@router.get("/series/{name}/suggestions", response_model=SuggestionListOut)
def get_series_suggestions(name: str, ctx: ContextDep) -> SuggestionListOut:
    """Media linked to the series' media (near, same room or object, same person) and not in
    it yet, best first; add one with how=suggestion to accept it."""
    return suggest_for_series(ctx, name)


class CasePatch(Model):
    sharing: str = Field(max_length=16, description="agency, national or international.")


@router.patch("/cases/{name}", response_model=CaseOut)
def patch_case(name: str, body: CasePatch, ctx: ContextDep) -> CaseOut:
    """Share a case more or less widely (its owning agency only)."""
    return update_case(ctx, name, sharing=body.sharing)
