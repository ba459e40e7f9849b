"""The triage grid of a source: one page of its items, filtered, with known series stacked.

The grid is built on :func:`vident.service.triage.triage_source`, which computes the verdict
of every file of the source on each call (hash, PDQ and link look-ups for all of them). That
is the grid's main cost and it grows with the source. What this module adds stays small:
filters on verdict, type and category work on that result; the face, text and vote look-ups
are one set query each, asked for the whole source only when a filter needs them and
otherwise only for the items on the page; only the page's tiles are built.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.service.category_schemes import (
    DEFAULT_CATEGORIES,
    DEFAULT_SCHEME,
    SchemeOut,
    agency_scheme,
)
from vident.service.context import Context
from vident.service.domain import parse_sha256
from vident.service.reviews import media_ids, reviewed_among
from vident.service.schemas import Model, ReasonOut
from vident.service.triage import TriageItemOut, Verdict, triage_source
from vident.store.models import Face, Media, MediaText, Occurrence, Source
from vident.store.models_cases import CategoryVote

#: Tiles (or stacks) on one page of the grid.
PER_PAGE = 60
#: Members a stack shows when expanded; the rest are one link away (``series=``).
STACK_SHOWN = 60
#: Media types a filter may ask for (anything else is "other").
TYPES = ("image", "video", "other")


@dataclass(frozen=True, slots=True)
class CategoryKey:
    """A number key of the grid and the category it votes for."""

    key: str
    category: str
    label: str


#: The default scheme that number keys vote in, and its categories: what an agency that
#: chose no scheme of its own gets (see :mod:`vident.service.category_schemes`).
KEY_SCHEME = DEFAULT_SCHEME
CATEGORY_KEYS = tuple(CategoryKey(key, code, label) for key, code, label in DEFAULT_CATEGORIES)


def category_keys(scheme: SchemeOut) -> tuple[CategoryKey, ...]:
    """The number keys of ``scheme`` and the categories they vote for."""
    return tuple(CategoryKey(c.key, c.code, c.label) for c in scheme.categories)


@dataclass(frozen=True, slots=True)
class TriageFilter:
    """What the analyst asked the grid for; None means "any"."""

    verdict: Verdict | None = None
    type: str | None = None
    category: str | None = None
    face: bool | None = None
    text: bool | None = None
    series: str | None = None
    #: Only what the viewer's agency has not marked reviewed.
    unreviewed: bool = False
    page: int = 1


class TileOut(Model):
    """One file of the grid: its verdict, first reason, category and what was found in it."""

    kind: Literal["item"] = "item"
    path: str
    sha256: str | None
    type: str
    verdict: Verdict
    reason: ReasonOut | None
    reasons: int
    error: str | None
    #: The agreed category under the viewer's scheme, else the one a hash set gives.
    category: str | None
    #: The viewer's own vote under the viewer's scheme.
    my_vote: str | None
    face: bool
    text: bool
    #: Marked reviewed by someone of the viewer's agency.
    reviewed: bool = False


class StackOut(Model):
    """Known material of one series, shown as one tile that expands to its members."""

    kind: Literal["stack"] = "stack"
    series: str
    count: int
    members: list[TileOut]


class TriageViewOut(Model):
    source: str
    #: Items of each verdict in the whole source (filters do not change them).
    counts: dict[str, int]
    #: Items that pass the filters, and the tiles or stacks they make.
    matched: int
    entries: int
    page: int
    pages: int
    per_page: int
    tiles: list[TileOut | StackOut]
    #: Categories the filter may offer: the scheme's and those hash sets give this source.
    categories: list[str]
    #: The scheme the viewer's number keys vote in (their agency's), and its categories.
    scheme: SchemeOut


def _hashset_category(item: TriageItemOut) -> str | None:
    return next((r.category for r in item.reasons if r.category), None)


def _stack_series(item: TriageItemOut) -> str | None:
    if item.verdict is not Verdict.KNOWN:
        return None
    return next((r.series for r in item.reasons if r.series), None)


def _digests(shas: Iterable[str | None]) -> list[bytes]:
    return [parse_sha256(sha) for sha in shas if sha]


def _with_rows(
    session: Session, model: type[Face] | type[MediaText], source: str, shas: list[str] | None
) -> set[str]:
    """SHA-256 of the media (of ``source``, or of ``shas``) with at least one row of ``model``."""
    query = select(Media.sha256).join(model, model.media_id == Media.id).distinct()
    if shas is None:
        query = (
            query.join(Occurrence, Occurrence.media_id == Media.id)
            .join(Source, Source.id == Occurrence.source_id)
            .where(Source.name == source)
        )
    else:
        query = query.where(Media.sha256.in_(_digests(shas)))
    return {bytes(sha).hex() for sha in session.scalars(query)}


@dataclass(frozen=True, slots=True)
class _Votes:
    agreed: dict[str, str]
    mine: dict[str, str]


def _votes(
    ctx: Context, session: Session, scheme: str, source: str, shas: list[str] | None
) -> _Votes:
    """Agreed categories and the viewer's votes under ``scheme``."""
    query = (
        select(Media.sha256, CategoryVote.category, CategoryVote.voter)
        .join(CategoryVote, CategoryVote.media_id == Media.id)
        .where(CategoryVote.scheme == scheme)
    )
    if shas is None:
        media = (
            select(Occurrence.media_id)
            .join(Source, Source.id == Occurrence.source_id)
            .where(Source.name == source)
        )
        query = query.where(Media.id.in_(media))
    else:
        query = query.where(Media.sha256.in_(_digests(shas)))
    tallies: dict[str, Counter[str]] = {}
    mine: dict[str, str] = {}
    for raw, category, voter in session.execute(query):
        sha = bytes(raw).hex()
        tallies.setdefault(sha, Counter())[category] += 1
        if voter == ctx.principal.name:
            mine[sha] = category
    needed = ctx.settings.category_votes_needed
    agreed: dict[str, str] = {}
    for sha, tally in tallies.items():
        reached = [category for category, n in tally.items() if n >= needed]
        if len(reached) == 1:
            agreed[sha] = reached[0]
    return _Votes(agreed, mine)


