"""The analyst's workspace in the browser: server-rendered pages beside the REST API.

Pages are HTML rendered by Jinja2 with autoescaping on, styled by static CSS and served under a
strict Content-Security-Policy without inline scripts or styles, so markup stored in the
database (a file name, an EXIF field, recognised text) can only ever show as text. Pages read
through the service layer as the signed-in analyst; every change goes through the REST API.
Each module below is one area of the workspace with its own router.
"""

from __future__ import annotations

from fastapi import APIRouter

from vident.web.pages import (
    account,
    admin,
    audit,
    dashboard,
    media,
    people,
    records,
    routes,
    searching,
    triage,
    upload,
)
from vident.web.pages.render import STATIC

router = APIRouter(include_in_schema=False)
for _module in (
    routes,
    dashboard,
    triage,
    media,
    people,
    records,
    upload,
    searching,
    account,
    admin,
    audit,
):
    router.include_router(_module.router)

__all__ = ["STATIC", "router"]
