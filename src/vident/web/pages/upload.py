"""Uploading a seizure into a case and watching its ingest job."""

from __future__ import annotations

from fastapi import APIRouter

from vident.web.pages.session import PageRoute

router = APIRouter(include_in_schema=False, route_class=PageRoute)
