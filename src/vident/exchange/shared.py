"""The shared list: what this instance offers its peers, kept as numbered changes.

Three things write it, each in the caller's transaction:

- :func:`publish_local` compares the store with what was last published of this instance's own
  material and records the difference: a media a case or series now shares beyond the agency
  is added, one whose facts changed (a category, a series renamed, an identification made or
  withdrawn) is changed, one no longer shared is withdrawn;
- :func:`apply_records` takes records from a peer: it keeps them to relay and writes them into
  the hash set ``peer:<origin>``, which triage, search and export already read, so a remote
  identification shows as the reason of a local verdict;
- nothing else: the list is never edited by hand.

Every change takes the next sequence number (:class:`Sequence`), so a peer's cursor is one
number and :func:`changes_for` answers "everything since N" for it. A change that travels
late (an old bundle, a batch resent after a lost acknowledgement) never overwrites a newer
one: each record carries its origin's revision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, and_, delete, func, insert, or_, select, true, update
from sqlalchemy.orm import Session

from vident.exchange.alert_hits import take_hit
from vident.exchange.peer_records import (
    HASH_BYTES,
    LEVELS,
    MAX_ALERTS,
    MAX_FRAMES,
    AlertFacts,
    Facts,
    HitFacts,
    PeerRecord,
    reaches,
    widest,
)
from vident.match.identified import identified_victims
from vident.match.video_sets import FRAME_KIND
from vident.match.vpdq import MIN_QUALITY as VPDQ_MIN_QUALITY
from vident.store.models import Case, HashSet, HashSetEntry, HashSetHash, Media, Occurrence, Signal
from vident.store.models import Source as SourceRow
from vident.store.models_cases import CaseOwner, CategoryVote, Series, SeriesMedia
from vident.store.models_exchange import (
    Alert,
    AlertHash,
    ExchangeState,
    SharedHash,
    SharedRecord,
)
from vident.store.models_security import Agency
from vident.store.upsert import chunked, insert_tuples

_SHARED_HASHES: Table = SharedHash.__table__  # type: ignore[assignment]
_HASHSET_HASHES: Table = HashSetHash.__table__  # type: ignore[assignment]
#: Where the hash set of a peer's records is kept: ``peer:<origin>``.
PEER_SET_PREFIX = "peer:"
_SEQ = "seq"


class Sequence:
    """The next sequence numbers, with the counter row locked until the transaction ends.

    Locking the one row makes writers of the shared list take turns, so numbers are
    committed in the order they are given: a reader past N never misses a change below N.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        locked = session.execute(
            update(ExchangeState)
            .where(ExchangeState.name == _SEQ)
            .values(value=ExchangeState.value)
        )
        if locked.rowcount == 0:  # type: ignore[attr-defined]
            session.add(ExchangeState(name=_SEQ, value=0))
            session.flush()
        self.value = int(
            session.scalar(select(ExchangeState.value).where(ExchangeState.name == _SEQ)) or 0
        )

    def next(self) -> int:
        self.value += 1
        return self.value

    def save(self) -> None:
        self.session.execute(
            update(ExchangeState).where(ExchangeState.name == _SEQ).values(value=self.value)
        )


def last_seq(session: Session) -> int:
    return int(session.scalar(select(ExchangeState.value).where(ExchangeState.name == _SEQ)) or 0)


# --- this instance's own material -----------------------------------------------------------


@dataclass
class PublishSummary:
    added: int = 0
    changed: int = 0
    withdrawn: int = 0


@dataclass
class _Shared:
    """One media as its widest sharing case or series shares it."""

    level: str
    agency: int | None
    case: str | None = None
    series: list[tuple[str, int, str]] = field(default_factory=list)  # name, id, status


