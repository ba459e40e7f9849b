"""The series side of a VICS import: series named in a hash set become, or move, vident series.

A VICS file from another agency or a national database says which series each hash belongs to
and whether its victim or offender has been identified. Left only in the hash set, that word
reaches triage as a bare series name; made into a series of the store, it also reaches the
media already held (they join the series as suggestions an analyst confirms) and every later
seizure that meets them, with the identification.

An import only ever moves a series forwards (unidentified to identified), and only a series
the importing agency owns (or one that belongs to no agency): a file never overrules what an
analyst recorded, nor changes another agency's work.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from vident.service.context import Context
from vident.service.schemas import Model
from vident.service.scope import sight_of, visible_media
from vident.signals.registry import exact_kinds
from vident.store.models import HashSet, HashSetEntry, HashSetHash, Media, Signal
from vident.store.models_cases import Series, SeriesMedia
from vident.store.upsert import chunked

#: How media found through a hash set join a series: an analyst confirms them.
HOW = "suggestion"
#: The sharing level of a series an import creates: the importing agency's own.
SHARING = "agency"


class SeriesImportOut(Model):
    """What the series side of an import did; ``skipped`` counts series the file names that
    belong to another agency and were left as they are."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    media_added: int = 0


@dataclass(slots=True)
class _Counts:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    media_added: int = 0


@dataclass(slots=True)
class _Named:
    """What the file says of one series: its name as written and the flags of its entries."""

    raw: list[str]
    victim: bool = False
    offender: bool = False

    @property
    def status(self) -> str:
        if self.victim:
            return "victim_identified"
        if self.offender:
            return "offender_identified"
        return "unidentified"


def _named_series(session: Session, hashset_id: int) -> dict[str, _Named]:
    """Each series name the set's entries give (blanks stripped), with whether any entry says
    its victim or offender is identified: one grouped query, whatever the size of the set."""
    victim = func.max(case((HashSetEntry.victim_identified.is_(True), 1), else_=0))
    offender = func.max(case((HashSetEntry.offender_identified.is_(True), 1), else_=0))
    named: dict[str, _Named] = {}
    for raw, any_victim, any_offender in session.execute(
        select(HashSetEntry.series, victim, offender)
        .where(HashSetEntry.hashset_id == hashset_id, HashSetEntry.series.is_not(None))
        .group_by(HashSetEntry.series)
    ):
        name = str(raw).strip()
        if not name:
            continue
        found = named.setdefault(name, _Named(raw=[]))
        found.raw.append(str(raw))
        found.victim = found.victim or bool(any_victim)
        found.offender = found.offender or bool(any_offender)
    return named


def _existing(session: Session, names: list[str]) -> dict[str, Series]:
    found: dict[str, Series] = {}
    for part in chunked(names):
        for series in session.scalars(select(Series).where(Series.name.in_(part))):
            found[series.name] = series
    return found


def _settle(
    ctx: Context, session: Session, hashset: str, named: dict[str, _Named], out: _Counts
) -> dict[str, int]:
    """Create or move forward each named series the importer may change; their ids by the
    names as the file writes them."""
    agency = ctx.principal.agency_id
    existing = _existing(session, sorted(named))
    ids: dict[str, int] = {}
    for name, said in sorted(named.items()):
        series = existing.get(name)
        if series is None:
            series = Series(
                name=name,
                status=said.status,
                sharing=SHARING,
                agency_id=agency,
                notes=f"from hash set {hashset}",
                created_by=ctx.principal.name,
            )
            session.add(series)
            session.flush()
            out.created += 1
        elif series.agency_id is not None and series.agency_id != agency:
            out.skipped += 1
            continue
        elif series.status == "unidentified" and said.status != "unidentified":
            series.status = said.status
            out.updated += 1
        for raw in said.raw:
            ids[raw] = series.id
    return ids


def _join_media(
    ctx: Context, session: Session, hashset_id: int, ids: dict[str, int], out: _Counts
) -> None:
    """Stored media the principal sees whose MD5, SHA-1 or SHA-256 is an entry's hash join
    that entry's series as suggestions (triage matches hash-set entries the same way)."""
    if not ids:
        return
    kinds = [kind.name for kind in exact_kinds()]
    sight = sight_of(ctx, session)
    pairs: set[tuple[int, int]] = set()
    for part in chunked(sorted(ids)):
        query = (
            select(HashSetEntry.series, Signal.media_id)
            .join(HashSetHash, HashSetHash.entry_id == HashSetEntry.id)
            .join(
                Signal,
                (Signal.kind == HashSetHash.kind) & (Signal.lookup == HashSetHash.value),
            )
            .where(
                HashSetEntry.hashset_id == hashset_id,
                HashSetEntry.series.in_(part),
                HashSetHash.kind.in_(kinds),
            )
            .distinct()
        )
        if not sight.everything:
            query = query.where(Signal.media_id.in_(select(Media.id).where(visible_media(sight))))
        for raw, media_id in session.execute(query):
            pairs.add((ids[str(raw)], media_id))
    if not pairs:
        return
    have: set[tuple[int, int]] = set()
    for part in chunked(sorted({series_id for series_id, _ in pairs})):
        have.update(
            (series_id, media_id)
            for series_id, media_id in session.execute(
                select(SeriesMedia.series_id, SeriesMedia.media_id).where(
                    SeriesMedia.series_id.in_(part)
                )
            )
        )
    for series_id, media_id in sorted(pairs - have):
        session.add(
            SeriesMedia(
                series_id=series_id, media_id=media_id, added_by=ctx.principal.name, how=HOW
            )
        )
        out.media_added += 1


def series_from_hashset(ctx: Context, hashset: str) -> SeriesImportOut:
    """Make the series that hash set ``hashset`` names into series of the store.

    Called by the hash-set import at the end of a VICS import that read its whole file (the
    caller checked who acts and records the import in the audit trail). A series that does
    not exist is made, owned by the importer's agency, with the status the file gives it; one
    that exists and is the importer's agency's (or nobody's) moves from unidentified to the
    identified status the file gives, never back; another agency's is counted as skipped.
    Stored media with an entry's exact hash join the entry's series as suggestions. Running
    it again changes nothing.
    """
    counts = _Counts()
    with ctx.store.session() as session:
        hashset_id = session.scalar(select(HashSet.id).where(HashSet.name == hashset))
        named = _named_series(session, hashset_id) if hashset_id is not None else {}
        if hashset_id is not None and named:
            ids = _settle(ctx, session, hashset, named, counts)
            session.flush()
            _join_media(ctx, session, hashset_id, ids, counts)
    return SeriesImportOut(
        created=counts.created,
        updated=counts.updated,
        skipped=counts.skipped,
        media_added=counts.media_added,
    )
