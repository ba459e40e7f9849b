"""Alert hits: material an alert watches turned up in another agency's seizure.

An alert (:class:`~vident.store.models_exchange.Alert`) travels to peers as facts on the shared
records of the hashes it watches. :func:`scan_hits` looks for those hashes among this
instance's stored media: each agency whose source holds one is a hit. A hit on an alert of
this instance is kept as the owner's notification at once; a hit on a peer's alert is kept
here too (what this instance told whom) and goes back to the alert's owner as a hit record in
the shared list, relayed by hubs. Only the hit's facts travel: the alert, the hash, and the
hitting agency's name, country and contact, never its pictures, paths or case.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.exchange.peer_records import HitFacts
from vident.store.models import Media, Occurrence, Signal, Source
from vident.store.models_cases import CaseOwner
from vident.store.models_exchange import Alert, AlertHit, SharedHash, SharedRecord
from vident.store.models_security import Agency
from vident.store.upsert import chunked

#: Kinds an alert hit is found by, the one a hit names first: exact hashes only (near matches
#: are for analysts to judge).
EXACT = ("sha256", "sha1", "md5")


@dataclass(frozen=True, slots=True)
class _Hitter:
    agency_id: int | None
    name: str
    country: str | None
    contact: str | None


def _exists(
    session: Session, ref: str, instance: str, agency: str, kind: str, value: bytes
) -> bool:
    return (
        session.scalar(
            select(AlertHit.id).where(
                AlertHit.alert_ref == ref,
                AlertHit.hit_instance == instance,
                AlertHit.hit_agency == agency,
                AlertHit.kind == kind,
                AlertHit.value == value,
            )
        )
        is not None
    )


def take_hit(session: Session, hit_instance: str, hit: HitFacts) -> int | None:
    """Keep a hit on one of this instance's alerts, sent by ``hit_instance``; None when it
    was known already (a resent batch, a bundle imported twice)."""
    value = bytes.fromhex(hit.value)
    if _exists(session, hit.alert, hit_instance, hit.agency, hit.kind, value):
        return None
    alert = session.get(Alert, int(hit.alert.partition(":")[2]))
    owner = session.get(Agency, alert.agency_id) if alert and alert.agency_id else None
    row = AlertHit(
        alert_ref=hit.alert,
        alert_id=alert.id if alert else None,
        label=alert.label if alert else hit.label,
        owner_instance=hit.to,
        owner_agency=owner.name if owner else None,
        hit_instance=hit_instance,
        hit_agency=hit.agency,
        hit_country=hit.country,
        hit_contact=hit.contact,
        kind=hit.kind,
        value=value,
        at=hit.at,
    )
    session.add(row)
    session.flush()
    return row.id


def _hitters(session: Session, media_ids: list[int], me: str) -> dict[int, list[_Hitter]]:
    """For each media: the agencies whose sources hold it (the instance itself for sources
    without an owning agency)."""
    found: dict[int, dict[int | None, _Hitter]] = {}
    for part in chunked(media_ids):
        rows = session.execute(
            select(Occurrence.media_id, Agency.id, Agency.name, Agency.country, Agency.contact)
            .join(Source, Source.id == Occurrence.source_id)
            .outerjoin(CaseOwner, CaseOwner.case_id == Source.case_id)
            .outerjoin(Agency, Agency.id == CaseOwner.agency_id)
            .where(Occurrence.media_id.in_(part))
            .distinct()
        )
        for media_id, agency_id, name, country, contact in rows:
            if media_id is None:
                continue
            hitter = _Hitter(agency_id, name or f"{me} (no agency)", country, contact)
            found.setdefault(media_id, {})[agency_id] = hitter
    return {media: list(by.values()) for media, by in found.items()}


def _local_media(session: Session, kind: str, values: list[bytes]) -> dict[bytes, list[int]]:
    found: dict[bytes, list[int]] = {}
    for part in chunked(values):
        if kind == "sha256":
            query = select(Media.sha256, Media.id).where(Media.sha256.in_(part))
        else:
            query = select(Signal.value, Signal.media_id).where(
                Signal.kind == kind, Signal.value.in_(part), Signal.frame == 0
            )
        for value, media_id in session.execute(query):
            found.setdefault(bytes(value), []).append(media_id)
    return found


class SeqSource(Protocol):
    """What a scan needs of the shared list: the next sequence number."""

    def next(self) -> int: ...


@dataclass(frozen=True, slots=True)
class NewHit:
    """A hit found by a scan: its row here, and whether it goes to another instance."""

    hit_id: int
    alert_ref: str
    agency: str
    outgoing: bool


def scan_hits(session: Session, me: str, next_seq: SeqSource) -> list[NewHit]:
    """Every hit not yet recorded of an alert (here or a peer's) on this instance's media."""
    watched: dict[tuple[str, bytes], list[SharedRecord]] = {}
    for kind, value, record in session.execute(
        select(SharedHash.kind, SharedHash.value, SharedRecord)
        .join(SharedRecord, SharedRecord.id == SharedHash.record_id)
        .where(
            SharedRecord.alerted.is_(True),
            SharedRecord.deleted.is_(False),
            SharedHash.kind.in_(EXACT),
        )
    ).all():
        watched.setdefault((kind, bytes(value)), []).append(record)
    made: list[NewHit] = []
    # One hit per record and media, named by its strongest hash.
    done: set[tuple[int, int]] = set()
    for kind in EXACT:
        values = [v for k, v in watched if k == kind]
        local = _local_media(session, kind, values)
        hitters = _hitters(session, sorted({m for ids in local.values() for m in ids}), me)
        for value, media_ids in local.items():
            for record in watched[(kind, value)]:
                for media_id in media_ids:
                    if (record.id, media_id) in done:
                        continue
                    done.add((record.id, media_id))
                    for hitter in hitters.get(media_id, []):
                        found = _hits(session, me, record, kind, value, hitter, next_seq)
                        made.extend(found)
    return made


def _hits(
    session: Session,
    me: str,
    record: SharedRecord,
    kind: str,
    value: bytes,
    hitter: _Hitter,
    next_seq: SeqSource,
) -> list[NewHit]:
    made: list[NewHit] = []
    for facts in record.payload.get("facts", {}).get("alerts", []):
        ref = str(facts["ref"])
        owner, _, number = ref.partition(":")
        if owner == me:
            alert = session.get(Alert, int(number))
            if alert is None or not alert.active or _own_material(alert, hitter):
                continue
        if _exists(session, ref, me, hitter.name, kind, value):
            continue
        now = datetime.now(UTC)
        row = AlertHit(
            alert_ref=ref,
            alert_id=int(number) if owner == me else None,
            label=str(facts.get("label") or ""),
            owner_instance=owner,
            owner_agency=facts.get("agency"),
            hit_instance=me,
            hit_agency=hitter.name,
            hit_country=hitter.country,
            hit_contact=hitter.contact,
            kind=kind,
            value=value,
            at=now,
        )
        session.add(row)
        session.flush()
        if owner != me:
            _send(session, me, owner, record.level, row, next_seq)
        made.append(NewHit(row.id, ref, hitter.name, owner != me))
    return made


def _own_material(alert: Alert, hitter: _Hitter) -> bool:
    """The alert's own agency's material never hits its alert."""
    return hitter.agency_id == alert.agency_id


def _send(
    session: Session, me: str, owner: str, level: str, row: AlertHit, next_seq: SeqSource
) -> None:
    """Put the hit in the shared list, addressed to the alert's owner."""
    hit = HitFacts(
        alert=row.alert_ref,
        label=row.label,
        to=owner,
        agency=row.hit_agency,
        country=row.hit_country,
        contact=row.hit_contact,
        kind=row.kind,  # type: ignore[arg-type]
        value=row.value.hex(),
        at=row.at,
    )
    key = hashlib.sha256(
        f"hit:{row.alert_ref}:{row.hit_agency}:{row.kind}:{row.value.hex()}".encode()
    ).digest()
    seq = next_seq.next()
    payload = {"hashes": {}, "facts": {}, "hit": hit.model_dump(mode="json")}
    session.add(SharedRecord.live(seq, me, key, level, seq, payload, None, row.at))
