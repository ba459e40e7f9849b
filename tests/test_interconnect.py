"""Three real vident instances exchanging hashes: a hub on PostgreSQL, two national databases.

Everything runs as an administrator would run it: ``vident`` commands in separate data
directories and a served hub that checks every signature. The pictures are generated noise
and shapes (never people). The instances are set up once for the module and the tests only
add to their state, each with material of its own, so any one of them can run alone.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.helpers_media import photo_like
from tests.interconnect import Instance, Network, three_instances
from vident.exchange.shared import count_live
from vident.security.identity import Identity
from vident.security.signing import sign_request
from vident.service.audit import AuditEventOut, list_events
from vident.service.exchange_sync import sync_peer
from vident.service.peer_client import PeerUnavailable
from vident.service.peers import list_peers
from vident.store.models import HashSet, HashSetEntry, HashSetHash, Media, Signal
from vident.store.models_exchange import SharedHash, SharedRecord
from vident.store.models_security import AuditEvent

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

AGENCY_A = "Kripo Berlin"
AGENCY_B = "Politie NL"
IDENTIFIED_ON = "2025-03-14"
IDENTIFIED_LINE = f"victim identified by {AGENCY_A}, DE, {IDENTIFIED_ON}"
OPEN_CASE = "a-open-case"  # shared internationally
CLOSED_CASE = "a-closed-case"  # kept to Kripo Berlin
SHARED_SERIES = "a-shared-series"
INTERNAL_SERIES = "a-internal-series"  # agency level, on shared media
B_CASE = "b-case"
_seeds = itertools.count(91_000)


def make_pictures(folder: Path, prefix: str, count: int) -> list[Path]:
    """``count`` distinct generated JPEGs named ``<prefix>-<n>.jpg`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        path = folder / f"{prefix}-{number}.jpg"
        photo_like(320, 240, next(_seeds)).save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ingest(instance: Instance, folder: Path, source: str, case: str) -> None:
    instance.run(
        "ingest",
        str(folder),
        "--source",
        source,
        "--case",
        case,
        "-q",
        "--signals",
        "pdq",
        "--workers",
        "1",
    )


def triage(instance: Instance, source: str) -> dict[str, dict[str, object]]:
    """The triage items of ``source`` by file name."""
    done = json.loads(instance.run("triage", "--source", source, "--format", "json").stdout)
    return {Path(item["path"]).name: item for item in done["items"]}


def peer_reasons(item: dict[str, object], origin: str) -> list[dict[str, object]]:
    reasons = item["reasons"]
    assert isinstance(reasons, list)
    return [r for r in reasons if r.get("hashset") == f"peer:{origin}"]


def media_hashes(instance: Instance, sha: str) -> set[str]:
    """Every hash of a stored media that could travel (sha256, md5, sha1, PDQ), as hex."""
    store = instance.store()
    try:
        with store.reader() as session:
            media_id = session.scalar(select(Media.id).where(Media.sha256 == bytes.fromhex(sha)))
            assert media_id is not None, f"{instance.name} holds no media {sha}"
            values = session.scalars(
                select(Signal.value).where(
                    Signal.media_id == media_id, Signal.kind.in_(("md5", "sha1", "pdq"))
                )
            ).all()
    finally:
        store.dispose()
    assert len(values) >= 3, f"{sha} has {len(values)} hashes: md5, sha1 and PDQ expected"
    return {sha, *(bytes(v).hex() for v in values)}


def shared_text(instance: Instance) -> str:
    """Everything an instance's shared list holds, as one text to search: every record's
    origin, key and payload JSON, and every hash it indexes."""
    store = instance.store()
    try:
        with store.reader() as session:
            rows = [
                json.dumps([r.origin, bytes(r.key).hex(), r.payload])
                for r in session.scalars(select(SharedRecord))
            ]
            rows.extend(bytes(v).hex() for v in session.scalars(select(SharedHash.value)))
    finally:
        store.dispose()
    return "\n".join(rows)


def peer_set(instance: Instance, origin: str) -> set[tuple[str, str | None, str | None]]:
    """(sha256, series, identified_by) of each entry of hash set ``peer:<origin>``."""
    store = instance.store()
    try:
        with store.reader() as session:
            rows = session.execute(
                select(HashSetHash.value, HashSetEntry.series, HashSetEntry.identified_by)
                .join(HashSetEntry, HashSetEntry.id == HashSetHash.entry_id)
                .join(HashSet, HashSet.id == HashSetEntry.hashset_id)
                .where(HashSet.name == f"peer:{origin}", HashSetHash.kind == "sha256")
            ).all()
    finally:
        store.dispose()
    return {(bytes(v).hex(), series, by) for v, series, by in rows}


def peer_entries(instance: Instance, origin: str) -> int:
    store = instance.store()
    try:
        with store.reader() as session:
            count = session.scalar(
                select(func.count(HashSetEntry.id))
                .join(HashSet, HashSet.id == HashSetEntry.hashset_id)
                .where(HashSet.name == f"peer:{origin}")
            )
    finally:
        store.dispose()
    return int(count or 0)


def events(instance: Instance, action: str, after: int = 0) -> list[AuditEventOut]:
    with instance.context() as ctx:
        return [e for e in list_events(ctx, action=action).events if e.id > after]


def last_event_id(instance: Instance) -> int:
    """The newest audit event's id (read from the store: listing would cap the count)."""
    store = instance.store()
    try:
        with store.reader() as session:
            return int(session.scalar(select(func.max(AuditEvent.id))) or 0)
    finally:
        store.dispose()


def count_live_of(instance: Instance, origin: str) -> int:
    """Live records of ``origin`` in an instance's shared list."""
    store = instance.store()
    try:
        with store.reader() as session:
            return count_live(session, origin)
    finally:
        store.dispose()


def shared_keys(instance: Instance, origin: str) -> list[tuple[str, int]]:
    """(key, revision) of every live record of ``origin``, duplicates kept."""
    store = instance.store()
    try:
        with store.reader() as session:
            rows = session.execute(
                select(SharedRecord.key, SharedRecord.revision).where(
                    SharedRecord.origin == origin, SharedRecord.deleted.is_(False)
                )
            ).all()
    finally:
        store.dispose()
    return sorted((bytes(k).hex(), int(r)) for k, r in rows)


def top_seq(instance: Instance, origin: str) -> int:
    """The newest sequence number of ``origin``'s records in an instance's shared list."""
    store = instance.store()
    try:
        with store.reader() as session:
            top = session.scalar(
                select(func.max(SharedRecord.seq)).where(SharedRecord.origin == origin)
            )
    finally:
        store.dispose()
    return int(top or 0)


def push_to_hub(net: Network, headers: dict[str, str], body: bytes) -> int:
    """POST a hand-signed push to the hub; the HTTP status it answers."""
    request = urllib.request.Request(
        f"{net.hub.url}/api/v1/exchange/changes",
        data=body,
        method="POST",
        headers={**headers, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


@dataclass(frozen=True)
class Story:
    """What the done-when story made, for the tests that look at it."""

    root: Path
    open_shas: list[str]
    identified_sha: str
    internal_sha: str
    closed_paths: list[Path]
    victim: str
    b_copy: Path
    b_new: Path
    b_triage: dict[str, dict[str, object]]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, pg_server: str) -> Iterator[Network]:
    with three_instances(tmp_path_factory.mktemp("interconnect"), pg_server) as network:
        yield network


def _a_shares_an_identified_series(a: Instance, root: Path) -> tuple[list[str], str]:
    """A's material: an international case (one picture in an identified international
    series, one in an agency-level series) and a case kept to the agency; pushed to the hub.
    The open pictures' SHA-256 and the victim's code."""
    a.run("case", "add", OPEN_CASE, "--agency", AGENCY_A, "--sharing", "international")
    a.run("case", "add", CLOSED_CASE, "--agency", AGENCY_A)
    ingest(a, root / "a-open", "a-open-seizure", OPEN_CASE)
    ingest(a, root / "a-closed", "a-closed-seizure", CLOSED_CASE)
    shas = [sha256(p) for p in sorted((root / "a-open").iterdir())]
    a.run("series", "add", SHARED_SERIES, "--case", OPEN_CASE, "--sharing", "international")
    a.run("series", "add-media", SHARED_SERIES, shas[0])
    added = a.run("victim", "add", "--series", SHARED_SERIES).stdout
    victim = re.search(r"V-\d{4}-\d{4,}", added)
    assert victim is not None, added
    a.run("victim", "identify", victim.group(), "--agency", AGENCY_A, "--on", IDENTIFIED_ON)
    a.run("series", "add", INTERNAL_SERIES, "--case", OPEN_CASE)
    a.run("series", "add-media", INTERNAL_SERIES, shas[1])
    a.run("peer", "sync", "hub")
    return shas, victim.group()


@pytest.fixture(scope="module")
def story(net: Network) -> Story:
    """A shares an identified series through the hub; B syncs, then meets one of its
    pictures (and one of its own) in a seizure of an agency-level case."""
    root = net.a.data.parent / "pictures"
    b = net.b
    open_paths = make_pictures(root / "a-open", "a-open", 4)
    closed_paths = make_pictures(root / "a-closed", "a-closed", 2)
    with ThreadPoolExecutor(max_workers=1) as pool:  # B's case while A works
        b_case = pool.submit(b.run, "case", "add", B_CASE, "--agency", AGENCY_B)
        shas, victim = _a_shares_an_identified_series(net.a, root)
        b_case.result()
    assert shas == [sha256(p) for p in open_paths]
    b.run("peer", "sync", "hub")
    (root / "b-seizure").mkdir()
    b_copy = shutil.copyfile(open_paths[0], root / "b-seizure" / "b-copy.jpg")
    (b_new,) = make_pictures(root / "b-seizure", "b-new", 1)
    ingest(b, root / "b-seizure", "b-seizure", B_CASE)
    return Story(
        root=root,
        open_shas=shas,
        identified_sha=shas[0],
        internal_sha=shas[1],
        closed_paths=closed_paths,
        victim=victim,
        b_copy=b_copy,
        b_new=b_new,
        b_triage=triage(b, "b-seizure"),
    )


def test_a_identification_reaches_b_through_the_hub(story: Story) -> None:
    copy, new = story.b_triage[story.b_copy.name], story.b_triage[story.b_new.name]
    assert copy["verdict"] == "known", copy
    reasons = peer_reasons(copy, "country-a")
    assert reasons, f"no reason names peer:country-a: {copy['reasons']}"
    assert {r["identified"] for r in reasons} == {IDENTIFIED_LINE}
    assert {r["series"] for r in reasons} == {SHARED_SERIES}
    assert new["verdict"] == "new" and new["reasons"] == [], new


def test_agency_level_material_never_leaves_its_instance(net: Network, story: Story) -> None:
    done = net.b.run("peer", "sync", "hub").stdout
    assert "pushed 0 records" in done, done
    hub = shared_text(net.hub)
    # The scan sees what was shared: A's open case, its shared series and their hashes.
    assert OPEN_CASE in hub and SHARED_SERIES in hub and IDENTIFIED_LINE in hub
    assert all(sha in hub for sha in story.open_shas)
    secrets = {
        CLOSED_CASE,
        INTERNAL_SERIES,
        B_CASE,
        story.victim,
        "a-closed-seizure",
        "a-open-seizure",
        "b-seizure",
        "a-closed-",  # file names of A's unshared pictures
        "b-new-",
        "b-copy",
        str(story.root),
    }
    secrets |= media_hashes(net.b, sha256(story.b_new))
    closed = set().union(*(media_hashes(net.a, sha256(p)) for p in story.closed_paths))
    secrets |= closed
    leaked = sorted(s for s in secrets if s in hub)
    assert not leaked, f"the hub holds unshared material: {leaked}"
    assert '"country-b"' not in hub, "the hub holds a record of country-b"
    assert peer_entries(net.hub, "country-b") == 0
    assert peer_entries(net.hub, "country-a") == count_live_of(net.a, "country-a")
    at_b = shared_text(net.b)
    assert story.identified_sha in at_b  # what B pulled is there
    assert not sorted(s for s in closed | {CLOSED_CASE, INTERNAL_SERIES} if s in at_b)
    assert {sha for sha, _, _ in peer_set(net.b, "country-a")}.isdisjoint(closed)


def test_a_push_cut_by_the_hub_going_down_resumes_without_duplicates(
    net: Network, story: Story
) -> None:
    make_pictures(story.root / "a-more", "a-more", 6)
    ingest(net.a, story.root / "a-more", "a-more-seizure", OPEN_CASE)
    pushes: list[int] = []

    def hub_goes_down(what: str, count: int) -> None:
        if what == "push":
            pushes.append(count)
            if len(pushes) == 1:
                net.hub.stop()

    try:
        with net.a.context() as ctx, pytest.raises(PeerUnavailable):
            sync_peer(ctx, "hub", retries=1, batch=2, progress=hub_goes_down)
    finally:
        net.hub.start()
    assert pushes == [2], "the hub should have gone down after the first batch"
    with net.a.context() as ctx:
        resumed = sync_peer(ctx, "hub", batch=2)
        again = sync_peer(ctx, "hub", batch=2)
        cursor = next(p.push_cursor for p in list_peers(ctx).peers if p.name == "hub")
    # The acknowledged batch is not sent again: the other 4 of the 6 new records are.
    assert (resumed.pushed, resumed.pushed_result.added) == (4, 4), resumed
    assert again.pushed == 0, again
    live = count_live_of(net.a, "country-a")
    assert peer_entries(net.hub, "country-a") == live >= len(story.open_shas) + 6
    assert shared_keys(net.hub, "country-a") == shared_keys(net.a, "country-a")
    assert cursor == top_seq(net.a, "country-a")


def test_tampered_replayed_and_unknown_messages_are_refused_and_audited(
    net: Network, tmp_path: Path
) -> None:
    before = last_event_id(net.hub)
    path = "/api/v1/exchange/changes"
    body = b'{"records":[],"upto":0,"more":false}'
    identity = Identity.load(net.a.data)
    original = sign_request(identity, "hub", "POST", path, body)
    assert push_to_hub(net, original, body) == 200
    assert push_to_hub(net, original, body) == 401  # the same message again
    fresh = sign_request(identity, "hub", "POST", path, body)
    tampered = b'{"records":[],"upto":7,"more":false}'
    assert push_to_hub(net, fresh, tampered) == 401
    stranger = Identity.create(tmp_path / "stranger", "country-x")
    assert push_to_hub(net, sign_request(stranger, "hub", "POST", path, body), body) == 401
    impostor = Identity.create(tmp_path / "impostor", "country-a")
    assert push_to_hub(net, sign_request(impostor, "hub", "POST", path, body), body) == 401
    refused = events(net.hub, "peer.refused", after=before)
    reasons = [(e.target, (e.detail or {}).get("reason"), e.outcome) for e in refused]
    assert reasons == [
        ("country-a", "replayed", "denied"),
        ("country-a", "bad signature", "denied"),
        ("country-x", "unknown peer", "denied"),
        ("country-a", "bad signature", "denied"),
    ]
    pushes = events(net.hub, "exchange.push", after=before)
    assert [(e.target, e.outcome) for e in pushes] == [("country-a", "ok")]


def test_b_matches_a_seizure_at_the_hub_before_syncing(net: Network, story: Story) -> None:
    (picture,) = make_pictures(story.root / "a-late", "a-late", 1)
    folder = story.root / "b-late"
    folder.mkdir()
    shutil.copyfile(picture, folder / "b-late-copy.jpg")

    def a_shares_it() -> None:
        ingest(net.a, picture.parent, "a-late-seizure", OPEN_CASE)
        net.a.run("peer", "sync", "hub")

    with ThreadPoolExecutor(max_workers=1) as pool:  # A shares while B ingests
        shared = pool.submit(a_shares_it)
        ingest(net.b, folder, "b-late-seizure", B_CASE)
        shared.result()
    assert triage(net.b, "b-late-seizure")["b-late-copy.jpg"]["verdict"] == "new"
    hub_before, b_before = last_event_id(net.hub), last_event_id(net.b)
    said = net.b.run("peer", "match", "b-late-seizure", "--peer", "hub").stdout
    found = re.search(r"(\d+) matches", said)
    assert found is not None and int(found.group(1)) >= 1, said
    item = triage(net.b, "b-late-seizure")["b-late-copy.jpg"]
    assert item["verdict"] == "known", item
    assert peer_reasons(item, "country-a"), item["reasons"]
    at_hub = events(net.hub, "exchange.match", after=hub_before)
    assert [(e.target, e.outcome) for e in at_hub] == [("country-b", "ok")]
    assert at_hub[0].detail is not None and int(str(at_hub[0].detail["matches"])) >= 1
    at_b = events(net.b, "peer.match", after=b_before)
    assert [(e.target, e.outcome) for e in at_b] == [("b-late-seizure", "ok")]


@dataclass(frozen=True)
class Bundled:
    """A's bundle for B, imported once at B."""

    file: Path
    moved: str
    before: set[tuple[str, str | None, str | None]]
    said: str
    after: set[tuple[str, str | None, str | None]]


@pytest.fixture(scope="module")
def bundled(net: Network, story: Story) -> Bundled:
    """A and B trust each other directly; A changes a shared record (a picture newly in the
    identified series), pushes it to the hub, then carries it to B in a bundle."""
    a, b = net.a, net.b
    moved = story.open_shas[2]
    file = story.root / "for-country-b.bundle"
    a_key, b_key = a.key(), b.key()

    def a_changes_and_exports() -> None:
        a.run("peer", "add", b.name, b.url, b_key)
        a.run("series", "add-media", SHARED_SERIES, moved)
        a.run("peer", "sync", "hub")
        a.run("bundle", "export", str(file), "--peer", b.name)

    with ThreadPoolExecutor(max_workers=1) as pool:
        exported = pool.submit(a_changes_and_exports)
        b.run("peer", "add", a.name, a.url, a_key, "--role", "national")
        exported.result()
    before = peer_set(b, "country-a")
    said = b.run("bundle", "import", str(file)).stdout
    return Bundled(file, moved, before, said, peer_set(b, "country-a"))


def test_a_bundle_carries_what_online_sync_carries(net: Network, bundled: Bundled) -> None:
    changed = (bundled.moved, SHARED_SERIES, IDENTIFIED_LINE)
    assert changed not in bundled.before  # B had not heard of the change
    assert "from country-a" in bundled.said and "already imported" not in bundled.said
    assert changed in bundled.after, bundled.said
    # The hub took A's records online; B took the same from the file.
    assert bundled.after == peer_set(net.hub, "country-a")
    again = net.b.run("bundle", "import", str(bundled.file)).stdout
    assert "already imported" in again, again
    assert peer_set(net.b, "country-a") == bundled.after
    at_hub = net.hub.run("bundle", "import", str(bundled.file), check=False)
    assert at_hub.returncode == 1, at_hub
    lines = at_hub.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: bundle refused"), at_hub.stderr
    assert "Traceback" not in at_hub.stderr + at_hub.stdout


def test_b_still_syncs_with_the_hub_after_a_bundle(net: Network, bundled: Bundled) -> None:
    # Last in the module: while the product fails it, B's sync with the hub stays broken.
    done = net.b.run("peer", "sync", "hub", check=False)
    assert done.returncode == 0, done.stderr
    assert "(0 new, 0 changed, 0 withdrawn here)" in done.stdout, done.stdout
    assert peer_set(net.b, "country-a") == peer_set(net.hub, "country-a")
