"""Alerts as their users meet them: the ``vident alert`` commands, the hook an instance runs
per hit, and the /alerts API seen by analysts of two agencies (on SQLite and PostgreSQL).

Kripo (DE) watches a series of its case; Politie (NL) seizes a copy of one of its pictures.
Kripo must learn who hit it and whom to call, and Politie must never learn more of Kripo's
material than the hash its own seizure holds.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api_support import API, PASSWORD, problem, record_route
from tests.conftest import write_jpeg
from vident.cli import app
from vident.config import Settings
from vident.service.context import Role, local_operator, open_context
from vident.service.store_admin import init_store
from vident.service.tokens import create_token
from vident.service.users import add_user, bootstrap_admin
from vident.web.app import create_app

runner = CliRunner()

KRIPO_CONTACT = "+49 30 1"
POLITIE_CONTACT = "+31 70 2"
#: Kripo's series: its name must never reach Politie while the series is not shared.
SERIES = "Blue Room Kripo"
#: A series Kripo's analyst makes through the API.
KRIPO_SERIES = "Red Door Kripo"


def vident(
    settings: Settings, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    options = ["--data", str(settings.data), "--db", settings.database_url]
    result = runner.invoke(app, [*options, *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def ok(settings: Settings, *args: str, env: dict[str, str] | None = None) -> str:
    code, stdout, stderr = vident(settings, *args, env=env)
    assert code == 0, (args, stdout, stderr)
    return stdout


def failed(outcome: tuple[int, str, str], *words: str) -> None:
    """Exit 1 with one line on standard error, no traceback, saying each of ``words``."""
    code, _, stderr = outcome
    assert code == 1, outcome
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
    for word in words:
        assert word in stderr, stderr


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def squeeze(text: str) -> str:
    """Text without whitespace: table cells wrap at the terminal's width."""
    return "".join(text.split())


def rows(table: str) -> list[list[str]]:
    """The body rows of a printed table, each cell's wrapped lines joined back together (a row
    starts where its first cell is not blank)."""
    found: list[list[list[str]]] = []
    for line in table.splitlines():
        if "│" not in line:
            continue  # header (heavy bars) and borders
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if cells[0] or not found:
            found.append([[c] for c in cells])
        else:
            for parts, cell in zip(found[-1], cells, strict=True):
                parts.append(cell)
    return [[" ".join(p for p in parts if p) for parts in row] for row in found]


def hit_rows(settings: Settings, *args: str) -> list[list[str]]:
    """``vident alert hits`` as rows: id, alert, hit by, contact, hash, when, seen."""
    return rows(ok(settings, "alert", "hits", *args))


def ingest(
    settings: Settings, folder: Path, source: str, case: str, env: dict[str, str] | None = None
) -> None:
    ok(
        settings,
        "ingest",
        str(folder),
        "--source",
        source,
        "--case",
        case,
        "--signals",
        "pdq",
        "--workers",
        "1",
        "-q",
        env=env,
    )


@dataclass(frozen=True)
class World:
    """Two agencies with a case each; Kripo's seizure holds the first two ``pictures`` (its
    series the first), no one the third."""

    settings: Settings
    pictures: list[Path]
    tmp: Path

    def politie_seizes(
        self, name: str, *originals: Path, env: dict[str, str] | None = None
    ) -> Path:
        """Politie's case ingests copies of ``originals`` as source ``name``."""
        folder = self.tmp / name
        folder.mkdir()
        for number, original in enumerate(originals):
            shutil.copy(original, folder / f"copy{number}.jpg")
        ingest(self.settings, folder, name, "nl-case", env)
        return folder


@pytest.fixture
def world(tmp_path: Path, settings: Settings) -> World:
    init_store(settings, name="country-a")
    ok(settings, "agency", "add", "Kripo", "--country", "DE", "--contact", KRIPO_CONTACT)
    ok(settings, "agency", "add", "Politie", "--country", "NL", "--contact", POLITIE_CONTACT)
    ok(settings, "case", "add", "de-case", "--agency", "Kripo")
    ok(settings, "case", "add", "nl-case", "--agency", "Politie")
    pictures = [write_jpeg(tmp_path / "de-seizure" / f"p{i}.jpg", 700 + i) for i in range(2)]
    ingest(settings, pictures[0].parent, "de-seizure", "de-case")
    pictures.append(write_jpeg(tmp_path / "unseized" / "p2.jpg", 702))
    ok(settings, "series", "add", SERIES, "--case", "de-case")
    ok(settings, "series", "add-media", SERIES, sha(pictures[0]))
    return World(settings, pictures, tmp_path)


