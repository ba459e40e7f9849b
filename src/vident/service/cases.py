"""Cases: the investigations sources belong to, owned by an agency and shared as it says."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from vident.service.context import Context
from vident.service.domain import READ, SHARING, WRITE, acting_agency, checked_choice, checked_name
from vident.service.errors import Conflict, NotFound
from vident.service.schemas import Model
from vident.service.scope import check_owner, sight_of, visible_cases
from vident.service.use_case import use_case
from vident.store.models import Case
from vident.store.models_cases import CaseOwner
from vident.store.models_security import Agency


class CaseOut(Model):
    id: int
    name: str
    #: The owning agency; None for a case made before agencies existed.
    agency: str | None
    sharing: str
    created_at: datetime


class CaseListOut(Model):
    cases: list[CaseOut]


@use_case("case.add", WRITE)
def add_case(
    ctx: Context, name: str, *, agency: str | None = None, sharing: str = "agency"
) -> CaseOut:
    """Open a case owned by ``agency`` (default: the principal's own)."""
    name = checked_name("case", name)
    checked_choice("sharing level", sharing, SHARING)
    with ctx.store.session() as session:
        if session.scalar(select(Case.id).where(Case.name == name)) is not None:
            raise Conflict(f"a case named {name!r} exists already")
        owner = acting_agency(ctx, session, agency)
        case = Case(name=name)
        session.add(case)
        session.flush()
        session.add(
            CaseOwner(
                case_id=case.id,
                agency_id=owner.id if owner else None,
                sharing=sharing,
                created_by=ctx.principal.name,
            )
        )
        return CaseOut(
            id=case.id,
            name=case.name,
            agency=owner.name if owner else None,
            sharing=sharing,
            created_at=case.created_at,
        )


@use_case("case.list", READ)
def list_cases(ctx: Context) -> CaseListOut:
    """Every case the principal sees by name, with its owner and sharing level."""
    with ctx.store.reader() as session:
        rows = session.execute(
            select(Case, CaseOwner.sharing, Agency.name)
            .outerjoin(CaseOwner, CaseOwner.case_id == Case.id)
            .outerjoin(Agency, Agency.id == CaseOwner.agency_id)
            .where(visible_cases(sight_of(ctx, session)))
            .order_by(Case.name)
        ).all()
        return CaseListOut(
            cases=[
                CaseOut(
                    id=case.id,
                    name=case.name,
                    agency=agency,
                    sharing=sharing or "agency",
                    created_at=case.created_at,
                )
                for case, sharing, agency in rows
            ]
        )


def case_id(ctx: Context, name: str | None) -> int | None:
    """The id of the case ``name`` (None for None), or NotFound."""
    if name is None:
        return None
    with ctx.store.reader() as session:
        found = session.scalar(select(Case.id).where(Case.name == name))
    if found is None:
        raise NotFound(f"no case named {name!r}: add it first")
    return found


@use_case("case.update", WRITE)
def update_case(ctx: Context, name: str, *, sharing: str) -> CaseOut:
    """Share case ``name`` more or less widely (its owning agency only)."""
    checked_choice("sharing level", sharing, SHARING)
    with ctx.store.session() as session:
        sight = sight_of(ctx, session)
        case = session.scalar(select(Case).where(Case.name == name, visible_cases(sight)))
        if case is None:
            raise NotFound(f"no case named {name!r}: add it first")
        owner = session.get(CaseOwner, case.id)
        if owner is None:
            owner = CaseOwner(case_id=case.id, agency_id=None, created_by=ctx.principal.name)
            session.add(owner)
        check_owner(ctx, session, owner.agency_id, f"case {name!r}")
        owner.sharing = sharing
        session.flush()
        agency = session.get(Agency, owner.agency_id) if owner.agency_id else None
        return CaseOut(
            id=case.id,
            name=case.name,
            agency=agency.name if agency else None,
            sharing=sharing,
            created_at=case.created_at,
        )
