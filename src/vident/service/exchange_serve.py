"""What a peer may ask of this instance: pull changes, push its own, match hashes.

The caller is a :class:`~vident.service.context.Principal` of kind ``peer`` made by
:func:`vident.service.peers.authenticate_peer`; only these use cases allow it. Each answers
from the shared list (:mod:`vident.exchange.shared`) and only with records within the peer's
reach, so nothing an agency keeps to itself, and no picture, ever leaves. Both ends audit
every exchange with its counts.
"""

from __future__ import annotations

import base64
from typing import Annotated

import numpy as np
from pydantic import Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vident.exchange.peer_records import (
    HASH_BYTES,
    MAX_FRAMES,
    PeerRecord,
    RecordBatch,
    reaches,
)
from vident.exchange.private_match import ANSWERER, PrivateMatchError, psi_item
from vident.exchange.shared import (
    ApplySummary,
    apply_records,
    as_record,
    changes_for,
)
from vident.index.binary import FaissBinaryIndex
from vident.match.video_sets import FRAME_KIND
from vident.match.vpdq import compare
from vident.service.alerts import scan_alerts
from vident.service.audit import record_in, require
from vident.service.context import Context, Role
from vident.service.errors import Forbidden, Invalid
from vident.service.peers import load_identity
from vident.service.publishing import publish_if_changed
from vident.service.schemas import Model
from vident.store.generation import move_on
from vident.store.models_exchange import Peer, SharedHash, SharedRecord
from vident.store.upsert import chunked

PEERS = frozenset({Role.PEER})
#: Hashes one match query may hold.
MAX_QUERY = 10_000
#: Videos one match query may hold (each up to MAX_FRAMES frame hashes).
MAX_VIDEOS = 100


class ApplyOut(Model):
    """What a batch of records did at the receiving end."""

    added: int
    changed: int
    withdrawn: int
    unchanged: int
    own: int


def apply_out(summary: ApplySummary) -> ApplyOut:
    return ApplyOut(**summary.as_dict())


def calling_peer(ctx: Context, session: Session, action: str) -> Peer:
    """The peer row of the calling principal (refused for anyone else)."""
    require(ctx, action, ctx.principal.name, PEERS)
    peer = session.scalar(select(Peer).where(Peer.name == ctx.principal.name))
    if peer is None or not peer.allowed:
        raise Forbidden(f"{ctx.principal.name} is not an allowed peer")
    return peer


def check_origins(peer: Peer, records: list[PeerRecord]) -> None:
    """A national peer speaks only for its own material; a hub relays others' too."""
    if peer.role == "hub":
        return
    foreign = next((r.origin for r in records if r.origin != peer.name), None)
    if foreign is not None:
        raise Invalid(f"{peer.name} sent records of {foreign}: a national peer sends only its own")


def serve_changes(ctx: Context, since: int, limit: int) -> RecordBatch:
    """Records past the peer's cursor ``since`` that it may have, ``limit`` at most."""
    with ctx.store.session() as session:
        peer = calling_peer(ctx, session, "exchange.pull")
        publish_if_changed(ctx, session)
        records, upto, more = changes_for(
            session, peer.name, peer.reach, since, limit, hub=peer.role == "hub"
        )
        detail = {"since": since, "upto": upto, "records": len(records)}
        record_in(session, ctx, "exchange.pull", peer.name, "ok", detail)
    return RecordBatch(records=records, upto=upto, more=more)


def receive_changes(ctx: Context, batch: RecordBatch) -> ApplyOut:
    """Take a peer's pushed records (idempotent: a batch sent twice changes nothing more)."""
    with ctx.store.session() as session:
        peer = calling_peer(ctx, session, "exchange.push")
        check_origins(peer, batch.records)
        summary = apply_records(session, peer.name, batch.records, load_identity(ctx).name)
        detail = {**summary.as_dict(), "records": len(batch.records), "upto": batch.upto}
        record_in(session, ctx, "exchange.push", peer.name, "ok", dict(detail))
    move_on(ctx.store)
    scan_alerts(ctx, summary.hits)
    return apply_out(summary)


HexHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32,64}$")]


class QueryHash(Model):
    kind: Annotated[str, StringConstraints(max_length=16)]
    value: HexHash


