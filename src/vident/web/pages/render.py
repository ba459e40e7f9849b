"""Rendering a page: one Jinja2 environment, autoescaped, and the headers every page carries.

The CSP of pages allows scripts, styles and fonts from this server only (and ``data:`` images
for small icons): a stored value that slipped markup through would still not run. Pages name
who is signed in, so no browser or proxy may keep them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

from vident.web.pages.messages import messages
from vident.web.pages.translate import _

__all__ = ["PAGE_CSP", "PAGE_HEADERS", "STATIC", "TEMPLATES", "_", "page"]

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

#: The Content-Security-Policy of every page (static files get the API's stricter default).
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": PAGE_CSP,
    "Cache-Control": "no-store",
}


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name ends with
        undefined=StrictUndefined,  # a misspelt variable fails the test, not the analyst
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["_"] = _
    return env


ENV = _environment()


def page(template: str, context: Mapping[str, object], status_code: int = 200) -> HTMLResponse:
    """``template`` rendered with ``context`` as a response with the page headers; every page
    carries the script messages (``messages``) for ``vident.t`` in its layout."""
    full: dict[str, object] = {"messages": messages()}
    full.update(context)
    html = ENV.get_template(template).render(**full)
    return HTMLResponse(html, status_code=status_code, headers=dict(PAGE_HEADERS))
