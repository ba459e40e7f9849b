"""This instance's identity and its peers: who they are, where they answer, whom we trust.

A peer is another vident instance, added by a system administrator with its name, URL and
public key (the token ``vident peer identity`` prints there, checked by reading the
fingerprint aloud). Every request a peer makes here is signed; :func:`authenticate_peer` turns
a verified request into a :class:`Principal` of kind ``peer`` that only the exchange's own use
cases allow, and refuses (and audits) an unknown key, a tampered body, a stale or replayed
message and a peer taken off the allow-list.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from vident.config import Settings
from vident.exchange.peer_records import LEVELS
from vident.security.identity import Identity, IdentityError, PublicIdentity
from vident.security.settings import SecuritySettings, defaults
from vident.security.signing import PEER, SignatureRefused, verify_request
from vident.service.audit import record
from vident.service.context import Context, Principal, PrincipalKind, Role
from vident.service.errors import Conflict, Invalid, NotFound, ServiceError, Unauthenticated
from vident.service.schemas import Model
from vident.service.use_case import MAINTAIN, SEE_MEDIA, use_case
from vident.store.models_exchange import Peer, PeerMessage

ROLES = ("hub", "national")
#: How long a message's nonce is kept: longer than the signature's accepted clock skew both ways.
NONCE_KEPT = timedelta(minutes=15)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
#: Nonces of imported bundles start so, and are kept for ever (a bundle is applied once).
BUNDLE_NONCE = "bundle:"


class IdentityMissing(ServiceError):
    """The data directory has no identity (made before peers existed, or its file is lost):
    a state the administrator fixes with ``vident init``, not a failure of the server."""

    status = 409
    title = "identity missing"


def _passphrase(ctx: Context) -> str | None:
    return (ctx.security or defaults()).passphrase


#: Identities read in this process, by data directory and passphrase: reading one opens the
#: keyring (scrypt when it has a passphrase), far too slow for every signed request.
_LOADED: dict[tuple[str, str | None], Identity] = {}


def load_identity(ctx: Context) -> Identity:
    """This instance's identity, or one line saying how to make it."""
    key = (str(ctx.settings.data.resolve()), _passphrase(ctx))
    found = _LOADED.get(key)
    if found is not None:
        return found
    try:
        found = Identity.load(ctx.settings.data, _passphrase(ctx))
    except IdentityError as exc:
        raise IdentityMissing(str(exc)) from None
    _LOADED[key] = found
    return found


def _default_name() -> str:
    name = re.sub(r"[^a-z0-9._-]+", "-", socket.gethostname().lower()).strip("-._")
    return (name or "vident")[:64]


def ensure_identity(settings: Settings, security: SecuritySettings | None = None) -> Identity:
    """The data directory's identity, made at ``vident init`` under ``settings.instance``
    (default: the host's name); a directory keeps the name it was made with."""
    passphrase = (security or defaults()).passphrase
    _LOADED.pop((str(settings.data.resolve()), passphrase), None)
    try:
        if settings.instance is None:
            try:
                return Identity.load(settings.data, passphrase)
            except IdentityError:
                return Identity.create(settings.data, _default_name(), passphrase)
        return Identity.ensure(settings.data, settings.instance, passphrase)
    except IdentityError as exc:
        raise Invalid(str(exc)) from None


class IdentityOut(Model):
    """What another instance's administrator needs to add this one as a peer."""

    name: str
    key: str
    fingerprint: str


@use_case("instance.identity", SEE_MEDIA | {Role.AUDITOR})
def instance_identity(ctx: Context) -> IdentityOut:
    """This instance's name, public key token and its fingerprint (to read aloud)."""
    public = load_identity(ctx).public()
    return IdentityOut(name=public.name, key=public.key_text(), fingerprint=public.fingerprint())


class PeerOut(Model):
    name: str
    url: str
    role: str
    reach: str
    allowed: bool
    fingerprint: str
    push_cursor: int
    pull_cursor: int
    bundle_cursor: int
    last_contact: datetime | None
    last_error: str | None


class PeerListOut(Model):
    peers: list[PeerOut]


def public_of(peer: Peer) -> PublicIdentity:
    return PublicIdentity(name=peer.name, signing=peer.signing_key, sealing=peer.sealing_key)


def peer_out(peer: Peer) -> PeerOut:
    return PeerOut(
        name=peer.name,
        url=peer.url,
        role=peer.role,
        reach=peer.reach,
        allowed=peer.allowed,
        fingerprint=public_of(peer).fingerprint(),
        push_cursor=peer.push_cursor,
        pull_cursor=peer.pull_cursor,
        bundle_cursor=peer.bundle_cursor,
        last_contact=peer.last_contact,
        last_error=peer.last_error,
    )


