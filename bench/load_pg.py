"""Many users at once on PostgreSQL: latency and correctness while an ingest runs.

The question a deployment asks before it lets a unit of analysts loose on one server: do
searches, triage pages and people decisions stay quick and exact while a seizure is being
loaded? The bench starts a throwaway PostgreSQL on loopback (the tests' server helper),
``vident init`` on it, an administrator, an agency and a few analysts with API tokens
(service layer, as :mod:`bench.api` does), and ingests a first source: pictures of the
shared face corpus (so there are person candidates) and generated photo-like pictures. It
then serves the API (``vident serve`` on a free 127.0.0.1 port) and measures every operation
with one client and nothing else running: the baseline, the median over repeats.

The measured window: a second ``vident ingest`` runs as a subprocess, sized from the first
ingest's rate to outlast the window, and ``--clients`` threads, each with its own connection
and token, loop over the mix (search and similar by upload, triage pages of both sources,
people list and show, and three writes: label a person, leave a note on a picture, confirm a
person) until ``--seconds`` have passed. Then the proof that nothing was lost: every request
answered 2xx, every note is in the store, each person's label is one its writers could have
left last (a write that began after another ended must win), every confirmed person reads
back confirmed, and the second source lists exactly the files written for it. Anything else
is a failure (exit status 1). The machine is shared and noisy; the baseline is the median of
its repeats, the load figures come from one window. Run with
``python -m bench.load_pg [--quick] [--clients 32] [--seconds N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import httpx
from PIL import Image
from rich.console import Console
from rich.table import Table
from tests.pg import postgres_server

from bench.api import API, BenchError, _quantile, _run, _terminated, _vident, serving
from bench.quality_faces import corpus_root
from vident.config import Settings
from vident.demo.synthetic import write_photo_jpegs
from vident.service.agencies import add_agency
from vident.service.clues import list_annotations
from vident.service.context import Context, Role, local_operator, open_context
from vident.service.errors import ServiceError
from vident.service.people import list_people, show_person
from vident.service.sources import list_sources
from vident.service.tokens import create_token
from vident.service.users import add_user, bootstrap_admin

FIRST, SECOND = "load-s1", "load-s2"
AGENCY, ADMIN = "Load", "load-admin"
PASSWORD = "a long load-test password"
SIGNALS = "pdq,scene,face"
PICTURE_TYPES = (".jpg", ".jpeg", ".png")
#: Triage items per page, as a screen shows them.
PAGE = 25
#: The second source is this many times what the first ingest's rate says the window needs:
#: at 1.5 it ended inside the window on this machine (its photos go faster than faces).
OUTLAST = 3.0
INGEST_START_S = 120.0


@dataclass(frozen=True)
class Plan:
    """The size of a run."""

    clients: int
    seconds: float
    #: Generated photos in the first source, and face pictures at most (0: all of them).
    photos: int
    faces: int
    analysts: int
    #: Requests of each operation per baseline repeat, and the repeats.
    alone: int
    repeats: int
    #: Fewest files of the second source, whatever the rate says.
    second_min: int


FULL = Plan(clients=32, seconds=60.0, photos=30, faces=0, analysts=4, alone=8, repeats=3,
            second_min=60)  # fmt: skip
QUICK = Plan(clients=8, seconds=10.0, photos=6, faces=8, analysts=2, alone=2, repeats=1,
             second_min=12)  # fmt: skip


@dataclass
class Ledger:
    """Every request's latency and status, and every write that was acknowledged."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    #: person -> (start, end, label) of each acknowledged label.
    labels: dict[int, list[tuple[float, float, str]]] = field(default_factory=dict)
    #: media id -> texts of the acknowledged notes.
    notes: dict[int, list[str]] = field(default_factory=dict)
    confirmed: set[int] = field(default_factory=set)
    #: "operation status" -> what the first such failure said (its problem detail).
    details: dict[str, str] = field(default_factory=dict)

    def record(self, op: str, seconds: float, status: int, detail: str = "") -> None:
        with self.lock:
            self.latencies.setdefault(op, []).append(seconds)
            self.statuses.setdefault(op, Counter())[status] += 1
            if detail:
                self.details.setdefault(f"{op} {status}", detail)

    def errors(self) -> Counter[str]:
        """Non-2xx answers, by operation and status."""
        out: Counter[str] = Counter()
        for op, counts in self.statuses.items():
            for status, n in counts.items():
                if not 200 <= status < 300:
                    out[f"{op} {status}"] += n
        return out