class VideoQuery(Model):
    """One video of a seizure: the PDQ hashes of its sampled frames, compared as a bag."""

    frames: list[Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]] = Field(
        min_length=1, max_length=MAX_FRAMES
    )


class MatchQuery(Model):
    """Hashes of a seizure; exact kinds match exactly, PDQ within ``radius``, videos by vPDQ
    (at least 80% of the frames of one found in the other)."""

    hashes: list[QueryHash] = Field(max_length=MAX_QUERY)
    videos: list[VideoQuery] = Field(default_factory=list, max_length=MAX_VIDEOS)
    radius: int = Field(default=31, ge=0, le=63)


class MatchHit(Model):
    #: Index of the matched hash in the query (of the video, for kind ``vpdq``).
    query: int
    kind: str
    distance: int
    record: PeerRecord
    #: For a video: the larger share of frames of one video found in the other.
    score: float | None = None


class MatchAnswer(Model):
    matches: list[MatchHit]


def answer_match(ctx: Context, query: MatchQuery) -> MatchAnswer:
    """The shared records within the peer's reach that any queried hash matches."""
    for item in query.hashes:
        if item.kind not in HASH_BYTES or len(item.value) != 2 * HASH_BYTES[item.kind]:
            raise Invalid(f"{item.kind[:16]} hashes are {2 * HASH_BYTES.get(item.kind, 0)} hex")
    with ctx.store.session() as session:
        peer = calling_peer(ctx, session, "exchange.match")
        publish_if_changed(ctx, session)
        url = ctx.settings.database_url
        found: list[tuple[int, str, int, int, float | None]] = [
            (*hit, None) for hit in _exact(session, query) + _near(session, query, url)
        ]
        found += _videos(session, query, url)
        rows = _live_records(session, {hit[3] for hit in found})
        matches = [
            MatchHit(
                query=number,
                kind=kind,
                distance=distance,
                record=as_record(rows[record_id]),
                score=score,
            )
            for number, kind, distance, record_id, score in found
            if record_id in rows
            and reaches(rows[record_id].level, peer.reach)
            and rows[record_id].origin != peer.name
        ]
        detail = {
            "hashes": len(query.hashes),
            "videos": len(query.videos),
            "matches": len(matches),
        }
        record_in(session, ctx, "exchange.match", peer.name, "ok", detail)
    return MatchAnswer(matches=matches)


class PrivateQueryIn(Model):
    """A private matching request: the querier's blinded exact hashes (base64)."""

    request: str = Field(max_length=4 * MAX_QUERY * 64)


class PrivateAnswerOut(Model):
    """This instance's blinded set and the querier's hashes blinded again (base64)."""

    setup: str
    response: str


def answer_private(ctx: Context, query: PrivateQueryIn) -> PrivateAnswerOut:
    """Private set intersection over the exact hashes of the shared records within the peer's
    reach: the peer learns which of its hashes match, this instance only how many it asked."""
    try:
        request = base64.b64decode(query.request, validate=True)
    except ValueError:
        raise Invalid("the request is not base64") from None
    with ctx.store.session() as session:
        peer = calling_peer(ctx, session, "exchange.private_match")
        publish_if_changed(ctx, session)
        top = session.scalar(select(func.max(SharedRecord.seq))) or 0
        version = (ctx.settings.database_url, peer.name, peer.reach, top)

        def items() -> list[str]:
            rows = session.execute(
                select(SharedHash.kind, SharedHash.value, SharedRecord.level, SharedRecord.origin)
                .join(SharedRecord, SharedRecord.id == SharedHash.record_id)
                .where(SharedHash.kind != "pdq", SharedRecord.deleted.is_(False))
            )
            return [
                psi_item(kind, bytes(value))
                for kind, value, level, origin in rows
                if reaches(level, peer.reach) and origin != peer.name
            ]

        try:
            setup, response = ANSWERER.answer(version, items, request)
        except PrivateMatchError as exc:
            raise Invalid(str(exc)) from None
        # The request's size (how many hashes were asked) is all this instance learns.
        record_in(
            session, ctx, "exchange.private_match", peer.name, "ok", {"request_bytes": len(request)}
        )
    return PrivateAnswerOut(
        setup=base64.b64encode(setup).decode(), response=base64.b64encode(response).decode()
    )


