"""The hash-chained audit trail: append in order, and find the first event tampered with.

Each event's hash is SHA-256 over a canonical JSON of its fields and the previous event's hash,
so editing, removing or reordering an event breaks the chain from there on. Ids are given
under a lock without gaps, and the anchor row keeps the count and the newest hash, so cutting
off the newest events is found too. Appending first updates the anchor row, which takes the
write lock on SQLite and a row lock on PostgreSQL: concurrent writers append one at a time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from vident.store.base import utcnow
from vident.store.models_security import AuditAnchor, AuditEvent

ANCHOR_ID = 1
GENESIS = ""
OUTCOMES = frozenset({"ok", "denied", "failed"})


class AuditError(Exception):
    """The trail cannot be appended to; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    kind: str
    agency: int | None


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes: every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def event_hash(event: AuditEvent) -> str:
    """SHA-256 (hex) over the canonical JSON of the event's fields and its prev_hash."""
    fields: dict[str, Any] = {
        "id": event.id,
        "at": _utc(event.at).isoformat(timespec="microseconds"),
        "actor": event.actor,
        "actor_kind": event.actor_kind,
        "actor_agency": event.actor_agency,
        "action": event.action,
        "target": event.target,
        "outcome": event.outcome,
        "remote": event.remote,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(
    session: Session,
    actor: Actor,
    action: str,
    target: str | None,
    outcome: str,
    detail: Mapping[str, Any] | None = None,
    remote: str | None = None,
) -> AuditEvent:
    """Append one event in ``session``'s transaction (it commits with the caller's work)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome {outcome!r} is not one of {sorted(OUTCOMES)}")
    # Lock first: the UPDATE takes SQLite's write lock and PostgreSQL's row lock before reading.
    locked = session.execute(
        update(AuditAnchor)
        .where(AuditAnchor.id == ANCHOR_ID)
        .values(count=AuditAnchor.count)
        .execution_options(synchronize_session=False)
    )
    if locked.rowcount == 0:  # type: ignore[attr-defined]
        raise AuditError(
            "the audit trail's anchor row is missing: the trail was tampered with; "
            "restore the store from a backup"
        )
    anchor = session.execute(
        select(AuditAnchor)
        .where(AuditAnchor.id == ANCHOR_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    event = AuditEvent(
        id=anchor.count + 1,
        at=utcnow(),
        actor=actor.name,
        actor_kind=actor.kind,
        actor_agency=actor.agency,
        action=action,
        target=target,
        outcome=outcome,
        remote=remote,
        detail=dict(detail) if detail else None,
        prev_hash=anchor.head_hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    anchor.count = event.id
    anchor.head_hash = event.hash
    session.flush()
    return event


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of walking the chain: intact, or the first broken event and why."""

    count: int
    head_hash: str
    broken_at: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def _events(session: Session) -> Iterator[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
    yield from session.execute(query).scalars()


def verify(session: Session) -> Verdict:
    """Walk the chain in id order; name the first event that was edited, removed or moved."""
    previous_hash = GENESIS
    expected_id = 1
    count = 0
    for event in _events(session):
        if event.id != expected_id:
            missing = (
                f"event {expected_id}"
                if event.id == expected_id + 1
                else f"events {expected_id} to {event.id - 1}"
            )
            return Verdict(count, previous_hash, expected_id, f"{missing} removed")
        if event.prev_hash != previous_hash:
            return Verdict(
                count,
                previous_hash,
                event.id,
                f"event {event.id} does not follow event {event.id - 1}: "
                "an event was removed, moved or rewritten",
            )
        if event_hash(event) != event.hash:
            return Verdict(
                count,
                previous_hash,
                event.id,
                f"event {event.id} ({event.action} by {event.actor}) was altered: "
                "its fields do not match its hash",
            )
        previous_hash = event.hash
        expected_id += 1
        count += 1
    anchor = session.get(AuditAnchor, ANCHOR_ID)
    if anchor is None:
        return Verdict(count, previous_hash, expected_id, "the audit anchor row was removed")
    if anchor.count != count or anchor.head_hash != previous_hash:
        if anchor.count > count:
            first = count + 1
            return Verdict(
                count,
                previous_hash,
                first,
                f"the trail ends at event {count} but {anchor.count} were recorded: "
                f"events {first} to {anchor.count} were removed",
            )
        return Verdict(
            count,
            previous_hash,
            count,
            f"event {count} is not the recorded head of the trail: the anchor was altered",
        )
    return Verdict(count, previous_hash)
