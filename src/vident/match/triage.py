"""Triage of a source: known, near, new or error for every file, with the reasons.

- known: an exact MD5/SHA-1/SHA-256 match to a hash set or to media of an earlier source;
- near: a PDQ match within the threshold (any of the 8 rotations and flips) to known material,
  or a crop or small rotation of it verified with local features (signal ``keypoints``);
- related: no duplicate, but a strong link to earlier material: the same face or person, the
  same place (verified geometrically), the same camera body, the same text, the same GPS place;
- new: nothing links it — the material an analyst must see first;
- error: the file could not be read, and why.
Verdicts are computed from the store and indexes when asked, so a hash set imported after the
ingest changes the triage at once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.index.near import NearIndex

if TYPE_CHECKING:
    from vident.match.links import Link, Linker
    from vident.match.probe import Probe
from vident.match.lookup import HashSetHit, MediaHit, NearHit, hashset_exact, media_exact, near
from vident.signals.base import split_variants
from vident.signals.registry import exact_kinds, near_kinds
from vident.store.models import Media, Occurrence, Signal, Source
from vident.store.upsert import chunked

CHUNK = 2000
MAX_REASONS = 10


class Verdict(enum.StrEnum):
    KNOWN = "known"
    NEAR = "near"
    RELATED = "related"
    NEW = "new"
    ERROR = "error"


#: The order of the table view: new material first, it may show a child still at risk; then
#: material linked to known victims, offenders or places.
VERDICT_ORDER = {
    Verdict.NEW: 0,
    Verdict.RELATED: 1,
    Verdict.ERROR: 2,
    Verdict.NEAR: 3,
    Verdict.KNOWN: 4,
}


@dataclass(frozen=True, slots=True)
class Reason:
    signal: str
    distance: int
    hashset: str | None = None
    media: str | None = None
    source: str | None = None
    category: str | None = None
    series: str | None = None
    #: Strength of a link found by a learned or local signal (0..1), None for hashes.
    score: float | None = None
    detail: dict[str, Any] | None = None
    #: Who identified the victim of the series the matched media belongs to, when known.
    identified: str | None = None

    def as_dict(self) -> dict[str, Any]:
        found = {
            "signal": self.signal,
            "distance": self.distance,
            "hashset": self.hashset,
            "media": self.media,
            "source": self.source,
            "category": self.category,
            "series": self.series,
        }
        if self.score is not None:
            found["score"] = round(self.score, 4)
        if self.detail:
            found["detail"] = self.detail
        if self.identified is not None:
            found["identified"] = self.identified
        return found


@dataclass(slots=True)
class TriageItem:
    path: str
    sha256: str | None
    type: str
    verdict: Verdict
    reasons: list[Reason] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "type": self.type,
            "verdict": self.verdict.value,
            "reasons": [r.as_dict() for r in self.reasons],
            "error": self.error,
        }


@dataclass
class TriageReport:
    source: str
    items: list[TriageItem]

    @property
    def counts(self) -> dict[str, int]:
        counts = {v.value: 0 for v in Verdict}
        for item in self.items:
            counts[item.verdict.value] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "counts": self.counts,
            "items": [i.as_dict() for i in self.items],
        }


def exact_reason(kind: str, hit: HashSetHit | MediaHit) -> Reason:
    if isinstance(hit, HashSetHit):
        return _hashset_reason(kind, 0, hit)
    return Reason(kind, 0, media=hit.sha256.hex(), source=hit.source)


def _hashset_reason(kind: str, distance: int, hit: HashSetHit) -> Reason:
    return Reason(
        kind,
        distance,
        hashset=hit.hashset,
        category=hit.category,
        series=hit.series,
        identified=hit.identified,
    )


def near_reason(kind: str, hit: NearHit) -> Reason:
    if hit.hashset is not None:
        return _hashset_reason(kind, hit.distance, hit.hashset)
    assert hit.media is not None
    return Reason(kind, hit.distance, media=hit.media.sha256.hex(), source=hit.media.source)


def dedupe_reasons(reasons: list[Reason]) -> list[Reason]:
    """The first reason per (signal, target, category, series), order kept."""
    seen: set[tuple[Any, ...]] = set()
    unique: list[Reason] = []
    for reason in reasons:
        key = (reason.signal, reason.hashset, reason.media, reason.category, reason.series)
        if key not in seen:
            seen.add(key)
            unique.append(reason)
    return unique


def triage_source(
    session: Session,
    source: Source,
    indexes: dict[str, NearIndex],
    thresholds: dict[str, int],
    linker: Linker | None = None,
) -> TriageReport:
    """The verdict of every file of ``source``, in path order.

    With a ``linker`` (every index open), crops PDQ misses become ``near`` and strong links to
    earlier material make ``related``; without one only hashes and PDQ are asked.
    """
    items: list[TriageItem] = []
    linked: dict[bytes, tuple[Verdict, list[Reason]] | None] = {}
    for rows in _chunks(session, source.id):
        chunk = _triage_chunk(session, source.id, rows, indexes, thresholds)
        if linker is not None:
            _add_links(session, source.id, rows, chunk, linker, linked)
        mark_series(session, chunk)
        items.extend(chunk)
    return TriageReport(source=source.name, items=items)


# --- Investigation: identification propagates (see vident.match.identified) ----------------


def mark_series(session: Session, items: list[TriageItem]) -> None:
    """Reasons that hit media of a series name the series and who identified its victim."""
    noted = with_identification(session, [item.reasons for item in items])
    for item, reasons in zip(items, noted, strict=True):
        item.reasons = reasons


def with_identification(session: Session, groups: list[list[Reason]]) -> list[list[Reason]]:
    """Each group of reasons with the series of the media they hit and, when its victim is
    identified, by whom (one batch of queries for every group)."""
    from vident.match.identified import named_series_notes, series_notes

    notes = series_notes(session, (r.media for group in groups for r in group if r.media))
    if notes:
        groups = [[_noted(r, notes.get(r.media or "")) for r in group] for group in groups]
    # A hash-set hit names its series by name: if that series is known here and identified
    # (a VICS import says so, or an analyst recorded it), the reason says so too.
    named = {r.series for group in groups for r in group if r.series and r.identified is None}
    by_name = named_series_notes(session, named)
    if by_name:
        groups = [
            [
                replace(r, identified=by_name[r.series])
                if r.identified is None and r.series in by_name
                else r
                for r in group
            ]
            for group in groups
        ]
    return groups


def _noted(reason: Reason, note: tuple[str, str | None] | None) -> Reason:
    if note is None:
        return reason
    return replace(reason, series=reason.series or note[0], identified=note[1])


# --- End of the investigation hook ---------------------------------------------------------


def _add_links(
    session: Session,
    source_id: int,
    rows: list[_Row],
    items: list[TriageItem],
    linker: Linker,
    linked: dict[bytes, tuple[Verdict, list[Reason]] | None],
) -> None:
    """Crops verified by local features (near), then strong links to earlier sources (related).

    ``linked`` keeps each media's answer for the rest of the run: a seizure holds many copies
    of one file (backups, thumbnails caches, chat exports), and the links of a media do not
    depend on which of its copies asks.
    """
    from vident.match.probe import probe_media

    for item, row in zip(items, rows, strict=True):
        sha256 = row[3]
        if item.verdict is not Verdict.NEW or sha256 is None:
            continue
        if sha256 not in linked:
            probe = probe_media(session, sha256, linker.settings.pdq_min_quality)
            linked[sha256] = link_verdict(linker, probe, before_source=source_id)
        found = linked[sha256]
        if found is not None:
            item.verdict, item.reasons = found[0], list(found[1])


def near_links(linker: Linker, probe: Probe) -> list[Link]:
    """Near duplicates that PDQ misses: verified crops of a picture, matching videos."""
    if probe.is_video:
        return [link for link in linker.video(probe) if link.detail.get("matched")]
    return linker.crops(probe)


def link_reasons(
    session: Session, links: list[Link], before_source: int | None, limit: int = MAX_REASONS
) -> list[Reason]:
    """Links as reasons, each naming its media and first source; with ``before_source`` only
    links to material of an earlier source count (None: every source)."""
    from vident.match.links import describe_media, first_sources

    if before_source is not None:
        earlier = first_sources(session, (link.media_id for link in links))
        links = [
            link for link in links if earlier.get(link.media_id, before_source) < before_source
        ]
    refs = describe_media(session, (link.media_id for link in links))
    return [
        Reason(
            link.by,
            int(link.detail.get("distance", 0)),
            media=refs[link.media_id].sha256.hex(),
            source=refs[link.media_id].source,
            score=link.score,
            detail=link.detail,
        )
        for link in links
        if link.media_id in refs
    ][:limit]


def known_video_reasons(linker: Linker, probe: Probe) -> list[Reason]:
    """Videos of hash sets (records from other instances) that the probe's frames match."""
    from vident.match.video_sets import known_videos

    frames = [values[0] for frame, values in probe.pdq if frame > 0]
    return [
        Reason(
            "vpdq",
            0,
            hashset=known.hashset,
            category=known.category,
            series=known.series,
            score=max(known.query_matched, known.candidate_matched),
            detail={
                "query_matched": round(known.query_matched, 3),
                "candidate_matched": round(known.candidate_matched, 3),
                "matched": True,
            },
            identified=known.identified,
        )
        for known in known_videos(linker.session, frames, linker.settings.pdq_threshold)
    ]


