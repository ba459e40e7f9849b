"""Marking strings for translation, in one module that imports nothing of the pages.

Templates, page modules and the scripts' message table (:mod:`vident.web.pages.messages`) all
mark their text with :func:`_`; keeping it apart lets the renderer import the message table
without a cycle.
"""

from __future__ import annotations


def _(text: str) -> str:
    """Marks ``text`` for translation; the identity until vident ships catalogues."""
    return text