def _shared_media(session: Session) -> dict[int, _Shared]:
    """Every media a case or series shares beyond its agency, at its widest level.

    A case's or series' name travels only at a level that case or series itself shares: a
    media of an international series found in a national case goes to international peers
    with the series and without the case.
    """
    cases = session.execute(
        select(Occurrence.media_id, CaseOwner.sharing, CaseOwner.agency_id, Case.name)
        .join(SourceRow, SourceRow.id == Occurrence.source_id)
        .join(CaseOwner, CaseOwner.case_id == SourceRow.case_id)
        .join(Case, Case.id == CaseOwner.case_id)
        .where(CaseOwner.sharing.in_(LEVELS), Occurrence.media_id.is_not(None))
        .distinct()
    ).all()
    series_rows = session.execute(
        select(
            SeriesMedia.media_id,
            Series.sharing,
            Series.agency_id,
            Series.name,
            Series.id,
            Series.status,
        )
        .join(Series, Series.id == SeriesMedia.series_id)
        .where(Series.sharing.in_(LEVELS))
    ).all()
    found: dict[int, _Shared] = {}
    owners = [(r[0], r[1], r[2]) for r in cases if r[0] is not None]
    owners.extend((r[0], r[1], r[2]) for r in series_rows)
    for media_id, sharing, agency in owners:
        held = found.get(media_id)
        if held is None or widest(held.level, sharing) != held.level:
            found[media_id] = _Shared(level=sharing, agency=agency)
    for case_media, sharing, _agency, case_name in cases:
        shared = found[case_media or 0]
        if shared.case is None and reaches(sharing, shared.level):
            shared.case = case_name
    for media_id, sharing, _agency, name, series_id, status in series_rows:
        shared = found[media_id]
        if reaches(sharing, shared.level):
            shared.series.append((name, series_id, status))
    return found


def _alerts(
    session: Session, me: str, agencies: dict[int, tuple[str, str | None, str | None]]
) -> tuple[
    dict[int, list[tuple[str, dict[str, Any]]]], list[tuple[str, dict[str, Any], str, bytes]]
]:
    """Active alerts as facts: per media of an alerted series (level, facts), and per watched
    hash (level, facts, kind, value)."""
    by_media: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    by_hash: list[tuple[str, dict[str, Any], str, bytes]] = []
    alerts = session.scalars(select(Alert).where(Alert.active.is_(True))).all()
    for alert in alerts:
        agency, country, contact = agencies.get(alert.agency_id or 0, (None, None, None))
        facts = AlertFacts(
            ref=f"{me}:{alert.id}",
            label=alert.label,
            agency=agency,
            country=country,
            contact=contact,
        ).model_dump()
        if alert.series_id is not None:
            for (media_id,) in session.execute(
                select(SeriesMedia.media_id).where(SeriesMedia.series_id == alert.series_id)
            ):
                by_media.setdefault(media_id, []).append((alert.sharing, facts))
        for kind, value in session.execute(
            select(AlertHash.kind, AlertHash.value).where(AlertHash.alert_id == alert.id)
        ):
            by_hash.append((alert.sharing, facts, kind, bytes(value)))
    return by_media, by_hash


