"""The dashboard: alerts when a seizure of another case holds media of the analyst's series
(named only where the analyst may see it), verdict counts over the sources they see, their
cases and ingest jobs, and a job's progress fragment that polls only while the job runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from fastapi.testclient import TestClient

from tests.conftest import write_jpeg
from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.alerts import add_alert, run_alert_scan
from vident.service.context import (
    Context,
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.dashboard import series_alerts, verdict_counts
from vident.service.errors import Forbidden
from vident.service.jobs import run_next_job, submit_upload
from vident.service.peers import ensure_identity
from vident.service.series import add_series, add_series_media
from vident.service.sessions import login
from vident.service.sources import ingest_source
from vident.service.triage import triage_source
from vident.service.users import add_user
from vident.web.app import create_app
from vident.web.auth import COOKIE

PASSWORD = "a fine long password for dashboards"
UNTIL = date.today() + timedelta(days=30)
#: username -> (agency, role)
PEOPLE = {
    "ana": ("Met", Role.ANALYST),
    "vera": ("Met", Role.VIEWER),
    "aud": ("Met", Role.AUDITOR),
    "bea": ("BKA", Role.ANALYST),
}


@dataclass
class World:
    settings: Settings
    root: Context
    users: dict[str, Context]
    totp: dict[str, str]
    #: SHA-256 of the picture in Met's series
    series_sha: str
    tmp: Path
    #: username -> session secret (a one-time code may be used once: one session each)
    sessions: dict[str, str] = field(default_factory=dict)

    def client(self, username: str) -> TestClient:
        """A page client signed in as ``username`` (without the job runner: jobs stay put)."""
        if username not in self.sessions:
            code = pyotp.TOTP(self.totp[username]).now()
            self.sessions[username] = login(self.root, username, PASSWORD, code).secret
        client = TestClient(create_app(self.settings), base_url="http://127.0.0.1")
        client.cookies.set(COOKIE, self.sessions[username])
        return client


def _folder(tmp: Path, name: str, seeds: tuple[int, ...]) -> Path:
    for seed in seeds:
        write_jpeg(tmp / name / f"img-{seed}.jpg", seed)
    return tmp / name


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Iterator[World]:
    """Met's series (case "Op A") holds picture 1; BKA's unshared case "Op B" and Met's
    other case "Op C" both hold a copy of it, BKA's seizure first."""
    root = open_context(settings, local_operator(settings))
    ids = {name: add_agency(root, name, country).id for name, country in (("Met", "GB"),)}
    ids["BKA"] = add_agency(root, "BKA", "DE").id
    users: dict[str, Context] = {}
    totp: dict[str, str] = {}
    for name, (agency, role) in PEOPLE.items():
        enrolment = add_user(root, name, agency, role, UNTIL, PASSWORD)
        totp[name] = parse_qs(urlparse(enrolment.totp_uri).query)["secret"][0]
        principal = Principal(name=name, kind=PrincipalKind.USER, role=role, agency_id=ids[agency])
        users[name] = open_context(settings, principal)
    ana, bea = users["ana"], users["bea"]
    pdq = ("pdq",)
    ingest_source(ana, _folder(tmp_path, "a", (1, 2)), "DASH-A", case="Op A", signals=pdq)
    first = sorted(triage_source(ana, "DASH-A").items, key=lambda i: i.path)[0].sha256
    assert first is not None
    add_series(ana, "dash-series", case="Op A")
    add_series_media(ana, "dash-series", [first])
    ingest_source(bea, _folder(tmp_path, "b", (1, 3)), "BKA-SECRET-1", case="Op B", signals=pdq)
    ingest_source(ana, _folder(tmp_path, "c", (1,)), "DASH-C", case="Op C", signals=pdq)
    made = World(settings, root, users, totp, first, tmp_path)
    yield made
    for ctx in (root, *users.values()):
        ctx.close()


def test_alerts_name_only_what_the_analyst_may_see(world: World) -> None:
    alerts = series_alerts(world.users["ana"]).alerts
    # Newest first: Met's own other case, then BKA's seizure (not named); never Op A itself.
    assert [(a.series, a.sha256, a.source, a.case, a.shared) for a in alerts] == [
        ("dash-series", world.series_sha, "DASH-C", "Op C", True),
        ("dash-series", world.series_sha, None, None, False),
    ]
    assert alerts[0].seen_at >= alerts[1].seen_at
    dumped = " ".join(a.model_dump_json() for a in alerts)
    assert "BKA" not in dumped and "Op B" not in dumped
    # BKA has no series, so nothing hit theirs; the viewer of Met sees Met's alerts.
    assert series_alerts(world.users["bea"]).alerts == []
    assert len(series_alerts(world.users["vera"]).alerts) == 2
    assert len(series_alerts(world.users["ana"], limit=1).alerts) == 1
    with pytest.raises(Forbidden):
        series_alerts(world.users["aud"])


