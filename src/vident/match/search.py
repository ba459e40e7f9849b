"""What the store knows about one picture: exact and near matches, and where each was seen."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.config import Limits
from vident.index.near import NearIndex
from vident.ingest.records import FileTimes, WorkItem
from vident.ingest.worker import process_item
from vident.match.lookup import hashset_exact, media_exact, near
from vident.match.triage import Reason, dedupe_reasons, exact_reason, near_reason
from vident.signals.registry import exact_kinds, near_kinds
from vident.store.models import Media, Occurrence, Source

MAX_OCCURRENCES = 20


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "type": self.type,
            "error": self.error,
            "matches": [m.as_dict() for m in self.matches],
        }


def search_file(
    session: Session,
    path: Path,
    indexes: dict[str, NearIndex],
    thresholds: dict[str, int],
    limits: Limits,
) -> SearchResult:
    """Compute the file's signals exactly as ingest does, then look each one up."""
    stat = path.stat()
    item = WorkItem(
        path=path.name,
        size=stat.st_size,
        times=FileTimes(stat.st_mtime, stat.st_ctime, stat.st_atime),
        fs_path=os.fspath(path.resolve()),
    )
    # Hashes and near-duplicate hashes only: faces, scenes and text are 'vident similar'.
    result = process_item(item, limits, [k.name for k in near_kinds()])
    matches: list[Match] = []
    by_kind = {
        s.kind: {s.value}
        for s in result.signals
        if s.kind in {k.name for k in exact_kinds()} and s.frame == 0
    }
    for (name, _), set_hits in hashset_exact(session, by_kind).items():
        matches.extend(Match(exact_reason(name, h)) for h in set_hits)
    for (name, _), media_hits in media_exact(session, by_kind, before_source=None).items():
        matches.extend(Match(exact_reason(name, h)) for h in media_hits)
    for kind in near_kinds():
        index = indexes.get(kind.name)
        value = next((s for s in result.signals if s.kind == kind.name), None)
        if index is None or value is None:
            continue
        if value.quality is not None and value.quality < index.min_quality:
            continue
        near_hits = near(
            session,
            index,
            [[value.value, *value.variants]],
            thresholds.get(kind.name, kind.threshold),
            before_source=None,
        )[0]
        matches.extend(Match(near_reason(kind.name, h)) for h in near_hits)
    _dedupe_and_locate(session, matches)
    return SearchResult(
        file=str(path),
        sha256=result.sha256.hex() if result.sha256 else None,
        type=result.media_type.value if result.media_type else "other",
        error=result.error,
        matches=matches,
    )


def _dedupe_and_locate(session: Session, matches: list[Match]) -> None:
    """Keep the closest match per target and signal, and say where each media was seen."""
    by_distance = sorted((m.reason for m in matches), key=lambda r: r.distance)
    matches[:] = [Match(reason) for reason in dedupe_reasons(by_distance)]
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
