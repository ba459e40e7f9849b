"""Locations, clues, annotations and category votes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["places"])
