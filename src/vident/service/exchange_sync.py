"""Exchange with a peer from this side: push and pull, match a seizure remotely, bundles.

**Sync** pushes what changed here since the peer's push cursor, in batches, moving the cursor
on only when the peer acknowledged a batch; then pulls what changed there since the pull
cursor, applying each batch and moving the cursor in the same transaction. A peer that goes
down in the middle leaves both cursors at the last batch that went through: run the same
sync again and it goes on from there, duplicating nothing (records carry their revision).

**Remote matching** sends the hashes of a source (never the pictures) and keeps the records
that matched in the hash set ``peer:<origin>``, so triage names the remote database and its
identification as the reason of its verdict.

**Bundles** carry the same changes on removable media: signed by this instance, encrypted for
the one peer that may open them, verified before anything is applied, and applied once.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select

from vident.exchange.peer_records import BATCH, PeerRecord, RecordBatch
from vident.exchange.private_match import PrivateQuery, psi_item
from vident.exchange.shared import apply_records, changes_for, video_frames
from vident.security.sealing import BundleError, bundle_sender, open_bundle, seal
from vident.service.alerts import scan_alerts
from vident.service.audit import record
from vident.service.context import Context
from vident.service.errors import Conflict, Invalid, NotFound, ServiceError
from vident.service.exchange_serve import (
    MAX_QUERY,
    MAX_VIDEOS,
    ApplyOut,
    MatchAnswer,
    PrivateAnswerOut,
    apply_out,
    check_origins,
)
from vident.service.peer_client import Caller, PeerAddress, PeerRefused
from vident.service.peers import BUNDLE_NONCE, load_identity, peer_named, public_of
from vident.service.publishing import publish_if_changed
from vident.service.schemas import Model
from vident.service.scope import check_source
from vident.service.sources import find_source
from vident.service.use_case import MAINTAIN, WORK_ON_MEDIA, use_case
from vident.store.models import Media, Occurrence, Signal
from vident.store.models_exchange import Peer, PeerMessage
from vident.store.upsert import chunked

#: Told what happened ("push", "pull") and how many records so far.
Progress = Callable[[str, int], None]
BUNDLE_FORMAT = "vident-bundle-1"
#: The largest bundle file read (a million records is about 600 MB of JSON).
MAX_BUNDLE = 4 * 1024**3


def _quiet(_what: str, _count: int) -> None:
    return None


def _caller(ctx: Context, peer: Peer, retries: int | None = None) -> Caller:
    address = PeerAddress(name=peer.name, url=peer.url, signing_key=bytes(peer.signing_key))
    caller = Caller(load_identity(ctx), address, timeout=ctx.settings.peer_timeout)
    if retries is not None:
        caller.retries = retries
    return caller


def _contact(ctx: Context, name: str, error: str | None) -> None:
    with ctx.store.session() as session:
        peer = session.scalar(select(Peer).where(Peer.name == name))
        if peer is not None:
            peer.last_contact, peer.last_error = datetime.now(UTC), error


class SyncOut(Model):
    """What one sync did: records pushed (and what the peer made of them), records pulled."""

    peer: str
    pushed: int
    push_batches: int
    pushed_result: ApplyOut
    pulled: int
    pull_batches: int
    pulled_result: ApplyOut
    push_cursor: int
    pull_cursor: int


_NOTHING = ApplyOut(added=0, changed=0, withdrawn=0, unchanged=0, own=0)


@dataclass
class _Tally:
    """A sync as it goes (the reply model is frozen)."""

    peer: str
    push_cursor: int
    pull_cursor: int
    pushed: int = 0
    push_batches: int = 0
    pulled: int = 0
    pull_batches: int = 0
    pushed_result: ApplyOut = field(default_factory=lambda: _NOTHING)
    pulled_result: ApplyOut = field(default_factory=lambda: _NOTHING)
    #: Alert hits for this instance's alerts that came with the pulled records.
    hits: list[int] = field(default_factory=list)

    def out(self) -> SyncOut:
        return SyncOut(**{k: v for k, v in asdict(self).items() if k != "hits"})


def _add(total: ApplyOut, part: ApplyOut) -> ApplyOut:
    return ApplyOut(**{k: getattr(total, k) + getattr(part, k) for k in ApplyOut.model_fields})


@use_case("peer.sync", MAINTAIN)
def sync_peer(
    ctx: Context,
    name: str,
    *,
    retries: int | None = None,
    batch: int = BATCH,
    progress: Progress = _quiet,
) -> SyncOut:
    """Push this instance's changes to peer ``name``, then pull its changes here."""
    if not 1 <= batch <= BATCH:
        raise Invalid(f"a batch holds 1 to {BATCH} records")
    peer = peer_named(ctx, name)
    caller = _caller(ctx, peer, retries)
    out = _Tally(peer=name, push_cursor=peer.push_cursor, pull_cursor=peer.pull_cursor)
    try:
        _push(ctx, caller, peer, out, batch, progress)
        _pull(ctx, caller, peer, out, batch, progress)
    except ServiceError as exc:
        _contact(ctx, name, str(exc)[:500])
        _counts(ctx, out, "failed", str(exc)[:300])
        raise
    _contact(ctx, name, None)
    _counts(ctx, out, "ok", None)
    scan_alerts(ctx, out.hits)
    return out.out()


