"""What a principal may see: their agency's material and what other agencies shared with them.

A case, series or victim/offender belongs to an agency and carries a sharing level:
``agency`` (its own users only), ``national`` (every agency of the same country) or
``international`` (every agency). A source is seen with its case, a media with any source it
was found in. Something a principal may not see is reported exactly as something that does
not exist (:class:`~vident.service.errors.NotFound`), so a refusal reveals nothing.

Two kinds of principal see everything: the local operator of the data directory (who holds
the files anyway) and a system administrator who belongs to no agency (the one
``vident admin bootstrap`` makes). Rows with no owning agency are the instance's own (what the
local operator loaded without an agency's case) and every user of the instance sees them.

Hashes and identification status travel further than pictures: a triage or search that hits
material of another agency still says "known" and whose series it is and whether its victim is
identified, but not the source, file path or case it came from (see :func:`redacted`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from vident.service.context import Context, PrincipalKind, Role
from vident.service.errors import Forbidden, NotFound
from vident.service.schemas import ReasonOut
from vident.store.models import Case, Media, Occurrence, Source
from vident.store.models_cases import CaseOwner, Series, Subject, SubjectSeries
from vident.store.models_security import Agency

#: Sharing levels, narrowest first.
SHARING = ("agency", "national", "international")


@dataclass(frozen=True, slots=True)
class Sight:
    """What one principal sees: everything, or their agency (and its country) plus shared."""

    everything: bool
    agency_id: int | None
    country: str | None


def sight_of(ctx: Context, session: Session) -> Sight:
    principal = ctx.principal
    if principal.kind is PrincipalKind.OPERATOR or (
        principal.role is Role.SYSTEM_ADMIN and principal.agency_id is None
    ):
        return Sight(everything=True, agency_id=principal.agency_id, country=None)
    country = None
    if principal.agency_id is not None:
        country = session.scalar(select(Agency.country).where(Agency.id == principal.agency_id))
    return Sight(everything=False, agency_id=principal.agency_id, country=country)


def shared_with(
    sight: Sight, owner_agency: int | None, owner_country: str | None, sharing: str
) -> bool:
    """Whether something owned by ``owner_agency`` and shared at ``sharing`` is seen."""
    if sight.everything or owner_agency is None or owner_agency == sight.agency_id:
        return True
    if sharing == "international":
        return sight.agency_id is not None
    return sharing == "national" and sight.country is not None and owner_country == sight.country


def _owned_clause(
    sight: Sight,
    agency_column: InstrumentedAttribute[int | None],
    sharing_column: InstrumentedAttribute[str],
) -> ColumnElement[bool]:
    """SQL for :func:`shared_with` over an owner column and a sharing column."""
    if sight.everything:
        return true()
    clauses: list[ColumnElement[bool]] = [agency_column.is_(None)]
    if sight.agency_id is not None:
        clauses.append(agency_column == sight.agency_id)
        clauses.append(sharing_column == "international")
        if sight.country is not None:
            same_country = select(Agency.id).where(Agency.country == sight.country)
            clauses.append(and_(sharing_column == "national", agency_column.in_(same_country)))
    return or_(*clauses)


def visible_cases(sight: Sight) -> ColumnElement[bool]:
    """SQL condition on ``Case.id``: the cases ``sight`` sees (a case without owner row is
    the instance's own)."""
    if sight.everything:
        return true()
    hidden = select(CaseOwner.case_id).where(
        ~_owned_clause(sight, CaseOwner.agency_id, CaseOwner.sharing)
    )
    return Case.id.not_in(hidden)


def visible_sources(sight: Sight) -> ColumnElement[bool]:
    """SQL condition on ``Source``: sources without a case, or in a visible case."""
    if sight.everything:
        return true()
    cases = select(Case.id).where(visible_cases(sight))
    return or_(Source.case_id.is_(None), Source.case_id.in_(cases))


def visible_media(sight: Sight) -> ColumnElement[bool]:
    """SQL condition on ``Media.id``: media found in at least one visible source."""
    if sight.everything:
        return true()
    sources = select(Source.id).where(visible_sources(sight))
    return Media.id.in_(select(Occurrence.media_id).where(Occurrence.source_id.in_(sources)))


def visible_series(sight: Sight) -> ColumnElement[bool]:
    return _owned_clause(sight, Series.agency_id, Series.sharing)


def visible_subjects(sight: Sight) -> ColumnElement[bool]:
    """Victims and offenders of the principal's agency, unowned, or in a visible series."""
    if sight.everything:
        return true()
    series = select(Series.id).where(visible_series(sight))
    in_visible_series = select(SubjectSeries.subject_id).where(SubjectSeries.series_id.in_(series))
    own: ColumnElement[bool] = (
        Subject.agency_id == sight.agency_id if sight.agency_id is not None else false()
    )
    return or_(Subject.agency_id.is_(None), own, Subject.id.in_(in_visible_series))


def _seen(
    ctx: Context,
    session: Session,
    row_id: InstrumentedAttribute[int],
    wanted: int,
    visible: Callable[[Sight], ColumnElement[bool]],
) -> bool:
    """Whether the row ``wanted`` of ``row_id``'s table passes ``visible`` for the principal."""
    sight = sight_of(ctx, session)
    if sight.everything:
        return True
    return session.scalar(select(row_id).where(row_id == wanted, visible(sight))) is not None


def check_source(ctx: Context, session: Session, source: Source) -> Source:
    """``source`` if the principal sees it, else NotFound worded like a missing source."""
    if not _seen(ctx, session, Source.id, source.id, visible_sources):
        raise NotFound(f"no source named {source.name!r}")
    return source


def media_seen(ctx: Context, session: Session, media_id: int) -> bool:
    """Whether the principal sees the media ``media_id``."""
    return _seen(ctx, session, Media.id, media_id, visible_media)


def check_media(ctx: Context, session: Session, media_id: int, shown: str) -> int:
    """``media_id`` if the principal sees the media, else NotFound naming ``shown``."""
    if not media_seen(ctx, session, media_id):
        raise NotFound(f"no stored media has SHA-256 {shown}: ingest it first")
    return media_id


def check_series(ctx: Context, session: Session, series: Series) -> Series:
    """``series`` if the principal sees it, else NotFound worded like a missing series."""
    if not _seen(ctx, session, Series.id, series.id, visible_series):
        raise NotFound(f"no series named {series.name!r}: add it first")
    return series


def check_subject(ctx: Context, session: Session, subject: Subject) -> Subject:
    """``subject`` if the principal sees them, else NotFound worded like a missing code."""
    if not _seen(ctx, session, Subject.id, subject.id, visible_subjects):
        raise NotFound(f"no {subject.kind} with code {subject.code!r}")
    return subject


def check_owner(ctx: Context, session: Session, owner_agency: int | None, what: str) -> None:
    """Changes are for the owning agency: another agency that sees the thing (it was shared
    with them, so its existence is no secret) is refused with Forbidden."""
    sight = sight_of(ctx, session)
    if sight.everything or owner_agency is None or owner_agency == sight.agency_id:
        return
    raise Forbidden(f"{what} belongs to another agency: ask them to change it")


def seen_sources(ctx: Context, session: Session, names: set[str]) -> set[str]:
    """Which of the source ``names`` the principal sees."""
    if not names:
        return set()
    sight = sight_of(ctx, session)
    if sight.everything:
        return set(names)
    return set(
        session.scalars(select(Source.name).where(Source.name.in_(names), visible_sources(sight)))
    )


#: What a result names instead of a source or path the principal may not see.
NOT_SHARED = "another agency's material"


def hidden_series(ctx: Context, session: Session, names: set[str]) -> frozenset[str]:
    """Which of the series ``names`` are series of this store the principal may not see
    (names that only a hash set gives are nobody's here)."""
    if not names:
        return frozenset()
    sight = sight_of(ctx, session)
    if sight.everything:
        return frozenset()
    return frozenset(
        session.scalars(select(Series.name).where(Series.name.in_(names), ~visible_series(sight)))
    )


def redacted(
    reasons: list[ReasonOut], seen: set[str], unseen_series: frozenset[str] = frozenset()
) -> list[ReasonOut]:
    """``reasons`` with the source of material the principal may not see left out. The hash
    and an identification stay (they are shared more widely than pictures), and so does the
    series that was identified; an unshared series still being worked on is not named."""
    out: list[ReasonOut] = []
    for reason in reasons:
        if reason.series in unseen_series and reason.identified is None:
            reason = reason.model_copy(update={"series": None})
        if reason.source is not None and reason.source not in seen:
            detail = reason.detail
            if detail is not None:
                detail = {k: v for k, v in detail.items() if k not in {"path", "source", "case"}}
            reason = reason.model_copy(update={"source": NOT_SHARED, "detail": detail})
        out.append(reason)
    return out
