"""Interconnect: what peers call (signed, not logged in) and what administrators call.

``/exchange/*`` is called by other vident instances only. They hold no session or token: each
request is signed with the instance's ed25519 key and verified against the peer list
(:func:`vident.service.peers.authenticate_peer`), and each answer is signed back, so the
caller knows which instance answered which request. A peer may call at most
``peer_requests_per_minute`` times a minute.

``/identity`` and ``/peers`` are for people: this instance's public key to give to another
instance's administrator, and the peer list with its cursors and a sync button's endpoint.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from vident.exchange.peer_records import BATCH, RecordBatch
from vident.security.signing import NONCE, SIGNATURE, sign_response
from vident.service.context import Context, Principal
from vident.service.errors import Invalid, TooManyRequests, Unauthenticated
from vident.service.exchange_serve import (
    MatchQuery,
    PrivateQueryIn,
    answer_match,
    answer_private,
    receive_changes,
    serve_changes,
)
from vident.service.exchange_sync import RemoteMatchOut, SyncOut, match_source, sync_peer
from vident.service.peers import (
    IdentityOut,
    PeerListOut,
    PeerOut,
    add_peer,
    authenticate_peer,
    instance_identity,
    list_peers,
    load_identity,
    remove_peer,
    update_peer,
)
from vident.web.auth import remote_of
from vident.web.deps import AnonymousContextDep, ContextDep, StateDep

peer_router = APIRouter(tags=["exchange between instances"])
router = APIRouter(tags=["peers"])
#: The largest body a peer may send (a batch of 1,000 records or 10,000 query hashes).
MAX_BODY = 16 * 1024 * 1024
#: Refused (unsigned, forged, replayed) requests one address may make a minute.
REFUSALS_PER_MINUTE = 20


async def _peer_context(
    request: Request, anonymous: AnonymousContextDep, state: StateDep
) -> Context:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Invalid(f"a peer message holds at most {MAX_BODY} bytes")
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    remote = remote_of(request)
    refusals = f"refused:{remote}"
    # An address whose requests keep failing is turned away before its signature is even
    # checked, so a flood of forged requests can neither burn CPU nor fill the audit trail.
    if state.peer_limits.exceeded(refusals, REFUSALS_PER_MINUTE):
        raise TooManyRequests("too many refused requests from this address: wait a minute")
    try:
        principal: Principal = authenticate_peer(
            anonymous, request.headers, request.method, path, body, remote
        )
    except Unauthenticated:
        state.peer_limits.note(refusals)
        raise
    if not state.peer_limits.allow(principal.name, state.settings.peer_requests_per_minute):
        raise TooManyRequests(f"{principal.name} asked too often: wait a minute")
    return Context(
        settings=anonymous.settings,
        store=anonymous.store,
        principal=principal,
        security=anonymous.security,
    )


PeerContextDep = Annotated[Context, Depends(_peer_context)]


def _signed(ctx: Context, request: Request, answer: BaseModel) -> Response:
    """The answer as JSON, signed for the request it answers."""
    body = answer.model_dump_json().encode()
    nonce = request.headers.get(NONCE, "")
    signature = sign_response(load_identity(ctx), nonce, 200, body)
    return Response(body, media_type="application/json", headers={SIGNATURE: signature})


@peer_router.get("/exchange/changes", response_model=RecordBatch)
def get_changes(
    ctx: PeerContextDep,
    request: Request,
    since: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="The last sequence number applied.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=BATCH, description="Records at most.")] = BATCH,
) -> Response:
    """The records changed since ``since`` that the calling peer may have (pull)."""
    return _signed(ctx, request, serve_changes(ctx, since, limit))


@peer_router.post("/exchange/changes")
def post_changes(ctx: PeerContextDep, request: Request, batch: RecordBatch) -> Response:
    """Take the calling peer's changed records (push); answers what they did here."""
    return _signed(ctx, request, receive_changes(ctx, batch))


@peer_router.post("/exchange/match")
def post_match(ctx: PeerContextDep, request: Request, query: MatchQuery) -> Response:
    """Which shared records the calling peer's hashes match (exact, and PDQ within radius)."""
    return _signed(ctx, request, answer_match(ctx, query))


@peer_router.post("/exchange/private-match")
def post_private_match(ctx: PeerContextDep, request: Request, query: PrivateQueryIn) -> Response:
    """Private set intersection over exact hashes: the calling peer learns which of its hashes
    are held here; this instance learns only how many it asked."""
    return _signed(ctx, request, answer_private(ctx, query))


@router.get("/identity", response_model=IdentityOut)
def get_identity(ctx: ContextDep) -> IdentityOut:
    """This instance's name, public key and fingerprint: what another instance adds as a peer."""
    return instance_identity(ctx)


class PeerIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="The peer's instance name.")
    url: str = Field(min_length=1, max_length=500, description="Its base URL.")
    key: str = Field(min_length=1, max_length=200, description="Its public key token.")
    role: str = Field(default="hub", max_length=16, description="hub or national.")
    reach: str = Field(
        default="international", max_length=16, description="national or international."
    )


class PeerChange(BaseModel):
    url: str | None = Field(default=None, max_length=500)
    allowed: bool | None = None
    reach: str | None = Field(default=None, max_length=16)
    role: str | None = Field(default=None, max_length=16)


class MatchIn(BaseModel):
    source: str = Field(min_length=1, max_length=200, description="The source to match.")
    private: bool = Field(
        default=False, description="Exact hashes through private set intersection only."
    )


@router.get("/peers", response_model=PeerListOut)
def get_peers(ctx: ContextDep) -> PeerListOut:
    """Every peer with its role, reach, cursors and last contact."""
    return list_peers(ctx)


@router.post("/peers", response_model=PeerOut, status_code=201)
def post_peer(ctx: ContextDep, body: PeerIn) -> PeerOut:
    """Trust another instance (system administrators)."""
    return add_peer(ctx, body.name, body.url, body.key, role=body.role, reach=body.reach)


@router.patch("/peers/{name}", response_model=PeerOut)
def patch_peer(ctx: ContextDep, name: str, body: PeerChange) -> PeerOut:
    """Change a peer's URL, reach or role, or take it off (or back on) the allow-list."""
    return update_peer(
        ctx, name, url=body.url, allowed=body.allowed, reach=body.reach, role=body.role
    )


@router.delete("/peers/{name}", response_model=PeerOut)
def delete_peer(ctx: ContextDep, name: str) -> PeerOut:
    """Forget a peer; what it sent stays in hash set ``peer:<origin>``."""
    return remove_peer(ctx, name)


@router.post("/peers/{name}/sync", response_model=SyncOut)
def post_sync(ctx: ContextDep, name: str) -> SyncOut:
    """Push this instance's changes to the peer, then pull its changes."""
    return sync_peer(ctx, name)


@router.post("/peers/{name}/match", response_model=RemoteMatchOut)
def post_remote_match(ctx: ContextDep, name: str, body: MatchIn) -> RemoteMatchOut:
    """Match a source's hashes at the peer; what matched is kept as the peer's records."""
    return match_source(ctx, body.source, name, private=body.private)