def _counts(ctx: Context, out: _Tally, outcome: str, error: str | None) -> None:
    """The audit trail keeps what went each way, also when the peer went away half-way."""
    detail: dict[str, int | str | None] = {
        "pushed": out.pushed,
        "pulled": out.pulled,
        "push_cursor": out.push_cursor,
        "pull_cursor": out.pull_cursor,
        "added_here": out.pulled_result.added,
        "added_there": out.pushed_result.added,
    }
    if error is not None:
        detail["error"] = error
    record(ctx, "peer.exchanged", out.peer, outcome, dict(detail))


def _push(
    ctx: Context, caller: Caller, peer: Peer, out: _Tally, batch: int, progress: Progress
) -> None:
    me = load_identity(ctx).name
    with ctx.store.session() as session:
        publish_if_changed(ctx, session)
    while True:
        with ctx.store.reader() as session:
            records, upto, more = changes_for(
                session,
                peer.name,
                peer.reach,
                out.push_cursor,
                batch,
                hub=peer.role == "hub",
                only_origin=me,
            )
        if records:
            message = RecordBatch(records=records, upto=upto, more=more)
            answer = caller.call("POST", "/exchange/changes", message.model_dump(mode="json"))
            try:
                result = ApplyOut.model_validate(answer)
            except ValidationError:
                raise PeerRefused(f"{peer.name} answered a push with something else") from None
            out.pushed += len(records)
            out.push_batches += 1
            out.pushed_result = _add(out.pushed_result, result)
            progress("push", out.pushed)
        if upto != out.push_cursor:
            with ctx.store.session() as session:
                row = session.scalar(select(Peer).where(Peer.name == peer.name))
                if row is None:
                    raise NotFound(f"peer {peer.name} was removed during the sync")
                row.push_cursor = out.push_cursor = upto
        if not more:
            return


def _pull(
    ctx: Context, caller: Caller, peer: Peer, out: _Tally, batch: int, progress: Progress
) -> None:
    me = load_identity(ctx).name
    while True:
        before = out.pull_cursor
        answer = caller.call("GET", f"/exchange/changes?since={before}&limit={batch}")
        try:
            message = RecordBatch.model_validate(answer)
        except ValidationError as exc:
            raise PeerRefused(
                f"{peer.name} sent records that are not valid: {_first(exc)}"
            ) from None
        if message.upto < out.pull_cursor:
            raise PeerRefused(f"{peer.name} moved its cursor back ({message.upto})")
        with ctx.store.session() as session:
            row = session.scalar(select(Peer).where(Peer.name == peer.name))
            if row is None:
                raise NotFound(f"peer {peer.name} was removed during the sync")
            check_origins(row, message.records)
            summary = apply_records(session, peer.name, message.records, me)
            row.pull_cursor = out.pull_cursor = message.upto
        out.hits.extend(summary.hits)
        out.pulled += len(message.records)
        out.pull_batches += 1
        out.pulled_result = _add(out.pulled_result, apply_out(summary))
        progress("pull", out.pulled)
        if not message.more:
            return
        if not message.records and message.upto == before:
            raise PeerRefused(f"{peer.name} says more records follow but does not move on")


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error.get('msg', '')}"[:200]


# --- remote matching --------------------------------------------------------------------------


class RemoteMatchOut(Model):
    """A source's hashes matched at a peer: how many were asked, how many the peer saw in the
    clear (all of them, or in private mode only those that matched), what was taken here."""

    peer: str
    source: str
    private: bool
    hashes: int
    revealed: int
    #: Videos sent as bags of frame hashes (vPDQ); none in private mode.
    videos: int = 0
    matches: int
    records: ApplyOut


