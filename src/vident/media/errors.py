"""The one error type that media readers raise.

Seized material is often damaged, mislabelled or hostile. Whatever goes wrong inside Pillow,
PyAV or a parser, the ingest worker must record one readable line for that item and go on, so
every reader turns its failures into :class:`MediaError` and nothing else escapes.
"""

from __future__ import annotations


class MediaError(Exception):
    """Why a picture or video could not be read; ``str(exc)`` is one human-readable line."""

    def __init__(self, reason: str) -> None:
        super().__init__(one_line(reason))


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on a single line, whitespace collapsed and cut to ``limit`` characters.

    Library messages can hold newlines or megabytes of repr; the error column and an
    analyst's screen need one short line.
    """
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 3].rstrip() + "..."
    return flat or "unknown error"