def link_verdict(
    linker: Linker, probe: Probe, before_source: int | None
) -> tuple[Verdict, list[Reason]] | None:
    """The verdict links give a query that no hash matched: ``near`` for a verified crop or a
    matching video, else ``related`` for a strong link, else None (still new).

    Triage asks it of each stored media that is still new, ``search`` of a file from outside,
    so both give the same verdict and reasons for the same picture.
    """
    from vident.match.connect import related

    reasons = link_reasons(linker.session, near_links(linker, probe), before_source)
    if probe.is_video:
        reasons = known_video_reasons(linker, probe) + reasons
    if reasons:
        return Verdict.NEAR, reasons[:MAX_REASONS]
    reasons = link_reasons(linker.session, related(linker, probe), before_source)
    if reasons:
        return Verdict.RELATED, reasons
    return None


_Row = tuple[str, str | None, int | None, bytes | None, str | None]


def _chunks(session: Session, source_id: int) -> Iterator[list[_Row]]:
    last = ""
    while True:
        rows = session.execute(
            select(Occurrence.path, Occurrence.error, Media.id, Media.sha256, Media.media_type)
            .outerjoin(Media, Media.id == Occurrence.media_id)
            .where(Occurrence.source_id == source_id, Occurrence.path > last)
            .order_by(Occurrence.path)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        yield [(r[0], r[1], r[2], bytes(r[3]) if r[3] is not None else None, r[4]) for r in rows]
        last = rows[-1][0]


def _triage_chunk(
    session: Session,
    source_id: int,
    rows: list[_Row],
    indexes: dict[str, NearIndex],
    thresholds: dict[str, int],
) -> list[TriageItem]:
    media_ids = [r[2] for r in rows if r[2] is not None]
    exact_names = [k.name for k in exact_kinds()]
    values: dict[int, list[tuple[str, bytes]]] = {}
    for part in chunked(media_ids):
        for media_id, kind, value in session.execute(
            select(Signal.media_id, Signal.kind, Signal.value).where(
                Signal.media_id.in_(part), Signal.kind.in_(exact_names)
            )
        ):
            values.setdefault(media_id, []).append((kind, bytes(value)))
    by_kind: dict[str, set[bytes]] = {}
    for pairs in values.values():
        for kind, value in pairs:
            by_kind.setdefault(kind, set()).add(value)
    in_sets = hashset_exact(session, by_kind)
    in_media = media_exact(session, by_kind, before_source=source_id)

    items: list[TriageItem] = []
    for path, error, row_media, sha256, media_type in rows:
        reasons: list[Reason] = []
        for kind, value in values.get(row_media, []) if row_media is not None else []:
            reasons.extend(exact_reason(kind, h) for h in in_sets.get((kind, value), []))
            reasons.extend(exact_reason(kind, h) for h in in_media.get((kind, value), []))
        reasons = dedupe_reasons(reasons)[:MAX_REASONS]
        verdict = Verdict.KNOWN if reasons else (Verdict.ERROR if error else Verdict.NEW)
        items.append(
            TriageItem(
                path=path,
                sha256=sha256.hex() if sha256 is not None else None,
                type=media_type or "other",
                verdict=verdict,
                reasons=reasons,
                error=error,
            )
        )
    _add_near(session, source_id, rows, items, indexes, thresholds)
    return items


def _add_near(
    session: Session,
    source_id: int,
    rows: list[_Row],
    items: list[TriageItem],
    indexes: dict[str, NearIndex],
    thresholds: dict[str, int],
) -> None:
    for kind in near_kinds():
        index = indexes.get(kind.name)
        if index is None or len(index) == 0:
            continue
        todo = [
            (item, row[2])
            for item, row in zip(items, rows, strict=True)
            if item.verdict is Verdict.NEW and row[2] is not None
        ]
        if not todo:
            return
        ids = [media_id for _, media_id in todo]
        queries = _query_values(session, kind.name, kind.version, ids, index.min_quality)
        asked = [(item, media_id) for item, media_id in todo if media_id in queries]
        matches = near(
            session,
            index,
            [queries[media_id] for _, media_id in asked],
            thresholds.get(kind.name, kind.threshold),
            before_source=source_id,
            exclude_media=[media_id for _, media_id in asked],
        )
        for (item, _), hits in zip(asked, matches, strict=True):
            if hits:
                item.verdict = Verdict.NEAR
                item.reasons = [near_reason(kind.name, h) for h in hits[:MAX_REASONS]]


def _query_values(
    session: Session, kind: str, version: int, media_ids: list[int], min_quality: int
) -> dict[int, list[bytes]]:
    """Each media's value and its variants, skipping values too poor to match on."""
    found: dict[int, list[bytes]] = {}
    for part in chunked(media_ids):
        for media_id, value, variants, quality in session.execute(
            select(Signal.media_id, Signal.value, Signal.variants, Signal.quality).where(
                Signal.media_id.in_(part),
                Signal.kind == kind,
                Signal.version == version,
                Signal.frame == 0,
            )
        ):
            if quality is not None and quality < min_quality:
                continue
            found[media_id] = split_variants(bytes(value), variants)
    return found
