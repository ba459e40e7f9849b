"""Evidence is data, never terminal commands: how the command line shows outside text.

File names, archive member names, hash-set origins and recognised text are chosen by whoever
made the seized material. Printed raw, an escape sequence in a name can retitle the terminal,
clear the screen or erase the very line that reported it; a carriage return can overwrite it;
a bidi override can make ``gpj.exe`` read as ``exe.jpg``. Rich would also take ``[bold]`` in a
name for markup, and fail outright on ``[/]``.

So everything the command line prints is literal text with control characters made visible
(``\\x1b``, ``\\u202e``): :class:`LiteralConsole` and :class:`LiteralTable` apply
:func:`visible` to every string they are given and never read markup in it; styling is done
with :class:`rich.text.Text`. JSON and CSV outputs bypass this and keep the exact names.
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console, RenderableType
from rich.style import StyleType
from rich.table import Table
from rich.text import Text

#: What a terminal may act on: C0 and C1 controls (ESC, BEL, CR, LF, TAB, DEL ...), Unicode
#: line and paragraph separators, bidi embeddings, overrides, isolates and marks, and lone
#: surrogates (bytes of a file name that were not UTF-8, kept by ``surrogateescape``).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # the original byte, as Python's surrogateescape kept it
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every character a terminal could act on written as an escape."""
    return _UNSAFE.sub(_escaped, text)


def literal(value: object, style: StyleType = "") -> Text:
    """``value`` as Rich text shown exactly: no markup, no emoji codes, controls visible."""
    return Text(visible(str(value)), style=style)


class LiteralConsole(Console):
    """A console on which every printed string is data (see the module's docstring)."""

    def print(self, *objects: Any, **options: Any) -> None:
        shown = (literal(o) if isinstance(o, str) else o for o in objects)
        super().print(*shown, **options)


class LiteralTable(Table):
    """A table whose string cells are data: shown literally, controls visible."""

    def add_row(
        self,
        *renderables: RenderableType | None,
        style: StyleType | None = None,
        end_section: bool = False,
    ) -> None:
        cells = (literal(r) if isinstance(r, str) else r for r in renderables)
        super().add_row(*cells, style=style, end_section=end_section)
