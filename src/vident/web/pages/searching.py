"""Search by picture, video, hashes or text; results as a grid with reasons."""

from __future__ import annotations

from fastapi import APIRouter

from vident.web.pages.session import PageRoute

router = APIRouter(include_in_schema=False, route_class=PageRoute)
