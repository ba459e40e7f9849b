"""The exchange between instances: push and pull speed, remote and private matching cost.

    python -m bench.interconnect                          # 1,000,000 records, 100,000 PSI items
    python -m bench.interconnect --n 200000 --psi-n 20000 --repeats 3 --json figures.json

Everything runs in one process on SQLite stores in a temporary directory, without HTTP: the
figures are the cost of the exchange's own code and store (what a peer's request spends
inside the server), not of the network. Records are synthetic (random MD5, SHA-1, SHA-256 and
PDQ hex and a series name), never pictures.

1. Push: ``n`` records arrive at a hub in batches of 1,000 (``BATCH``) through
   ``receive_changes``, as a peer's push does. Records/s overall and over the last 10% tell
   whether taking records slows as the hub fills; the peak RSS after 10%, 50% and 100% tells
   whether memory grows with the count (it must not). The sending side pages the same
   records out with ``changes_for``, 1,000 per call. Baseline: the same records imported into
   a local hash set (``import_records``) in another store.
2. Remote match: a 10,000-hash seizure (2,500 SHA-256 held, 2,500 PDQ within distance 8 of
   held ones, 5,000 absent) through ``answer_match``, against the same hashes looked up in the
   local hash set (``hashset_exact`` and the PDQ near index): the price of asking a hub
   instead of holding its list.
3. Private matching: 10,000 SHA-256 (half held) against a hub whose shared list holds
   ``--psi-n`` exact hashes, by ``answer_private`` (ECDH private set intersection) and by
   plain ``answer_match``: the setup the hub builds once per change of its list, a query once
   the setup is cached (the querier's blinding and unblinding included), and the bytes each
   way. The setup costs about 0.13 ms per server item: a million takes minutes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vident.config import Settings
from vident.exchange.peer_records import BATCH, Facts, PeerRecord, RecordBatch
from vident.exchange.private_match import PrivateQuery, psi_item
from vident.exchange.shared import changes_for
from vident.index.near import open_all
from vident.match.lookup import hashset_exact, near
from vident.security.identity import Identity
from vident.service.context import (
    Context,
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.exchange_serve import (
    MatchQuery,
    PrivateAnswerOut,
    PrivateQueryIn,
    QueryHash,
    answer_match,
    answer_private,
    receive_changes,
)
from vident.service.peers import add_peer
from vident.service.store_admin import init_store
from vident.store.hashsets import import_records
from vident.store.known import KnownRecord

PEER = "country-a"
#: A second peer, that the hub relays to and answers: it never sends a peer its own records.
ASKER = "country-b"
SEIZURE = 10_000
NEAR_MOST = 8
RADIUS = 31
SERIES = 50
#: The server set the note on the private matching setup's cost speaks of.
PSI_NOTE_ITEMS = 1_000_000
ALL_KINDS = ("md5", "sha1", "sha256", "pdq")


def _digest(kind: str, number: int) -> bytes:
    """The ``kind`` hash of synthetic record ``number``: random-looking, made again at will."""
    seed = f"{kind}:{number}".encode()
    if kind == "md5":
        return hashlib.md5(seed).digest()
    if kind == "sha1":
        return hashlib.sha1(seed).digest()
    return hashlib.sha256(seed).digest()


def hashes_of(number: int, kinds: tuple[str, ...]) -> dict[str, bytes]:
    return {kind: _digest(kind, number) for kind in kinds}


def peer_record(number: int, kinds: tuple[str, ...]) -> PeerRecord:
    return PeerRecord(
        origin=PEER,
        key=_digest("key", number).hex(),
        revision=1,
        level="international",
        hashes={kind: value.hex() for kind, value in hashes_of(number, kinds).items()},
        facts=Facts(series=f"series {number % SERIES}", category="1", country="AA"),
    )


def batches(n: int, kinds: tuple[str, ...]) -> Iterator[RecordBatch]:
    for start in range(0, n, BATCH):
        stop = min(n, start + BATCH)
        records = [peer_record(i, kinds) for i in range(start, stop)]
        yield RecordBatch(records=records, upto=stop, more=stop < n)


def peak_rss_mib() -> float:
    """The process's peak resident memory so far (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_time(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_hub(root: Path, name: str) -> tuple[Context, Context, Context]:
    """A fresh store named ``name`` trusting two peers: (operator, ``PEER``, ``ASKER``) contexts.

    ``PEER`` pushes its records; ``ASKER`` queries them, since a hub never answers a peer
    with that peer's own records.
    """
    settings = Settings(data=root / name)
    init_store(settings, name=name)
    operator = open_context(settings, local_operator(settings))
    contexts = []
    for peer in (PEER, ASKER):
        key = Identity.create(root / f"{name}-{peer}", peer).public().key_text()
        add_peer(operator, peer, "http://127.0.0.1:9", key, role="national", reach="international")
        principal = Principal(name=peer, kind=PrincipalKind.PEER, role=Role.PEER)
        contexts.append(open_context(settings, principal))
    return operator, contexts[0], contexts[1]


