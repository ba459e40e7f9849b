"""The shared list, on SQLite and PostgreSQL: what leaves an instance, and how changes travel.

Material is made through the service as an agency's analyst would make it; what a peer could
get is read as a peer gets it (``changes_for``, ``answer_match``), serialised to JSON and
searched, so a name, note, path or hash that leaks fails whatever field it hides in. Records
from peers are applied as a pull or push would apply them, and alert hits are found by the
scan that ingests and syncs run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select, update

from tests.conftest import write_jpeg
from vident.config import Settings
from vident.exchange.peer_records import AlertFacts, Facts, Level, PeerRecord
from vident.exchange.shared import (
    ApplySummary,
    apply_records,
    changes_for,
    last_seq,
    peer_set_name,
    publish_local,
)
from vident.security.identity import PublicIdentity
from vident.service.agencies import add_agency
from vident.service.alerts import add_alert, scan_alerts
from vident.service.cases import add_case, update_case
from vident.service.categories import vote_category
from vident.service.clues import add_annotation, add_clue
from vident.service.context import (
    Context,
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.exchange_serve import MatchQuery, QueryHash, answer_match
from vident.service.locations import add_location
from vident.service.peers import add_peer
from vident.service.publishing import publish_if_changed
from vident.service.series import add_series, add_series_media, remove_series_media, update_series
from vident.service.sources import ingest_source
from vident.service.store_admin import init_store
from vident.service.victims import PersonalIn, add_offender, add_victim, identify_victim
from vident.store.models import HashSet, HashSetEntry, HashSetHash, Media, Signal
from vident.store.models_cases import Series
from vident.store.models_exchange import AlertHit, SharedHash, SharedRecord

ME = "country-a"
#: An address nobody calls: peers here are only ever asked through the service functions.
NOWHERE = "http://127.0.0.1:9"
MET = ("Met Police CSE", "GB", "+44 20 7230 1212")
KENT = ("Kent Police", "GB", "kent-cse@example.test")


@dataclass
class Instance:
    """Instance ``country-a`` with two agencies of one country and their analysts."""

    settings: Settings
    op: Context
    met: Context
    kent: Context
    tmp: Path

    def pictures(self, folder: str, seeds: Sequence[int]) -> tuple[Path, list[str]]:
        """Generated JPEGs in ``folder`` under the test's directory, and their SHA-256s."""
        where = self.tmp / folder
        shas = [
            hashlib.sha256(write_jpeg(where / f"pic-{seed}.jpg", seed).read_bytes()).hexdigest()
            for seed in seeds
        ]
        return where, shas

    def peer(self, name: str, reach: str) -> Context:
        """A peer of ``reach`` trusted here, as the principal its signed requests become."""
        raw = (Encoding.Raw, PublicFormat.Raw)
        signing = Ed25519PrivateKey.generate().public_key().public_bytes(*raw)
        sealing = X25519PrivateKey.generate().public_key().public_bytes(*raw)
        key = PublicIdentity(name=name, signing=signing, sealing=sealing).key_text()
        add_peer(self.op, name, NOWHERE, key, role="national", reach=reach)
        principal = Principal(name=name, kind=PrincipalKind.PEER, role=Role.PEER)
        return open_context(self.settings, principal)


def _analyst(settings: Settings, name: str, agency_id: int) -> Context:
    principal = Principal(
        name=name, kind=PrincipalKind.USER, role=Role.ANALYST, agency_id=agency_id
    )
    return open_context(settings, principal)


@pytest.fixture
def inst(settings: Settings, tmp_path: Path) -> Iterator[Instance]:
    init_store(settings, name=ME)
    op = open_context(settings, local_operator(settings))
    met_id = add_agency(op, *MET).id
    kent_id = add_agency(op, *KENT).id
    made = Instance(
        settings=settings,
        op=op,
        met=_analyst(settings, "met_analyst", met_id),
        kent=_analyst(settings, "kent_analyst", kent_id),
        tmp=tmp_path,
    )
    yield made
    for ctx in (made.met, made.kent, made.op):
        ctx.close()


# --- reading the shared list as a peer would ---------------------------------------------------


def _publish(ctx: Context) -> None:
    with ctx.store.session() as session:
        publish_if_changed(ctx, session)


def _changes(
    ctx: Context, peer: str, reach: str, since: int = 0, *, hub: bool = False
) -> tuple[list[PeerRecord], int]:
    with ctx.store.reader() as session:
        records, upto, more = changes_for(session, peer, reach, since, 1000, hub=hub)
    assert not more
    return records, upto


