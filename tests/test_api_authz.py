"""The authorization matrix: every route of the API x every role x the caller's own agency or
another one, on SQLite and PostgreSQL.

The rules below are read from the service layer (each use case's ``@use_case`` roles, or the
``require`` calls of the agency, user, token and audit services), never from what the routes
happen to answer. The routes come from the app itself, so a route added without a rule here,
or a rule left behind by a removed route, fails the test: nobody can add a route and forget
to decide who may call it.

The world: agencies Met (GB) and BKA (DE), one user of every role in each, each with an API
token holding every scope; and Met material made through the service by a Met analyst, none of
it shared: a source in a case, its media, a series, a victim, an offender, a clue, an
annotation, a category vote, an ingest job, person candidates. The instance has an identity and
one live peer, a second instance (the hub) served on loopback that trusts it back, so that
syncing and remote matching really talk to another instance. A Met caller whose role is
allowed must succeed; a BKA caller must get 404 for Met's things (403 where an agency
administrator acts on another agency's accounts) and lists without Met's names. Where the
service does not yet do so, :data:`KNOWN_GAPS` records what it does instead, and the test
fails the day that changes so the entry is removed.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api_support import API, PASSWORD, PUBLIC_ROUTES, problem, record_route, routes_of
from tests.browser import live_server
from tests.conftest import write_jpeg
from tests.test_service_people import add_picture, faces_of
from vident.config import Settings
from vident.security.identity import PublicIdentity
from vident.service.agencies import add_agency
from vident.service.alerts import add_alert
from vident.service.categories import vote_category
from vident.service.clues import add_annotation, add_clue
from vident.service.context import (
    USER_ROLES,
    Context,
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.hashsets import import_hashset
from vident.service.jobs import submit_upload
from vident.service.locations import add_location
from vident.service.peers import add_peer, ensure_identity, load_identity
from vident.service.previews import preview_sealer
from vident.service.series import add_series, add_series_media
from vident.service.sources import ingest_source
from vident.service.store_admin import init_store
from vident.service.tokens import create_token
from vident.service.users import add_user
from vident.service.victims import add_offender, add_victim
from vident.signals.base import SignalValue
from vident.signals.registry import get
from vident.store.derived import write_signals
from vident.store.models import Case, Face, Media, Person, Source
from vident.store.models_exchange import AlertHit
from vident.store.previews import frame_subject, has_frame_preview, write_frame_preview
from vident.web.app import create_app

#: Every role a user may hold: no user is ever given the role of a peer instance.
EVERY = frozenset(USER_ROLES)
#: The service's role sets, spelt out so that this table reads on its own.
SEE_MEDIA = frozenset({Role.VIEWER, Role.ANALYST, Role.AGENCY_ADMIN, Role.SYSTEM_ADMIN})
WORK = frozenset({Role.ANALYST, Role.AGENCY_ADMIN, Role.SYSTEM_ADMIN})
ADMINS = frozenset({Role.AGENCY_ADMIN, Role.SYSTEM_ADMIN})
SYSTEM = frozenset({Role.SYSTEM_ADMIN})
AUDITORS = frozenset({Role.AUDITOR, Role.SYSTEM_ADMIN})

HOMES = {"met": ("Met", "GB"), "bka": ("BKA", "DE")}
SCOPES = ["read", "write", "admin", "audit"]
#: The second instance's name, and the address given for peers nobody ever calls.
HUB = "authz-hub"
NOWHERE = "http://127.0.0.1:9"


class Scope(enum.Enum):
    """What another agency's caller (whose role is allowed) should get."""

    #: Not about another agency's things: the same answer as for the owner.
    GLOBAL = "global"
    #: About a Met thing: 404, exactly as if it did not exist.
    HIDDEN = "hidden"
    #: A list: 2xx, without any of Met's unshared names or hashes.
    LISTED = "listed"
    #: An account of Met's: an agency administrator is refused (403), a system admin is not.
    STAFF = "staff"
    #: A list of accounts: an agency administrator sees none of Met's users.
    STAFF_LISTED = "staff_listed"


@dataclass
class World:
    """Met's material and what the requests need to make more of it."""

    settings: Settings
    op: Context
    met: Context
    sha: str
    sha2: str
    media_id: int
    victim: str
    offender: str
    clue: int
    job: int
    person: int
    hashset: str
    picture: bytes
    #: The live peer (the hub), trusted both ways.
    peer: str
    #: Met's alert on S-Met, and a hit of it by another instance's agency.
    alert: int
    hit: int
    tokens: dict[str, str] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def unique(self, stem: str) -> str:
        return f"{stem}-{next(self.counter)}"

    def material(self) -> tuple[str, ...]:
        """Met's unshared names: no other agency's answer may hold any of them."""
        return ("MET-1", "MET-FACES", "MET-JOB", "Op Met", "S-Met", self.victim, self.offender)

    def fresh_person(self, faces: int) -> tuple[int, list[int]]:
        """A new Met person candidate holding ``faces`` new faces, in synthetic pictures of
        source MET-FACES (case Op Met): rows without hashes, kept out of MET-1 which is
        exported."""
        seed = next(self.counter)
        with self.op.store.session() as session:
            person = Person(model=get("face").model)
            session.add(person)
            session.flush()
            ids = [add_picture(session, "MET-FACES", v) for v in faces_of(seed % 8, faces)]
            source = session.scalar(select(Source).where(Source.name == "MET-FACES"))
            assert source is not None
            source.case_id = session.scalar(select(Case.id).where(Case.name == "Op Met"))
            for face in session.scalars(select(Face).where(Face.id.in_(ids))):
                face.person_id = person.id
            return person.id, ids