def test_an_alert_on_a_series_as_the_operator_meets_it(world: World) -> None:
    settings = world.settings
    assert ok(settings, "alert", "add", "Watch", "--series", SERIES).startswith("alert 1 set")
    listed = rows(ok(settings, "alert", "list"))
    assert [(r[0], r[1], squeeze(r[2]), r[-1]) for r in listed] == [
        ("1", "Watch", squeeze(SERIES), "yes")
    ]
    assert not [r for r in hit_rows(settings) if "Politie" in r[2]]

    world.politie_seizes("nl-seizure", world.pictures[0])
    politie = [r for r in hit_rows(settings) if "Politie" in r[2]]
    assert len(politie) == 1, politie
    hit_id, alert, _, contact, hashed, _, seen = politie[0]
    assert "Watch" in alert and squeeze(contact) == squeeze(POLITIE_CONTACT)
    assert squeeze(hashed).startswith(f"sha256:{sha(world.pictures[0])[:16]}")
    assert seen == "no"
    assert [r[0] for r in hit_rows(settings, "--unseen") if "Politie" in r[2]] == [hit_id]

    assert ok(settings, "alert", "seen", hit_id).strip() == f"hit {hit_id} acknowledged"
    after = [r for r in hit_rows(settings) if r[0] == hit_id]
    assert [r[-1] for r in after] == ["yes"]
    assert hit_id not in [r[0] for r in hit_rows(settings, "--unseen")]

    assert ok(settings, "alert", "remove", "1").strip() == "alert 1 stopped"
    assert [r[-1] for r in rows(ok(settings, "alert", "list"))] == ["no"]
    failed(vident(settings, "alert", "remove", "99"), "no alert 99")
    failed(vident(settings, "alert", "seen", "99"), "no hit 99")
    # A stopped alert is hit no more: a copy seized by a third agency adds nothing.
    before = hit_rows(settings)
    ok(settings, "agency", "add", "Garda", "--country", "IE", "--contact", "+353 1")
    ok(settings, "case", "add", "ie-case", "--agency", "Garda")
    folder = world.tmp / "ie-seizure"
    shutil.copytree(world.pictures[0].parent, folder)
    ingest(settings, folder, "ie-seizure", "ie-case")
    assert hit_rows(settings) == before


def test_an_agencys_own_seizure_never_hits_its_alert(world: World) -> None:
    """The series belongs to Kripo's case, so the alert set on it is Kripo's, even when the
    operator sets it: Kripo's own seizure is no news to Kripo."""
    ok(world.settings, "alert", "add", "Watch", "--series", SERIES)
    ok(world.settings, "alert", "scan")
    world.politie_seizes("nl-seizure", world.pictures[0])
    hits = hit_rows(world.settings)
    assert [r for r in hits if "Kripo" in r[2]] == [], hits
    assert len(hits) == 1, hits


def test_bad_alerts_are_refused_in_one_line(world: World) -> None:
    settings = world.settings
    failed(vident(settings, "alert", "add", "X", "--hash", "md5:zz"), "md5:zz")
    failed(vident(settings, "alert", "add", "X", "--hash", "pdq:" + "ab" * 32), "pdq:")
    failed(vident(settings, "alert", "add", "X"), "--series", "--hash")
    failed(vident(settings, "alert", "add", "X", "--series", "Nowhere"), "Nowhere")
    failed(
        vident(settings, "alert", "add", "X", "--series", SERIES, "--sharing", "galactic"),
        "shared",
    )
    assert rows(ok(settings, "alert", "list")) == []


def test_an_alert_on_a_hash_and_the_scan_command(world: World) -> None:
    settings = world.settings
    watched = world.pictures[1]
    made = ok(settings, "alert", "add", "Hash watch", "--hash", f"sha256:{sha(watched)}")
    assert made.startswith("alert 1 set") and "1 hashes" in made
    world.politie_seizes("nl-seizure", watched)
    politie = [r for r in hit_rows(settings) if "Politie" in r[2]]
    assert len(politie) == 1 and "Hash watch" in politie[0][1], politie
    assert squeeze(politie[0][4]).startswith(f"sha256:{sha(watched)[:16]}")

    # Politie alone holds this one; the scan finds the hit, once.
    only_nl = write_jpeg(world.tmp / "nl-only" / "x.jpg", 900)
    ingest(settings, only_nl.parent, "nl-only", "nl-case")
    ok(
        settings,
        "alert",
        "add",
        "Second",
        "--hash",
        f"sha1:{hashlib.sha1(only_nl.read_bytes()).hexdigest()}",
    )
    scanned = re.fullmatch(
        r"(\d+) new hits of this instance's alerts", ok(settings, "alert", "scan").strip()
    )
    assert scanned is not None and scanned.group(1) == "1"
    assert ok(settings, "alert", "scan").strip().startswith("0 new hits")
    second = [r for r in hit_rows(settings) if "Second" in r[1]]
    assert (
        len(second) == 1 and "Politie" in second[0][2] and squeeze(second[0][4]).startswith("sha1:")
    )


