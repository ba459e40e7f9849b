"""What the store knows about one file: exact and near matches, links, and where each was seen.

``vident search FILE`` reads the file through :func:`vident.match.probe.read_probe`, the query
path ``vident similar`` uses too, and asks the questions triage asks of ingested material, in
the same order and through the same functions: exact hashes, PDQ (every rotation and flip),
then crops and videos verified by local features or frames, then strong links. So a crop that
triage calls ``near`` by keypoints is found by search, with the same reason. Unlike triage,
every source counts (not only earlier ones), and verified crops are reported even when a hash
already matched: search answers "where has this been seen", not "is it new here".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.config import Limits
from vident.match.links import Linker
from vident.match.lookup import hashset_exact, media_exact, near
from vident.match.probe import Probe, read_probe
from vident.match.triage import (
    Reason,
    Verdict,
    dedupe_reasons,
    exact_reason,
    link_reasons,
    link_verdict,
    near_links,
    near_reason,
    with_identification,
)
from vident.signals.registry import exact_kinds
from vident.store.models import Media, Occurrence, Source

MAX_OCCURRENCES = 20
#: Most links of one kind (crops, related) reported for one file.
MAX_LINKS = 20


@dataclass
class Match:
    reason: Reason
    occurrences: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.reason.as_dict(),
            "occurrences": [{"source": s, "path": p} for s, p in self.occurrences],
        }


@dataclass
class SearchResult:
    file: str
    sha256: str | None
    type: str
    error: str | None
    matches: list[Match]
    #: What triage would call the file if a new source held it: known, near, related, new,
    #: error; against every source.
    verdict: str = Verdict.NEW.value

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "type": self.type,
            "verdict": self.verdict,
            "error": self.error,
            "matches": [m.as_dict() for m in self.matches],
        }


def search_file(session: Session, path: Path, linker: Linker, limits: Limits) -> SearchResult:
    """Every exact, near and linked match of the file in any source, and the verdict."""
    probe = read_probe(path, limits, min_pdq_quality=linker.settings.pdq_min_quality)
    probe.media_id = _stored_media_id(session, probe.sha256)
    return search_probe(session, probe, linker, str(path))


def search_probe(session: Session, probe: Probe, linker: Linker, file: str) -> SearchResult:
    """What :func:`search_file` answers, for a query already read (a file, or a stored media
    whose probe carries its digests): the same questions, so both give the same answer."""
    exact = _exact_reasons(session, probe)
    hashes_near = _pdq_reasons(session, linker, probe)
    if exact or hashes_near:
        verdict = Verdict.KNOWN if exact else Verdict.NEAR
        verified = link_reasons(session, near_links(linker, probe), None, MAX_LINKS)
        reasons = exact + hashes_near + verified
    elif (found := link_verdict(linker, probe, before_source=None)) is not None:
        verdict, reasons = found
    else:
        verdict, reasons = (Verdict.ERROR if probe.error else Verdict.NEW), []
    return SearchResult(
        file=file,
        sha256=probe.sha256.hex() if probe.sha256 else None,
        type=probe.media_type,
        error=probe.error,
        matches=_dedupe_and_locate(session, with_identification(session, [reasons])[0]),
        verdict=verdict.value,
    )


def _stored_media_id(session: Session, sha256: bytes | None) -> int | None:
    """The file's own media when it is stored: links never lead back to the file itself."""
    if sha256 is None:
        return None
    found: int | None = session.scalar(select(Media.id).where(Media.sha256 == sha256))
    return found


def _exact_reasons(session: Session, probe: Probe) -> list[Reason]:
    """Hash-set entries and stored media (any source) with one of the file's exact hashes."""
    names = {kind.name for kind in exact_kinds()}
    by_kind = {name: {value} for name, value in probe.digests.items() if name in names}
    reasons: list[Reason] = []
    for (name, _), set_hits in hashset_exact(session, by_kind).items():
        reasons.extend(exact_reason(name, hit) for hit in set_hits)
    for (name, _), media_hits in media_exact(session, by_kind, before_source=None).items():
        reasons.extend(exact_reason(name, hit) for hit in media_hits)
    return reasons


def _pdq_reasons(session: Session, linker: Linker, probe: Probe) -> list[Reason]:
    """PDQ matches of the picture, any rotation or flip, in media and hash sets.

    Asked exactly as triage asks a stored picture: its frame-0 hash and variants, through
    :func:`vident.match.lookup.near` (videos are matched by their frames in ``near_links``).
    """
    index = linker.indexes.near.get("pdq")
    values = [variants for frame, variants in probe.pdq if frame == 0][:1]
    if index is None or not values or len(index) == 0:
        return []
    hits = near(
        session,
        index,
        values,
        linker.settings.pdq_threshold,
        before_source=None,
        exclude_media=[probe.media_id],
    )[0]
    return [near_reason("pdq", hit) for hit in hits]


def _dedupe_and_locate(session: Session, reasons: list[Reason]) -> list[Match]:
    """One match per target and signal (reasons come best first), with where each was seen."""
    matches = [Match(reason) for reason in dedupe_reasons(reasons)]
    for match in matches:
        if match.reason.media is None:
            continue
        rows = session.execute(
            select(Source.name, Occurrence.path)
            .join(Source, Source.id == Occurrence.source_id)
            .join(Media, Media.id == Occurrence.media_id)
            .where(Media.sha256 == bytes.fromhex(match.reason.media))
            .order_by(Source.id, Occurrence.path)
            .limit(MAX_OCCURRENCES)
        )
        match.occurrences = [(s, p) for s, p in rows]
    return matches