@dataclass(frozen=True)
class World:
    """What the clients work on: the server, their tokens, the query and the people."""

    base: str
    tokens: list[str]
    query: bytes
    persons: list[int]
    #: Media ids of faces' pictures: targets of the notes.
    media: list[int]


@dataclass
class Client:
    """One simulated user: a connection, a token, and a counter that varies its requests."""

    world: World
    ledger: Ledger
    worker: int
    http: httpx.Client
    n: int = 0

    def person(self) -> int:
        return self.world.persons[(self.worker + self.n) % len(self.world.persons)]


Send = Callable[[Client], httpx.Response]


def _upload(c: Client, path: str, params: dict[str, str]) -> httpx.Response:
    files = {"file": ("query.jpg", c.world.query, "image/jpeg")}
    return c.http.post(f"{API}{path}", params=params, files=files)


def _triage(source: str) -> Send:
    def send(c: Client) -> httpx.Response:
        params: dict[str, str | int] = {"order": "priority", "limit": PAGE}
        params["offset"] = PAGE * (c.n % 3)
        return c.http.get(f"{API}/sources/{source}/triage", params=params)

    return send


def _label(c: Client) -> httpx.Response:
    person, began = c.person(), time.monotonic()
    text = f"L-{c.worker}-{c.n}"
    answer = c.http.post(f"{API}/people/{person}/label", json={"label": text})
    if answer.status_code == 200:
        with c.ledger.lock:
            c.ledger.labels.setdefault(person, []).append((began, time.monotonic(), text))
    return answer


def _note(c: Client) -> httpx.Response:
    media = c.world.media[(c.worker + c.n) % len(c.world.media)]
    text = f"load note {c.worker}-{c.n}"
    answer = c.http.post(f"{API}/annotations", json={"kind": "media", "id": media, "text": text})
    if answer.status_code == 201:
        with c.ledger.lock:
            c.ledger.notes.setdefault(media, []).append(text)
    return answer


def _confirm(c: Client) -> httpx.Response:
    person = c.person()
    answer = c.http.post(f"{API}/people/{person}/confirm")
    if answer.status_code == 200:
        with c.ledger.lock:
            c.ledger.confirmed.add(person)
    return answer


#: The mix every client loops over; the second source's triage only exists under load.
OPERATIONS: dict[str, Send] = {
    "search": lambda c: _upload(c, "/search", {}),
    "similar pdq": lambda c: _upload(c, "/similar", {"by": "pdq"}),
    "similar scene": lambda c: _upload(c, "/similar", {"by": "scene"}),
    f"triage {FIRST}": _triage(FIRST),
    f"triage {SECOND}": _triage(SECOND),
    "people list": lambda c: c.http.get(f"{API}/people", params={"limit": 50}),
    "person show": lambda c: c.http.get(f"{API}/people/{c.person()}"),
    "label person": _label,
    "note on media": _note,
    "confirm person": _confirm,
}


def _send(c: Client, op: str) -> None:
    began = time.perf_counter()
    detail = ""
    try:
        answer = OPERATIONS[op](c)
        status = answer.status_code
        if not 200 <= status < 300:
            detail = " ".join(answer.text.split())[:300]
    except httpx.HTTPError as error:
        status = 0  # no answer at all: counted as an error, never hidden
        detail = f"{type(error).__name__}: {error}"
    c.ledger.record(op, time.perf_counter() - began, status, detail)
    c.n += 1


@contextmanager
def _client(world: World, ledger: Ledger, worker: int) -> Iterator[Client]:
    token = world.tokens[worker % len(world.tokens)]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=world.base, headers=headers, timeout=300.0) as http:
        yield Client(world, ledger, worker, http)