def _hook(tmp: Path) -> tuple[dict[str, str], Path]:
    """A hook that appends each hit it is given to a file, one JSON document a line."""
    script = tmp / "hook.py"
    script.write_text(
        "import sys\n"
        "with open(sys.argv[1], 'a', encoding='utf-8') as out:\n"
        "    out.write(sys.stdin.read().strip() + '\\n')\n",
        encoding="utf-8",
    )
    received = tmp / "received.jsonl"
    command = shlex.join([sys.executable, str(script), str(received)])
    return {"VIDENT_ALERT_COMMAND": command}, received


def test_the_hook_runs_once_per_new_hit_with_the_hit_and_no_picture(world: World) -> None:
    env, received = _hook(world.tmp)
    settings = world.settings
    watched = world.pictures[2]  # no one holds it yet
    ok(settings, "alert", "add", "Pager", "--hash", f"sha256:{sha(watched)}", env=env)
    assert not received.exists()

    folder = world.politie_seizes("nl-seizure", watched, env=env)
    lines = received.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1, lines
    hit = json.loads(lines[0])
    assert hit["alert"] == "country-a:1" and hit["label"] == "Pager"
    assert (hit["hit_agency"], hit["hit_contact"]) == ("Politie", POLITIE_CONTACT)
    assert (hit["kind"], hit["value"]) == ("sha256", sha(watched))
    assert hit["mine"] is True and hit["seen_at"] is None
    for secret in (str(folder), "copy0.jpg", str(settings.data), "nl-case", "nl-seizure"):
        assert secret not in lines[0]

    # Nothing new: the hook is not run again, by a scan or by another ingest.
    assert ok(settings, "alert", "scan", env=env).strip().startswith("0 new hits")
    world.politie_seizes("nl-again", watched, env=env)
    assert len(received.read_text(encoding="utf-8").splitlines()) == 1


def test_a_broken_hook_loses_no_hit(world: World) -> None:
    env = {"VIDENT_ALERT_COMMAND": str(world.tmp / "no-such-hook")}
    ok(world.settings, "alert", "add", "Pager", "--hash", f"sha256:{sha(world.pictures[1])}")
    world.politie_seizes("nl-seizure", world.pictures[1], env=env)
    assert [r for r in hit_rows(world.settings) if "Politie" in r[2]]


