"""Locations: places material was made, or that clues point to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from vident.service.context import Context
from vident.service.domain import READ, WRITE, checked_country, checked_name
from vident.service.errors import Invalid
from vident.service.schemas import Model
from vident.service.use_case import use_case
from vident.store.models_cases import Location


class LocationOut(Model):
    id: int
    name: str
    country: str | None
    lat: float | None
    lon: float | None
    notes: str | None
    created_by: str
    created_at: datetime


class LocationListOut(Model):
    locations: list[LocationOut]


def _out(row: Location) -> LocationOut:
    return LocationOut(
        id=row.id,
        name=row.name,
        country=row.country,
        lat=row.lat,
        lon=row.lon,
        notes=row.notes,
        created_by=row.created_by,
        created_at=row.created_at,
    )


@use_case("location.add", WRITE)
def add_location(
    ctx: Context,
    name: str,
    *,
    country: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    notes: str | None = None,
) -> LocationOut:
    """Record a place; latitude and longitude in degrees (WGS 84), both or neither."""
    name = checked_name("location", name)
    if (lat is None) != (lon is None):
        raise Invalid("give both latitude and longitude, or neither")
    if lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Invalid(f"{lat},{lon} is not a place: latitude -90..90, longitude -180..180")
    with ctx.store.session() as session:
        row = Location(
            name=name,
            country=checked_country(country),
            lat=lat,
            lon=lon,
            notes=notes,
            created_by=ctx.principal.name,
        )
        session.add(row)
        session.flush()
        return _out(row)


@use_case("location.list", READ)
def list_locations(ctx: Context) -> LocationListOut:
    """Every location, by name."""
    with ctx.store.reader() as session:
        rows = session.scalars(select(Location).order_by(Location.name, Location.id)).all()
        return LocationListOut(locations=[_out(r) for r in rows])