@dataclass(frozen=True)
class Call:
    """One request, the path already filled in."""

    path: str
    params: dict[str, str | int] | None = None
    json: object = None
    upload: tuple[str, bytes] | None = None


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    scope: Scope
    build: Callable[[World], Call]
    #: A list whose items are the caller's own file (search, similar): its hash may appear.
    hashes_ok: bool = False


def _fresh_victim(w: World, kind: str) -> str:
    made = add_victim(w.met) if kind == "victims" else add_offender(w.met)
    return made.code


def _fresh_key(name: str) -> str:
    """A valid public key token for a made-up instance ``name`` (no private key kept)."""
    raw = (Encoding.Raw, PublicFormat.Raw)
    signing = Ed25519PrivateKey.generate().public_key().public_bytes(*raw)
    sealing = X25519PrivateKey.generate().public_key().public_bytes(*raw)
    return PublicIdentity(name=name, signing=signing, sealing=sealing).key_text()


def _new_peer(w: World) -> Call:
    name = w.unique("peer")
    return Call("/peers", json={"name": name, "url": NOWHERE, "key": _fresh_key(name)})


def _peer_to_remove(w: World) -> Call:
    name = w.unique("gone")
    add_peer(w.op, name, NOWHERE, _fresh_key(name))
    return Call(f"/peers/{name}")


def _hash_list(w: World) -> tuple[str, bytes]:
    digest = hashlib.sha256(w.unique("known").encode()).hexdigest()
    return "known.csv", f"sha256,comment\n{digest},matrix\n".encode()


def _token_to_revoke(w: World) -> Call:
    made = create_token(w.op, "met_viewer", w.unique("throwaway"), 1, ["read"])
    return Call(f"/tokens/{made.token.id}")


def _merge(w: World) -> Call:
    kept, _ = w.fresh_person(1)
    other, _ = w.fresh_person(1)
    return Call(f"/people/{kept}/merge", json={"people": [other]})


def _split(w: World) -> Call:
    person, faces = w.fresh_person(2)
    return Call(f"/people/{person}/split", json={"faces": faces[:1]})


def _reject(w: World) -> Call:
    _, faces = w.fresh_person(1)
    return Call(f"/faces/{faces[0]}/reject")


def _move(w: World) -> Call:
    _, faces = w.fresh_person(1)
    target, _ = w.fresh_person(1)
    return Call(f"/faces/{faces[0]}/move", json={"person": target})


def _face_preview(w: World) -> Call:
    """A face in Met's ingested picture (which has a sealed preview to cut it from)."""
    with w.op.store.session() as session:
        face = session.scalar(select(Face.id).where(Face.media_id == w.media_id))
        if face is None:
            detail = {"faces": [{"box": [4, 4, 20, 20], "landmarks": None, "score": 1.0}]}
            vector = faces_of(0, 1)[0]
            value = SignalValue(
                kind="face",
                version=1,
                value=vector.tobytes(),
                model=get("face").model,
                detail=detail,
            )
            write_signals(session, [(w.media_id, value)])
            face = session.scalar(select(Face.id).where(Face.media_id == w.media_id))
    assert face is not None
    return Call(f"/faces/{face}/preview", params={"reveal": 1})


def _frame_preview(w: World) -> Call:
    """A keyframe preview of Met's media (sealed here as ingest seals a video's strip)."""
    if not has_frame_preview(w.settings.data, bytes.fromhex(w.sha), 1):
        seal, _ = preview_sealer(w.op)
        assert seal is not None
        sealed = seal(frame_subject(bytes.fromhex(w.sha), 1), w.picture)
        write_frame_preview(w.settings.data, bytes.fromhex(w.sha), 1, sealed)
    return Call(f"/media/{w.sha}/frames/1/preview", params={"reveal": 1})


def _unfile(w: World) -> Call:
    add_series_media(w.met, "S-Met", [w.sha2])
    return Call(f"/series/S-Met/media/{w.sha2}")


def _subject(kind: str) -> Rule:
    return Rule(SEE_MEDIA, Scope.HIDDEN, lambda w: Call(f"/{kind}/{getattr(w, kind[:-1])}"))


def _identify(kind: str) -> Rule:
    return Rule(
        WORK,
        Scope.HIDDEN,
        lambda w: Call(f"/{kind}/{_fresh_victim(w, kind)}/identify", json={}),
    )