@dataclass(frozen=True)
class Analysts:
    client: TestClient
    tokens: dict[str, str]

    def call(self, who: str, method: str, path: str, body: object = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        response: httpx.Response = self.client.request(
            method, f"{API}{path}", headers=headers, json=body
        )
        return response


@pytest.fixture
def analysts(world: World) -> Analysts:
    """Kripo's analyst ``kai`` and Politie's analyst ``piet``, each with an API token."""
    settings = world.settings
    ctx = open_context(settings, local_operator(settings))
    try:
        bootstrap_admin(ctx, "root", PASSWORD)
        until = date.today() + timedelta(days=365)
        add_user(ctx, "kai", "Kripo", Role.ANALYST, until, PASSWORD)
        add_user(ctx, "piet", "Politie", Role.ANALYST, until, PASSWORD)
        tokens = {
            name: create_token(ctx, name, "tests", 30, ["read", "write"]).secret
            for name in ("kai", "piet")
        }
    finally:
        ctx.close()
    web = create_app(settings)
    client = TestClient(web, base_url="http://127.0.0.1")
    client.event_hooks = {"request": [record_route(web)], "response": []}
    return Analysts(client, tokens)


def _kripo_watches(world: World, analysts: Analysts) -> dict[str, object]:
    """Kripo's analyst makes an unshared series of Kripo's first picture and sets an alert on
    it; the alert as the API returned it."""
    call = analysts.call
    own = {"name": KRIPO_SERIES, "case": "de-case"}  # shared no wider than Kripo
    assert call("kai", "POST", "/series", own).status_code == 201
    member = {"sha256": sha(world.pictures[0])}
    assert call("kai", "POST", f"/series/{KRIPO_SERIES}/media", member).status_code == 200
    made = call("kai", "POST", "/alerts", {"label": "Watch", "series": KRIPO_SERIES})
    assert made.status_code == 201, made.text
    alert: dict[str, object] = made.json()
    return alert


def _hit_id(analysts: Analysts) -> int:
    """The one hit Kripo's analyst is shown."""
    hits = analysts.call("kai", "GET", "/alerts/hits").json()["hits"]
    assert len(hits) == 1, hits
    return int(hits[0]["id"])


def test_the_api_keeps_each_agency_to_its_own_alerts(world: World, analysts: Analysts) -> None:
    call = analysts.call
    alert = _kripo_watches(world, analysts)
    assert (alert["series"], alert["agency"], alert["active"]) == (KRIPO_SERIES, "Kripo", True)
    refused = call("piet", "POST", "/alerts", {"label": "Spy", "series": KRIPO_SERIES})
    problem(refused, 404)
    problem(call("kai", "POST", "/alerts", {"label": "Bad", "hashes": ["md5:zz"]}), 422)
    problem(call("kai", "POST", "/alerts", {"label": "Nothing"}), 422)

    assert [a["label"] for a in call("kai", "GET", "/alerts").json()["alerts"]] == ["Watch"]
    assert call("piet", "GET", "/alerts").json()["alerts"] == []
    problem(call("piet", "DELETE", f"/alerts/{alert['id']}"), 404)
    assert [a["active"] for a in call("kai", "GET", "/alerts").json()["alerts"]] == [True]

    stopped = call("kai", "DELETE", f"/alerts/{alert['id']}")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["active"] is False
    assert [a["active"] for a in call("kai", "GET", "/alerts").json()["alerts"]] == [False]
    # A stopped alert is hit no more.
    world.politie_seizes("nl-seizure", world.pictures[0])
    assert call("kai", "GET", "/alerts/hits").json()["hits"] == []


def test_the_owner_is_told_who_hit_its_alert(world: World, analysts: Analysts) -> None:
    _kripo_watches(world, analysts)
    world.politie_seizes("nl-seizure", world.pictures[0])
    kripo_view = analysts.call("kai", "GET", "/alerts/hits")
    assert kripo_view.status_code == 200, kripo_view.text
    hits = kripo_view.json()["hits"]
    assert len(hits) == 1, hits  # Kripo's own seizure is no hit of Kripo's alert
    hit = hits[0]
    assert (hit["label"], hit["owner_agency"], hit["mine"], hit["seen_at"]) == (
        "Watch",
        "Kripo",
        True,
        None,
    )
    assert (hit["hit_agency"], hit["hit_country"], hit["hit_contact"]) == (
        "Politie",
        "NL",
        POLITIE_CONTACT,
    )
    assert (hit["kind"], hit["value"]) == ("sha256", sha(world.pictures[0]))

    seen = analysts.call("kai", "POST", f"/alerts/hits/{hit['id']}/seen")
    assert seen.status_code == 200, seen.text
    assert seen.json()["seen_at"] is not None
    assert analysts.call("kai", "GET", "/alerts/hits?unseen=true").json()["hits"] == []
    problem(analysts.call("kai", "POST", "/alerts/hits/999/seen"), 404)


def test_the_hitting_agency_sees_what_it_sent_and_no_more(world: World, analysts: Analysts) -> None:
    _kripo_watches(world, analysts)
    world.politie_seizes("nl-seizure", world.pictures[0])
    hit_id = _hit_id(analysts)
    politie_view = analysts.call("piet", "GET", "/alerts/hits")
    assert politie_view.status_code == 200, politie_view.text
    assert KRIPO_SERIES not in politie_view.text and SERIES not in politie_view.text
    sent = politie_view.json()["hits"]
    assert [(h["id"], h["hit_agency"], h["mine"]) for h in sent] == [(hit_id, "Politie", False)]


def test_only_the_owner_acknowledges_a_hit(world: World, analysts: Analysts) -> None:
    _kripo_watches(world, analysts)
    world.politie_seizes("nl-seizure", world.pictures[0])
    hit_id = _hit_id(analysts)
    problem(analysts.call("piet", "POST", f"/alerts/hits/{hit_id}/seen"), 404)
    unseen = analysts.call("kai", "GET", "/alerts/hits?unseen=true").json()["hits"]
    assert [h["id"] for h in unseen] == [hit_id]


def test_an_operators_series_in_a_case_is_the_case_agencys(
    world: World, analysts: Analysts
) -> None:
    """The operator made the series within Kripo's (unshared) case: Politie may not watch
    it, nor learn its name, and Kripo's analyst sees the alert the operator set on it."""
    ok(world.settings, "alert", "add", "Watch", "--series", SERIES)
    assert [a["label"] for a in analysts.call("kai", "GET", "/alerts").json()["alerts"]] == [
        "Watch"
    ]
    problem(analysts.call("piet", "POST", "/alerts", {"label": "Spy", "series": SERIES}), 404)
