"""Agencies: the organisations users belong to; only a system administrator adds one."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from vident.service.audit import record_in, require
from vident.service.context import Context, Role
from vident.service.errors import Conflict, Invalid, NotFound
from vident.service.schemas import Model
from vident.store.models_security import Agency

_COUNTRY = re.compile(r"[A-Z]{2}")


class AgencyOut(Model):
    id: int
    name: str
    country: str
    contact: str | None = None
    created_at: datetime


class AgencyListOut(Model):
    agencies: list[AgencyOut]


def _out(agency: Agency) -> AgencyOut:
    return AgencyOut(
        id=agency.id,
        name=agency.name,
        country=agency.country,
        contact=agency.contact,
        created_at=agency.created_at,
    )


def add_agency(ctx: Context, name: str, country: str, contact: str | None = None) -> AgencyOut:
    """Add an agency; ``country`` is an ISO 3166-1 alpha-2 code such as GB or DE; ``contact``
    whom other agencies call about its alerts and shared material."""
    require(ctx, "agency.add", name, {Role.SYSTEM_ADMIN})
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid("an agency needs a name of 1 to 200 characters")
    code = country.strip().upper()
    if not _COUNTRY.fullmatch(code):
        raise Invalid(f"{country!r} is not an ISO 3166-1 alpha-2 country code (such as GB or DE)")
    with ctx.store.session() as session:
        if session.scalar(select(Agency.id).where(Agency.name == name)) is not None:
            raise Conflict(f"an agency named {name!r} exists already")
        if contact is not None and not 0 < len(contact.strip()) <= 200:
            raise Invalid("an agency's contact is 1 to 200 characters")
        agency = Agency(name=name, country=code, contact=contact.strip() if contact else None)
        session.add(agency)
        session.flush()
        record_in(session, ctx, "agency.add", name, "ok", {"country": code})
        return _out(agency)


def list_agencies(ctx: Context) -> AgencyListOut:
    """Every agency, by name."""
    require(ctx, "agency.list", None, {Role.SYSTEM_ADMIN, Role.AGENCY_ADMIN, Role.AUDITOR})
    with ctx.store.reader() as session:
        rows = session.execute(select(Agency).order_by(Agency.name)).scalars()
        return AgencyListOut(agencies=[_out(a) for a in rows])


def agency_by_name(ctx: Context, name: str) -> Agency:
    """The agency called ``name``, or NotFound."""
    with ctx.store.reader() as session:
        agency = session.scalar(select(Agency).where(Agency.name == name))
    if agency is None:
        raise NotFound(f"no agency named {name!r}: add it first")
    return agency