#: (method, path template below /api/v1) -> who may call it and how; read from the service.
RULES: dict[tuple[str, str], Rule] = {
    # auth: logging out is any authenticated caller's; a token caller has no session to end
    ("POST", "/auth/logout"): Rule(EVERY, Scope.GLOBAL, lambda w: Call("/auth/logout")),
    # sources and triage: source.list, triage.read (SEE_MEDIA)
    ("GET", "/sources"): Rule(SEE_MEDIA, Scope.LISTED, lambda w: Call("/sources")),
    ("GET", "/sources/{name}/triage"): Rule(
        SEE_MEDIA, Scope.HIDDEN, lambda w: Call("/sources/MET-1/triage")
    ),
    # ingest jobs: job.submit (WORK_ON_MEDIA), job.list and job.show (SEE_MEDIA)
    ("POST", "/jobs"): Rule(
        WORK,
        Scope.HIDDEN,
        lambda w: Call(
            "/jobs",
            params={"source": w.unique("UP"), "case": "Op Met"},
            upload=("seized.jpg", w.picture),
        ),
    ),
    ("GET", "/jobs"): Rule(SEE_MEDIA, Scope.LISTED, lambda w: Call("/jobs")),
    ("GET", "/jobs/{job_id}"): Rule(SEE_MEDIA, Scope.HIDDEN, lambda w: Call(f"/jobs/{w.job}")),
    # search: search.file, similar.query, search.media, related.query, text.search (SEE_MEDIA)
    ("POST", "/search"): Rule(
        SEE_MEDIA,
        Scope.LISTED,
        lambda w: Call("/search", upload=("query.jpg", w.picture)),
        hashes_ok=True,
    ),
    ("POST", "/similar"): Rule(
        SEE_MEDIA,
        Scope.LISTED,
        lambda w: Call("/similar", params={"by": "pdq"}, upload=("query.jpg", w.picture)),
        hashes_ok=True,
    ),
    ("GET", "/media/{sha256}"): Rule(SEE_MEDIA, Scope.HIDDEN, lambda w: Call(f"/media/{w.sha}")),
    ("GET", "/media/{sha256}/related"): Rule(
        SEE_MEDIA, Scope.HIDDEN, lambda w: Call(f"/media/{w.sha}/related")
    ),
    ("GET", "/text"): Rule(SEE_MEDIA, Scope.LISTED, lambda w: Call("/text", params={"q": "met"})),
    # compare: media.compare (SEE_MEDIA), both media must be seen
    ("GET", "/compare"): Rule(
        SEE_MEDIA, Scope.HIDDEN, lambda w: Call("/compare", params={"a": w.sha, "b": w.sha2})
    ),
    # previews: media.preview and media.reveal (SEE_MEDIA)
    ("GET", "/media/{sha256}/preview"): Rule(
        SEE_MEDIA, Scope.HIDDEN, lambda w: Call(f"/media/{w.sha}/preview", params={"reveal": 1})
    ),
    ("GET", "/media/{sha256}/frames/{index}/preview"): Rule(
        SEE_MEDIA, Scope.HIDDEN, _frame_preview
    ),
    # people: people.list, people.show (SEE_MEDIA); every decision WORK_ON_MEDIA
    ("GET", "/people"): Rule(SEE_MEDIA, Scope.LISTED, lambda w: Call("/people")),
    ("GET", "/people/{person_id}"): Rule(
        SEE_MEDIA, Scope.HIDDEN, lambda w: Call(f"/people/{w.person}")
    ),
    ("POST", "/people/{person_id}/confirm"): Rule(
        WORK, Scope.HIDDEN, lambda w: Call(f"/people/{w.person}/confirm")
    ),
    ("POST", "/people/{person_id}/label"): Rule(
        WORK, Scope.HIDDEN, lambda w: Call(f"/people/{w.person}/label", json={"label": "P-1"})
    ),
    ("POST", "/people/{person_id}/merge"): Rule(WORK, Scope.HIDDEN, _merge),
    ("POST", "/people/{person_id}/split"): Rule(WORK, Scope.HIDDEN, _split),
    ("POST", "/faces/{face_id}/reject"): Rule(WORK, Scope.HIDDEN, _reject),
    ("POST", "/faces/{face_id}/move"): Rule(WORK, Scope.HIDDEN, _move),
    # face crops: face.preview and face.reveal (SEE_MEDIA)
    ("GET", "/faces/{face_id}/preview"): Rule(SEE_MEDIA, Scope.HIDDEN, _face_preview),
    # hash sets: hashset.list (SEE_MEDIA), import and export (WORK_ON_MEDIA); instance-wide
    ("GET", "/hashsets"): Rule(SEE_MEDIA, Scope.LISTED, lambda w: Call("/hashsets")),
    ("POST", "/hashsets"): Rule(
        WORK,
        Scope.GLOBAL,
        lambda w: Call("/hashsets", params={"name": w.unique("set")}, upload=_hash_list(w)),
    ),
    ("GET", "/hashsets/{name}/export"): Rule(
        WORK, Scope.GLOBAL, lambda w: Call(f"/hashsets/{w.hashset}/export")
    ),
    # exchange: export.vics (WORK_ON_MEDIA)
    ("GET", "/exports/vics"): Rule(
        WORK, Scope.HIDDEN, lambda w: Call("/exports/vics", params={"source": "MET-1"})
    ),
    # cases and series: READ to read, WRITE to change (domain.READ is SEE_MEDIA, WRITE is WORK)
    ("GET", "/cases"): Rule(SEE_MEDIA, Scope.LISTED, lambda w: Call("/cases")),
    ("POST", "/cases"): Rule(
        WORK, Scope.GLOBAL, lambda w: Call("/cases", json={"name": w.unique("Case")})
    ),
    ("GET", "/cases/{name}"): Rule(SEE_MEDIA, Scope.HIDDEN, lambda w: Call("/cases/Op Met")),
    ("PATCH", "/cases/{name}"): Rule(
        WORK, Scope.HIDDEN, lambda w: Call("/cases/Op Met", json={"sharing": "agency"})
    ),
    ("GET", "/series"): Rule(SEE_MEDIA, Scope.LISTED, lambda w: Call("/series")),
    ("POST", "/series"): Rule(
        WORK,
        Scope.HIDDEN,
        lambda w: Call("/series", json={"name": w.unique("Series"), "case": "Op Met"}),
    ),
    ("GET", "/series/{name}"): Rule(SEE_MEDIA, Scope.HIDDEN, lambda w: Call("/series/S-Met")),
    ("PATCH", "/series/{name}"): Rule(
        WORK, Scope.HIDDEN, lambda w: Call("/series/S-Met", json={"notes": w.unique("note")})
    ),
    ("POST", "/series/{name}/media"): Rule(
        WORK, Scope.HIDDEN, lambda w: Call("/series/S-Met/media", json={"sha256": w.sha})
    ),
    ("DELETE", "/series/{name}/media/{sha256}"): Rule(WORK, Scope.HIDDEN, _unfile),
    ("GET", "/series/{name}/suggestions"): Rule(
        SEE_MEDIA, Scope.HIDDEN, lambda w: Call("/series/S-Met/suggestions")
    ),
    # victims and offenders: READ / WRITE
    ("GET", "/victims"): Rule(SEE_MEDIA, Scope.LISTED, lambda w: Call("/victims")),
    ("POST", "/victims"): Rule(
        WORK, Scope.HIDDEN, lambda w: Call("/victims", json={"series": ["S-Met"]})
    ),
    ("GET", "/victims/{code}"): _subject("victims"),
    ("POST", "/victims/{code}/identify"): _identify("victims"),
    ("GET", "/offenders"): Rule(SEE_MEDIA, Scope.LISTED, lambda w: Call("/offenders")),
    ("POST", "/offenders"): Rule(
        WORK, Scope.HIDDEN, lambda w: Call("/offenders", json={"media": [w.sha]})
    ),
    ("GET", "/offenders/{code}"): _subject("offenders"),
    ("POST", "/offenders/{code}/identify"): _identify("offenders"),
    # places: locations are instance-wide; clues, votes and annotations hang on Met's media
    ("GET", "/locations"): Rule(SEE_MEDIA, Scope.LISTED, lambda w: Call("/locations")),
    ("POST", "/locations"): Rule(
        WORK, Scope.GLOBAL, lambda w: Call("/locations", json={"name": w.unique("Flat")})
    ),
    ("GET", "/clues"): Rule(SEE_MEDIA, Scope.LISTED, lambda w: Call("/clues")),
    ("POST", "/clues"): Rule(
        WORK, Scope.HIDDEN, lambda w: Call("/clues", json={"sha256": w.sha, "kind": "logo"})
    ),
    ("POST", "/clues/{clue_id}/status"): Rule(
        WORK,
        Scope.HIDDEN,
        lambda w: Call(f"/clues/{w.clue}/status", json={"status": "in_progress"}),
    ),
    ("GET", "/annotations"): Rule(
        SEE_MEDIA,
        Scope.HIDDEN,
        lambda w: Call("/annotations", params={"kind": "media", "id": w.media_id}),
    ),
    ("POST", "/annotations"): Rule(
        WORK,
        Scope.HIDDEN,
        lambda w: Call("/annotations", json={"kind": "media", "id": w.media_id, "text": "seen"}),
    ),
    ("GET", "/media/{sha256}/category"): Rule(
        SEE_MEDIA, Scope.HIDDEN, lambda w: Call(f"/media/{w.sha}/category", params={"scheme": "UK"})
    ),
    ("POST", "/media/{sha256}/votes"): Rule(
        WORK,
        Scope.HIDDEN,
        lambda w: Call(f"/media/{w.sha}/votes", json={"scheme": "UK", "category": "B"}),
    ),
    # review marks (media.review, media.reviews): on Met's media, as the caller's agency sees them
    ("GET", "/reviews"): Rule(
        SEE_MEDIA, Scope.HIDDEN, lambda w: Call("/reviews", params={"sha256": w.sha})
    ),
    ("POST", "/reviews"): Rule(
        WORK, Scope.HIDDEN, lambda w: Call("/reviews", json={"sha256": [w.sha], "reviewed": True})
    ),
    # audit: audit.list, audit.verify (auditors and system administrators)
    # Filtered to one action: BKA's own refused attempts on Met's names are BKA's events.
    ("GET", "/audit"): Rule(
        AUDITORS, Scope.LISTED, lambda w: Call("/audit", params={"action": "series.add"})
    ),
    ("GET", "/audit/verify"): Rule(AUDITORS, Scope.GLOBAL, lambda w: Call("/audit/verify")),
    # admin: agency.add (system admin), agency.list (admins and auditors); users and tokens:
    # ADMINS to change, ADMINS and auditors to list; an agency admin keeps to their agency
    ("GET", "/agencies"): Rule(ADMINS | AUDITORS, Scope.GLOBAL, lambda w: Call("/agencies")),
    ("POST", "/agencies"): Rule(
        SYSTEM,
        Scope.GLOBAL,
        lambda w: Call("/agencies", json={"name": w.unique("Agency"), "country": "FR"}),
    ),
    ("GET", "/users"): Rule(ADMINS | AUDITORS, Scope.STAFF_LISTED, lambda w: Call("/users")),
    ("POST", "/users"): Rule(
        ADMINS,
        Scope.STAFF,
        lambda w: Call(
            "/users",
            json={
                "username": w.unique("met_new"),
                "agency": "Met",
                "role": "viewer",
                "certified_until": str(date.today() + timedelta(days=30)),
            },
        ),
    ),
    ("PATCH", "/users/{username}"): Rule(
        ADMINS,
        Scope.STAFF,
        lambda w: Call(
            "/users/met_viewer",
            json={"certified_until": str(date.today() + timedelta(days=300))},
        ),
    ),
    ("GET", "/tokens"): Rule(ADMINS | AUDITORS, Scope.STAFF_LISTED, lambda w: Call("/tokens")),
    ("POST", "/tokens"): Rule(
        ADMINS,
        Scope.STAFF,
        lambda w: Call(
            "/tokens", json={"username": "met_viewer", "name": w.unique("robot"), "days": 1}
        ),
    ),
    ("DELETE", "/tokens/{token_id}"): Rule(ADMINS, Scope.STAFF, _token_to_revoke),
    ("GET", "/me"): Rule(EVERY, Scope.GLOBAL, lambda w: Call("/me")),
    # the caller's own wellbeing settings, week and sessions (wellbeing.*, session.*_own):
    # every role, about themselves only; ending an id that is not one's own ends nothing
    ("GET", "/me/wellbeing"): Rule(EVERY, Scope.GLOBAL, lambda w: Call("/me/wellbeing")),
    ("PUT", "/me/wellbeing"): Rule(
        EVERY,
        Scope.GLOBAL,
        lambda w: Call("/me/wellbeing", json={"blur": 10, "greyscale": True, "break_minutes": 0}),
    ),
    ("DELETE", "/me/wellbeing"): Rule(EVERY, Scope.GLOBAL, lambda w: Call("/me/wellbeing")),
    ("GET", "/me/week"): Rule(EVERY, Scope.GLOBAL, lambda w: Call("/me/week")),
    ("GET", "/me/sessions"): Rule(EVERY, Scope.GLOBAL, lambda w: Call("/me/sessions")),
    ("DELETE", "/me/sessions/{session_id}"): Rule(
        EVERY, Scope.GLOBAL, lambda w: Call("/me/sessions/987654")
    ),
    # peers: instance.identity (every user role); peer.add, .list, .update, .remove and
    # .sync (MAINTAIN), instance-wide; peer.match (WORK_ON_MEDIA) on a source scope-checked
    ("GET", "/identity"): Rule(EVERY, Scope.GLOBAL, lambda w: Call("/identity")),
    ("GET", "/alerts"): Rule(SEE_MEDIA, Scope.LISTED, lambda w: Call("/alerts")),
    ("POST", "/alerts"): Rule(
        WORK,
        Scope.HIDDEN,
        lambda w: Call("/alerts", json={"label": w.unique("watch"), "series": "S-Met"}),
    ),
    ("DELETE", "/alerts/{alert_id}"): Rule(
        WORK, Scope.HIDDEN, lambda w: Call(f"/alerts/{add_alert(w.met, 'gone', series='S-Met').id}")
    ),
    ("GET", "/alerts/hits"): Rule(SEE_MEDIA, Scope.LISTED, lambda w: Call("/alerts/hits")),
    ("POST", "/alerts/hits/{hit_id}/seen"): Rule(
        WORK, Scope.HIDDEN, lambda w: Call(f"/alerts/hits/{w.hit}/seen")
    ),
    ("GET", "/peers"): Rule(SYSTEM, Scope.GLOBAL, lambda w: Call("/peers")),
    ("POST", "/peers"): Rule(SYSTEM, Scope.GLOBAL, _new_peer),
    ("PATCH", "/peers/{name}"): Rule(
        SYSTEM, Scope.GLOBAL, lambda w: Call(f"/peers/{w.peer}", json={"allowed": True})
    ),
    ("DELETE", "/peers/{name}"): Rule(SYSTEM, Scope.GLOBAL, _peer_to_remove),
    ("POST", "/peers/{name}/sync"): Rule(
        SYSTEM, Scope.GLOBAL, lambda w: Call(f"/peers/{w.peer}/sync")
    ),
    ("POST", "/peers/{name}/match"): Rule(
        WORK, Scope.HIDDEN, lambda w: Call(f"/peers/{w.peer}/match", json={"source": "MET-1"})
    ),
    # agency wellbeing defaults: ADMINS, an agency administrator for their own agency only
    ("GET", "/agencies/{name}/wellbeing"): Rule(
        ADMINS, Scope.STAFF, lambda w: Call("/agencies/Met/wellbeing")
    ),
    ("PUT", "/agencies/{name}/wellbeing"): Rule(
        ADMINS,
        Scope.STAFF,
        lambda w: Call(
            "/agencies/Met/wellbeing", json={"blur": 14, "greyscale": True, "break_minutes": 50}
        ),
    ),
    # agency category schemes (category_scheme.show: every role, any agency's, as a list of
    # category names is no material; category_scheme.set: ADMINS, an agency admin their own)
    ("GET", "/agencies/{name}/scheme"): Rule(
        EVERY, Scope.GLOBAL, lambda w: Call("/agencies/Met/scheme")
    ),
    ("PUT", "/agencies/{name}/scheme"): Rule(
        ADMINS,
        Scope.STAFF,
        lambda w: Call(
            "/agencies/Met/scheme",
            json={"name": "MET-GRADES", "categories": ["1=I=Grade I", "0=none=Not indecent"]},
        ),
    ),
}

