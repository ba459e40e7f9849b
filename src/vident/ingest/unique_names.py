"""Item paths that are unique within a source, so every file found gets its own occurrence.

Occurrences are unique on their path within a source, and that uniqueness is also the job
record of a resumable ingest. Yet a seizure can hold two files that would get the same path:
an archive written twice under one member name (a tool appending to a zip, a tar appended
to), or a file whose name has an undecodable byte beside one literally named with that
byte's escaped spelling. Without this module the second one is silently lost.

The second and later holders of a name get ``#2``, ``#3``... appended (``a.zip/a.jpg#2``),
skipping any spelling that a real file holds. Names are handed out in walk order, which is
sorted and the same at every run, so a rerun or a resume gives every file the same path.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator

from vident.ingest.records import WorkItem

#: What separates a name from the number that tells its later holders apart.
DUPLICATE_MARK = "#"

_MARKED = re.compile(r"#[0-9]+\Z")


class UniqueNames:
    """Hands out names unique within one listing (a folder, an archive, a whole source).

    ``reserved`` are names known to come later for real (the rest of a folder or of a zip's
    directory): a duplicate never takes one of them, so a real ``a.jpg#2`` keeps its name.
    """

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self._reserved = set(reserved)
        self._taken: set[str] = set()
        self._next: dict[str, int] = {}

    def claim(self, name: str) -> str:
        """``name`` itself the first time; ``name#2``, ``name#3``... for later holders."""
        if name not in self._taken:
            self._taken.add(name)
            return name
        number = self._next.get(name, 2)
        while (candidate := f"{name}{DUPLICATE_MARK}{number}") in self._taken or (
            candidate in self._reserved
        ):
            number += 1
        self._next[name] = number + 1
        self._taken.add(candidate)
        return candidate


def unique_paths(items: Iterable[WorkItem]) -> Iterator[WorkItem]:
    """The walker's items with every path made unique within the source.

    The walker already tells apart duplicates inside one folder or archive; this is the
    guarantee for everything else (a nested archive's member spelt like a sibling folder's
    file, error items of an archive beside its members).
    """
    names = UniqueNames()
    for item in items:
        path = names.claim(item.path)
        yield item if path == item.path else dataclasses.replace(item, path=path)


def without_duplicate_mark(name: str) -> str:
    """A name as its file was called, without the ``#n`` that told it from an earlier one.

    Used where the name's suffix matters (the type a name claims, a compressed file's inner
    name); a real name ending in ``#2`` loses it too, which only costs that check.
    """
    return _MARKED.sub("", name)
