"""Each agency's category scheme: what the triage grid's number keys vote for."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from vident.service.category_schemes import (
    CODE_LONGEST,
    LABEL_LONGEST,
    MOST_CATEGORIES,
    NAME_LONGEST,
    CategoryIn,
    SchemeOut,
    set_agency_scheme,
    show_agency_scheme,
)
from vident.service.schemas import Model
from vident.web.deps import ContextDep

router = APIRouter(tags=["categories"])

#: Longest ``key=code=label`` line: a key, two separators, a code and a label.
LINE_LONGEST = 1 + 2 + CODE_LONGEST + LABEL_LONGEST


class SchemeCategoryIn(Model):
    key: str = Field(min_length=1, max_length=8, description='The number key, "0" to "9".')
    code: str = Field(
        min_length=1, max_length=CODE_LONGEST, description="What a vote records (such as A)."
    )
    label: str = Field(
        min_length=1, max_length=LABEL_LONGEST, description="What the grid's legend says."
    )


CategoryLine = Annotated[str, Field(min_length=1, max_length=LINE_LONGEST)]


class SchemeIn(Model):
    name: str = Field(
        min_length=1, max_length=NAME_LONGEST, description="The scheme's name (such as UK-CAID)."
    )
    categories: list[SchemeCategoryIn | CategoryLine] = Field(
        min_length=1,
        max_length=MOST_CATEGORIES,
        description='Each category as {"key", "code", "label"}, or as one line key=code=label.',
    )


@router.get("/agencies/{name}/scheme", response_model=SchemeOut)
def get_scheme(name: str, ctx: ContextDep) -> SchemeOut:
    """The category scheme the agency's number keys vote in (the default when it chose none)."""
    return show_agency_scheme(ctx, name)


@router.put("/agencies/{name}/scheme", response_model=SchemeOut)
def put_scheme(name: str, body: SchemeIn, ctx: ContextDep) -> SchemeOut:
    """Give the agency a category scheme; an agency administrator sets their own agency's."""
    categories: list[CategoryIn] = [
        item if isinstance(item, str) else (item.key, item.code, item.label)
        for item in body.categories
    ]
    return set_agency_scheme(ctx, name, body.name, categories)