def _dump(records: Sequence[PeerRecord]) -> str:
    return json.dumps([r.model_dump(mode="json") for r in records])


def _leaks(text: str, secrets: Sequence[str]) -> list[str]:
    return [s for s in secrets if s.lower() in text.lower()]


def _signals(ctx: Context, shas: Sequence[str]) -> dict[str, dict[str, str]]:
    """Every signal value (hex) of each media, by kind."""
    found: dict[str, dict[str, str]] = {sha: {} for sha in shas}
    with ctx.store.reader() as session:
        for sha, kind, value in session.execute(
            select(Media.sha256, Signal.kind, Signal.value)
            .join(Signal, Signal.media_id == Media.id)
            .where(Media.sha256.in_([bytes.fromhex(s) for s in shas]), Signal.frame == 0)
        ):
            found[bytes(sha).hex()][kind] = bytes(value).hex()
    return found


def _media_id(ctx: Context, sha: str) -> int:
    with ctx.store.reader() as session:
        found = session.scalar(select(Media.id).where(Media.sha256 == bytes.fromhex(sha)))
    assert found is not None
    return found


def _add_text_and_face(ctx: Context, sha: str) -> None:
    """Text read from the picture and a face embedding, as OCR and face detection keep them."""
    media = _media_id(ctx, sha)
    with ctx.store.session() as session:
        session.add(
            Signal(
                media_id=media,
                kind="text",
                version=1,
                value=b"QUOKKAWHARF street sign",
                detail={"lines": ["QUOKKAWHARF street sign"]},
            )
        )
        session.add(Signal(media_id=media, kind="face", version=1, value=bytes(range(7, 7 + 128))))


def _match(peer: Context, hashes: dict[str, dict[str, str]]) -> list[PeerRecord]:
    """The records a peer's match query gets, once each (every hash kind of a record hits)."""
    query = MatchQuery(
        hashes=[
            QueryHash(kind=kind, value=value)
            for by_kind in hashes.values()
            for kind, value in by_kind.items()
            if kind in {"sha256", "md5", "sha1", "pdq"}
        ],
        radius=8,
    )
    found = {hit.record.key: hit.record for hit in answer_match(peer, query).matches}
    return list(found.values())


# --- 1. nothing unshared leaves ---------------------------------------------------------------


def test_nothing_unshared_leaves_and_names_travel_only_at_their_level(inst: Instance) -> None:
    met = inst.met
    add_case(met, "Op Lantern", sharing="agency")
    folder, shas = inst.pictures("exhibit-lantern-7", (11, 12))
    ingest_source(met, folder, "LANTERN-SRC", case="Op Lantern", workers=1, signals=("pdq",))
    add_series(met, "S-Lantern", case="Op Lantern", notes="seen on the Harbour Road tapes")
    add_series_media(met, "S-Lantern", shas)
    personal = PersonalIn(name="Alice Quill", birth_year=2012, notes="lives near the mill")
    victim = add_victim(met, personal=personal, series=["S-Lantern"], media=shas[:1]).code
    identify_victim(met, victim)
    offender = add_offender(met, personal=PersonalIn(name="Bertram Vole"), series=["S-Lantern"])
    add_location(met, "Millbrook flat 4", country="GB", notes="blue wallpaper")
    add_clue(met, shas[0], kind="logo", note="Zephyr brand mug")
    add_annotation(met, "media", _media_id(met, shas[0]), "the radiator again")
    vote_category(met, shas[0], "UK", "C")
    _add_text_and_face(met, shas[0])
    signals = _signals(inst.op, shas)
    assert {"sha256", "pdq", "text", "face"} <= set(signals[shas[0]])
    private = [
        "Alice Quill",
        "lives near the mill",
        "2012",
        "Bertram Vole",
        victim,
        offender.code,
        "Millbrook flat 4",
        "blue wallpaper",
        "Zephyr brand mug",
        "the radiator again",
        "Harbour Road",
        "S-Lantern",
        "LANTERN-SRC",
        "exhibit-lantern-7",
        "pic-11.jpg",
        str(inst.tmp),
        "QUOKKAWHARF",
        signals[shas[0]]["text"],
        signals[shas[0]]["face"],
    ]
    hashes = [value for by_kind in signals.values() for value in by_kind.values()]
    national = inst.peer("peer-n", "national")
    international = inst.peer("peer-i", "international")
    try:
        _publish(inst.op)
        sent = _changes(inst.op, "peer-x", "national")[0]
        sent += _changes(inst.op, "peer-x", "international")[0]
        matched = _match(national, signals) + _match(international, signals)
        assert sent == [] and matched == []
        assert _leaks(_dump(sent + matched), [*private, *hashes, "Op Lantern", MET[0]]) == []

        # Shared nationally: the case's media go to national peers, named by the case.
        update_case(met, "Op Lantern", sharing="national")
        _publish(inst.op)
        to_national = _changes(inst.op, "peer-x", "national")[0]
        assert sorted(r.key for r in to_national) == sorted(shas)
        assert {(r.level, r.facts.case, r.facts.agency, r.deleted) for r in to_national} == {
            ("national", "Op Lantern", MET[0], False)
        }
        assert all(r.facts.series is None for r in to_national)
        assert _leaks(_dump(to_national), private) == []
        assert _changes(inst.op, "peer-x", "international")[0] == []
        assert sorted(r.key for r in _match(national, signals)) == sorted(shas)
        assert _match(international, signals) == []

        # An international series in the national case: its name travels, the case's does not.
        add_series(met, "S-Beacon", case="Op Lantern", sharing="international")
        add_series_media(met, "S-Beacon", shas[1:])
        _publish(inst.op)
        to_world = _changes(inst.op, "peer-x", "international")[0]
        assert [(r.key, r.level, r.facts.series, r.facts.case) for r in to_world] == [
            (shas[1], "international", "S-Beacon", None)
        ]
        assert _leaks(_dump(to_world), [*private, "Op Lantern", shas[0]]) == []
        found = _match(international, signals)
        assert [(r.key, r.facts.series, r.facts.case) for r in found] == [
            (shas[1], "S-Beacon", None)
        ]
    finally:
        national.close()
        international.close()