def _category(item: TriageItemOut, votes: _Votes) -> str | None:
    return votes.agreed.get(item.sha256 or "") or _hashset_category(item)


def _passes(item: TriageItemOut, wanted: TriageFilter) -> bool:
    if wanted.verdict is not None and item.verdict is not wanted.verdict:
        return False
    if wanted.type is not None:
        kind = item.type if item.type in TYPES else "other"
        if kind != wanted.type:
            return False
    return wanted.series is None or wanted.series in {r.series for r in item.reasons}


def triage_view(ctx: Context, source: str, wanted: TriageFilter) -> TriageViewOut:
    """One page of the triage grid of ``source``: new material first, then related, error,
    near and known, where known items of one series make one stack (unless ``series`` asks
    for that series' items themselves).

    The principal's right to see the source is checked by :func:`triage_source` (an audited
    use case: it refuses the auditor and answers NotFound for a source not seen).
    """
    report = triage_source(ctx, source)
    scheme = agency_scheme(ctx)
    items = [item for item in report.by_priority() if _passes(item, wanted)]
    with ctx.store.reader() as session:
        whole = wanted.category is not None
        votes = _votes(ctx, session, scheme.name, report.source, None) if whole else None
        if votes is not None:
            items = [i for i in items if _category(i, votes) == wanted.category]
        for model, flag in ((Face, wanted.face), (MediaText, wanted.text)):
            if flag is not None:
                having = _with_rows(session, model, report.source, None)
                items = [i for i in items if (i.sha256 in having) is flag]
        if wanted.unreviewed:
            source_media = (
                select(Occurrence.media_id)
                .join(Source, Source.id == Occurrence.source_id)
                .where(Source.name == report.source)
            )
            done = reviewed_among(ctx, session, source_media)
            items = [i for i in items if i.sha256 not in done]
        entries = _entries(items, stacked=wanted.series is None)
        pages = max(1, -(-len(entries) // PER_PAGE))
        page = min(max(1, wanted.page), pages)
        shown = entries[(page - 1) * PER_PAGE : page * PER_PAGE]
        members = [m for entry in shown for m in (entry if isinstance(entry, list) else [entry])]
        shas = [m.sha256 for m in members if m.sha256]
        page_votes = _votes(ctx, session, scheme.name, report.source, shas)
        faces = _with_rows(session, Face, report.source, shas)
        texts = _with_rows(session, MediaText, report.source, shas)
        reviewed = reviewed_among(ctx, session, media_ids(shas)) if shas else set()

    def tile(item: TriageItemOut) -> TileOut:
        sha = item.sha256 or ""
        return TileOut(
            path=item.path,
            sha256=item.sha256,
            type=item.type,
            verdict=item.verdict,
            reason=item.reasons[0] if item.reasons else None,
            reasons=len(item.reasons),
            error=item.error,
            category=_category(item, page_votes),
            my_vote=page_votes.mine.get(sha),
            face=sha in faces,
            text=sha in texts,
            reviewed=sha in reviewed,
        )

    tiles: list[TileOut | StackOut] = []
    for entry in shown:
        if isinstance(entry, list):
            series = _stack_series(entry[0]) or ""
            tiles.append(
                StackOut(
                    series=series,
                    count=len(entry),
                    members=[tile(m) for m in entry[:STACK_SHOWN]],
                )
            )
        else:
            tiles.append(tile(entry))
    found = {c for i in report.items if (c := _hashset_category(i))}
    codes = [c.code for c in scheme.categories]
    return TriageViewOut(
        source=report.source,
        counts=report.counts,
        matched=len(items),
        entries=len(entries),
        page=page,
        pages=pages,
        per_page=PER_PAGE,
        tiles=tiles,
        categories=codes + sorted(found - set(codes)),
        scheme=scheme,
    )


def _entries(
    items: list[TriageItemOut], stacked: bool
) -> list[TriageItemOut | list[TriageItemOut]]:
    """The grid's entries in order: an item, or (stacked) the known items of one series at
    the place of its first; a series with one known item is a plain tile."""
    if not stacked:
        return list(items)
    groups: dict[str, list[TriageItemOut]] = {}
    for item in items:
        series = _stack_series(item)
        if series is not None:
            groups.setdefault(series, []).append(item)
    entries: list[TriageItemOut | list[TriageItemOut]] = []
    for item in items:
        series = _stack_series(item)
        group = groups.get(series) if series is not None else None
        if group is None or len(group) < 2:
            entries.append(item)
        elif group[0] is item:
            entries.append(group)
    return entries