def _source_hashes(ctx: Context, source: str) -> tuple[list[tuple[str, bytes]], list[list[str]]]:
    """(kind, value) of every exchanged hash of the media of ``source`` (scope-checked), and
    the frame hashes of each of its videos."""
    found: dict[tuple[str, bytes], None] = {}
    videos: list[list[str]] = []
    with ctx.store.reader() as session:
        row = check_source(ctx, session, find_source(session, source))
        media_ids = sorted(
            m
            for m in session.scalars(
                select(Occurrence.media_id).where(Occurrence.source_id == row.id).distinct()
            )
            if m is not None
        )
        for part in chunked(media_ids):
            for (sha,) in session.execute(select(Media.sha256).where(Media.id.in_(part))):
                found[("sha256", bytes(sha))] = None
            for kind, value in session.execute(
                select(Signal.kind, Signal.value).where(
                    Signal.media_id.in_(part),
                    Signal.kind.in_(("md5", "sha1", "pdq")),
                    Signal.frame == 0,
                )
            ):
                found[(kind, bytes(value))] = None
            videos.extend(video_frames(session, part).values())
    return list(found), videos


@use_case("peer.match", WORK_ON_MEDIA)
def match_source(ctx: Context, source: str, peer: str, *, private: bool = False) -> RemoteMatchOut:
    """Send the hashes of ``source`` to ``peer`` and keep what matched as its records here.

    ``private``: exact hashes only, through private set intersection first, so the peer sees
    in the clear only the hashes it holds (PDQ is not sent: near matching stays plain)."""
    hashes, videos = _source_hashes(ctx, source)
    caller = _caller(ctx, peer_named(ctx, peer))
    asked = hashes
    if private:  # neither PDQ nor video frames: near matching stays plain
        asked = [(kind, value) for kind, value in hashes if kind != "pdq"]
        hashes = _private_matches(caller, asked)
        videos = []
    me = load_identity(ctx).name
    matches = 0
    total = _NOTHING
    queries: list[dict[str, object]] = [
        {"hashes": [{"kind": k, "value": v.hex()} for k, v in hashes[i : i + MAX_QUERY]]}
        for i in range(0, len(hashes), MAX_QUERY)
    ]
    queries += [
        {"hashes": [], "videos": [{"frames": f} for f in videos[i : i + MAX_VIDEOS]]}
        for i in range(0, len(videos), MAX_VIDEOS)
    ]
    for message in queries:
        answer = caller.call("POST", "/exchange/match", message)
        try:
            found = MatchAnswer.model_validate(answer)
        except ValidationError as exc:
            raise PeerRefused(
                f"{peer} answered a match with something else: {_first(exc)}"
            ) from None
        matches += len(found.matches)
        records = list({(m.record.origin, m.record.key): m.record for m in found.matches}.values())
        with ctx.store.session() as session:
            peer_row = session.scalar(select(Peer).where(Peer.name == peer))
            if peer_row is not None:
                check_origins(peer_row, records)
            total = _add(total, apply_out(apply_records(session, peer, records, me)))
    scan_alerts(ctx)
    return RemoteMatchOut(
        peer=peer,
        source=source,
        private=private,
        hashes=len(asked),
        revealed=len(hashes),
        videos=len(videos),
        matches=matches,
        records=total,
    )


