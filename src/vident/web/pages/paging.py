"""One page of a list already in memory, and the pager a template draws under it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Pager:
    """One window of a list: which page, and whether there are pages before and after."""

    number: int
    pages: int
    total: int

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None


def window(items: Sequence[T], number: int, size: int) -> tuple[list[T], Pager]:
    """Page ``number`` of ``items``, ``size`` to a page (past the end: the last page)."""
    pages = max(1, -(-len(items) // size))
    number = min(number, pages)
    start = (number - 1) * size
    return list(items[start : start + size]), Pager(number, pages, len(items))
