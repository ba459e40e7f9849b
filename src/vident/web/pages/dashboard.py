"""The dashboard: my cases, ingest jobs with live progress, alerts, verdict counts, my week."""

from __future__ import annotations

from fastapi import APIRouter

from vident.web.pages.session import PageRoute

router = APIRouter(include_in_schema=False, route_class=PageRoute)
