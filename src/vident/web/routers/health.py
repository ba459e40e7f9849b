"""Liveness: the one route besides logging in that needs no credentials."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from vident import __version__
from vident.service.schemas import Model

router = APIRouter(tags=["health"])


class HealthOut(Model):
    status: Literal["ok"]
    version: str


@router.get("/health", response_model=HealthOut)
def health() -> HealthOut:
    """The server answers; it says nothing about the store or who asks."""
    return HealthOut(status="ok", version=__version__)