#: Routes that answer without credentials; checked on their own below.
PUBLIC = {(method, path.removeprefix(API)) for method, path in PUBLIC_ROUTES}

#: Cells where the service does not yet keep another agency out: (method, route) -> (what a
#: BKA caller with an allowed role gets today, why). The test fails when one behaves as the
#: rule asks, so that the entry is removed.
KNOWN_GAPS: dict[tuple[str, str], tuple[str, str]] = {}


def expected(rule: Rule, role: Role, home: str) -> str:
    """What the rule asks for one cell: 403, 404, ok (2xx) or clean (2xx without Met's names)."""
    if role not in rule.roles:
        return "403"
    if home == "met" or rule.scope is Scope.GLOBAL:
        return "ok"
    if rule.scope is Scope.HIDDEN:
        return "404"
    if rule.scope is Scope.STAFF:
        return "403" if role is Role.AGENCY_ADMIN else "ok"
    if rule.scope is Scope.STAFF_LISTED and role is not Role.AGENCY_ADMIN:
        return "ok"
    return "clean"


def observed(response: httpx.Response, secrets: tuple[str, ...]) -> str:
    """403, 404, 2xx, 2xx+met (a success naming Met's material), or another status."""
    status = response.status_code
    if 200 <= status < 300:
        text = response.text
        return "2xx+met" if any(secret in text for secret in secrets) else "2xx"
    return str(status)


