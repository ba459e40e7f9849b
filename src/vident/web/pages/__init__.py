"""The analyst's workspace in the browser: server-rendered pages beside the REST API.

Pages are HTML rendered by Jinja2 with autoescaping on, styled by one static CSS file and
served under a strict Content-Security-Policy without inline scripts or styles, so markup
stored in the database (a username, an agency name) can only ever show as text.
"""

from __future__ import annotations

from vident.web.pages.render import STATIC
from vident.web.pages.routes import router

__all__ = ["STATIC", "router"]
