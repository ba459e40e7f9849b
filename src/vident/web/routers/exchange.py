"""Hash-set import and export, VICS export."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["exchange"])