def agrees(want: str, got: str) -> bool:
    if want == "ok":
        return got.startswith("2xx")
    if want == "clean":
        return got == "2xx"
    return want == got


def _user(home: str, role: Role) -> str:
    return f"{home}_{role.value}"


def _media_id(ctx: Context, sha: str) -> int:
    with ctx.store.reader() as session:
        found = session.scalar(select(Media.id).where(Media.sha256 == bytes.fromhex(sha)))
    assert found is not None
    return found


@dataclass(frozen=True)
class Hub:
    """A second instance, served on loopback while the world lives."""

    settings: Settings
    url: str
    key: str


@contextmanager
def served_hub(tmp: Path) -> Iterator[Hub]:
    """Instance ``authz-hub`` in a SQLite data directory of its own under ``tmp``, served."""
    hub_settings = Settings(data=tmp / "hub")
    made = init_store(hub_settings, name=HUB)
    with live_server(create_app(hub_settings)) as url:
        yield Hub(settings=hub_settings, url=url, key=made.key)


def _trust_each_other(settings: Settings, op: Context, hub: Hub) -> None:
    """The hub trusts this instance as a national one; this instance trusts the hub."""
    me = ensure_identity(settings).public()
    hub_ctx = open_context(hub.settings, local_operator(hub.settings))
    try:
        add_peer(hub_ctx, me.name, NOWHERE, me.key_text(), role="national", reach="national")
    finally:
        hub_ctx.close()
    add_peer(op, HUB, hub.url, hub.key)