def flip_bits(value: bytes, rng: random.Random) -> bytes:
    """``value`` with 1 to ``NEAR_MOST`` distinct bits inverted."""
    bits = len(value) * 8
    mask = sum(1 << b for b in rng.sample(range(bits), rng.randint(1, NEAR_MOST)))
    return (int.from_bytes(value, "big") ^ mask).to_bytes(len(value), "big")


def seizure(n: int, rng: random.Random) -> tuple[list[QueryHash], int]:
    """10,000 hashes: a quarter held SHA-256, a quarter near held PDQ, half never stored;
    and how many are held (fewer when ``n`` is under 5,000)."""
    quarter = SEIZURE // 4
    held = rng.sample(range(n), min(n, 2 * quarter))
    exact = [_digest("sha256", i) for i in held[:quarter]]
    close = [flip_bits(_digest("pdq", i), rng) for i in held[quarter:]]
    absent_exact = [rng.randbytes(32) for _ in range(quarter)]
    absent_pdq = [rng.randbytes(32) for _ in range(SEIZURE - 3 * quarter)]
    queries = [QueryHash(kind="sha256", value=v.hex()) for v in exact + absent_exact]
    queries += [QueryHash(kind="pdq", value=v.hex()) for v in close + absent_pdq]
    return queries, len(held)


