"""What the investigation use cases share: who may do what, names and codes checked once,
media found by their SHA-256 and agencies by name.

Viewers read cases, series, places, clues and votes but never personal details; analysts and
administrators record them.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.service.context import Context, Role
from vident.service.errors import Invalid, NotFound
from vident.service.scope import check_media
from vident.store.models import Media
from vident.store.models_security import Agency

#: Roles that read the investigation (without personal details).
READ = frozenset({Role.VIEWER, Role.ANALYST, Role.AGENCY_ADMIN, Role.SYSTEM_ADMIN})
#: Roles that record it.
WRITE = frozenset({Role.ANALYST, Role.AGENCY_ADMIN, Role.SYSTEM_ADMIN})
#: Roles that see and write victims' and offenders' personal details.
PERSONAL = WRITE

#: How widely a case or series is shared.
SHARING = ("agency", "national", "international")

_COUNTRY = re.compile(r"[A-Z]{2}")


def checked_name(what: str, name: str, longest: int = 200) -> str:
    """``name`` without surrounding blanks, or Invalid when empty or too long."""
    name = name.strip()
    if not name or len(name) > longest:
        raise Invalid(f"a {what} needs a name of 1 to {longest} characters")
    return name


def checked_choice(what: str, value: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else Invalid listing them."""
    if value not in choices:
        raise Invalid(f"{value!r} is not a {what}: use one of {', '.join(choices)}")
    return value


def checked_country(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code in capitals, or Invalid."""
    if value is None:
        return None
    code = value.strip().upper()
    if not _COUNTRY.fullmatch(code):
        raise Invalid(f"{value!r} is not an ISO 3166-1 alpha-2 country code (such as GB or DE)")
    return code


def parse_sha256(text: str) -> bytes:
    """The 32 bytes of a SHA-256 written in hexadecimal, or Invalid."""
    try:
        digest = bytes.fromhex(text.strip())
    except ValueError:
        raise Invalid(f"{text!r} is not a SHA-256 in hexadecimal") from None
    if len(digest) != 32:
        raise Invalid(f"a SHA-256 has 64 hex digits, got {len(text.strip())}")
    return digest


def media_id(session: Session, sha256: str) -> int:
    """The id of the stored media ``sha256`` (hexadecimal), or NotFound."""
    digest = parse_sha256(sha256)
    found = session.scalar(select(Media.id).where(Media.sha256 == digest))
    if found is None:
        raise NotFound(f"no stored media has SHA-256 {sha256.strip()}: ingest it first")
    return found


def visible_media_id(ctx: Context, session: Session, sha256: str) -> int:
    """The id of the stored media ``sha256`` that the principal sees, else NotFound (the same
    answer as for a media that does not exist)."""
    return check_media(ctx, session, media_id(session, sha256), sha256.strip())


def agency_named(session: Session, name: str) -> Agency:
    found = session.scalar(select(Agency).where(Agency.name == name))
    if found is None:
        raise NotFound(f"no agency named {name!r}: add it first")
    return found


def acting_agency(ctx: Context, session: Session, name: str | None) -> Agency | None:
    """The agency named, else the principal's own; only a system administrator names another."""
    own = session.get(Agency, ctx.principal.agency_id) if ctx.principal.agency_id else None
    if name is None:
        return own
    agency = agency_named(session, name)
    if own is not None and agency.id != own.id and ctx.principal.role is not Role.SYSTEM_ADMIN:
        raise Invalid(f"you act for {own.name}, not {agency.name}")
    return agency