def test_verdict_counts_add_up_the_sources_the_analyst_sees(world: World) -> None:
    counted = verdict_counts(world.users["ana"])
    assert counted.sources == ["DASH-C", "DASH-A"]  # newest first, BKA's not seen
    assert counted.more == 0
    assert sum(counted.counts.values()) == 3
    assert set(counted.counts) == {"known", "near", "related", "new", "error"}
    assert counted.counts["new"] == 2  # pictures 1 and 2 in Op A were new when they came
    newest = verdict_counts(world.users["ana"], limit=1)
    assert newest.sources == ["DASH-C"] and newest.more == 1
    assert sum(newest.counts.values()) == 1
    assert verdict_counts(world.users["bea"]).sources == ["BKA-SECRET-1"]
    # Asking the links too (slower) counts the same files.
    linked = verdict_counts(world.users["ana"], linked=True)
    assert linked.linked and not counted.linked
    assert sum(linked.counts.values()) == 3 and linked.counts["new"] == 2


def test_dashboard_shows_cases_alerts_and_jobs(world: World) -> None:
    upload = world.tmp / "upload.jpg"
    write_jpeg(upload, 9)
    job = submit_upload(world.users["ana"], "DASH-UP", upload, filename="<b>up.jpg", case="Op A")
    client = world.client("ana")
    html = client.get("/").text
    assert "Signed in as ana (analyst, Met)" in html
    for shown in ("Op A", "Op C", "DASH-C", "dash-series", "DASH-UP", world.series_sha):
        assert shown in html, shown
    assert "BKA" not in html and "Op B" not in html
    assert "&lt;b&gt;up.jpg" in html and "<b>up" not in html
    # The queued job polls its own progress; the verdict panel loads after the page.
    assert f'hx-get="/jobs/{job.id}/progress"' in html
    assert 'hx-get="/dashboard/verdicts"' in html
    verdicts = client.get("/dashboard/verdicts").text
    assert 'data-verdict="new"' in verdicts and "DASH-C" in verdicts

    fragment = client.get(f"/jobs/{job.id}/progress")
    assert fragment.status_code == 200
    assert "<progress" in fragment.text and 'data-status="queued"' in fragment.text
    assert "hx-trigger" in fragment.text and "<html" not in fragment.text
    assert run_next_job(world.settings, world.root.store)
    done = client.get(f"/jobs/{job.id}/progress").text
    assert 'data-status="done"' in done and "hx-get" not in done
    assert 'value="1"' in done
    finished = client.get("/").text
    assert '<a href="/sources/DASH-UP/triage">DASH-UP</a>' in finished

    # BKA sees neither Met's job nor its cases; another agency's job id reads as missing.
    other = world.client("bea")
    theirs = other.get("/").text
    assert "DASH-UP" not in theirs and "Op A" not in theirs
    assert other.get(f"/jobs/{job.id}/progress").status_code == 404


def test_an_auditor_gets_a_dashboard_without_material(world: World) -> None:
    response = world.client("aud").get("/")
    assert response.status_code == 200
    assert "does not see seized material" in response.text
    assert "dash-series" not in response.text
    assert world.client("aud").get("/dashboard/verdicts").status_code == 403


def test_the_upload_page_offers_own_cases_to_editors_only(world: World) -> None:
    page = world.client("ana").get("/upload")
    assert page.status_code == 200
    assert '<option value="Op A">' in page.text and '<option value="Op C">' in page.text
    assert "Op B" not in page.text
    assert '<script src="/static/js/upload.js" defer></script>' in page.text
    assert 'type="file"' in page.text and "data-drop" in page.text
    refused = world.client("vera").get("/upload")
    assert refused.status_code == 403
    assert "may not upload" in refused.text and 'type="file"' not in refused.text
    assert 'href="/upload"' not in world.client("vera").get("/").text


def test_alert_hits_reach_the_owning_agency_only(world: World) -> None:
    """Met's alert on its series is hit by BKA's seizure: Met's analysts see who and whom to
    call, with a button to acknowledge it; BKA's dashboard does not show Met's alert."""
    ensure_identity(world.settings)
    before = world.client("ana").get("/").text
    assert "No new hit of your agency" in before
    add_alert(world.users["ana"], "dash watch", series="dash-series")
    assert run_alert_scan(world.users["ana"]).hits == 1
    page = world.client("ana").get("/").text
    panel = page.split('id="alert-hits"', 1)[1].split("</section>", 1)[0]
    assert "BKA (DE, on " in panel and "dash watch" in panel
    assert 'data-api="/api/v1/alerts/hits/' in panel
    assert "BKA-SECRET-1" not in panel  # the hitting agency's source is never named
    theirs = world.client("bea").get("/").text.split('id="alert-hits"', 1)[1]
    assert "dash watch" not in theirs.split("</section>", 1)[0]