def _private_matches(caller: Caller, hashes: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The hashes the peer holds, found without showing it the others."""
    matched: list[tuple[str, bytes]] = []
    for start in range(0, len(hashes), MAX_QUERY):
        part = hashes[start : start + MAX_QUERY]
        query = PrivateQuery([psi_item(kind, value) for kind, value in part])
        request = base64.b64encode(query.request()).decode()
        answer = caller.call("POST", "/exchange/private-match", {"request": request})
        try:
            found = PrivateAnswerOut.model_validate(answer)
            setup = base64.b64decode(found.setup, validate=True)
            response = base64.b64decode(found.response, validate=True)
            held = set(query.matched(setup, response))
        except (ValidationError, ValueError) as exc:
            raise PeerRefused(
                f"{caller.peer.name} answered a private match wrongly: {exc}"
            ) from None
        matched.extend((k, v) for k, v in part if psi_item(k, v) in held)
    return matched


# --- bundles ----------------------------------------------------------------------------------


class BundleOut(Model):
    peer: str
    file: str
    records: int
    since: int
    upto: int


@use_case("bundle.export", MAINTAIN)
def export_bundle(ctx: Context, peer: str, file: Path, *, since: int | None = None) -> BundleOut:
    """Write the changes for ``peer`` since ``since`` (default: the last bundle for it) into a
    file sealed for it alone."""
    target = peer_named(ctx, peer)
    start = target.bundle_cursor if since is None else since
    if start < 0:
        raise Invalid("--since is a sequence number, 0 or more")
    if file.exists():
        raise Conflict(f"{file} exists: choose another file name")
    identity = load_identity(ctx)
    records: list[PeerRecord] = []
    cursor = start
    with ctx.store.session() as session:
        publish_if_changed(ctx, session)
    with ctx.store.reader() as session:
        while True:
            part, cursor, more = changes_for(
                session,
                peer,
                target.reach,
                cursor,
                BATCH,
                hub=target.role == "hub",
                only_origin=identity.name,
            )
            records.extend(part)
            if not more:
                break
    payload = {
        "format": BUNDLE_FORMAT,
        "id": uuid.uuid4().hex,
        "from": identity.name,
        "to": peer,
        "since": start,
        "upto": cursor,
        "created": datetime.now(UTC).isoformat(),
        "records": [r.model_dump(mode="json") for r in records],
    }
    sealed = seal(identity, public_of(target), json.dumps(payload, separators=(",", ":")).encode())
    temporary = file.with_name(f".{file.name}.part")
    temporary.write_bytes(sealed)
    temporary.replace(file)
    with ctx.store.session() as session:
        row = session.scalar(select(Peer).where(Peer.name == peer))
        if row is not None:
            row.bundle_cursor = max(row.bundle_cursor, cursor)
    return BundleOut(peer=peer, file=str(file), records=len(records), since=start, upto=cursor)


class BundleImportOut(Model):
    peer: str
    records: int
    result: ApplyOut
    #: True when this very bundle had been imported before (nothing was applied again).
    already_imported: bool


@use_case("bundle.import", MAINTAIN)
def import_bundle(ctx: Context, file: Path) -> BundleImportOut:
    """Verify a bundle from a peer and apply it, once (importing it again changes nothing)."""
    if not file.is_file():
        raise Invalid(f"{file} is not a file")
    if file.stat().st_size > MAX_BUNDLE:
        raise Invalid(f"{file} is larger than a bundle can be")
    raw = file.read_bytes()
    identity = load_identity(ctx)
    try:
        sender, _recipient = bundle_sender(raw)
        with ctx.store.reader() as session:
            keys = {
                name: bytes(key)
                for name, key in session.execute(
                    select(Peer.name, Peer.signing_key).where(Peer.allowed.is_(True))
                )
            }
        sender, payload = open_bundle(identity, raw, keys.get)
    except BundleError as exc:
        record(ctx, "bundle.refused", str(file), "denied", {"reason": exc.reason})
        raise Invalid(f"bundle refused: {exc}") from None
    try:
        document = json.loads(payload)
        if document.get("format") != BUNDLE_FORMAT or document.get("to") != identity.name:
            raise ValueError("not a vident bundle for this instance")
        if document.get("from") != sender:
            raise ValueError("the bundle's sender does not match its seal")
        bundle_id = str(document["id"])[:40]
        records = [PeerRecord.model_validate(r) for r in document["records"]]
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
        raise Invalid(f"bundle refused: its content is not valid ({str(exc)[:120]})") from None
    with ctx.store.session() as session:
        peer = session.scalar(select(Peer).where(Peer.name == sender))
        if peer is None:
            raise NotFound(f"no peer {sender}")
        nonce = BUNDLE_NONCE + bundle_id
        seen = session.scalar(
            select(PeerMessage.id).where(PeerMessage.peer_id == peer.id, PeerMessage.nonce == nonce)
        )
        if seen is not None:
            return BundleImportOut(
                peer=sender, records=len(records), result=_NOTHING, already_imported=True
            )
        check_origins(peer, records)
        summary = apply_records(session, sender, records, identity.name)
        session.add(PeerMessage(peer_id=peer.id, nonce=nonce))
    scan_alerts(ctx, summary.hits)
    return BundleImportOut(
        peer=sender, records=len(records), result=apply_out(summary), already_imported=False
    )