def alone(world: World, ledger: Ledger, requests: int) -> dict[str, float]:
    """One client, nothing else running: the p50 (ms) of each operation over one repeat."""
    batch = Ledger()
    with _client(world, batch, 0) as c:
        for op in OPERATIONS:
            if op == f"triage {SECOND}":
                continue
            for _ in range(requests):
                _send(c, op)
    # The baseline's writes are writes like any other: they must not be lost either.
    with ledger.lock:
        for op, values in batch.latencies.items():
            ledger.latencies.setdefault(f"alone {op}", []).extend(values)
        for op, counts in batch.statuses.items():
            ledger.statuses.setdefault(f"alone {op}", Counter()).update(counts)
        for what, detail in batch.details.items():
            ledger.details.setdefault(f"alone {what}", detail)
        for person, writes in batch.labels.items():
            ledger.labels.setdefault(person, []).extend(writes)
        for media, texts in batch.notes.items():
            ledger.notes.setdefault(media, []).extend(texts)
        ledger.confirmed |= batch.confirmed
    return {op: 1000 * _quantile(v, 0.5) for op, v in batch.latencies.items()}


def under_load(world: World, ledger: Ledger, clients: int, seconds: float) -> float:
    """``clients`` threads loop over the mix until ``seconds`` pass; returns the window's
    length (requests in flight at the end are waited for and counted)."""
    ops = list(OPERATIONS)
    start = time.perf_counter()

    def loop(worker: int) -> None:
        with _client(world, ledger, worker) as c:
            turn = worker  # clients start at different operations, so all run at once
            while time.perf_counter() - start < seconds:
                _send(c, ops[turn % len(ops)])
                turn += 1

    threads = [threading.Thread(target=loop, args=(w,), daemon=True) for w in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


@dataclass(frozen=True)
class Row:
    operation: str
    alone_p50_ms: float | None
    requests: int
    p50_ms: float
    p95_ms: float
    errors: int

    @property
    def ratio(self) -> float | None:
        if self.alone_p50_ms is None or self.alone_p50_ms <= 0:
            return None
        return self.p50_ms / self.alone_p50_ms


@dataclass
class Outcome:
    """The figures of a run and what it proved."""

    clients: int
    window_s: float
    rows: list[Row]
    #: The second ingest: files written, files it listed, and whether it outlasted the window.
    second_files: int
    second_listed: int
    ingest_outlasted: bool
    writes: dict[str, int]
    problems: list[str]


def _face_pictures(most: int) -> list[Path]:
    """Pictures of the shared face corpus, identity by identity (``most`` = 0: all)."""
    folder = corpus_root() / "faces"
    found = sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in PICTURE_TYPES and p.is_file()
    )
    if not found:
        raise BenchError(f"no face pictures under {folder}: people need faces to work on")
    return found[:most] if most else found


