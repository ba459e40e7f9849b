"""Pagination, sorting and a text filter for list routes, the same way everywhere.

A list route takes :data:`PageDep` and returns :class:`Page` of its item model: ``limit`` and
``offset`` pick a window, ``sort`` names one field of the item model (``-field`` for
descending) and ``q`` keeps items whose text fields contain it (case-insensitive). ``total``
counts the items that passed the filter, so a client knows how many pages there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from vident.service.errors import Invalid
from vident.service.schemas import Model

Item = TypeVar("Item", bound=BaseModel)
#: The most items one page may hold.
MOST = 1000


class Page(Model, Generic[Item]):
    """One window of a list: its items, and the size of the whole filtered list."""

    items: list[Item]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int
    sort: str | None
    q: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MOST, description="Items per page.")] = 100,
    offset: Annotated[int, Query(ge=0, description="Items to skip.")] = 0,
    sort: Annotated[
        str | None,
        Query(max_length=64, description="A field of the items; prefix - to reverse."),
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Keep items whose text contains this."),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, offset=offset, sort=sort, q=q or None)


PageDep = Annotated[PageParams, Depends(page_params)]


def _key(value: object) -> tuple[int, str | float | datetime | date]:
    """Sort key putting missing values last and never comparing unlike types."""
    if value is None:
        return (2, "")
    if isinstance(value, bool | int | float):
        return (0, float(value))
    if isinstance(value, datetime | date):
        return (1, value)
    return (3, str(value).casefold())


def _matches(item: BaseModel, needle: str) -> bool:
    for value in item.model_dump().values():
        if isinstance(value, str) and needle in value.casefold():
            return True
    return False


def paged(items: Sequence[Item], params: PageParams) -> Page[Item]:
    """The window ``params`` asks for of ``items``, filtered and sorted first."""
    chosen = list(items)
    if params.q:
        needle = params.q.casefold()
        chosen = [item for item in chosen if _matches(item, needle)]
    if params.sort:
        field = params.sort.removeprefix("-")
        if chosen and field not in type(chosen[0]).model_fields:
            fields = ", ".join(sorted(type(chosen[0]).model_fields))
            raise Invalid(f"cannot sort by {field!r}: use one of {fields}")
        chosen.sort(
            key=lambda item: _key(getattr(item, field)), reverse=params.sort.startswith("-")
        )
    window = chosen[params.offset : params.offset + params.limit]
    return Page[Item](items=window, total=len(chosen), offset=params.offset, limit=params.limit)
