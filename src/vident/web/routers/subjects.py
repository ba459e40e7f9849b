"""Victims and offenders: pseudonymous codes, identification, sealed personal details."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["subjects"])