# --- 2. corrections travel --------------------------------------------------------------------


class Follower:
    """A peer's view of the shared list: its cursor and the last revision it got of each key."""

    def __init__(self, ctx: Context, name: str, reach: str) -> None:
        self.ctx, self.name, self.reach = ctx, name, reach
        records, self.cursor = _changes(ctx, name, reach)
        self.revisions = {r.key: r.revision for r in records}

    def step(self) -> dict[str, PeerRecord]:
        """Publish, then take what changed since the cursor: each record newer than before."""
        with self.ctx.store.session() as session:
            publish_local(session, ME)
        records, upto = _changes(self.ctx, self.name, self.reach, self.cursor)
        got = {r.key: r for r in records}
        assert len(got) == len(records), "a key sent twice in one pull"
        for key, record in got.items():
            assert record.revision > max(self.cursor, self.revisions.get(key, 0))
            self.revisions[key] = record.revision
        assert upto >= self.cursor
        self.cursor = upto
        return got


def test_corrections_travel_as_newer_revisions(inst: Instance) -> None:
    met = inst.met
    add_case(met, "Op Tide", sharing="national")
    folder, shas = inst.pictures("tide", (21, 22, 23, 24))
    ingest_source(met, folder, "TIDE-1", case="Op Tide", workers=1, signals=("pdq",))
    add_series(met, "S-Tide", case="Op Tide", sharing="national")
    add_series_media(met, "S-Tide", shas[:2])
    add_series(met, "S-Wave", case="Op Tide", sharing="international")
    add_series_media(met, "S-Wave", shas[3:])
    victim = add_victim(met, series=["S-Tide"]).code
    vote_category(met, shas[0], "UK", "B")
    with inst.op.store.session() as session:
        publish_local(session, ME)
    national = Follower(inst.op, "peer-n", "national")
    world = Follower(inst.op, "peer-i", "international")
    assert sorted(national.revisions) == sorted(shas)
    assert sorted(world.revisions) == [shas[3]]

    vote_category(met, shas[0], "UK", "A")
    got = national.step()
    assert list(got) == [shas[0]] and got[shas[0]].facts.category == "A"

    # No use case renames a series: the store is changed as a rename would change it.
    with inst.op.store.session() as session:
        session.execute(update(Series).where(Series.name == "S-Tide").values(name="S-Tide 2"))
    got = national.step()
    assert sorted(got) == sorted(shas[:2])
    assert {r.facts.series for r in got.values()} == {"S-Tide 2"}

    update_series(met, "S-Tide 2", status="offender_identified")
    got = national.step()
    assert sorted(got) == sorted(shas[:2])
    assert all(r.facts.offender_identified for r in got.values())
    update_series(met, "S-Tide 2", status="unidentified")
    got = national.step()
    assert sorted(got) == sorted(shas[:2])
    assert not any(r.facts.offender_identified for r in got.values())

    identify_victim(met, victim)
    got = national.step()
    assert sorted(got) == sorted(shas[:2])
    for record in got.values():
        assert record.facts.victim_identified
        assert (record.facts.identified_by or "").startswith(f"victim identified by {MET[0]}")

    remove_series_media(met, "S-Tide 2", [shas[1]])
    got = national.step()
    assert list(got) == [shas[1]]
    assert (got[shas[1]].deleted, got[shas[1]].facts.series) == (False, None)
    assert got[shas[1]].facts.case == "Op Tide"

    # Narrowed from international to national: international peers get its withdrawal only.
    update_series(met, "S-Wave", sharing="national")
    got = national.step()
    assert [(k, r.level, r.deleted) for k, r in got.items()] == [(shas[3], "national", False)]
    gone = world.step()
    assert [(k, r.deleted, r.hashes) for k, r in gone.items()] == [(shas[3], True, {})]

    # The case back to its agency: what only the case shared is withdrawn, the rest loses
    # the case's name.
    update_case(met, "Op Tide", sharing="agency")
    got = national.step()
    assert {k: r.deleted for k, r in got.items()} == {
        shas[0]: False,
        shas[1]: True,
        shas[2]: True,
        shas[3]: False,
    }
    assert all(r.facts.case is None for r in got.values())
    assert _leaks(_dump(list(got.values())), ["Op Tide"]) == []
    # Withdrawals of what never reached international peers are not sent to them.
    to_world = world.step()
    assert not {shas[0], shas[1], shas[2]} & set(to_world)
    assert all(r.deleted for r in to_world.values())
    with inst.op.store.reader() as session:
        withdrawn = session.scalars(
            select(SharedRecord.id).where(
                SharedRecord.key.in_([bytes.fromhex(s) for s in shas[1:3]])
            )
        ).all()
        assert len(withdrawn) == 2
        left = session.scalar(
            select(func.count(SharedHash.id)).where(SharedHash.record_id.in_(withdrawn))
        )
        assert left == 0