def _hit_of(op: Context, alert: int, sha: str) -> int:
    """A hit of Met's alert by an agency of another instance, as a sync would bring it."""
    me = load_identity(op).name
    with op.store.session() as session:
        row = AlertHit(
            alert_ref=f"{me}:{alert}",
            alert_id=alert,
            label="Met watch",
            owner_instance=me,
            owner_agency="Met",
            hit_instance="elsewhere",
            hit_agency="Elsewhere Police",
            hit_country="FR",
            hit_contact="+33 1 23",
            kind="sha256",
            value=bytes.fromhex(sha),
            at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return row.id


def build_world(settings: Settings, tmp: Path, hub: Hub) -> World:
    """Both agencies, their users and tokens, Met's unshared material, and ``hub`` as a
    peer that trusts this instance back."""
    op = open_context(settings, local_operator(settings))
    _trust_each_other(settings, op, hub)
    until = date.today() + timedelta(days=365)
    agency_ids = {home: add_agency(op, name, country).id for home, (name, country) in HOMES.items()}
    tokens: dict[str, str] = {}
    user_ids: dict[str, int] = {}
    for home, (agency, _country) in HOMES.items():
        for role in USER_ROLES:
            name = _user(home, role)
            user_ids[name] = add_user(op, name, agency, role, until, PASSWORD).user.id
            tokens[name] = create_token(op, name, "matrix", 30, SCOPES).secret
    analyst = Principal(
        name="met_analyst",
        kind=PrincipalKind.USER,
        role=Role.ANALYST,
        agency_id=agency_ids["met"],
        user_id=user_ids["met_analyst"],
    )
    met = open_context(settings, analyst)
    folder = tmp / "seized"
    shas = [
        hashlib.sha256(write_jpeg(folder / f"{i}.jpg", 700 + i).read_bytes()).hexdigest()
        for i in range(2)
    ]
    ingest_source(met, folder, "MET-1", case="Op Met", workers=1, signals=("pdq",))
    add_series(met, "S-Met", case="Op Met")
    add_series_media(met, "S-Met", shas[:1])
    victim = add_victim(met, series=["S-Met"], media=shas[:1]).code
    offender = add_offender(met, series=["S-Met"]).code
    alert = add_alert(met, "Met watch", series="S-Met").id
    hit = _hit_of(op, alert, shas[0])
    add_location(met, "Met flat", country="GB")
    clue = add_clue(met, shas[0], kind="logo", box=(1, 2, 30, 40)).id
    media_id = _media_id(met, shas[0])
    add_annotation(met, "media", media_id, "the wallpaper again")
    vote_category(met, shas[0], "UK", "C")
    upload = write_jpeg(tmp / "upload.jpg", 800)
    job = submit_upload(met, "MET-JOB", upload, filename="seized.jpg", case="Op Met").id
    known = tmp / "national.csv"
    known.write_text(f"sha256,comment\n{'ab' * 32},instance-wide\n")
    import_hashset(op, known, "national")
    world = World(
        settings=settings,
        op=op,
        met=met,
        sha=shas[0],
        sha2=shas[1],
        media_id=media_id,
        victim=victim,
        offender=offender,
        clue=clue,
        job=job,
        person=0,
        hashset="national",
        picture=(folder / "0.jpg").read_bytes(),
        peer=HUB,
        alert=alert,
        hit=hit,
        tokens=tokens,
    )
    world.person = world.fresh_person(2)[0]
    return world


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Iterator[World]:
    with served_hub(tmp_path) as hub:
        made = build_world(settings, tmp_path, hub)
        yield made
        made.met.close()
        made.op.close()


@pytest.fixture
def app(world: World) -> Iterator[FastAPI]:
    """The app without its lifespan: the job runner stays off, so queued jobs stay queued."""
    made = create_app(world.settings)
    yield made
    made.state.vident.store.dispose()


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    made = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    made.event_hooks = {"request": [record_route(app)], "response": []}
    return made


def send(client: TestClient, method: str, call: Call, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    files = {"file": call.upload} if call.upload is not None else None
    response: httpx.Response = client.request(
        method,
        API + call.path,
        params=call.params,
        json=call.json,
        files=files,
        headers=headers,
    )
    return response


@pytest.fixture
def bare_app(settings: Settings) -> Iterator[FastAPI]:
    """The app over an empty store: enough to read its routes."""
    made = create_app(settings)
    yield made
    made.state.vident.store.dispose()


def test_every_route_has_a_rule_and_every_rule_a_route(bare_app: FastAPI) -> None:
    routes = {(method, path.removeprefix(API)) for method, path in routes_of(bare_app)}
    without_rule = sorted(routes - set(RULES) - PUBLIC)
    assert not without_rule, f"routes without an authorization rule: {without_rule}"
    stale = sorted(set(RULES) - routes)
    assert not stale, f"rules for routes that no longer exist: {stale}"
    assert not set(KNOWN_GAPS) - set(RULES), "a known gap names a route without a rule"
    assert not PUBLIC & set(RULES), "a public route cannot also have a role rule"
    assert routes >= PUBLIC


def test_every_role_of_both_agencies_gets_what_the_rules_say(
    world: World, client: TestClient
) -> None:
    """One world per database, every cell of the matrix against it, every mismatch listed."""
    _no_credentials_is_401_everywhere_but_the_public_routes(world, client)
    mismatches: list[str] = []
    gaps_seen: set[tuple[str, str]] = set()
    for (method, route), rule in sorted(RULES.items()):
        for home in HOMES:
            for role in USER_ROLES:
                call = rule.build(world)
                response = send(client, method, call, world.tokens[_user(home, role)])
                got = observed(response, _secrets(world, rule))
                want = expected(rule, role, home)
                gap = KNOWN_GAPS.get((method, route))
                if gap is not None and want in {"404", "clean"}:
                    gaps_seen.add((method, route))
                    if agrees(want, got):
                        mismatches.append(f"{method} {route} {home} {role}: gap fixed, drop it")
                    elif got != gap[0]:
                        mismatches.append(f"{method} {route} {home} {role}: {got} not {gap[0]}")
                    continue
                if not agrees(want, got):
                    detail = response.text[:160].replace("\n", " ")
                    mismatches.append(
                        f"{method:6} {route:38} {home} {role.value:13} want {want:5} "
                        f"got {got:7} {detail}"
                    )
                elif got in {"403", "404"}:
                    problem(response, int(got))
    assert not mismatches, "authorization matrix mismatches:\n" + "\n".join(mismatches)
    assert gaps_seen == set(KNOWN_GAPS), "a known gap was never exercised"
    _the_owner_sees_what_the_matrix_did(world, client)


def _secrets(world: World, rule: Rule) -> tuple[str, ...]:
    """What another agency's answer to ``rule`` must not hold."""
    if rule.scope is Scope.STAFF_LISTED:
        return ("met_",)
    if rule.hashes_ok:
        return world.material()
    return (*world.material(), world.sha, world.sha2)


def _the_owner_sees_what_the_matrix_did(world: World, client: TestClient) -> None:
    """The successes were real and the refusals left no trace."""
    met, bka = world.tokens["met_analyst"], world.tokens["bka_system_admin"]
    assert send(client, "PATCH", Call("/series/S-Met", json={"notes": "by Met"}), met).is_success
    refused = send(client, "PATCH", Call("/series/S-Met", json={"notes": "by BKA"}), bka)
    assert problem(refused, 404)["title"]
    # The last cells (BKA's, refused) left sha2 filed; the owner takes it out.
    unfiled = send(client, "DELETE", Call(f"/series/S-Met/media/{world.sha2}"), met).json()
    assert [m["sha256"] for m in unfiled["media"]] == [world.sha]
    shown = send(client, "GET", Call("/series/S-Met"), world.tokens["met_viewer"]).json()
    assert shown["series"]["notes"] == "by Met"
    assert [m["sha256"] for m in shown["media"]] == [world.sha]
    cases = send(client, "GET", Call("/cases"), bka).json()["items"]
    assert cases and {c["agency"] for c in cases} == {"BKA"}  # made by BKA in the matrix
    jobs = send(client, "GET", Call("/jobs"), world.tokens["met_viewer"]).json()["items"]
    # Met's job, and one upload by each Met role allowed to submit (analyst, agency and
    # system administrator); BKA's uploads into Met's case were refused.
    assert len(jobs) == 4 and "MET-JOB" in {j["source"] for j in jobs}
    users = send(client, "GET", Call("/users"), world.tokens["bka_agency_admin"]).json()
    assert users["users"] and {u["agency"] for u in users["users"]} == {"BKA"}
    # The syncs reached the live hub, and the last one went through.
    peers = send(client, "GET", Call("/peers"), world.tokens["met_system_admin"]).json()["peers"]
    hub = next(p for p in peers if p["name"] == world.peer)
    assert hub["last_contact"] is not None and hub["last_error"] is None, hub
    # Each system administrator added one peer and removed the one made for them; the peers
    # made for the refused removals (and the one without credentials) are all still there.
    assert sum(p["name"].startswith("peer-") for p in peers) == len(HOMES)
    refused_removals = 1 + len(HOMES) * (len(USER_ROLES) - 1)
    assert sum(p["name"].startswith("gone-") for p in peers) == refused_removals


def _no_credentials_is_401_everywhere_but_the_public_routes(
    world: World, client: TestClient
) -> None:
    for (method, route), rule in sorted(RULES.items()):
        body = problem(send(client, method, rule.build(world), None), 401)
        assert body["title"] == "unauthenticated", (method, route)
    assert send(client, "GET", Call("/health"), None).status_code == 200
    refused = client.post(
        f"{API}/auth/login", json={"username": "met_viewer", "password": "wrong", "totp": "1"}
    )
    assert problem(refused, 401)["detail"] == "wrong username, password or one-time code"
