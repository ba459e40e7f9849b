"""Agencies and users, for administrators (and auditors, who read them)."""

from __future__ import annotations

from fastapi import APIRouter

from vident.service.agencies import AgencyListOut, list_agencies
from vident.service.users import UserListOut, list_users
from vident.web.deps import ContextDep

router = APIRouter(tags=["admin"])


@router.get("/agencies", response_model=AgencyListOut)
def get_agencies(ctx: ContextDep) -> AgencyListOut:
    """Every agency, by name."""
    return list_agencies(ctx)


@router.get("/users", response_model=UserListOut)
def get_users(ctx: ContextDep) -> UserListOut:
    """Every user (an agency administrator sees their own agency's)."""
    return list_users(ctx)