def _local_records(session: Session, me: str) -> dict[bytes, tuple[str, dict[str, Any]]]:
    """key -> (level, payload) for this instance's shared media and alerts, as they are now."""
    shared = _shared_media(session)
    owners: dict[int, tuple[str, str | None, str | None]] = {
        agency_id: (name, country, contact)
        for agency_id, name, country, contact in session.execute(
            select(Agency.id, Agency.name, Agency.country, Agency.contact)
        )
    }
    agencies = {key: (name, country) for key, (name, country, _) in owners.items()}
    alerted, watched = _alerts(session, me, owners)
    for media_id, alerts in alerted.items():
        for level, _alert in alerts:
            held = shared.get(media_id)
            if held is None:
                # Only the hashes travel for an alert: no case or series name.
                shared[media_id] = _Shared(level=level, agency=None)
            else:
                held.level = widest(held.level, level)
    series_ids = {sid for s in shared.values() for _, sid, _ in s.series}
    victims = identified_victims(session, series_ids)
    found: dict[bytes, tuple[str, dict[str, Any]]] = {}
    for part in chunked(sorted(shared)):
        hashes: dict[int, dict[str, str]] = {i: {} for i in part}
        for media_id, kind, value in session.execute(
            select(Signal.media_id, Signal.kind, Signal.value).where(
                Signal.media_id.in_(part), Signal.kind.in_(HASH_BYTES), Signal.frame == 0
            )
        ):
            if len(value) == HASH_BYTES[kind]:
                hashes[media_id][kind] = bytes(value).hex()
        frames = video_frames(session, part)
        votes: dict[int, tuple[str, str]] = {}
        for media_id, scheme, category in session.execute(
            select(CategoryVote.media_id, CategoryVote.scheme, CategoryVote.category)
            .where(CategoryVote.media_id.in_(part))
            .order_by(CategoryVote.at, CategoryVote.id)
        ):
            votes[media_id] = (scheme, category)
        for media_id, sha256, media_type, size in session.execute(
            select(Media.id, Media.sha256, Media.media_type, Media.size).where(Media.id.in_(part))
        ):
            item = shared[media_id]
            item_hashes = hashes[media_id]
            item_hashes["sha256"] = bytes(sha256).hex()
            facts = _facts(item, victims, agencies, votes.get(media_id))
            facts.update(media_type=media_type, size=size)
            facts["alerts"] = [f for _, f in alerted.get(media_id, [])][:MAX_ALERTS]
            payload: dict[str, Any] = {
                "hashes": item_hashes,
                "facts": Facts(**facts).model_dump(),
            }
            if frames.get(media_id):
                payload["frames"] = frames[media_id]
            found[bytes(sha256)] = (item.level, payload)
    for level, alert, kind, value in watched:
        key = hashlib.sha256(f"alert:{alert['ref']}:{kind}:{value.hex()}".encode()).digest()
        watching = Facts(alerts=[AlertFacts(**alert)]).model_dump()
        found[key] = (level, {"hashes": {kind: value.hex()}, "facts": watching})
    return found


def _facts(
    item: _Shared,
    victims: dict[int, str],
    agencies: dict[int, tuple[str, str | None]],
    vote: tuple[str, str] | None,
) -> dict[str, Any]:
    facts: dict[str, Any] = {"case": item.case}
    # The series whose victim is identified first, else the first by name.
    for name, series_id, status in sorted(
        item.series, key=lambda s: (s[1] not in victims and s[2] != "victim_identified", s[0])
    ):
        facts["series"] = name
        note = victims.get(series_id)
        if note is None and status == "victim_identified":
            note = "victim identified"
        facts["identified_by"] = note
        facts["victim_identified"] = note is not None
        facts["offender_identified"] = status == "offender_identified"
        break
    if item.agency is not None and item.agency in agencies:
        facts["agency"], facts["country"] = agencies[item.agency]
    if vote is not None:
        facts["category_scheme"], facts["category"] = vote
    return facts


def video_frames(session: Session, media_ids: Seq[int]) -> dict[int, list[str]]:
    """The frame hashes of the videos among ``media_ids`` (usable quality, each once)."""
    found: dict[int, list[str]] = {}
    for media_id, value, quality in session.execute(
        select(Signal.media_id, Signal.value, Signal.quality)
        .where(Signal.media_id.in_(media_ids), Signal.kind == "pdq", Signal.frame > 0)
        .order_by(Signal.media_id, Signal.frame)
    ):
        if quality is not None and quality < VPDQ_MIN_QUALITY:
            continue
        held = found.setdefault(media_id, [])
        digits = bytes(value).hex()
        if digits not in held and len(held) < MAX_FRAMES:
            held.append(digits)
    return found


def publish_local(session: Session, me: str) -> PublishSummary:
    """Bring the shared list of this instance's own material up to date with the store."""
    summary = PublishSummary()
    current = _local_records(session, me)
    held = {
        bytes(row.key): row
        for row in session.scalars(select(SharedRecord).where(SharedRecord.origin == me))
        if "hit" not in row.payload  # alert hits sent from here are not published material
    }
    sequence = Sequence(session)
    now = datetime.now(UTC)
    fresh: list[SharedRecord] = []
    rehashed: list[SharedRecord] = []
    for key, (level, payload) in current.items():
        row = held.get(key)
        if row is None:
            seq = sequence.next()
            row = SharedRecord.live(seq, me, key, level, seq, payload, None, now)
            session.add(row)
            fresh.append(row)
            summary.added += 1
        elif row.deleted or row.level != level or row.payload != payload:
            seq = sequence.next()
            if row.deleted:
                fresh.append(row)
            elif _hashed(row.payload) != _hashed(payload):  # a signal computed later
                rehashed.append(row)
            row.seq, row.revision, row.level, row.deleted = seq, seq, level, False
            row.widest, row.payload, row.updated_at = widest(row.widest, level), payload, now
            row.alerted = SharedRecord.watched(payload)
            summary.changed += 1
    gone = [row for key, row in held.items() if key not in current and not row.deleted]
    for row in gone:
        seq = sequence.next()
        row.seq, row.revision, row.deleted, row.updated_at = seq, seq, True, now
        summary.withdrawn += 1
    session.flush()
    _drop_hashes(session, [row.id for row in [*gone, *rehashed]])
    _add_hashes(session, [*fresh, *rehashed])
    sequence.save()
    return summary


