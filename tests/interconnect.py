"""Three real vident instances on loopback: a hub on PostgreSQL and two national databases.

The interconnect is only believable end to end: separate data directories, separate stores,
separate identities, a real ``vident serve`` process signing its answers, and the command line
an administrator types. :class:`Instance` is one such instance; :func:`three_instances` sets up
the hub and its two members (country-a, country-b) with their agencies and peers, and serves
the hub. Commands run as subprocesses (about a second each), so the setup runs the three
instances' commands side by side.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.browser import free_port
from vident.config import Settings
from vident.security.settings import SecuritySettings
from vident.service.context import Context, local_operator, open_context
from vident.store.db import Store

_SCRIPT = Path(sys.executable).parent / "vident"
#: The console script next to this interpreter, else the module (an uninstalled checkout).
VIDENT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "vident"]
OPERATOR = "op"
#: Seconds a command or a server start may take before the harness gives up on it.
COMMAND_TIMEOUT = 180
START_TIMEOUT = 60
#: Settings taken from the environment that would point an instance at the wrong store.
_FOREIGN = ("VIDENT_DATA", "VIDENT_DB", "VIDENT_INSTANCE", "VIDENT_OPERATOR")
#: The agency (name, country) each member instance starts with.
AGENCIES = {"country-a": ("Kripo Berlin", "DE"), "country-b": ("Politie NL", "NL")}


class HarnessError(Exception):
    """An instance could not be set up or started; the message carries what it said."""


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN}
    env["VIDENT_OPERATOR"] = OPERATOR
    return env


@dataclass
class Instance:
    """One vident instance: its data directory, optional PostgreSQL store and API port."""

    name: str
    data: Path
    db: str | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _key: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _base(self) -> list[str]:
        return [*VIDENT, "--data", str(self.data), *(["--db", self.db] if self.db else [])]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``vident ARGS`` on this instance, output captured; a failure (with ``check``)
        raises with what the command printed, so a test failure says why."""
        done = subprocess.run(
            [*self._base(), *args],
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if check and done.returncode != 0:
            raise HarnessError(
                f"{self.name}: vident {' '.join(args)} exited {done.returncode}: "
                f"{done.stderr.strip() or done.stdout.strip()}"
            )
        return done

    def key(self) -> str:
        """This instance's public key token, as ``vident peer identity`` prints it (asked
        once: an identity never changes)."""
        if self._key is None:
            lines = self.run("peer", "identity").stdout.splitlines()
            found = [ln.removeprefix("key: ").strip() for ln in lines if ln.startswith("key: ")]
            if len(found) != 1:
                raise HarnessError(f"{self.name}: vident peer identity printed no key line")
            self._key = found[0]
        return self._key

    @property
    def log(self) -> Path:
        return self.data.parent / f"{self.name}-serve.log"

    def start(self) -> None:
        """Serve the API on this instance's port; returns once ``/api/v1/health`` answers."""
        if self.process is not None and self.process.poll() is None:
            raise HarnessError(f"{self.name} is already serving")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*self._base(), "serve", "--port", str(self.port)],
                env=_environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HarnessError(f"{self.name} stopped at start: {self._log_tail()}")
            if self._healthy():
                return
            time.sleep(0.1)
        self.stop()
        raise HarnessError(f"{self.name} did not answer within {START_TIMEOUT} s")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=2) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-800:] if self.log.exists() else ""

    def stop(self) -> None:
        """Stop serving (as a service manager would) and wait until the port is free."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)

    def settings(self) -> Settings:
        # db is always given, so a VIDENT_DB in the test's environment cannot redirect it.
        return Settings(data=self.data, db=self.db, operator=OPERATOR)

    def store(self) -> Store:
        """The instance's store, for a test to read what it holds (dispose it after)."""
        return Store(self.settings().database_url)

    @contextmanager
    def context(self) -> Iterator[Context]:
        """A service context on this instance as its local operator (a system administrator)."""
        settings = self.settings()
        ctx = open_context(settings, local_operator(settings), SecuritySettings())
        try:
            yield ctx
        finally:
            ctx.close()


@dataclass
class Network:
    """The hub and its two member instances."""

    hub: Instance
    a: Instance
    b: Instance

    def all(self) -> tuple[Instance, Instance, Instance]:
        return (self.hub, self.a, self.b)


def fresh_database(server_url: str) -> str:
    """A new, empty database on the PostgreSQL server of ``server_url``; its URL."""
    name = f"vident_interconnect_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def _init(instance: Instance) -> str:
    """Initialise ``instance``, add its agency; its public key."""
    instance.data.mkdir(parents=True, exist_ok=True)
    instance.run("init", "--name", instance.name)
    agency = AGENCIES.get(instance.name)
    if agency is not None:
        instance.run("agency", "add", agency[0], "--country", agency[1])
    return instance.key()


def _trust_hub(member: Instance, hub: Instance, hub_key: str) -> None:
    member.run("peer", "add", hub.name, hub.url, hub_key)


@contextmanager
def three_instances(tmp: Path, pg_url: str) -> Iterator[Network]:
    """hub (PostgreSQL, served), country-a (Kripo Berlin, DE) and country-b (Politie NL, NL),
    both on SQLite, each trusting the other side; every server stopped at the end."""
    net = Network(
        hub=Instance("hub", tmp / "hub", db=fresh_database(pg_url)),
        a=Instance("country-a", tmp / "country-a"),
        b=Instance("country-b", tmp / "country-b"),
    )
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            names = [instance.name for instance in net.all()]
            keys = dict(zip(names, pool.map(_init, net.all()), strict=True))
            jobs = [
                pool.submit(_trust_hub, net.a, net.hub, keys[net.hub.name]),
                pool.submit(_trust_hub, net.b, net.hub, keys[net.hub.name]),
            ]
            for member in (net.a, net.b):
                net.hub.run(
                    "peer", "add", member.name, member.url, keys[member.name], "--role", "national"
                )
            net.hub.start()
            for job in jobs:
                job.result()
        yield net
    finally:
        for instance in net.all():
            instance.stop()