def measure_push(peer: Context, n: int) -> dict[str, float]:
    """Records/s of ``receive_changes`` and peak RSS at 10%, 50% and 100% of ``n``.

    Only the call is timed: making the records (the sender's work, and the parsing of the
    request, which the web layer does) is not.
    """
    marks = {max(1, n // 10): "rss_10_mib", max(1, n // 2): "rss_50_mib", n: "rss_100_mib"}
    last_tenth = n - max(1, n // 10)
    figures: dict[str, float] = {}
    spent = tail = 0.0
    done = 0
    for batch in batches(n, ALL_KINDS):
        start = time.perf_counter()
        receive_changes(peer, batch)
        took = time.perf_counter() - start
        spent += took
        before, done = done, done + len(batch.records)
        tail += took * max(0, done - max(before, last_tenth)) / len(batch.records)
        for mark, name in marks.items():
            if before < mark <= done:
                figures[name] = peak_rss_mib()
    figures["push_rps"] = n / spent
    figures["push_tail_rps"] = (n - last_tenth) / tail
    return figures


def measure_pull(operator: Context, n: int) -> dict[str, float]:
    """Records/s of ``changes_for`` paging the hub's list to another peer, 1,000 a call."""
    sent, since, more = 0, 0, True
    start = time.perf_counter()
    with operator.store.session() as session:
        while more:
            records, since, more = changes_for(session, ASKER, "international", since, BATCH)
            sent += len(records)
    took = time.perf_counter() - start
    if sent != n:
        raise RuntimeError(f"changes_for sent {sent:,} records of {n:,}")
    return {"pull_rps": n / took}


def measure_local(root: Path, n: int, queries: list[QueryHash], repeats: int) -> dict[str, float]:
    """The baseline: the same records in a local hash set, the seizure looked up there."""
    settings = Settings(data=root / "bench-local")
    init_store(settings, name="bench-local")
    ctx = open_context(settings, local_operator(settings))
    records = (
        KnownRecord(hashes=hashes_of(i, ALL_KINDS), series=f"series {i % SERIES}") for i in range(n)
    )
    start = time.perf_counter()
    import_records(ctx.store, "bench-set", records, origin="bench")
    figures = {"import_rps": n / (time.perf_counter() - start)}
    exact = {"sha256": [bytes.fromhex(q.value) for q in queries if q.kind == "sha256"]}
    codes = [[bytes.fromhex(q.value)] for q in queries if q.kind == "pdq"]
    with ctx.store.session() as session:
        start = time.perf_counter()
        index = open_all(session, settings.index_dir, settings.pdq_min_quality)["pdq"]
        figures["local_index_s"] = time.perf_counter() - start

        def lookup() -> int:
            found = hashset_exact(session, exact)
            hits = near(session, index, codes, RADIUS, None)
            return sum(len(v) for v in found.values()) + sum(len(row) for row in hits)

        figures["local_match_s"] = median_time(lookup, repeats)
        figures["local_matches"] = float(lookup())
    ctx.close()
    return figures


def measure_remote(peer: Context, queries: list[QueryHash], repeats: int) -> dict[str, float]:
    """``answer_match`` of the seizure: the first call (builds the PDQ index) and later ones."""
    query = MatchQuery(hashes=queries, radius=RADIUS)
    start = time.perf_counter()
    first = answer_match(peer, query)
    figures = {"remote_first_s": time.perf_counter() - start}
    figures["remote_match_s"] = median_time(lambda: answer_match(peer, query), repeats)
    figures["remote_matches"] = float(len(first.matches))
    return figures


def measure_private(root: Path, psi_n: int, repeats: int) -> dict[str, float]:
    """Private against plain matching of 10,000 SHA-256 on a hub holding ``psi_n`` of them."""
    operator, peer, asker = make_hub(root, "bench-psi")
    for batch in batches(psi_n, ("sha256",)):
        receive_changes(peer, batch)
    rng = random.Random(7)
    held = [_digest("sha256", i) for i in rng.sample(range(psi_n), min(psi_n, SEIZURE // 2))]
    asked = held + [rng.randbytes(32) for _ in range(SEIZURE - len(held))]
    asked_items = [psi_item("sha256", v) for v in asked]
    figures: dict[str, float] = {"psi_n": float(psi_n)}
    answer_match(asker, MatchQuery(hashes=[]))  # publishes, as any first call would

    def private(items: list[str]) -> tuple[float, float, PrivateQueryIn, PrivateAnswerOut, int]:
        """(querier's seconds, hub's seconds, request, answer, matches) of one query."""
        start = time.perf_counter()
        query = PrivateQuery(items)
        sent = PrivateQueryIn(request=base64.b64encode(query.request()).decode())
        middle = time.perf_counter()
        answer = answer_private(asker, sent)
        served = time.perf_counter()
        found = query.matched(base64.b64decode(answer.setup), base64.b64decode(answer.response))
        end = time.perf_counter()
        return (middle - start) + (end - served), served - middle, sent, answer, len(found)

    # A first query of one hash: the hub's answer is all setup (it blinds its whole set).
    figures["psi_setup_s"] = private(asked_items[:1])[1]
    runs = [private(asked_items) for _ in range(repeats)]
    figures["psi_server_s"] = statistics.median(r[1] for r in runs)
    figures["psi_client_s"] = statistics.median(r[0] for r in runs)
    figures["psi_query_s"] = statistics.median(r[0] + r[1] for r in runs)
    figures["psi_first_s"] = figures["psi_setup_s"] + figures["psi_query_s"]
    figures["psi_up_bytes"] = float(len(runs[0][2].model_dump_json()))
    figures["psi_down_bytes"] = float(len(runs[0][3].model_dump_json()))
    figures["psi_matches"] = float(runs[0][4])
    plain = MatchQuery(hashes=[QueryHash(kind="sha256", value=v.hex()) for v in asked])
    figures["plain_s"] = median_time(lambda: answer_match(asker, plain), repeats)
    answer = answer_match(asker, plain)
    figures["plain_matches"] = float(len(answer.matches))
    figures["plain_up_bytes"] = float(len(plain.model_dump_json()))
    figures["plain_down_bytes"] = float(len(answer.model_dump_json()))
    figures["psi_ratio"] = figures["psi_query_s"] / figures["plain_s"]
    figures["psi_setup_ms_per_item"] = 1000 * figures["psi_setup_s"] / psi_n
    for ctx in (operator, peer, asker):
        ctx.close()
    return figures


def run(n: int = 1_000_000, repeats: int = 3, psi_n: int = 100_000) -> dict[str, float]:
    """Every figure of the three measurements (names as in :data:`ROWS`)."""
    figures: dict[str, float] = {"n": float(n), "repeats": float(repeats)}
    rng = random.Random(20261124)
    queries, planted = seizure(n, rng)
    figures["planted"] = float(planted)
    figures["psi_planted"] = float(min(psi_n, SEIZURE // 2))
    with tempfile.TemporaryDirectory(prefix="vident-bench-") as tmp:
        root = Path(tmp)
        operator, peer, asker = make_hub(root, "bench-hub")
        figures.update(measure_push(peer, n))
        figures.update(measure_pull(operator, n))
        figures.update(measure_remote(asker, queries, repeats))
        for ctx in (operator, peer, asker):
            ctx.close()
        figures.update(measure_local(root, n, queries, repeats))
        figures["remote_ratio"] = figures["remote_match_s"] / figures["local_match_s"]
        figures["push_vs_import"] = figures["import_rps"] / figures["push_rps"]
        figures.update(measure_private(root, psi_n, repeats))
    return figures


ROWS = [
    ("push_rps", "push: records/s taken by the hub (receive_changes, 1,000 a batch)", "{:,.0f}"),
    ("push_tail_rps", "push: records/s over the last 10%", "{:,.0f}"),
    ("rss_10_mib", "push: peak RSS after 10%, MiB", "{:,.0f}"),
    ("rss_50_mib", "push: peak RSS after 50%, MiB", "{:,.0f}"),
    ("rss_100_mib", "push: peak RSS after 100%, MiB", "{:,.0f}"),
    ("pull_rps", "pull: records/s sent (changes_for, 1,000 a call)", "{:,.0f}"),
    ("import_rps", "baseline: records/s of a local hash-set import", "{:,.0f}"),
    ("push_vs_import", "local import over push speed", "{:.1f}x"),
    ("remote_first_s", "remote match, first call (builds the PDQ index), s", "{:.3f}"),
    ("remote_match_s", "remote match of 10,000 hashes (answer_match), s", "{:.3f}"),
    ("local_index_s", "local near index built from the store, s", "{:.3f}"),
    ("local_match_s", "local match of the same 10,000 (hash set + near index), s", "{:.3f}"),
    ("remote_ratio", "remote over local", "{:.2f}x"),
    ("remote_matches", "remote matches (planted: see below)", "{:,.0f}"),
    ("local_matches", "local matches", "{:,.0f}"),
    ("planted", "planted matches", "{:,.0f}"),
    ("psi_n", "private: exact hashes held by the hub", "{:,.0f}"),
    ("psi_setup_s", "private: hub's setup (its answer to a first query of one hash), s", "{:.2f}"),
    ("psi_setup_ms_per_item", "private: setup per server item, ms", "{:.3f}"),
    ("psi_first_s", "private: first query of 10,000, setup included, s", "{:.2f}"),
    ("psi_query_s", "private: query with the setup cached, s", "{:.3f}"),
    ("psi_server_s", "  of which the hub's answer (answer_private), s", "{:.3f}"),
    ("psi_client_s", "  of which the querier's blinding and unblinding, s", "{:.3f}"),
    ("plain_s", "plain exact match of the same 10,000 (answer_match), s", "{:.3f}"),
    ("psi_ratio", "private over plain", "{:.1f}x"),
    ("psi_up_bytes", "private: bytes sent to the hub", "{:,.0f}"),
    ("psi_down_bytes", "private: bytes answered", "{:,.0f}"),
    ("plain_up_bytes", "plain: bytes sent to the hub", "{:,.0f}"),
    ("plain_down_bytes", "plain: bytes answered", "{:,.0f}"),
    ("psi_matches", "private matches", "{:,.0f}"),
    ("plain_matches", "plain matches", "{:,.0f}"),
    ("psi_planted", "planted exact matches", "{:,.0f}"),
]


def table(figures: dict[str, float]) -> Table:
    out = Table(
        title=f"Exchange between instances, {int(figures['n']):,} records, "
        f"median of {int(figures['repeats'])} runs"
    )
    out.add_column("figure")
    out.add_column("value", justify="right")
    for key, label, fmt in ROWS:
        if key in figures:
            out.add_row(label, fmt.format(figures[key]))
    return out


def psi_note(figures: dict[str, float]) -> str:
    minutes = figures["psi_setup_ms_per_item"] * PSI_NOTE_ITEMS / 60_000
    return (
        f"The private matching setup costs {figures['psi_setup_ms_per_item']:.3f} ms per server "
        f"item: about {minutes:.1f} minutes for {PSI_NOTE_ITEMS:,} items, built once per change "
        "of the shared list."
    )


def disagreements(figures: dict[str, float]) -> list[str]:
    """One line for each pair of counts that should agree and do not (figures not to quote)."""
    pairs = [
        ("remote_matches", "planted"),
        ("local_matches", "planted"),
        ("psi_matches", "psi_planted"),
        ("plain_matches", "psi_planted"),
    ]
    return [
        f"{found} is {figures[found]:,.0f} but {planted} is {figures[planted]:,.0f}"
        for found, planted in pairs
        if figures[found] != figures[planted]
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.interconnect", description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="records pushed to the hub")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (median)")
    parser.add_argument(
        "--psi-n",
        type=int,
        default=100_000,
        help="exact hashes of the private matching hub (setup: about 0.13 ms each)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.n < 1 or args.psi_n < 1 or args.repeats < 1:
        parser.error("--n, --psi-n and --repeats must be 1 or more")
    console = Console()
    figures = run(args.n, args.repeats, args.psi_n)
    console.print(table(figures))
    console.print(psi_note(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    problems = disagreements(figures)
    for line in problems:
        console.print(f"[red]counts disagree:[/red] {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