def _hashed(payload: dict[str, Any]) -> tuple[object, ...]:
    """What of a payload ``shared_hash`` and the hash sets hold: its hashes and frames."""
    return (sorted(payload.get("hashes", {}).items()), payload.get("frames", []))


def _drop_hashes(session: Session, record_ids: list[int]) -> None:
    for part in chunked(record_ids):
        session.execute(delete(SharedHash).where(SharedHash.record_id.in_(part)))


def _add_hashes(session: Session, rows: Seq[SharedRecord]) -> None:
    values = [
        (row.id, kind, bytes.fromhex(value))
        for row in rows
        for kind, value in row.payload.get("hashes", {}).items()
    ]
    values.extend(
        (row.id, FRAME_KIND, bytes.fromhex(value))
        for row in rows
        for value in row.payload.get("frames", [])
    )
    # The driver's own executemany: per-row ORM parameter handling cost more than the insert.
    insert_tuples(session, _SHARED_HASHES, ("record_id", "kind", "value"), values)


# --- what goes to a peer ---------------------------------------------------------------------


def as_record(row: SharedRecord, *, withdrawn: bool = False) -> PeerRecord:
    """The record a peer is sent for ``row``; ``withdrawn`` sends only its withdrawal."""
    if row.deleted or withdrawn:
        return PeerRecord(
            origin=row.origin,
            key=bytes(row.key).hex(),
            revision=row.revision,
            level=row.widest,  # type: ignore[arg-type]
            deleted=True,
        )
    return PeerRecord(
        origin=row.origin,
        key=bytes(row.key).hex(),
        revision=row.revision,
        level=row.level,  # type: ignore[arg-type]
        hashes=row.payload.get("hashes", {}),
        facts=Facts(**row.payload.get("facts", {})),
        frames=row.payload.get("frames", []),
        hit=HitFacts(**row.payload["hit"]) if "hit" in row.payload else None,
    )


def changes_for(
    session: Session,
    peer: str,
    reach: str,
    since: int,
    limit: int,
    *,
    hub: bool = False,
    only_origin: str | None = None,
) -> tuple[list[PeerRecord], int, bool]:
    """Up to ``limit`` records past ``since`` that a peer named ``peer`` of ``reach`` may have.

    Returns the records, the cursor to continue from (past rows skipped for this peer too) and
    whether more rows follow. Never sends a peer its own records or those it sent here; a record
    out of its reach goes as a withdrawal only when it was once within it. An alert hit goes
    only to the alert's owner, or to a ``hub`` that relays it there. ``only_origin``: this
    instance's own records only (what it pushes or bundles: relaying is a hub's work, done
    when peers pull from it).
    """
    rows = session.scalars(
        select(SharedRecord)
        .where(
            SharedRecord.seq > since,
            SharedRecord.origin != peer,
            or_(SharedRecord.received_from.is_(None), SharedRecord.received_from != peer),
            true() if only_origin is None else SharedRecord.origin == only_origin,
        )
        .order_by(SharedRecord.seq)
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    records: list[PeerRecord] = []
    for row in rows:
        hit = row.payload.get("hit")
        if hit is not None and not hub and hit.get("to") != peer:
            continue
        if not row.deleted and reaches(row.level, reach):
            records.append(as_record(row))
        elif reaches(row.widest, reach):
            records.append(as_record(row, withdrawn=True))
    return records, (rows[-1].seq if rows else since), more


# --- what comes from a peer ------------------------------------------------------------------


@dataclass
class ApplySummary:
    """What a batch of records did here."""

    added: int = 0
    changed: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    #: Records of this instance's own material coming back: never taken.
    own: int = 0
    #: Alert hits for this instance's alerts that arrived with the batch (their row ids).
    hits: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "added": self.added,
            "changed": self.changed,
            "withdrawn": self.withdrawn,
            "unchanged": self.unchanged,
            "own": self.own,
        }


