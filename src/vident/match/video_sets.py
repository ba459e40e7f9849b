"""Videos known from hash sets: a video whose frames match a known video's, vPDQ-style.

Records of videos from other instances carry their frame hashes, kept in the hash set
``peer:<origin>`` under the kind ``vpdq`` (never ``pdq``: a single frame is not the video).
A stored video that no hash matched is compared here with every such known video that shares
at least one frame within the threshold: when 80% of the frames of one are found in the
other, triage calls it ``near`` and the reason names the hash set, its series and who
identified the victim, as for a picture.

Candidates come from a scan of the known frames (``np.bitwise_count`` over 64-bit words): a
few hundred thousand frames cost milliseconds per video. A far larger set of known videos
would want an index like the PDQ one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.match.vpdq import compare
from vident.store.models import HashSet, HashSetEntry, HashSetHash
from vident.store.upsert import chunked

#: The kind under which a video's frame hashes are kept in hash sets.
FRAME_KIND = "vpdq"
#: Known frames compared with one query frame at a time (bounds the XOR temporary).
_BLOCK = 65_536


@dataclass(frozen=True, slots=True)
class KnownVideo:
    """A hash-set entry whose frames match a query video."""

    hashset: str
    category: str | None
    series: str | None
    identified: str | None
    query_matched: float
    candidate_matched: float


def _words(frames: list[bytes]) -> npt.NDArray[np.uint64]:
    return np.frombuffer(b"".join(frames), dtype=np.uint64).reshape(len(frames), -1)


def known_videos(session: Session, frames: list[bytes], distance: int) -> list[KnownVideo]:
    """Hash-set videos that match the video of ``frames`` (32-byte PDQ hashes), best first."""
    if not frames:
        return []
    rows = [
        (entry, bytes(value))
        for entry, value in session.execute(
            select(HashSetHash.entry_id, HashSetHash.value).where(HashSetHash.kind == FRAME_KIND)
        )
        if len(value) == 32
    ]
    if not rows:
        return []
    stored = _words([value for _, value in rows])
    owners = np.array([entry for entry, _ in rows], dtype=np.int64)
    query = _words(frames)
    near = np.zeros(len(rows), dtype=bool)
    for start in range(0, len(rows), _BLOCK):
        block = stored[start : start + _BLOCK]
        for code in query:
            bits = np.bitwise_count(block ^ code).sum(axis=1)
            near[start : start + _BLOCK] |= bits <= distance
    candidates = sorted({int(e) for e in owners[near]})
    by_entry: dict[int, list[bytes]] = {}
    for entry, value in rows:
        if entry in candidates:
            by_entry.setdefault(entry, []).append(value)
    found: list[KnownVideo] = []
    facts = _entries(session, candidates)
    for entry, held in by_entry.items():
        match = compare(frames, held, distance=distance)
        if match.matched and entry in facts:
            name, category, series, identified = facts[entry]
            found.append(
                KnownVideo(
                    name,
                    category,
                    series,
                    identified,
                    match.query_matched,
                    match.candidate_matched,
                )
            )
    return sorted(found, key=lambda v: -max(v.query_matched, v.candidate_matched))


def _entries(
    session: Session, ids: list[int]
) -> dict[int, tuple[str, str | None, str | None, str | None]]:
    found: dict[int, tuple[str, str | None, str | None, str | None]] = {}
    for part in chunked(ids):
        for entry, name, category, series, identified in session.execute(
            select(
                HashSetEntry.id,
                HashSet.name,
                HashSetEntry.category,
                HashSetEntry.series,
                HashSetEntry.identified_by,
            )
            .join(HashSet, HashSet.id == HashSetEntry.hashset_id)
            .where(HashSetEntry.id.in_(part))
        ):
            found[entry] = (name, category, series, identified)
    return found
