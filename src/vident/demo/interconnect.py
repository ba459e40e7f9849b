"""``make interconnect-demo``: two national instances and a hub on one machine, exchanging.

Every step is a ``vident`` command run as a subprocess, printed as it runs, exactly as an
administrator or analyst would type it: three data directories are initialised, trust each
other, and serve on loopback ports; country A identifies the victim of a series and shares
it internationally; the hub learns it; country B's later seizure triages as known with A's
identification; an alert A set fires on B's seizure and reaches A through the hub; the same
changes travel from A to B as a sealed bundle file; each end's audit trail shows its side.
The demo checks each outcome and exits non-zero if one is missing, so it is an end-to-end
check too. Pictures are generated (abstract shapes), never real people.
"""

from __future__ import annotations

import argparse
import json
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from vident.demo.synthetic import write_photo_jpeg

console = Console(highlight=False)
AGENCY_A, AGENCY_B = "Kripo Berlin", "Politie Amsterdam"


class DemoFailed(Exception):
    """A step did not give what it should; the message says which."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Instance:
    """One vident data directory, its name and (once started) its server."""

    name: str
    data: Path
    db: str | None = None
    port: int = field(default_factory=_free_port)
    server: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, *args: str) -> list[str]:
        base = [sys.executable, "-m", "vident", "--data", str(self.data)]
        if self.db:
            base += ["--db", self.db]
        return [*base, *args]

    def run(self, *args: str, quiet: bool = False) -> str:
        shown = " ".join(shlex.quote(a) for a in ["vident", "--data", str(self.data), *args])
        console.print(f"[bold]{escape(self.name)}$[/bold] {escape(shown)}")
        done = subprocess.run(self.command(*args), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise DemoFailed(f"{self.name}: {' '.join(args[:3])} failed: {done.stderr.strip()}")
        if not quiet and done.stdout.strip():
            console.print(escape(done.stdout.rstrip()))
        return done.stdout

    def key(self) -> str:
        for line in self.run("peer", "identity", quiet=True).splitlines():
            if line.startswith("key: "):
                return line.removeprefix("key: ").strip()
        raise DemoFailed(f"{self.name} printed no key")

    def start(self, log: Path) -> None:
        handle = log.open("ab")
        self.server = subprocess.Popen(
            self.command("serve", "--port", str(self.port)), stdout=handle, stderr=handle
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise DemoFailed(f"{self.name} did not start serving on {self.url} (see {log})")

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)
            self.server = None


def _pictures(folder: Path, seeds: list[int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_photo_jpeg(folder / f"photo-{seed}.jpg", seed, min_mp=0.3, max_mp=0.5, seed=seed)
        for seed in seeds
    ]


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _step(title: str) -> None:
    console.rule(f"[bold cyan]{escape(title)}")


def run_demo(root: Path, hub_db: str | None, *, serve: bool = False) -> None:
    root.mkdir(parents=True, exist_ok=True)
    a = Instance("country-a", root / "country-a")
    b = Instance("country-b", root / "country-b")
    hub = Instance("hub", root / "hub", db=hub_db)
    with ExitStack() as stack:
        for instance in (a, b, hub):
            stack.callback(instance.stop)
        _step("Three instances, each with its own keys, trusting each other")
        for instance in (a, b, hub):
            instance.run("init", "--name", instance.name)
        a.run("agency", "add", AGENCY_A, "--country", "DE", "--contact", "VID unit, +49 30 0000")
        b.run("agency", "add", AGENCY_B, "--country", "NL", "--contact", "vid@politie.example")
        keys = {i.name: i.key() for i in (a, b, hub)}
        for national in (a, b):
            national.run("peer", "add", "hub", hub.url, keys["hub"])
            hub.run(
                "peer",
                "add",
                national.name,
                national.url,
                keys[national.name],
                "--role",
                "national",
            )
        for instance in (hub, a, b):
            instance.start(root / f"{instance.name}.log")
        _step("Country A: a seizure, a series identified and shared internationally, an alert")
        seized = _pictures(root / "seizure-a", [11, 12, 13, 14])
        a.run("case", "add", "op-linden", "--agency", AGENCY_A, "--sharing", "international")
        a.run(
            "ingest", str(root / "seizure-a"), "--source", "seizure-a", "--case", "op-linden", "-q"
        )
        series_sha = _sha256(seized[0])
        a.run("series", "add", "linden-series", "--case", "op-linden", "--sharing", "international")
        a.run("series", "add-media", "linden-series", series_sha, quiet=True)
        victim = a.run("victim", "add", "--series", "linden-series").split()[1]
        a.run("victim", "identify", victim, "--agency", AGENCY_A)
        a.run("alert", "add", "linden child", "--series", "linden-series")
        _step("Exchange through the hub: A pushes, B pulls")
        a.run("peer", "sync", "hub")
        b.run("peer", "sync", "hub")
        _step("Country B: a later seizure holds a copy; triage knows it, with A's identification")
        copies = root / "seizure-b"
        copies.mkdir(parents=True, exist_ok=True)
        (copies / "IMG_0042.jpg").write_bytes(seized[0].read_bytes())
        _pictures(copies, [91])
        b.run("case", "add", "zaak-7", "--agency", AGENCY_B)
        b.run("ingest", str(copies), "--source", "seizure-b", "--case", "zaak-7", "-q")
        triage = json.loads(
            b.run("triage", "--source", "seizure-b", "--format", "json", quiet=True)
        )
        _check_triage(triage)
        _step("The alert fired at B; the hit travels back to A through the hub")
        b.run("alert", "hits")
        b.run("peer", "sync", "hub")
        a.run("peer", "sync", "hub")
        hits = a.run("alert", "hits")
        if AGENCY_B.split()[0] not in hits:
            raise DemoFailed(f"A's alert hits do not name {AGENCY_B}")
        _step("Air-gapped: A's changes for B as a sealed bundle file (one picture more)")
        _pictures(root / "seizure-a", [15])
        a.run(
            "ingest", str(root / "seizure-a"), "--source", "seizure-a", "--case", "op-linden", "-q"
        )
        a.run("peer", "add", "country-b", b.url, keys["country-b"], "--reach", "international")
        b.run("peer", "add", "country-a", a.url, keys["country-a"], "--role", "national")
        bundle = root / "a-to-b.vbundle"
        bundle.unlink(missing_ok=True)
        a.run("bundle", "export", str(bundle), "--peer", "country-b")
        first = b.run("bundle", "import", str(bundle))
        if "(1 new" not in first:
            raise DemoFailed("the bundle did not bring A's new picture to B")
        again = b.run("bundle", "import", str(bundle))
        if "already imported" not in again:
            raise DemoFailed("a bundle imported twice was applied twice")
        _step("Both ends' audit trails")
        for instance in (a, hub, b):
            _show_audit(instance)
        _step("Done")
        for instance in (a, b, hub):
            console.print(f"{instance.name}: {instance.url}/login  (data {instance.data})")
        if serve:
            console.print("Serving; Ctrl-C stops the three servers.")
            try:
                while all(i.server is not None and i.server.poll() is None for i in (a, b, hub)):
                    time.sleep(1)
            except KeyboardInterrupt:
                pass


def _check_triage(triage: dict[str, object]) -> None:
    items = triage.get("items")
    assert isinstance(items, list)
    copy = next(i for i in items if i["path"] == "IMG_0042.jpg")
    reasons = copy["reasons"]
    if copy["verdict"] != "known" or not any(r.get("hashset") == "peer:country-a" for r in reasons):
        raise DemoFailed(f"B's copy triaged {copy['verdict']}, not known from country-a")
    identified = next((r["identified"] for r in reasons if r.get("identified")), None)
    if identified is None or AGENCY_A not in identified:
        raise DemoFailed("B's triage does not carry A's identification")
    console.print(f"[green]IMG_0042.jpg: known from country-a, {escape(identified)}[/green]")


def _show_audit(instance: Instance) -> None:
    """The exchange's events in the instance's audit trail (the table rows naming them)."""
    raw = instance.run("audit", "list", quiet=True)
    wanted = (" peer.", " exchange.", " alert.", " bundle.")
    rows = [line for line in raw.splitlines() if any(w in line for w in wanted)]
    console.print(f"[bold]{escape(instance.name)}[/bold]: {len(rows)} exchange events, the last:")
    for line in rows[-6:]:
        console.print(escape(line))
    if not rows:
        raise DemoFailed(f"{instance.name}'s audit trail has no exchange events")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path("interconnect-demo"))
    parser.add_argument("--hub-db", default=None, help="A PostgreSQL URL for the hub's store.")
    parser.add_argument("--serve", action="store_true", help="Keep the servers running.")
    args = parser.parse_args(argv)
    if args.root.exists() and any(args.root.iterdir()):
        console.print(f"[bold red]demo failed:[/bold red] {escape(str(args.root))} is not empty")
        return 1
    try:
        run_demo(args.root, args.hub_db, serve=args.serve)
    except DemoFailed as exc:
        console.print(f"[bold red]demo failed:[/bold red] {escape(str(exc))}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
