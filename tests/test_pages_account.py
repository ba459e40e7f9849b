"""The account pages and their API without a browser: settings, sessions, and the first
sign-in that sets up the authenticator (QR code, first code, recovery codes shown once)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api_support import API, PASSWORD, Api, api_over, problem
from vident.config import Settings
from vident.service.context import Role
from vident.service.enrolment import (
    WrongEnrolmentCode,
    finish_enrolment,
    show_enrolment,
    start_enrolment,
)
from vident.service.errors import Unauthenticated
from vident.service.sessions import login, touch_session
from vident.service.users import add_user
from vident.store.models_security import User
from vident.web.auth import COOKIE, csrf_token
from vident.web.pages.account import ENROL_COOKIE

HOSTILE = "<svg/onload=alert(1)>"


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


def _signed_in(api: Api, username: str) -> tuple[TestClient, str]:
    """A client holding a page session of ``username`` (cookie path /), and its secret."""
    client = api.client_for("http://127.0.0.1")
    code = pyotp.TOTP(api.secrets[username]).now()
    form = {"username": username, "password": PASSWORD, "code": code}
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    secret = client.cookies[COOKIE]
    return client, secret


def _newcomer(api: Api, name: str) -> str:
    """A user an administrator just added (never signed in); their handed-over TOTP secret."""
    until = date.today() + timedelta(days=30)
    made = add_user(api.ctx, name, "Met", Role.ANALYST, until, PASSWORD)
    return parse_qs(urlparse(made.totp_uri).query)["secret"][0]


def test_settings_page_and_api_change_the_veil_and_show_the_session(api: Api) -> None:
    client, secret = _signed_in(api, "ana")
    page = client.get("/settings")
    assert page.status_code == 200
    assert "vident&#39;s defaults" in page.text or "vident's defaults" in page.text
    assert 'id="exposure-reveals">0<' in page.text
    assert 'data-api="/api/v1/me/wellbeing"' in page.text
    assert "agency-wellbeing" not in page.text  # an analyst sets no agency default
    # A change through the API needs the CSRF header of the session.
    body = {"blur": 4, "greyscale": False, "break_minutes": 1}
    refused = client.put(f"{API}/me/wellbeing", json=body)
    assert problem(refused, 403)
    changed = client.put(
        f"{API}/me/wellbeing", json=body, headers={"X-CSRF-Token": csrf_token(secret)}
    )
    assert changed.status_code == 200 and changed.json()["source"] == "user"
    shown = client.get(f"{API}/me/wellbeing").json()
    assert shown["effective"] == body and shown["exposure"]["reveals"] == 0
    page = client.get("/settings")
    assert '<option value="4" selected>' in page.text
    assert 'name="greyscale">' in page.text  # unchecked now
    # Out of range is refused by the API's schema.
    wrong = client.put(
        f"{API}/me/wellbeing",
        json={"blur": 0, "greyscale": True, "break_minutes": 0},
        headers={"X-CSRF-Token": csrf_token(secret)},
    )
    assert wrong.status_code == 422
    reset = client.delete(f"{API}/me/wellbeing", headers={"X-CSRF-Token": csrf_token(secret)})
    assert reset.json()["source"] == "default"
    week = client.get(f"{API}/me/week").json()
    assert len(week["days"]) == 7 and week["reveals"] == 0
    # The dashboard shows the same week, one row a day, today last.
    dashboard = client.get("/").text
    assert 'id="week"' in dashboard and dashboard.count("<tr data-day=") == 7
    assert f'<tr data-day="{week["days"][-1]["day"]}">' in dashboard


def test_an_administrator_sets_the_agency_default_from_settings(api: Api) -> None:
    client, secret = _signed_in(api, "root")
    # root has no agency: no agency section, but the API sets any agency's default.
    assert "agency-wellbeing" not in client.get("/settings").text
    headers = {"X-CSRF-Token": csrf_token(secret)}
    body = {"blur": 20, "greyscale": True, "break_minutes": 60}
    set_ = client.put(f"{API}/agencies/Met/wellbeing", json=body, headers=headers)
    assert set_.status_code == 200 and set_.json()["default"] == body
    assert client.get(f"{API}/agencies/Met/wellbeing").json()["default"] == body
    low = client.put(f"{API}/agencies/Met/wellbeing", json={**body, "blur": 2}, headers=headers)
    assert problem(low, 422)
    ana, _ = _signed_in(api, "ana")
    shown = ana.get(f"{API}/me/wellbeing").json()
    assert shown["source"] == "agency" and shown["effective"]["break_minutes"] == 60
    assert problem(ana.get(f"{API}/agencies/Met/wellbeing"), 403)


def test_sessions_page_marks_the_current_one_and_ends_another(api: Api) -> None:
    first, first_secret = _signed_in(api, "ana")
    # The next time step's code: the current one was just used, and none is used twice.
    upcoming = pyotp.TOTP(api.secrets["ana"]).at(datetime.now(UTC) + timedelta(seconds=30))
    other = login(api.ctx, "ana", PASSWORD, upcoming)
    page = first.get("/settings/sessions")
    assert page.status_code == 200
    assert page.text.count("data-session=") == 2
    assert page.text.count('aria-current="true"') == 1 and "(this session)" in page.text
    listed = first.get(f"{API}/me/sessions").json()["sessions"]
    current = [s["id"] for s in listed if s["current"]]
    others = [s["id"] for s in listed if not s["current"]]
    assert len(current) == 1 and len(others) == 1
    assert f'data-api="/api/v1/me/sessions/{others[0]}"' in page.text
    headers = {"X-CSRF-Token": csrf_token(first_secret)}
    # vera cannot end ana's session
    vera, vera_secret = _signed_in(api, "vera")
    foreign = vera.delete(
        f"{API}/me/sessions/{others[0]}", headers={"X-CSRF-Token": csrf_token(vera_secret)}
    )
    assert foreign.status_code == 200 and foreign.json() == {"ended": False}
    assert touch_session(api.ctx, other.secret).user.username == "ana"
    ended = first.delete(f"{API}/me/sessions/{others[0]}", headers=headers)
    assert ended.json() == {"ended": True}
    with pytest.raises(Unauthenticated):
        touch_session(api.ctx, other.secret)
    assert first.get("/settings/sessions").text.count("data-session=") == 1


def test_first_sign_in_sets_up_the_authenticator_and_shows_recovery_codes(api: Api) -> None:
    handed_over = _newcomer(api, "newbie")
    client = api.client_for("http://127.0.0.1")
    form = {"username": "newbie", "password": PASSWORD, "code": ""}
    step = client.post("/login", data=form, follow_redirects=False)
    assert step.status_code == 303 and step.headers["location"] == "/enrol"
    assert COOKIE not in client.cookies  # an enrolment step is no session
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert client.get(f"{API}/me").status_code == 401
    page = client.get("/enrol")
    assert page.status_code == 200
    qr = re.search(r'<img class="qr" id="qr" src="data:image/svg\+xml;base64,([^"]+)"', page.text)
    assert qr is not None and b"<svg" in base64.b64decode(qr.group(1))
    found = re.search(r'<code id="totp-secret" class="hash">([A-Z2-7]+)</code>', page.text)
    assert found is not None
    secret = found.group(1)
    assert secret != handed_over  # a fresh secret: the one handed over is retired
    wrong = client.post("/enrol", data={"code": "000000"})
    assert wrong.status_code == 401 and "not the current one" in wrong.text
    done = client.post("/enrol", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-9-]+)</code></li>", done.text)
    assert len(codes) == 10
    assert ENROL_COOKIE not in client.cookies and COOKIE in client.cookies
    assert client.get(f"{API}/me").json()["totp_enrolled"] is True
    assert client.get("/").status_code == 200
    # The step is spent; the old secret no longer signs in, a recovery code does.
    again = client.get("/enrol", follow_redirects=False)
    assert again.status_code in (303, 401)
    with pytest.raises(Unauthenticated):
        login(api.ctx, "newbie", PASSWORD, pyotp.TOTP(handed_over).now())
    assert login(api.ctx, "newbie", PASSWORD, codes[0]).session.user.username == "newbie"


def test_enrolment_is_only_for_the_right_password_of_a_new_account(api: Api) -> None:
    _newcomer(api, "newer")
    client = api.client_for("http://127.0.0.1")
    wrong = client.post("/login", data={"username": "newer", "password": "not it", "code": ""})
    assert wrong.status_code == 401 and ENROL_COOKIE not in client.cookies
    with api.ctx.store.reader() as session:
        user = session.scalar(select(User).where(User.username == "newer"))
        assert user is not None and user.failed_attempts == 1  # guessing counts
    # ana signed in before: a missing code is refused as ever, no set-up offered.
    _signed_in(api, "ana")
    enrolled = client.post("/login", data={"username": "ana", "password": PASSWORD, "code": ""})
    assert enrolled.status_code == 401 and "one-time code" in enrolled.text
    assert ENROL_COOKIE not in client.cookies
    # A set-up form posted from another site is refused.
    start = client.post(
        "/login", data={"username": "newer", "password": PASSWORD}, follow_redirects=False
    )
    assert start.headers["location"] == "/enrol"
    foreign = client.post(
        "/enrol", data={"code": "123456"}, headers={"Origin": "https://elsewhere.test"}
    )
    assert foreign.status_code == 403
    # A forged or damaged step opens nothing.
    client.cookies.set(ENROL_COOKIE, "AAAA" + client.cookies[ENROL_COOKIE][4:], path="/enrol")
    assert client.get("/enrol").status_code == 401


def test_enrolment_steps_through_the_service(api: Api) -> None:
    _newcomer(api, HOSTILE)
    assert start_enrolment(api.ctx, HOSTILE, "wrong", count_failure=True) is None
    token = start_enrolment(api.ctx, HOSTILE, PASSWORD, count_failure=True)
    assert token is not None
    shown = show_enrolment(api.ctx, token)
    assert shown.username == HOSTILE and shown.totp_qr_svg.startswith("<svg")
    with pytest.raises(WrongEnrolmentCode):
        finish_enrolment(api.ctx, token, "123456")
    done = finish_enrolment(api.ctx, token, pyotp.TOTP(shown.secret).now())
    assert touch_session(api.ctx, done.secret).user.username == HOSTILE
    with pytest.raises(Unauthenticated):
        show_enrolment(api.ctx, token)  # spent
    assert start_enrolment(api.ctx, HOSTILE, PASSWORD, count_failure=True) is None
    # An expired step is refused.
    _newcomer(api, "late")
    late = start_enrolment(api.ctx, "late", PASSWORD, count_failure=False)
    assert late is not None
    with pytest.raises(Unauthenticated):
        show_enrolment(api.ctx, late, now=datetime.now(UTC) + timedelta(minutes=11))
    # The page shows the hostile name as text.
    client = api.client_for("http://127.0.0.1")
    _newcomer(api, "<b>x</b>")
    start = client.post(
        "/login", data={"username": "<b>x</b>", "password": PASSWORD}, follow_redirects=False
    )
    assert start.status_code == 303
    page = client.get("/enrol")
    assert "Welcome, &lt;b&gt;x&lt;/b&gt;." in page.text
    assert "<b>x</b>" not in page.text
