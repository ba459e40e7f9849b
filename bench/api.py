"""REST API throughput and latency against the same use cases called in process.

What a user of ``vident serve`` pays on top of the work itself: HTTP on loopback, token
authentication (a store write and an audit event per request), the upload streamed to a
scratch file, a fresh context per request (on the server's shared indexes, caught up with the
store) and JSON. The bench builds a data directory in a temporary folder (``vident init``, a
system administrator bootstrapped through the service layer with an API token, ~50 generated
photo-like pictures ingested with ``--signals pdq,keypoints,scene``), starts ``vident serve``
on a free 127.0.0.1 port and, for each operation (triage of the source, search by upload,
similar by upload with ``by=pdq`` and ``by=scene``) and for 1, 8 and 32 concurrent clients,
sends a fixed number of requests (stopping early at a per-level time cap) and records
requests/s and the latency of each.

Baseline in the same run: the same service function called directly, in this process, one
thread, the same number of times, as the same user (the principal the token stands for), each
call with a fresh :class:`~vident.service.context.Context` over one shared store and one
:class:`~vident.index.catalog.SharedIndexes`, which is what the API gives each request. Only
loopback traffic; the server is stopped at the end (SIGINT, then killed after 10 s). The
machine is shared and noisy: every figure is the median of the repeats. Run with
``python -m bench.api [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from PIL import Image
from rich.console import Console
from rich.table import Table

from vident.config import Settings
from vident.demo.synthetic import write_photo_jpegs
from vident.index.catalog import SharedIndexes
from vident.service.context import Context, Principal, PrincipalKind, local_operator, open_context
from vident.service.errors import ServiceError
from vident.service.search import search_file
from vident.service.similar import find_similar_media
from vident.service.tokens import create_token, verify_token
from vident.service.triage import triage_source
from vident.service.users import bootstrap_admin

API = "/api/v1"
SOURCE = "bench"
USER = "bench-admin"
PASSWORD = "a long benchmark password"
SIGNALS = "pdq,keypoints,scene"
CLIENTS = (1, 8, 32)
#: Picture sizes (megapixels) of the generated set: phone-sized, so an upload is realistic.
MIN_MP, MAX_MP, SEED = 0.5, 2.0, 11
#: (files, requests per level, repeats, seconds per level) of a full and a quick run.
FULL = (50, 40, 3, 30.0)
QUICK = (8, 8, 3, 3.0)
#: A level is skipped when its least possible duration exceeds this many time caps.
SKIP_FACTOR = 4.0
STOP_GRACE_S = 10.0
START_TIMEOUT_S = 60.0


class BenchError(Exception):
    """The bench could not run; the message is one line saying why."""


@dataclass(frozen=True)
class Operation:
    """One thing to measure: the request that asks it and the use case that answers it."""

    name: str
    method: str
    path: str
    params: dict[str, str]
    upload: bool
    direct: Callable[[Context], object]


@dataclass(frozen=True)
class Timing:
    """One measured batch: how many finished, in how long, and the latency of each."""

    done: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Row:
    """Medians over the repeats of one operation at one concurrency."""

    operation: str
    clients: int
    #: Clients actually sending (no more than the requests of a level).
    in_flight: int
    #: Requests finished in a repeat (fewer than asked when the time cap ended the level).
    requests: float
    api_per_s: float
    direct_per_s: float
    p50_ms: float
    p95_ms: float

    @property
    def ratio(self) -> float:
        return self.api_per_s / self.direct_per_s if self.direct_per_s > 0 else 0.0


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _vident(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "vident", "--data", str(data), *args]


def _run(data: Path, *args: str) -> None:
    done = subprocess.run(_vident(data, *args), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"vident {args[0]} failed: {_last_line(done.stderr or done.stdout)}")


def _quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile by nearest rank (small samples: no interpolation invents values)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Setup:
    """A data directory ready to serve: its settings, the API token and the query picture."""

    settings: Settings
    token: str
    query: Path


def build(root: Path, files: int) -> Setup:
    """Pictures, store, administrator, token, ingest; a near copy of one picture as query."""
    photos = write_photo_jpegs(root / "photos", files, min_mp=MIN_MP, max_mp=MAX_MP, seed=SEED)
    data = root / "data"
    settings = Settings(data=data)
    _run(data, "init")
    ctx = open_context(settings, local_operator(settings))
    try:
        bootstrap_admin(ctx, USER, PASSWORD)
        token = create_token(ctx, USER, "api bench", 1, ["read", "write"]).secret
    finally:
        ctx.close()
    _run(data, "ingest", str(root / "photos"), "--source", SOURCE, "--signals", SIGNALS, "-q")
    # The query: the first picture shrunk and re-encoded, so every operation finds something.
    query = root / "query.jpg"
    with Image.open(photos[0]) as picture:
        small = picture.convert("RGB")
        small = small.resize((small.width * 3 // 4, small.height * 3 // 4))
        small.save(query, "JPEG", quality=80)
    return Setup(settings=settings, token=token, query=query)


def principal_of(ctx: Context, token: str) -> Principal:
    """The principal the API makes for ``token`` (the bench's administrator has no agency)."""
    user = verify_token(ctx, token).user
    return Principal(name=user.username, kind=PrincipalKind.TOKEN, role=user.role, user_id=user.id)


def operations(query: Path) -> list[Operation]:
    return [
        Operation(
            "triage", "GET", f"{API}/sources/{SOURCE}/triage", {}, False,
            lambda ctx: triage_source(ctx, SOURCE),
        ),
        Operation(
            "search", "POST", f"{API}/search", {}, True, lambda ctx: search_file(ctx, query)
        ),
        Operation(
            "similar pdq", "POST", f"{API}/similar", {"by": "pdq"}, True,
            lambda ctx: find_similar_media(ctx, query, by="pdq"),
        ),
        Operation(
            "similar scene", "POST", f"{API}/similar", {"by": "scene"}, True,
            lambda ctx: find_similar_media(ctx, query, by="scene"),
        ),
    ]  # fmt: skip


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """``vident serve`` on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    command = _vident(settings.data, "serve", "--host", "127.0.0.1", "--port", str(port))
    log = settings.data / "bench-serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(server, base, log)
        yield base
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_ready(server: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"vident serve exited: {_last_line(log.read_text())}")
        try:
            if httpx.get(f"{base}{API}/health", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise BenchError(f"vident serve did not answer within {START_TIMEOUT_S:.0f} s")


def _request(client: httpx.Client, op: Operation, body: bytes) -> None:
    files = {"file": ("query.jpg", body, "image/jpeg")} if op.upload else None
    response = client.request(op.method, op.path, params=op.params, files=files)
    if response.status_code != 200:
        try:
            detail = str(response.json().get("detail"))
        except ValueError:
            detail = _last_line(response.text)
        raise BenchError(f"{op.method} {op.path} answered {response.status_code}: {detail}")


def api_batch(
    base: str, token: str, op: Operation, body: bytes, clients: int, requests: int, cap: float
) -> Timing:
    """``requests`` requests from ``clients`` threads, each with its own connection; no new
    request starts after ``cap`` seconds."""
    headers = {"Authorization": f"Bearer {token}"}
    lock = threading.Lock()
    left = [requests]
    latencies: list[float] = []
    start = time.perf_counter()

    def worker() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=120.0) as client:
            while True:
                with lock:
                    if left[0] <= 0 or time.perf_counter() - start > cap:
                        return
                    left[0] -= 1
                began = time.perf_counter()
                _request(client, op, body)
                with lock:
                    latencies.append(time.perf_counter() - began)

    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker) for _ in range(clients)]:
            future.result()
    return Timing(len(latencies), time.perf_counter() - start, latencies)


def direct_batch(
    make: Callable[[], Context], op: Operation, calls: int, cap: float
) -> Timing:  # fmt: skip
    """``calls`` calls of the use case in this thread, each on the context ``make`` gives."""
    latencies: list[float] = []
    start = time.perf_counter()
    while len(latencies) < calls and time.perf_counter() - start <= cap:
        began = time.perf_counter()
        op.direct(make())
        latencies.append(time.perf_counter() - began)
    return Timing(len(latencies), time.perf_counter() - start, latencies)


def measure(setup: Setup, requests: int, repeats: int, cap: float) -> list[Row]:
    """Every operation at every concurrency, API and direct, medians of ``repeats``.

    A level whose unavoidable work (its requests in flight at once, each as long as a direct
    call, over the cores) would exceed :data:`SKIP_FACTOR` times the cap is skipped: requests
    already sent cannot be taken back, so the cap alone would not bound it.
    """
    ops = operations(setup.query)
    body = setup.query.read_bytes()
    base_ctx = open_context(setup.settings, local_operator(setup.settings))
    cores = os.cpu_count() or 1
    rows: list[Row] = []
    indexes = SharedIndexes()  # as the server keeps one for all its requests
    try:
        principal = principal_of(base_ctx, setup.token)

        def fresh() -> Context:
            return Context(
                settings=setup.settings,
                store=base_ctx.store,
                principal=principal,
                shared_indexes=indexes,
            )

        with serving(setup.settings) as base:
            for op in ops:
                # Warm-up: models loaded and caches filled on both sides before timing.
                api_batch(base, setup.token, op, body, 1, 1, cap)
                direct_batch(fresh, op, 1, cap)
                direct = [direct_batch(fresh, op, requests, cap) for _ in range(repeats)]
                call_s = statistics.median(_quantile(t.latencies, 0.5) for t in direct)
                for clients in CLIENTS:
                    in_flight = min(clients, requests)
                    if in_flight * call_s / cores > SKIP_FACTOR * cap:
                        print(f"  {op.name}, {clients} clients: skipped (too slow to bound)")
                        continue
                    runs = [
                        api_batch(base, setup.token, op, body, in_flight, requests, cap)
                        for _ in range(repeats)
                    ]
                    rows.append(
                        Row(
                            operation=op.name,
                            clients=clients,
                            in_flight=in_flight,
                            requests=statistics.median(t.done for t in runs),
                            api_per_s=statistics.median(t.rate for t in runs),
                            direct_per_s=statistics.median(t.rate for t in direct),
                            p50_ms=1000 * statistics.median(
                                _quantile(t.latencies, 0.5) for t in runs
                            ),
                            p95_ms=1000 * statistics.median(
                                _quantile(t.latencies, 0.95) for t in runs
                            ),
                        )
                    )  # fmt: skip
                    print(
                        f"  {op.name}, {clients} clients: {rows[-1].api_per_s:.2f} req/s",
                        flush=True,
                    )
    finally:
        base_ctx.close()
    return rows


def table(rows: list[Row]) -> Table:
    out = Table(title="REST API on loopback against direct calls (medians)")
    out.add_column("operation")
    for name in ("clients", "API req/s", "direct calls/s", "API/direct", "p50 ms", "p95 ms"):
        out.add_column(name, justify="right")
    for row in rows:
        clients = str(row.clients)
        if row.in_flight < row.clients:
            clients += f" ({row.in_flight} sent)"  # fewer requests than clients
        out.add_row(
            row.operation,
            clients,
            f"{row.api_per_s:.2f}",
            f"{row.direct_per_s:.2f}",
            f"{row.ratio:.2f}",
            f"{row.p50_ms:.0f}",
            f"{row.p95_ms:.0f}",
        )
    return out


def run(files: int, requests: int, repeats: int, cap: float) -> list[Row]:
    """Build a data directory in a temporary folder, measure, and remove the folder."""
    root = Path(tempfile.mkdtemp(prefix="vident-bench-api-"))
    try:
        print(f"API benchmark: {files} pictures ingested with {SIGNALS}...")
        setup = build(root, files)
        print(
            f"{requests} requests per level, {repeats} repeats, clients {CLIENTS}, "
            f"at most {cap:g} s per level"
        )
        return measure(setup, requests, repeats, cap)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer pictures and requests")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    files, requests, repeats, cap = QUICK if args.quick else FULL
    # A plain kill (SIGTERM) still stops the server and removes the temporary folder.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        rows = run(files, requests, repeats, cap)
    except (BenchError, ServiceError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    Console(width=max(100, Console().width)).print(table(rows))
    if args.json:
        figures = [{**asdict(row), "ratio": row.ratio} for row in rows]
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
