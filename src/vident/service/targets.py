"""Where an ingest may write: a source and case the principal's agency owns, or new ones.

An agency's user loads a seizure into a case of their own agency: naming no case is refused
(material without a case would be seen by every user of the instance), a case of another
agency is refused (NotFound when it is not shared with them, Forbidden when it is), and a new
case is created owned by their agency, shared within it. A source name another agency uses is
refused without saying whose it is. The local operator, an agency-less system administrator and
users of a store without agencies load anywhere, as before.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vident.service.context import Context
from vident.service.errors import Conflict, Invalid, NotFound
from vident.service.scope import check_owner, sight_of, visible_cases, visible_sources
from vident.store.models import Case, Source
from vident.store.models_cases import CaseOwner


def ensure_case(ctx: Context, case: str | None) -> None:
    """Create ``case`` owned by the principal's agency, shared within it, if it does not
    exist yet. Its own transaction, before any other read of the caller: two uploads into one
    new case at once both succeed (the second finds the first's), on SQLite and PostgreSQL."""
    if case is None or ctx.principal.agency_id is None or not case.strip():
        return
    try:
        with ctx.store.session() as session:
            if session.scalar(select(Case.id).where(Case.name == case)) is not None:
                return
            made = Case(name=case)
            session.add(made)
            session.flush()
            session.add(
                CaseOwner(
                    case_id=made.id,
                    agency_id=ctx.principal.agency_id,
                    sharing="agency",
                    created_by=ctx.principal.name,
                )
            )
    except IntegrityError:
        return  # another request made it first; claim_ingest_target checks whose it is


def claim_ingest_target(ctx: Context, session: Session, source: str, case: str | None) -> None:
    """Refuse an ingest of ``source`` into ``case`` that the principal may not make (call
    :func:`ensure_case` first, outside ``session``)."""
    sight = sight_of(ctx, session)
    if sight.everything or sight.agency_id is None:
        return
    if case is None:
        raise Invalid("name the case this seizure belongs to: material of an agency needs one")
    existing = session.scalar(select(Source).where(Source.name == source))
    if existing is not None:
        seen = session.scalar(
            select(Source.id).where(Source.id == existing.id, visible_sources(sight))
        )
        if seen is None:
            raise Conflict(f"the source name {source!r} is taken: choose another")
    found = session.scalar(select(Case).where(Case.name == case))
    if found is None:  # made by ensure_case; gone only if deleted meanwhile
        raise NotFound(f"no case named {case!r}: add it first")
    if session.scalar(select(Case.id).where(Case.id == found.id, visible_cases(sight))) is None:
        raise NotFound(f"no case named {case!r}: add it first")
    owner = session.scalar(select(CaseOwner.agency_id).where(CaseOwner.case_id == found.id))
    check_owner(ctx, session, owner, f"case {case!r}")
    if existing is not None and existing.case_id not in (None, found.id):
        raise Conflict(f"source {source!r} belongs to another case")
