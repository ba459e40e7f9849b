"""One case seen whole: its owner and sharing level, and what was gathered under it.

A list of cases answers "which investigations exist"; an investigator opening one case needs
what belongs to it, the seizures loaded into it and the series started within it, without
paging through every source and series of the store.
"""

from __future__ import annotations

from sqlalchemy import func, select

from vident.service.cases import CaseOut
from vident.service.context import Context
from vident.service.domain import READ
from vident.service.errors import NotFound
from vident.service.schemas import Model
from vident.service.scope import sight_of, visible_cases, visible_series, visible_sources
from vident.service.use_case import use_case
from vident.store.models import Case, Occurrence, Source
from vident.store.models_cases import CaseOwner, Series
from vident.store.models_security import Agency


class CaseDetailOut(Model):
    case: CaseOut
    #: Names of the sources (seizures) loaded into the case, by name.
    sources: list[str]
    #: Names of the series started within the case, by name.
    series: list[str]
    #: How many distinct media the case's sources (those the principal sees) hold.
    media: int = 0


@use_case("case.show", READ)
def show_case(ctx: Context, name: str) -> CaseDetailOut:
    """The case called ``name`` with its owner, sharing level, sources and series; a case the
    principal may not see is not found, and of a case shared with them they see the series
    they may see."""
    with ctx.store.reader() as session:
        sight = sight_of(ctx, session)
        row = session.execute(
            select(Case, CaseOwner.sharing, Agency.name)
            .outerjoin(CaseOwner, CaseOwner.case_id == Case.id)
            .outerjoin(Agency, Agency.id == CaseOwner.agency_id)
            .where(Case.name == name, visible_cases(sight))
        ).first()
        if row is None:
            raise NotFound(f"no case named {name!r}: add it first")
        case, sharing, agency = row
        sources = session.scalars(
            select(Source.name)
            .where(Source.case_id == case.id, visible_sources(sight))
            .order_by(Source.name)
        ).all()
        series = session.scalars(
            select(Series.name)
            .where(Series.case_id == case.id, visible_series(sight))
            .order_by(Series.name)
        ).all()
        media = session.scalar(
            select(func.count(func.distinct(Occurrence.media_id)))
            .join(Source, Source.id == Occurrence.source_id)
            .where(Source.case_id == case.id, visible_sources(sight))
        )
        return CaseDetailOut(
            case=CaseOut(
                id=case.id,
                name=case.name,
                agency=agency,
                sharing=sharing or "agency",
                created_at=case.created_at,
            ),
            sources=list(sources),
            series=list(series),
            media=media or 0,
        )
