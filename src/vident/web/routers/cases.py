"""Cases and series: the investigation's groupings of material."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["cases"])