def peer_set_name(origin: str) -> str:
    return PEER_SET_PREFIX + origin


def apply_records(
    session: Session, sender: str, records: Iterable[PeerRecord], me: str
) -> ApplySummary:
    """Take ``records`` from peer ``sender`` into the shared list and the peers' hash sets."""
    summary = ApplySummary()
    given = list(records)
    batch = [r for r in given if r.origin != me]
    summary.own = len(given) - len(batch)
    if not batch:
        return summary
    held: dict[tuple[str, bytes], SharedRecord] = {}
    for origin in {r.origin for r in batch}:
        keys = [bytes.fromhex(r.key) for r in batch if r.origin == origin]
        for part in chunked(keys):
            for row in session.scalars(
                select(SharedRecord).where(
                    and_(SharedRecord.origin == origin, SharedRecord.key.in_(part))
                )
            ):
                held[(origin, bytes(row.key))] = row
    sequence = Sequence(session)
    now = datetime.now(UTC)
    taken: list[tuple[PeerRecord, SharedRecord, bool]] = []
    for record in _latest(batch):
        key = bytes.fromhex(record.key)
        payload: dict[str, Any] = {"hashes": record.hashes, "facts": record.facts.model_dump()}
        if record.hit is not None:
            payload["hit"] = record.hit.model_dump(mode="json")
        if record.frames:
            payload["frames"] = list(record.frames)
        held_row = held.get((record.origin, key))
        if held_row is None:
            if record.deleted:  # a withdrawal of something never held here
                summary.unchanged += 1
                continue
            fresh = SharedRecord.live(
                sequence.next(),
                record.origin,
                key,
                record.level,
                record.revision,
                payload,
                sender,
                now,
            )
            session.add(fresh)
            taken.append((record, fresh, True))
            summary.added += 1
            continue
        if held_row.revision >= record.revision:
            summary.unchanged += 1
            continue
        was_live = not held_row.deleted
        # Hashes to (re)write: the record comes back to life, or its hashes changed there.
        rehash = not was_live or _hashed(held_row.payload) != _hashed(payload)
        held_row.seq, held_row.revision = sequence.next(), record.revision
        held_row.level, held_row.deleted = record.level, record.deleted
        held_row.widest = widest(held_row.widest, record.level)
        held_row.received_from, held_row.updated_at = sender, now
        if not record.deleted:
            held_row.payload, held_row.alerted = payload, SharedRecord.watched(payload)
        taken.append((record, held_row, rehash))
        if record.deleted:
            summary.withdrawn += was_live
            summary.unchanged += not was_live
        else:
            summary.changed += 1
    session.flush()
    _drop_hashes(session, [row.id for record, row, rehash in taken if record.deleted or rehash])
    _add_hashes(session, [row for record, row, rehash in taken if rehash and not record.deleted])
    sequence.save()
    _write_peer_sets(
        session,
        sender,
        [record for record, _, _ in taken if record.hit is None],
        {_entry_key(record) for record, _, rehash in taken if rehash},
    )
    for record, _, _ in taken:
        # An alert hit addressed here is a notification; one for another owner is relayed.
        if record.hit is not None and not record.deleted and record.hit.to == me:
            made = take_hit(session, record.origin, record.hit)
            if made is not None:
                summary.hits.append(made)
    return summary


def _latest(records: list[PeerRecord]) -> list[PeerRecord]:
    """One record per (origin, key): the highest revision in the batch."""
    best: dict[tuple[str, str], PeerRecord] = {}
    for record in records:
        held = best.get((record.origin, record.key))
        if held is None or record.revision > held.revision:
            best[(record.origin, record.key)] = record
    return list(best.values())