# --- 3. applying a peer's records -------------------------------------------------------------


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _record(
    origin: str, key: str, revision: int, series: str, level: Level = "national"
) -> PeerRecord:
    return PeerRecord(
        origin=origin,
        key=key,
        revision=revision,
        level=level,
        hashes={"sha256": key, "md5": key[:32]},
        facts=Facts(series=series, agency="BKA", country="DE"),
    )


def _apply(ctx: Context, sender: str, records: Sequence[PeerRecord]) -> ApplySummary:
    with ctx.store.session() as session:
        return apply_records(session, sender, records, ME)


def _entries(ctx: Context, origin: str) -> dict[str, str | None]:
    """The ``peer:<origin>`` hash set as triage reads it: each entry's SHA-256 (hex) and series."""
    with ctx.store.reader() as session:
        rows = session.execute(
            select(HashSetHash.value, HashSetEntry.series)
            .join(HashSetEntry, HashSetEntry.id == HashSetHash.entry_id)
            .join(HashSet, HashSet.id == HashSetEntry.hashset_id)
            .where(HashSet.name == peer_set_name(origin), HashSetHash.kind == "sha256")
        ).all()
    found = {bytes(value).hex(): series for value, series in rows}
    assert len(found) == len(rows), "an entry held twice"
    return found


def _hash_rows(ctx: Context, origin: str, key: str) -> int:
    with ctx.store.reader() as session:
        return int(
            session.scalar(
                select(func.count(SharedHash.id))
                .join(SharedRecord, SharedRecord.id == SharedHash.record_id)
                .where(SharedRecord.origin == origin, SharedRecord.key == bytes.fromhex(key))
            )
            or 0
        )


def _seq(ctx: Context) -> int:
    with ctx.store.reader() as session:
        return last_seq(session)


