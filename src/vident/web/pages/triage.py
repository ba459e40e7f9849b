"""The triage grid of a source: new material first, filters, stacks, keyboard categorisation."""

from __future__ import annotations

from fastapi import APIRouter

from vident.web.pages.session import PageRoute

router = APIRouter(include_in_schema=False, route_class=PageRoute)