def check_url(url: str) -> str:
    """A peer's base URL: HTTPS, or plain HTTP to this machine only (tests, a tunnel)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Invalid(f"{url[:80]!r} is not an http(s) URL of a vident server")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise Invalid("a peer off this machine must be reached over https://")
    if parts.query or parts.fragment or parts.username:
        raise Invalid("a peer's URL is its server's base address, without query or user")
    return url.strip().rstrip("/")


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise Invalid(f"{what} must be one of {', '.join(allowed)}, not {value[:20]!r}")
    return value


@use_case("peer.add", MAINTAIN)
def add_peer(
    ctx: Context, name: str, url: str, key: str, *, role: str = "hub", reach: str = "international"
) -> PeerOut:
    """Trust another instance: its name, base URL and public key token.

    ``role`` hub: this instance pushes to it and pulls from it; national: it does so here.
    ``reach``: the narrowest sharing level it receives (international peers get only what is
    shared internationally)."""
    try:
        public = PublicIdentity.parse_key(name, key)
    except (IdentityError, ValueError) as exc:
        raise Invalid(str(exc)) from None
    if name == load_identity(ctx).name:
        raise Invalid(f"{name} is this instance's own name")
    peer = Peer(
        name=name,
        url=check_url(url),
        signing_key=public.signing,
        sealing_key=public.sealing,
        role=_choice(role, ROLES, "role"),
        reach=_choice(reach, LEVELS, "reach"),
        allowed=True,
        push_cursor=0,
        pull_cursor=0,
        bundle_cursor=0,
        added_by=ctx.principal.name,
    )
    with ctx.store.session() as session:
        if session.scalar(select(Peer.id).where(Peer.name == name)) is not None:
            raise Conflict(f"peer {name} exists: remove it first to change its key")
        session.add(peer)
        session.flush()
        return peer_out(peer)


@use_case("peer.list", MAINTAIN)
def list_peers(ctx: Context) -> PeerListOut:
    """Every peer with its cursors and the last contact's outcome."""
    with ctx.store.reader() as session:
        peers = session.scalars(select(Peer).order_by(Peer.name)).all()
        return PeerListOut(peers=[peer_out(p) for p in peers])


def peer_named(ctx: Context, name: str) -> Peer:
    """The peer row named ``name``, detached from its session (NotFound otherwise)."""
    with ctx.store.reader() as session:
        peer = session.scalar(select(Peer).where(Peer.name == name))
        if peer is None:
            raise NotFound(f"no peer {name}: see vident peer list")
        session.expunge(peer)
        return peer


@use_case("peer.update", MAINTAIN)
def update_peer(
    ctx: Context,
    name: str,
    *,
    url: str | None = None,
    allowed: bool | None = None,
    reach: str | None = None,
    role: str | None = None,
) -> PeerOut:
    """Change where a peer answers, its reach or role, or take it off (or back on) the
    allow-list: a peer not allowed is refused like an unknown one."""
    with ctx.store.session() as session:
        peer = session.scalar(select(Peer).where(Peer.name == name))
        if peer is None:
            raise NotFound(f"no peer {name}: see vident peer list")
        if url is not None:
            peer.url = check_url(url)
        if allowed is not None:
            peer.allowed = allowed
        if reach is not None:
            peer.reach = _choice(reach, LEVELS, "reach")
        if role is not None:
            peer.role = _choice(role, ROLES, "role")
        session.flush()
        return peer_out(peer)


@use_case("peer.remove", MAINTAIN)
def remove_peer(ctx: Context, name: str) -> PeerOut:
    """Forget a peer (its records already received stay, in hash set ``peer:<origin>``)."""
    with ctx.store.session() as session:
        peer = session.scalar(select(Peer).where(Peer.name == name))
        if peer is None:
            raise NotFound(f"no peer {name}: see vident peer list")
        out = peer_out(peer)
        session.delete(peer)
        return out


def authenticate_peer(
    ctx: Context,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    remote: str | None,
) -> Principal:
    """The peer that signed this request, or Unauthenticated (audited with the reason).

    The signature is checked before the nonce is stored, so nobody without a peer's key can
    fill the table; a nonce seen before is a replay.
    """
    try:
        me = load_identity(ctx).name
    except IdentityMissing:
        raise Unauthenticated(
            "peer request refused: this instance has no identity yet (vident init)"
        ) from None
    claimed = str(headers.get(PEER) or headers.get(PEER.lower()) or "")[:64] or None
    with ctx.store.reader() as session:
        keys = {
            name: bytes(key)
            for name, key in session.execute(
                select(Peer.name, Peer.signing_key).where(Peer.allowed.is_(True))
            )
        }
    try:
        signed = verify_request(headers, method, path, body, me=me, key_of=keys.get)
    except SignatureRefused as exc:
        _refused(ctx, claimed, exc.reason, remote)
        raise Unauthenticated(f"peer request refused: {exc}") from None
    now = datetime.now(UTC)
    try:
        with ctx.store.session() as session:
            peer = session.scalar(select(Peer).where(Peer.name == signed.sender))
            if peer is None:  # removed since the keys were read
                raise Unauthenticated("peer request refused: unknown peer")
            session.add(PeerMessage(peer_id=peer.id, nonce=signed.nonce, at=now))
            peer.last_contact = now
            session.execute(
                delete(PeerMessage).where(
                    PeerMessage.at < now - NONCE_KEPT, ~PeerMessage.nonce.startswith(BUNDLE_NONCE)
                )
            )
    except IntegrityError:
        _refused(ctx, signed.sender, "replayed", remote)
        raise Unauthenticated(
            "peer request refused: replayed (this message was seen before)"
        ) from None
    return Principal(name=signed.sender, kind=PrincipalKind.PEER, role=Role.PEER)


def _refused(ctx: Context, claimed: str | None, reason: str, remote: str | None) -> None:
    record(ctx, "peer.refused", claimed, "denied", {"reason": reason}, remote)