def test_apply_is_idempotent_ordered_and_never_sends_back(inst: Instance) -> None:
    op = inst.op
    one, two = _key("b-one"), _key("b-two")
    batch = [_record("country-b", one, 5, "S-B1"), _record("country-b", two, 5, "S-B2")]
    first = _apply(op, "country-b", batch)
    assert (first.added, first.changed, first.unchanged) == (2, 0, 0)
    held = {one: "S-B1", two: "S-B2"}
    assert _entries(op, "country-b") == held

    before = _seq(op)
    again = _apply(op, "country-b", batch)
    assert again.as_dict() == {"added": 0, "changed": 0, "withdrawn": 0, "unchanged": 2, "own": 0}
    assert _entries(op, "country-b") == held
    assert _seq(op) == before

    # Late: an older revision after the newer one changes nothing.
    late = _apply(op, "country-b", [_record("country-b", one, 3, "S-B1 stale")])
    assert (late.unchanged, late.changed) == (1, 0)
    assert _entries(op, "country-b") == held
    # In one batch, the newest revision wins whatever the order.
    newer = [_record("country-b", one, 7, "S-B1 v7"), _record("country-b", one, 6, "S-B1 v6")]
    assert _apply(op, "country-b", newer).changed == 1
    assert _entries(op, "country-b")[one] == "S-B1 v7"

    assert _hash_rows(op, "country-b", one) == 2
    withdrawal = PeerRecord(origin="country-b", key=one, revision=8, level="national", deleted=True)
    assert _apply(op, "country-b", [withdrawal]).withdrawn == 1
    assert _entries(op, "country-b") == {two: "S-B2"}
    assert (_hash_rows(op, "country-b", one), _hash_rows(op, "country-b", two)) == (0, 2)
    # A copy of the live record arriving after its withdrawal does not bring it back.
    assert _apply(op, "country-b", [_record("country-b", one, 7, "S-B1 v7")]).unchanged == 1
    assert one not in _entries(op, "country-b")

    # Our own material coming back is counted and never stored.
    mine = _key("a-own")
    back = _apply(op, "country-b", [_record(ME, mine, 9, "S-A")])
    assert (back.own, back.added) == (1, 0)
    with op.store.reader() as session:
        assert session.scalar(select(SharedRecord.id).where(SharedRecord.origin == ME)) is None

    # Relayed by a hub: never sent back to the hub, nor to the record's origin.
    relayed = _key("c-one")
    assert _apply(op, "hub-1", [_record("country-c", relayed, 4, "S-C", "international")]).added
    assert _entries(op, "country-c") == {relayed: "S-C"}
    to_hub = _changes(op, "hub-1", "international", hub=True)[0]
    to_origin = _changes(op, "country-c", "international")[0]
    to_b = _changes(op, "country-b", "national")[0]
    to_other = _changes(op, "peer-x", "national")[0]
    assert relayed not in {r.key for r in to_hub + to_origin}
    assert two not in {r.key for r in to_b}
    assert {(r.origin, r.key, r.deleted) for r in to_other} == {
        ("country-b", one, True),
        ("country-b", two, False),
        ("country-c", relayed, False),
    }


# --- 4. alert hits ----------------------------------------------------------------------------


def test_alert_hits_once_per_agency_and_travel_only_to_the_owner(inst: Instance) -> None:
    met, kent = inst.met, inst.kent
    add_case(met, "Op Harbour")
    met_folder, met_shas = inst.pictures("harbour", (41, 42))
    ingest_source(met, met_folder, "HARBOUR-1", case="Op Harbour", workers=1, signals=("pdq",))
    add_series(met, "S-Harbour", case="Op Harbour")
    add_series_media(met, "S-Harbour", met_shas[:1])
    # Kent seizes a copy of a Met series picture, and a picture of its own.
    add_case(kent, "Op Kestrel")
    kent_folder, kent_shas = inst.pictures("kestrel", (43,))
    copy = kent_folder / "copy-of-harbour.jpg"
    copy.write_bytes((met_folder / "pic-41.jpg").read_bytes())
    ingest_source(kent, kent_folder, "KESTREL-1", case="Op Kestrel", workers=1, signals=("pdq",))
    exact = {k for k in _signals(inst.op, met_shas[:1])[met_shas[0]] if k != "pdq"}
    assert exact >= {"sha256", "md5", "sha1"}, "the picture needs every exact kind to hit by"

    alert = add_alert(met, "Harbour watch", series="S-Harbour")
    made = scan_alerts(met)
    assert len(made) == 1
    with inst.op.store.reader() as session:
        hits = session.scalars(select(AlertHit)).all()
        assert [
            (h.id, h.alert_ref, h.owner_agency, h.hit_agency, h.hit_contact, h.hit_instance)
            for h in hits
        ] == [(made[0], f"{ME}:{alert.id}", MET[0], KENT[0], KENT[2], ME)]
        assert (hits[0].kind, bytes(hits[0].value).hex()) == ("sha256", met_shas[0])
    assert scan_alerts(met) == []
    assert scan_alerts(kent) == []
    # The alert's hashes travel without the series' or case's name.
    watched = [r for r in _changes(inst.op, "peer-x", "international")[0] if r.facts.alerts]
    assert [r.key for r in watched] == [met_shas[0]]
    assert _leaks(_dump(watched), ["S-Harbour", "Op Harbour", "HARBOUR-1"]) == []

    # A peer's alert on Kent's own picture: the hit goes back to that peer only.
    foreign = PeerRecord(
        origin="country-b",
        key=_key("alert:country-b:7"),
        revision=3,
        level="international",
        hashes={"sha256": kent_shas[0]},
        facts=Facts(
            alerts=[AlertFacts(ref="country-b:7", label="B watch", agency="BKA", country="DE")]
        ),
    )
    _apply(inst.op, "country-b", [foreign])
    assert scan_alerts(inst.op) == []  # a hit on another instance's alert is not ours to act on
    with inst.op.store.reader() as session:
        sent = session.scalars(select(AlertHit).where(AlertHit.alert_ref == "country-b:7")).all()
        assert [(h.owner_instance, h.hit_agency) for h in sent] == [("country-b", KENT[0])]

    def hits_to(peer: str, *, hub: bool = False) -> list[PeerRecord]:
        return [r for r in _changes(inst.op, peer, "international", hub=hub)[0] if r.hit]

    to_owner = hits_to("country-b")
    assert [(r.hit.to, r.hit.agency, r.hit.contact) for r in to_owner if r.hit] == [
        ("country-b", KENT[0], KENT[2])
    ]
    assert _leaks(_dump(to_owner), ["Op Kestrel", "KESTREL-1", "kestrel", "copy-of"]) == []
    assert hits_to("country-c") == []
    assert hits_to("hub-1") == []
    assert [r.key for r in hits_to("hub-1", hub=True)] == [r.key for r in to_owner]


