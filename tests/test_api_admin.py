"""Administration through the REST API, on both stores: agencies, users, tokens, who am I.

Each change is checked by what it does next: a user added over HTTP logs in with the secrets
the answer held, a role given lets the user do more, a disabled user's token stops working,
a token made over HTTP authenticates until it is deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pyotp
import pytest

from tests.api_support import API, PASSWORD, Api, api_over, problem, secret_of
from vident.config import Settings
from vident.service.context import Role
from vident.service.tokens import create_token
from vident.service.users import EnrolmentOut, add_user

UNTIL = (date.today() + timedelta(days=200)).isoformat()


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


def _login(api: Api, username: str, password: str, secret: str) -> int:
    body = {"username": username, "password": password, "totp": pyotp.TOTP(secret).now()}
    status: int = api.client.post(f"{API}/auth/login", json=body).status_code
    return status


def _new_user(api: Api, who: str, **fields: object) -> dict[str, object]:
    body = {"agency": "Met", "role": "analyst", "certified_until": UNTIL, **fields}
    answer = api.client.post(f"{API}/users", json=body, headers=api.bearer(who))
    assert answer.status_code == 200, answer.text
    made: dict[str, object] = answer.json()
    return made


def test_an_administrator_adds_an_agency_and_a_user_who_then_logs_in(api: Api) -> None:
    added = api.client.post(
        f"{API}/agencies", json={"name": "BKA", "country": "de"}, headers=api.bearer("root")
    )
    assert added.status_code == 200, added.text
    assert (added.json()["name"], added.json()["country"]) == ("BKA", "DE")
    listed = api.client.get(f"{API}/agencies", headers=api.bearer("root")).json()
    assert [a["name"] for a in listed["agencies"]] == ["BKA", "Met"]
    again = {"name": "BKA", "country": "DE"}
    assert problem(api.client.post(f"{API}/agencies", json=again, headers=api.bearer("root")), 409)
    bad = {"name": "X", "country": "D1"}
    assert "alpha-2" in str(
        problem(api.client.post(f"{API}/agencies", json=bad, headers=api.bearer("root")), 422)
    )
    denied = api.client.post(f"{API}/agencies", json=again, headers=api.bearer("vera"))
    assert problem(denied, 403)

    made = _new_user(api, "root", username="kim", agency="BKA", password=PASSWORD)
    enrolment = EnrolmentOut.model_validate(made)
    assert (enrolment.user.username, enrolment.user.agency) == ("kim", "BKA")
    assert enrolment.user.certification_expires == date.fromisoformat(UNTIL)
    assert enrolment.password is None and len(enrolment.recovery_codes) >= 8
    assert enrolment.totp_uri.startswith("otpauth://totp/")
    assert "<svg" in enrolment.totp_qr_svg and "</svg>" in enrolment.totp_qr_svg
    assert _login(api, "kim", PASSWORD, secret_of(enrolment)) == 200
    users = api.client.get(f"{API}/users", headers=api.bearer("root")).json()["users"]
    assert {"kim": "BKA"}.items() <= {u["username"]: u["agency"] for u in users}.items()

    generated = EnrolmentOut.model_validate(_new_user(api, "root", username="lee"))
    assert generated.password is not None
    assert _login(api, "lee", generated.password, secret_of(generated)) == 200

    taken = {"username": "kim", "agency": "BKA", "role": "viewer", "certified_until": UNTIL}
    assert problem(api.client.post(f"{API}/users", json=taken, headers=api.bearer("root")), 409)
    weak = {**taken, "username": "max", "password": "short"}
    assert problem(api.client.post(f"{API}/users", json=weak, headers=api.bearer("root")), 422)
    king = {**taken, "username": "max", "role": "king"}
    assert problem(api.client.post(f"{API}/users", json=king, headers=api.bearer("root")), 422)
    nowhere = {**taken, "username": "max", "agency": "Nowhere"}
    assert problem(api.client.post(f"{API}/users", json=nowhere, headers=api.bearer("root")), 404)
    by_viewer = api.client.post(f"{API}/users", json=weak, headers=api.bearer("vera"))
    assert problem(by_viewer, 403)


def test_an_administrator_changes_a_users_role_certification_and_access(api: Api) -> None:
    as_viewer = api.client.post(f"{API}/people/1/confirm", headers=api.bearer("vera"))
    assert problem(as_viewer, 403)
    changed = api.client.patch(
        f"{API}/users/vera",
        json={"role": "analyst", "certified_until": "2031-01-31"},
        headers=api.bearer("root"),
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["role"], changed.json()["certification_expires"]) == (
        "analyst",
        "2031-01-31",
    )
    as_analyst = api.client.post(f"{API}/people/1/confirm", headers=api.bearer("vera"))
    assert problem(as_analyst, 404)  # allowed now: there is just no person 1
    events = api.client.get(
        f"{API}/audit", params={"actor": "root", "action": "user.role"}, headers=api.bearer("aud")
    ).json()["events"]
    assert [(e["target"], e["detail"]) for e in events] == [
        ("vera", {"from": "viewer", "to": "analyst"})
    ]

    off = api.client.patch(f"{API}/users/vera", json={"disabled": True}, headers=api.bearer("root"))
    assert off.status_code == 200 and off.json()["disabled"] is True
    assert "disabled" in str(problem(api.client.get(f"{API}/me", headers=api.bearer("vera")), 401))
    on = api.client.patch(f"{API}/users/vera", json={"disabled": False}, headers=api.bearer("root"))
    assert on.status_code == 200 and on.json()["disabled"] is False
    assert api.client.get(f"{API}/me", headers=api.bearer("vera")).status_code == 200

    nothing = api.client.patch(f"{API}/users/vera", json={}, headers=api.bearer("root"))
    assert "nothing to change" in str(problem(nothing, 422)["detail"])
    unknown = api.client.patch(
        f"{API}/users/nobody", json={"disabled": True}, headers=api.bearer("root")
    )
    assert problem(unknown, 404)
    by_analyst = api.client.patch(
        f"{API}/users/vera", json={"role": "system_admin"}, headers=api.bearer("ana")
    )
    assert problem(by_analyst, 403)
    bad_date = api.client.patch(
        f"{API}/users/vera", json={"certified_until": "soon"}, headers=api.bearer("root")
    )
    assert problem(bad_date, 422)


def test_an_agency_administrator_manages_their_own_agency_only(api: Api) -> None:
    until = date.fromisoformat(UNTIL)
    add_user(api.ctx, "adam", "Met", Role.AGENCY_ADMIN, until, PASSWORD)
    scopes = ["read", "write", "admin"]
    adam = {"Authorization": f"Bearer {create_token(api.ctx, 'adam', 't', 5, scopes).secret}"}
    other = {"name": "Other", "country": "FR"}
    assert api.client.post(f"{API}/agencies", json=other, headers=api.bearer("root")).is_success
    _new_user(api, "root", username="olga", agency="Other")
    olga_token = create_token(api.ctx, "olga", "olga's", 5).token.id

    elsewhere = {"username": "eve", "agency": "Other", "role": "viewer", "certified_until": UNTIL}
    refused = api.client.post(f"{API}/users", json=elsewhere, headers=adam)
    assert "their own agency" in str(problem(refused, 403)["detail"])
    names = {u["username"] for u in api.client.get(f"{API}/users", headers=adam).json()["users"]}
    assert "eve" not in names and "olga" not in names and "vera" in names
    at_home = api.client.post(f"{API}/users", json={**elsewhere, "agency": "Met"}, headers=adam)
    assert at_home.status_code == 200 and at_home.json()["user"]["agency"] == "Met"
    over = api.client.patch(f"{API}/users/olga", json={"disabled": True}, headers=adam)
    assert problem(over, 403)
    users = api.client.get(f"{API}/users", headers=api.bearer("root")).json()["users"]
    assert [u["disabled"] for u in users if u["username"] == "olga"] == [False]
    too_high = api.client.patch(f"{API}/users/vera", json={"role": "system_admin"}, headers=adam)
    assert problem(too_high, 403)
    listed = api.client.get(f"{API}/tokens", headers=adam).json()
    assert olga_token not in {t["id"] for t in listed["items"]}
    assert {t["username"] for t in listed["items"]} <= {"root", "vera", "ana", "aud", "adam"}
    assert problem(api.client.delete(f"{API}/tokens/{olga_token}", headers=adam), 403)


def test_a_token_made_through_the_api_works_until_deleted(api: Api) -> None:
    body = {"username": "ana", "name": "nightly import", "days": 7, "scopes": ["read", "write"]}
    created = api.client.post(f"{API}/tokens", json=body, headers=api.bearer("root"))
    assert created.status_code == 200, created.text
    token, secret = created.json()["token"], created.json()["secret"]
    assert (token["username"], token["name"], token["scopes"]) == (
        "ana",
        "nightly import",
        ["read", "write"],
    )
    headers = {"Authorization": f"Bearer {secret}"}
    me = api.client.get(f"{API}/me", headers=headers)
    assert me.status_code == 200, me.text
    assert (me.json()["username"], me.json()["role"], me.json()["agency"]) == (
        "ana",
        "analyst",
        "Met",
    )
    listed = api.client.get(
        f"{API}/tokens", params={"q": "nightly"}, headers=api.bearer("root")
    ).json()
    assert [(t["id"], t["revoked_at"]) for t in listed["items"]] == [(token["id"], None)]
    assert secret not in str(listed)

    assert problem(
        api.client.delete(f"{API}/tokens/{token['id']}", headers=api.bearer("vera")), 403
    )
    revoked = api.client.delete(f"{API}/tokens/{token['id']}", headers=api.bearer("root"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert "revoked" in str(problem(api.client.get(f"{API}/me", headers=headers), 401)["detail"])
    assert problem(api.client.delete(f"{API}/tokens/987654", headers=api.bearer("root")), 404)

    mine = api.client.post(
        f"{API}/tokens", json={"name": "own", "days": 1}, headers=api.bearer("root")
    )
    assert mine.status_code == 200 and mine.json()["token"]["username"] == "root"
    assert mine.json()["token"]["scopes"] == ["read"]
    too_long = api.client.post(
        f"{API}/tokens", json={"name": "x", "days": 1000}, headers=api.bearer("root")
    )
    assert problem(too_long, 422)
    bad_scope = api.client.post(
        f"{API}/tokens",
        json={"name": "x", "days": 1, "scopes": ["Bad Scope"]},
        headers=api.bearer("root"),
    )
    assert "scope" in str(problem(bad_scope, 422)["detail"])
    assert problem(
        api.client.post(f"{API}/tokens", json={"name": "x", "days": 1}, headers=api.bearer("vera")),
        403,
    )
    assert problem(api.client.get(f"{API}/tokens", headers=api.bearer("vera")), 403)


def test_every_role_reads_who_it_is(api: Api) -> None:
    for name, role in (("vera", "viewer"), ("aud", "auditor"), ("root", "system_admin")):
        me = api.client.get(f"{API}/me", headers=api.bearer(name))
        assert me.status_code == 200, me.text
        assert (me.json()["username"], me.json()["role"]) == (name, role)
        assert me.json()["certification_expires"] is not None
    assert api.client.get(f"{API}/me", headers=api.bearer("root")).json()["agency"] is None
    assert api.login(api.client, "ana").status_code == 200
    by_cookie = api.client.get(f"{API}/me")
    assert by_cookie.status_code == 200 and by_cookie.json()["agency"] == "Met"