def _write_first(root: Path, plan: Plan) -> tuple[Path, Path]:
    """The first source's folder (faces and photos) and the query: a photo shrunk."""
    folder = root / FIRST
    for n, picture in enumerate(_face_pictures(plan.faces)):
        target = folder / "faces" / f"{n:03d}-{picture.parent.name}{picture.suffix.lower()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(picture, target)
    photos = write_photo_jpegs(folder / "photos", plan.photos, min_mp=0.3, max_mp=1.0, seed=13)
    query = root / "query.jpg"
    with Image.open(photos[0]) as photo:
        small = photo.convert("RGB")
        small.resize((small.width * 3 // 4, small.height * 3 // 4)).save(query, "JPEG")
    return folder, query


def _users(ctx: Context, analysts: int) -> list[str]:
    """An administrator, an agency and its analysts; one API token per analyst."""
    bootstrap_admin(ctx, ADMIN, PASSWORD)
    add_agency(ctx, AGENCY, "gb")
    until = date.today() + timedelta(days=30)
    tokens = []
    for n in range(analysts):
        name = f"analyst{n}"
        add_user(ctx, name, AGENCY, Role.ANALYST, until, PASSWORD)
        tokens.append(create_token(ctx, name, "load test", 1, ["read", "write"]).secret)
    return tokens


def _people(ctx: Context) -> tuple[list[int], list[int]]:
    persons = [p.id for p in list_people(ctx).people]
    if not persons:
        raise BenchError("the face pictures gave no person candidates")
    media = sorted({f.media_id for p in persons[:8] for f in show_person(ctx, p).faces})
    return persons, media


def _listed(ctx: Context, source: str) -> int:
    found = [s for s in list_sources(ctx).sources if s.name == source]
    return found[0].files if found else 0


def _wait_for_source(base: str, token: str, ingest: subprocess.Popen[bytes], log: Path) -> None:
    """The window starts once the second ingest has made its source (models loaded)."""
    deadline = time.monotonic() + INGEST_START_S
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < deadline:
        if ingest.poll() is not None:
            raise BenchError(f"the second ingest exited early: {log.read_text()[-300:]}")
        sources = httpx.get(f"{base}{API}/sources", headers=headers, timeout=30.0).json()
        if any(s["name"] == SECOND for s in sources["sources"]):
            return
        time.sleep(0.3)
    raise BenchError(f"the second ingest made no source within {INGEST_START_S:.0f} s")


def _check(ctx: Context, ledger: Ledger) -> list[str]:
    """Every acknowledged write, read back from the store; one line per loss."""
    problems = [
        f"{n} x {what}: {ledger.details.get(what, '')}"
        for what, n in sorted(ledger.errors().items())
    ]
    people = {p.id: p for p in list_people(ctx).people}
    for person, writes in ledger.labels.items():
        # A write that began after another ended committed after it: only writes ending after
        # the last start can be the one left standing.
        last_start = max(start for start, _, _ in writes)
        could_win = {text for _, end, text in writes if end >= last_start}
        got = people[person].label if person in people else None
        if got not in could_win:
            problems.append(f"person {person}: label {got!r}, not one of {sorted(could_win)}")
    for person in ledger.confirmed:
        if person not in people or not people[person].confirmed:
            problems.append(f"person {person} was confirmed but does not read back confirmed")
    for media, texts in ledger.notes.items():
        stored = Counter(a.text for a in list_annotations(ctx, "media", media).annotations)
        missing = Counter(texts) - stored
        if missing:
            problems.append(f"media {media}: {sum(missing.values())} notes lost")
    return problems


def _rows(ledger: Ledger, alone_runs: list[dict[str, float]]) -> list[Row]:
    rows = []
    for op in OPERATIONS:
        values = ledger.latencies.get(op, [])
        baseline = [run[op] for run in alone_runs if op in run]
        rows.append(
            Row(
                operation=op,
                alone_p50_ms=statistics.median(baseline) if baseline else None,
                requests=len(values),
                p50_ms=1000 * _quantile(values, 0.5) if values else 0.0,
                p95_ms=1000 * _quantile(values, 0.95) if values else 0.0,
                errors=sum(
                    n for status, n in ledger.statuses.get(op, Counter()).items()
                    if not 200 <= status < 300
                ),
            )
        )  # fmt: skip
    return rows


def _second_size(first_files: int, first_s: float, plan: Plan) -> int:
    rate = first_files / max(first_s, 0.1)
    return max(plan.second_min, math.ceil(rate * plan.seconds * OUTLAST))


def run_on(url: str, root: Path, plan: Plan, say: Callable[[str], None] = print) -> Outcome:
    """The whole run against the PostgreSQL database at ``url``, files under ``root``."""
    data = root / "data"
    settings = Settings(data=data, db=url)
    _run(data, "--db", url, "init")
    ctx = open_context(settings, local_operator(settings))
    try:
        tokens = _users(ctx, plan.analysts)
        folder, query = _write_first(root, plan)
        first_files = sum(1 for p in folder.rglob("*") if p.is_file())
        say(f"ingesting {first_files} pictures as {FIRST} ({SIGNALS})...")
        began = time.monotonic()
        _run(data, "--db", url, "ingest", str(folder), "--source", FIRST, "--signals", SIGNALS,
             "-q")  # fmt: skip
        second_files = _second_size(first_files, time.monotonic() - began, plan)
        second = write_photo_jpegs(root / SECOND, second_files, min_mp=0.3, max_mp=1.0, seed=17)
        persons, media = _people(ctx)
        ledger = Ledger()
        with _database(url), serving(settings) as base:
            world = World(base, tokens, query.read_bytes(), persons, media)
            say(f"{len(persons)} person candidates; baseline: 1 client, {plan.repeats} repeats")
            alone_runs = [alone(world, ledger, plan.alone) for _ in range(plan.repeats)]
            log = data / "load-ingest.log"
            command = _vident(data, "--db", url, "ingest", str(root / SECOND), "--source",
                              SECOND, "--signals", SIGNALS, "-q")  # fmt: skip
            with log.open("w") as sink:
                ingest = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
            try:
                _wait_for_source(base, tokens[0], ingest, log)
                say(f"{plan.clients} clients for {plan.seconds:g} s while {SECOND} "
                    f"({len(second)} files) is ingested...")  # fmt: skip
                window = under_load(world, ledger, plan.clients, plan.seconds)
                outlasted = ingest.poll() is None
                code = ingest.wait(timeout=max(600.0, 20 * plan.seconds))
            finally:
                if ingest.poll() is None:
                    ingest.kill()
                    ingest.wait()
        problems = _check(ctx, ledger)
        if code != 0:
            problems.append(f"the second ingest failed: {log.read_text().strip()[-300:]}")
        listed = _listed(ctx, SECOND)
        if listed != len(second):
            problems.append(f"{SECOND}: {listed} files listed of {len(second)} written")
        writes = {
            "labels": sum(len(w) for w in ledger.labels.values()),
            "notes": sum(len(t) for t in ledger.notes.values()),
            "confirms": len(ledger.confirmed),
        }
        return Outcome(plan.clients, window, _rows(ledger, alone_runs), len(second), listed,
                       outlasted, writes, problems)  # fmt: skip
    finally:
        ctx.close()


@contextmanager
def _database(url: str) -> Iterator[None]:
    """``vident serve`` takes its store from the environment, as a deployment gives it."""
    before = os.environ.get("VIDENT_DB")
    os.environ["VIDENT_DB"] = url
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("VIDENT_DB", None)
        else:
            os.environ["VIDENT_DB"] = before


def table(outcome: Outcome) -> Table:
    out = Table(
        title=f"{outcome.clients} clients, {outcome.window_s:.0f} s, PostgreSQL, during an ingest"
    )
    out.add_column("operation")
    # "alone": one client and no ingest, the median over the baseline's repeats.
    for name in ("requests", "p50 ms", "p95 ms", "p50 alone ms", "load/alone", "errors"):
        out.add_column(name, justify="right")
    for row in outcome.rows:
        out.add_row(
            row.operation,
            str(row.requests),
            f"{row.p50_ms:.0f}",
            f"{row.p95_ms:.0f}",
            "-" if row.alone_p50_ms is None else f"{row.alone_p50_ms:.0f}",
            "-" if row.ratio is None else f"{row.ratio:.1f}",
            str(row.errors),
        )
    return out


def run(plan: Plan) -> Outcome:
    """A throwaway PostgreSQL and a temporary folder, both gone at the end."""
    root = Path(tempfile.mkdtemp(prefix="vident-bench-load-"))
    try:
        with postgres_server() as url:
            return run_on(url, root, plan)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_pg", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small run (smoke test)")
    parser.add_argument("--clients", type=int, help="concurrent clients (default 32)")
    parser.add_argument("--seconds", type=float, help="length of the measured window")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.clients is not None:
        plan = replace(plan, clients=max(1, args.clients))
    if args.seconds is not None:
        plan = replace(plan, seconds=max(1.0, args.seconds))
    signal.signal(signal.SIGTERM, _terminated)
    try:
        outcome = run(plan)
    except (BenchError, ServiceError, subprocess.SubprocessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(figures(outcome), indent=2) + "\n")
        print(f"figures written to {args.json}")
    return report(outcome)


def figures(outcome: Outcome) -> dict[str, object]:
    """The outcome as JSON-ready figures (each row with its load/alone ratio)."""
    rows = [{**asdict(row), "ratio": row.ratio} for row in outcome.rows]
    return {**asdict(outcome), "rows": rows}


def report(outcome: Outcome) -> int:
    """Print the table, the second ingest and every loss; the exit status (1: anything lost
    or failed)."""
    Console(width=max(110, Console().width)).print(table(outcome))
    print(
        f"{SECOND}: {outcome.second_listed} of {outcome.second_files} files listed; the ingest "
        f"{'outlasted' if outcome.ingest_outlasted else 'ended within'} the window; writes: "
        + ", ".join(f"{n} {what}" for what, n in outcome.writes.items())
    )
    for problem in outcome.problems:
        print(f"lost or failed: {problem}", file=sys.stderr)
    if outcome.problems:
        return 1
    print("no error, no lost write")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