def _entry_key(record: PeerRecord) -> bytes:
    return hashlib.sha256(b"peer:" + bytes.fromhex(record.key)).digest()[:16]


def _peer_set(session: Session, origin: str, sender: str) -> int:
    name = peer_set_name(origin)
    found = session.scalar(select(HashSet.id).where(HashSet.name == name))
    if found is not None:
        return found
    row = HashSet(
        name=name,
        origin=f"vident instance {origin} (via {sender})",
        format="peer",
        status="complete",
    )
    session.add(row)
    session.flush()
    return row.id


def _write_peer_sets(
    session: Session, sender: str, records: list[PeerRecord], rehash: set[bytes]
) -> None:
    """Mirror ``records`` into the ``peer:<origin>`` hash sets that triage reads; the hashes
    of entries whose key is in ``rehash`` (their hashes changed at the origin) are rewritten."""
    for origin in sorted({r.origin for r in records}):
        set_id = _peer_set(session, origin, sender)
        keys = {_entry_key(r): r for r in records if r.origin == origin}
        existing = _entry_ids(session, set_id, keys)
        gone = [existing[k] for k, r in keys.items() if r.deleted and k in existing]
        for part in chunked(gone):
            session.execute(delete(HashSetHash).where(HashSetHash.entry_id.in_(part)))
            session.execute(delete(HashSetEntry).where(HashSetEntry.id.in_(part)))
        live = {k: r for k, r in keys.items() if not r.deleted}
        changed = [
            {"id": existing[k], **_entry_columns(r)} for k, r in live.items() if k in existing
        ]
        if changed:
            session.execute(update(HashSetEntry), changed)
        stale = [existing[k] for k in live if k in existing and k in rehash]
        for part in chunked(stale):
            session.execute(delete(HashSetHash).where(HashSetHash.entry_id.in_(part)))
        fresh = {k: r for k, r in live.items() if k not in existing}
        if fresh:
            session.execute(
                insert(HashSetEntry),
                [
                    {"hashset_id": set_id, "entry_key": k, **_entry_columns(r)}
                    for k, r in fresh.items()
                ],
            )
        hashed = {k: r for k, r in live.items() if k in fresh or k in rehash}
        made: list[tuple[int, str, bytes]] = []
        for key, entry_id in _entry_ids(session, set_id, hashed).items():
            record = hashed[key]
            made.extend((entry_id, kind, value) for kind, value in record.hash_bytes().items())
            made.extend((entry_id, FRAME_KIND, bytes.fromhex(f)) for f in record.frames)
        insert_tuples(session, _HASHSET_HASHES, ("entry_id", "kind", "value"), made)
    session.flush()


def _entry_ids(session: Session, set_id: int, keys: Iterable[bytes]) -> dict[bytes, int]:
    """The entry ids of hash set ``set_id`` under ``keys`` (those it holds)."""
    found: dict[bytes, int] = {}
    for part in chunked(sorted(keys)):
        found.update(
            (bytes(k), i)
            for k, i in session.execute(
                select(HashSetEntry.entry_key, HashSetEntry.id).where(
                    HashSetEntry.hashset_id == set_id, HashSetEntry.entry_key.in_(part)
                )
            )
        )
    return found


def _entry_columns(record: PeerRecord) -> dict[str, Any]:
    facts = record.facts
    owner = ", ".join(x for x in (facts.agency, facts.country) if x)
    return {
        "category": facts.category,
        "category_scheme": facts.category_scheme,
        "series": facts.series,
        "victim_identified": facts.victim_identified,
        "offender_identified": facts.offender_identified,
        "identified_by": facts.identified_by,
        "comment": f"shared by {owner} on {record.origin}"
        if owner
        else f"shared on {record.origin}",
        "media_size": facts.size,
        "extra": {
            "origin": record.origin,
            "agency": facts.agency,
            "country": facts.country,
            "case": facts.case,
            "level": record.level,
            "revision": record.revision,
        },
    }


def count_live(session: Session, origin: str | None = None) -> int:
    query = select(func.count(SharedRecord.id)).where(SharedRecord.deleted.is_(False))
    if origin is not None:
        query = query.where(SharedRecord.origin == origin)
    return int(session.scalar(query) or 0)
