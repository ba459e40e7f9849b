"""Uploads of seizures and the ingest jobs that read them."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["jobs"])