def _exact(session: Session, query: MatchQuery) -> list[tuple[int, str, int, int]]:
    wanted: dict[tuple[str, bytes], list[int]] = {}
    for number, item in enumerate(query.hashes):
        if item.kind != "pdq":
            wanted.setdefault((item.kind, bytes.fromhex(item.value)), []).append(number)
    found: list[tuple[int, str, int, int]] = []
    for kind in {k for k, _ in wanted}:
        values = sorted(v for k, v in wanted if k == kind)
        for part in chunked(values):
            for value, record_id in session.execute(
                select(SharedHash.value, SharedHash.record_id).where(
                    SharedHash.kind == kind, SharedHash.value.in_(part)
                )
            ):
                found.extend((n, kind, 0, record_id) for n in wanted[(kind, bytes(value))])
    return found


def _near(session: Session, query: MatchQuery, store_url: str) -> list[tuple[int, str, int, int]]:
    numbers = [n for n, item in enumerate(query.hashes) if item.kind == "pdq"]
    if not numbers:
        return []
    index = _binary_index(session, store_url, "pdq")
    if len(index) == 0:
        return []
    codes = np.frombuffer(
        b"".join(bytes.fromhex(query.hashes[n].value) for n in numbers), dtype=np.uint8
    ).reshape(len(numbers), -1)
    return [
        (numbers[hit.query], "pdq", hit.distance, hit.ref)
        for hit in index.search_radius(codes, query.radius)
    ]


def _videos(
    session: Session, query: MatchQuery, store_url: str
) -> list[tuple[int, str, int, int, float | None]]:
    """Shared videos matching each queried video by vPDQ: candidates are the records holding
    a frame within the radius of one of its frames; each is compared as a whole bag."""
    if not query.videos:
        return []
    index = _binary_index(session, store_url, FRAME_KIND)
    if len(index) == 0:
        return []
    found: list[tuple[int, str, int, int, float | None]] = []
    for number, video in enumerate(query.videos):
        frames = [bytes.fromhex(f) for f in video.frames]
        codes = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(len(frames), -1)
        candidates = sorted({hit.ref for hit in index.search_radius(codes, query.radius)})
        stored: dict[int, list[bytes]] = {}
        for part in chunked(candidates):
            for record_id, value in session.execute(
                select(SharedHash.record_id, SharedHash.value).where(
                    SharedHash.record_id.in_(part), SharedHash.kind == FRAME_KIND
                )
            ):
                stored.setdefault(record_id, []).append(bytes(value))
        for record_id, held in stored.items():
            match = compare(frames, held, distance=query.radius)
            if match.matched:
                share = max(match.query_matched, match.candidate_matched)
                found.append((number, FRAME_KIND, round(100 * (1 - share)), record_id, share))
    return found


_INDEX_CACHE: dict[tuple[str, str], tuple[int, FaissBinaryIndex]] = {}


def _binary_index(session: Session, store_url: str, kind: str) -> FaissBinaryIndex:
    """The shared list's hashes of ``kind`` (PDQ, or video frames) in an exact radius index,
    kept while the list is unchanged."""
    top = session.scalar(select(SharedRecord.seq).order_by(SharedRecord.seq.desc()).limit(1)) or 0
    held = _INDEX_CACHE.get((store_url, kind))
    if held is not None and held[0] == top:
        return held[1]
    index = FaissBinaryIndex()
    rows = session.execute(
        select(SharedHash.value, SharedHash.record_id).where(SharedHash.kind == kind)
    ).all()
    if rows:
        codes = np.frombuffer(b"".join(bytes(v) for v, _ in rows), dtype=np.uint8)
        index.add(codes.reshape(len(rows), -1), np.array([r for _, r in rows], dtype=np.int64))
    _INDEX_CACHE[(store_url, kind)] = (top, index)
    return index


def _live_records(session: Session, ids: set[int]) -> dict[int, SharedRecord]:
    found: dict[int, SharedRecord] = {}
    for part in chunked(sorted(ids)):
        for row in session.scalars(
            select(SharedRecord).where(SharedRecord.id.in_(part), SharedRecord.deleted.is_(False))
        ):
            found[row.id] = row
    return found