def test_hashes_that_change_at_the_origin_are_rewritten_everywhere(inst: Instance) -> None:
    """A hash that appears later (a signal computed after the first exchange) reaches the
    shared list and the receiver's ``peer:<origin>`` set, so matching finds it there too."""
    sha, pdq = "ab" * 32, "cd" * 32

    def record(revision: int, hashes: dict[str, str]) -> PeerRecord:
        return PeerRecord(
            origin="country-b", key=sha, revision=revision, level="international", hashes=hashes
        )

    def held(session_kind: str) -> tuple[set[str], set[str]]:
        with inst.op.store.reader() as session:
            shared = {k for (k,) in session.execute(select(SharedHash.kind)) if k == session_kind}
            in_set = {
                k
                for (k,) in session.execute(
                    select(HashSetHash.kind)
                    .join(HashSetEntry, HashSetEntry.id == HashSetHash.entry_id)
                    .join(HashSet, HashSet.id == HashSetEntry.hashset_id)
                    .where(HashSet.name == "peer:country-b")
                )
                if k == session_kind
            }
        return shared, in_set

    with inst.op.store.session() as session:
        apply_records(session, "hub", [record(1, {"sha256": sha})], ME)
    assert held("pdq") == (set(), set())
    with inst.op.store.session() as session:
        summary = apply_records(session, "hub", [record(2, {"sha256": sha, "pdq": pdq})], ME)
    assert summary.changed == 1
    assert held("pdq") == ({"pdq"}, {"pdq"})
    with inst.op.store.reader() as session:
        assert session.scalar(select(func.count(HashSetHash.id))) == 2  # no stale copies

    # The same for this instance's own material: a PDQ computed after the first publish.
    folder, shas = inst.pictures("later", [41])
    ingest_source(inst.met, folder, "LATER", case="later-op", workers=1, signals=("pdq",))
    update_case(inst.met, "later-op", sharing="international")
    _publish(inst.op)
    later = b"\1" * 32
    with inst.op.store.session() as session:
        media = session.scalar(select(Media.id).where(Media.sha256 == bytes.fromhex(shas[0])))
        recomputed = update(Signal).where(Signal.media_id == media, Signal.kind == "pdq")
        session.execute(recomputed.values(value=later))
        assert publish_local(session, ME).changed == 1
    with inst.op.store.reader() as session:
        record_id = session.scalar(
            select(SharedRecord.id).where(SharedRecord.key == bytes.fromhex(shas[0]))
        )
        values = set(
            session.scalars(
                select(SharedHash.value).where(
                    SharedHash.record_id == record_id, SharedHash.kind == "pdq"
                )
            )
        )
    assert values == {later}
