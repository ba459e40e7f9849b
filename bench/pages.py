"""The triage grid in a real browser: first paint, a usable grid and server time per page.

An analyst opens a seizure of 10,000 files and must be able to work at once, whatever its
size: the grid is paged, and the verdicts of a source are kept by the server while nothing in
the store changes, so one page costs the same for 100 files as for 10,000. This bench builds a
data directory in a temporary folder (``vident init``; generated pictures of random colour blocks,
each distinct, ingested with PDQ only as two sources: a *baseline* source of ``--small`` files and
a *large* one of ``--items`` files), an analyst with a session made through the service
layer, starts ``vident serve`` on a free 127.0.0.1 port, and measures for each source:

- the first triage of the source (all verdicts computed; once per change of the store),
- server time per grid page (first, middle and last page; HTTP on loopback, the verdicts kept),
- in Debian's Chromium through Playwright: time to first contentful paint and to a usable grid
  (the first tile focusable, the key legend shown) of the first page.

Figures are medians of ``--repeat`` runs and printed as ratios of the large source to the
baseline measured in the same run. Only loopback traffic. Run with
``python -m bench.pages [--quick] [--json PATH]``.
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
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import numpy as np
import pyotp
from PIL import Image
from rich.console import Console
from rich.table import Table

from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.context import Role, local_operator, open_context
from vident.service.sessions import login
from vident.service.users import add_user
from vident.web.auth import COOKIE

#: Debian's Chromium (as the browser tests use it), or the one VIDENT_CHROMIUM names.
CHROMIUM = Path(os.environ.get("VIDENT_CHROMIUM", "/usr/lib/chromium/chromium"))
PASSWORD = "a long bench password"
console = Console()


@dataclass
class SourceFigures:
    source: str
    items: int
    first_triage_s: float
    page_first_ms: float
    page_middle_ms: float
    page_last_ms: float
    first_paint_ms: float | None
    usable_grid_ms: float | None


def _pictures(folder: Path, count: int, seed: int) -> None:
    """``count`` distinct small pictures: random colour blocks, cheap to make by the ten
    thousand (the grid's cost does not depend on what the pictures show)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        sub = folder / f"d{index // 500:03d}"
        sub.mkdir(exist_ok=True)
        blocks = rng.integers(0, 256, size=(9, 12, 3), dtype=np.uint8)
        picture = Image.fromarray(blocks).resize((96, 72), Image.Resampling.BILINEAR)
        picture.save(sub / f"IMG_{index:06d}.jpg", "JPEG", quality=85)


def _vident(data: Path, *args: str) -> None:
    command = [sys.executable, "-m", "vident", "--data", str(data), *args]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def _analyst_session(settings: Settings) -> str:
    ctx = open_context(settings, local_operator(settings))
    try:
        add_agency(ctx, "Bench", "de")
        until = date.today().replace(year=date.today().year + 1)
        made = add_user(ctx, "bench", "Bench", Role.ANALYST, until, PASSWORD)
        secret = parse_qs(urlparse(made.totp_uri).query)["secret"][0]
        return login(ctx, "bench", PASSWORD, pyotp.TOTP(secret).now()).secret
    finally:
        ctx.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "vident", "--data", str(data), "serve", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("vident serve did not start within 60 s")


def _timed_get(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.text[:200]}")
    return elapsed


def _browser_times(base: str, cookie: str, source: str, repeat: int) -> tuple[float, float] | None:
    """Median (first contentful paint, usable grid) in ms, or None without a browser."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.access(CHROMIUM, os.X_OK):
        return None
    paints: list[float] = []
    usable: list[float] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        context = browser.new_context()
        context.add_cookies([{"name": COOKIE, "value": cookie, "url": base}])
        page = context.new_page()
        for _ in range(repeat):
            page.goto(f"{base}/sources/{source}/triage")
            page.wait_for_selector('[data-tile][tabindex="0"]')
            ready = float(page.evaluate("() => performance.now()"))
            paint = page.evaluate(
                "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
            )
            paints.append(float(paint) if paint is not None else ready)
            usable.append(ready)
        browser.close()
    return statistics.median(paints), statistics.median(usable)


def _measure(
    base: str, cookie: str, source: str, items: int, per_page: int, repeat: int
) -> SourceFigures:
    with httpx.Client(cookies={COOKIE: cookie}, timeout=3600) as client:
        first = _timed_get(client, f"{base}/sources/{source}/triage")
        pages = max(1, -(-items // per_page))
        times = {
            name: statistics.median(
                _timed_get(client, f"{base}/sources/{source}/triage?page={number}")
                for _ in range(repeat)
            )
            for name, number in (("first", 1), ("middle", max(1, pages // 2)), ("last", pages))
        }
    browser = _browser_times(base, cookie, source, repeat)
    return SourceFigures(
        source=source,
        items=items,
        first_triage_s=first,
        page_first_ms=times["first"] * 1000,
        page_middle_ms=times["middle"] * 1000,
        page_last_ms=times["last"] * 1000,
        first_paint_ms=browser[0] if browser else None,
        usable_grid_ms=browser[1] if browser else None,
    )


def _ratio(large: float | None, small: float | None) -> str:
    if large is None or small is None or small <= 0:
        return "-"
    return f"{large / small:.2f}"


def _show(small: SourceFigures, large: SourceFigures) -> None:
    table = Table(title="triage grid: the large source against the baseline, same run")
    table.add_column("measure")
    table.add_column(f"{small.items:,} files", justify="right")
    table.add_column(f"{large.items:,} files", justify="right")
    table.add_column("ratio", justify="right")
    rows = [
        ("first triage of the source (s)", small.first_triage_s, large.first_triage_s),
        ("server time, first page (ms)", small.page_first_ms, large.page_first_ms),
        ("server time, middle page (ms)", small.page_middle_ms, large.page_middle_ms),
        ("server time, last page (ms)", small.page_last_ms, large.page_last_ms),
        ("first contentful paint (ms)", small.first_paint_ms, large.first_paint_ms),
        ("usable grid (ms)", small.usable_grid_ms, large.usable_grid_ms),
    ]
    for label, a, b in rows:
        table.add_row(
            label,
            "-" if a is None else f"{a:.1f}",
            "-" if b is None else f"{b:.1f}",
            _ratio(b, a),
        )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__)
    parser.add_argument("--items", type=int, default=10_000, help="files of the large source")
    parser.add_argument("--small", type=int, default=100, help="files of the baseline source")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--quick", action="store_true", help="2,000 files, 3 runs")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.repeat = 2_000, 3
    root = Path(tempfile.mkdtemp(prefix="vident-bench-pages-"))
    data = root / "data"
    server: subprocess.Popen[bytes] | None = None
    try:
        with console.status(f"making {args.small + args.items:,} pictures..."):
            _pictures(root / "small", args.small, 1_000_000)
            _pictures(root / "large", args.items, 2_000_000)
        with console.status("ingesting (PDQ only)..."):
            _vident(data, "init")
            _vident(data, "ingest", str(root / "small"), "--source", "small", "--signals", "pdq")
            _vident(data, "ingest", str(root / "large"), "--source", "large", "--signals", "pdq")
        cookie = _analyst_session(Settings(data=data))
        port = _free_port()
        server = _serve(data, port)
        base = f"http://127.0.0.1:{port}"
        from vident.service.triage_view import PER_PAGE

        with console.status("measuring..."):
            small = _measure(base, cookie, "small", args.small, PER_PAGE, args.repeat)
            large = _measure(base, cookie, "large", args.items, PER_PAGE, args.repeat)
        _show(small, large)
        if args.json:
            args.json.write_text(json.dumps([asdict(small), asdict(large)], indent=2))
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
