"""The administration pages, rendered by the real app over a real SQLite store.

Each test reads a page as a signed-in account and checks what it shows: who may open it at
all, the users of the administrator's own agency only, certification flags, paging, and names
that carry markup (a username, an agency name, a token name) shown as text, never as markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient

from tests.api_support import INLINE_SCRIPT, secret_of
from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.context import Context, Role, local_operator, open_context
from vident.service.sessions import login
from vident.service.store_admin import init_store
from vident.service.tokens import create_token, revoke_token
from vident.service.users import add_user, bootstrap_admin, disable_user
from vident.web.app import create_app
from vident.web.auth import COOKIE
from vident.web.pages import admin

PASSWORD = "a fine long password for pages"
BASE = "http://127.0.0.1"
#: Who the setup acts as (the local operator, of no agency).
OPERATOR = "page-setup"
AGENCY = "Kripo Berlin"
#: Stored names that would run script if a page let them through as markup.
HOSTILE_AGENCY = "<img src=x onerror=alert(1)> Polizei"
HOSTILE_USER = "<svg/onload=alert(1)>"
HOSTILE_TOKEN = "<script>alert('token')</script>"
#: username -> (agency, role) of the accounts besides root, all certified for a year.
ACCOUNTS: dict[str, tuple[str, Role]] = {
    "adam": (AGENCY, Role.AGENCY_ADMIN),
    "ana": (AGENCY, Role.ANALYST),
    "vera": (AGENCY, Role.VIEWER),
    "audrey": (AGENCY, Role.AUDITOR),
    "otto": (HOSTILE_AGENCY, Role.ANALYST),
}

__all__ = ["ACCOUNTS", "HOSTILE_AGENCY", "HOSTILE_USER", "OPERATOR", "Site", "site"]


@dataclass
class Site:
    """The app over a store with accounts of every role, and a client per signed-in one."""

    app_client: TestClient  # signed in as nobody
    ctx: Context
    clients: dict[str, TestClient]  # username -> a client with their session cookie
    token_secrets: list[str]

    def get(self, username: str, url: str) -> str:
        """The page at ``url`` as ``username``; asserts it rendered (200)."""
        response = self.clients[username].get(url)
        assert response.status_code == 200, response.text
        text: str = response.text
        return text

    def status(self, username: str, url: str) -> tuple[int, str]:
        response = self.clients[username].get(url)
        status: int = response.status_code
        text: str = response.text
        return status, text


def _build(data: Path) -> Iterator[Site]:
    settings = Settings(data=data, operator=OPERATOR)
    init_store(settings)
    ctx = open_context(settings, local_operator(settings))
    year = date.today() + timedelta(days=365)
    secrets = {"root": secret_of(bootstrap_admin(ctx, "root", PASSWORD))}
    add_agency(ctx, AGENCY, "de")
    add_agency(ctx, HOSTILE_AGENCY, "gb")
    for username, (agency, role) in ACCOUNTS.items():
        secrets[username] = secret_of(add_user(ctx, username, agency, role, year, PASSWORD))
    # Accounts whose state the lists must flag; they never sign in.
    add_user(ctx, HOSTILE_USER, AGENCY, Role.ANALYST, year, PASSWORD)
    add_user(ctx, "soon", AGENCY, Role.ANALYST, date.today() + timedelta(days=10), PASSWORD)
    add_user(ctx, "lapsed", AGENCY, Role.VIEWER, date.today() - timedelta(days=3), PASSWORD)
    add_user(ctx, "gone", AGENCY, Role.ANALYST, year, PASSWORD)
    disable_user(ctx, "gone")
    made = [
        create_token(ctx, "ana", HOSTILE_TOKEN, 30, ["read", "write"]),
        create_token(ctx, "ana", "old-script", 30, ["read"]),
        create_token(ctx, "otto", "met-sync", 30, ["read"]),
    ]
    revoke_token(ctx, made[1].token.id)
    app = create_app(settings)
    clients = {
        name: TestClient(
            app,
            base_url=BASE,
            cookies={COOKIE: login(ctx, name, PASSWORD, pyotp.TOTP(secret).now()).secret},
        )
        for name, secret in secrets.items()
    }
    with TestClient(app, base_url=BASE) as client:
        yield Site(client, ctx, clients, [m.secret for m in made])
    ctx.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from _build(tmp_path_factory.mktemp("pages-admin") / "data")


def _usernames(html: str) -> list[str]:
    """The usernames of the rows of the users table (as the HTML spells them)."""
    return re.findall(r'<tr data-user="([^"]*)">', html)


def test_only_administrators_open_the_admin_pages(site: Site) -> None:
    for who in ("ana", "vera", "audrey"):
        for url in ("/admin", "/admin/users", "/admin/tokens", "/admin/agencies"):
            status, html = site.status(who, url)
            assert status == 403, (who, url)
            assert "Administration is for agency and system administrators only" in html
        assert 'href="/admin"' not in site.get(who, "/")  # the menu never offers it
    for who in ("adam", "root"):
        assert 'href="/admin"' in site.get(who, "/admin")
    redirected = site.app_client.get("/admin", follow_redirects=False)
    assert redirected.status_code == 303
    assert redirected.headers["location"] == "/login?next=/admin"


def test_an_agency_admin_sees_the_users_of_their_agency_only(site: Site) -> None:
    html = site.get("adam", "/admin/users")
    names = _usernames(html)
    assert "otto" not in names and "root" not in names  # another agency, no agency
    assert {"adam", "ana", "vera", "audrey", "soon", "lapsed", "gone"} <= set(names)
    assert names == sorted(names)
    everyone = _usernames(site.get("root", "/admin/users"))
    assert {"otto", "root"} <= set(everyone)


def test_the_users_list_flags_certification_and_state(site: Site) -> None:
    html = site.get("adam", "/admin/users")
    soon = date.today() + timedelta(days=10)
    lapsed = date.today() - timedelta(days=3)

    def row(username: str) -> str:
        match = re.search(rf'<tr data-user="{username}">(.*?)</tr>', html, re.S)
        assert match is not None, username
        return match.group(1)

    assert f"expires {soon.isoformat()} (in 10 days)" in row("soon")
    assert 'class="cert cert-expiring"' in row("soon")
    assert f"expired on {lapsed.isoformat()}" in row("lapsed")
    assert 'class="cert cert-expired"' in row("lapsed")
    assert 'class="cert cert-current"' in row("ana")
    assert "disabled" in row("gone") and "disabled" not in row("ana")
    assert "not yet used" in row("soon")  # never signed in: TOTP not yet enrolled
    assert "enrolled" in row("ana") and "not yet used" not in row("ana")
    home = site.get("adam", "/admin")
    attention = re.findall(r'<a href="/admin/users/([^"]+)">', home.split('id="attention"')[1])
    assert set(attention) == {"soon", "lapsed"}


def test_the_new_user_form_offers_only_what_the_admin_may_give(site: Site) -> None:
    html = site.get("adam", "/admin/users")
    form = html.split('id="new-user"')[1].split("</form>")[0]
    roles = re.findall(r'<option value="([a-z_]+)"', form.split('name="role"')[1])
    assert roles == ["viewer", "analyst", "agency_admin"]
    agencies = re.findall(r'<option value="([^"]*)"', form.split('name="agency"')[1])
    assert agencies[0] == AGENCY and "Met" not in form
    assert "Polizei" not in form  # adam adds users to his own agency only
    root_form = site.get("root", "/admin/users").split('id="new-user"')[1]
    assert 'value="system_admin"' in root_form and 'value="auditor"' in root_form
    assert "&lt;img src=x onerror=alert(1)&gt; Polizei" in root_form
    assert 'id="enrolment"' in html and " hidden" in html.split('id="enrolment"')[1][:40]


def test_the_users_list_pages(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin, "PER_PAGE", 3)
    every = _usernames(site.get("adam", "/admin/users?page=1000"))  # past the end: the last
    first = site.get("adam", "/admin/users")
    second = site.get("adam", "/admin/users?page=2")
    assert len(_usernames(first)) == 3 and len(_usernames(second)) == 3
    assert not set(_usernames(first)) & set(_usernames(second))
    assert 'href="/admin/users?page=2" rel="next"' in first
    assert 'href="/admin/users?page=1" rel="prev"' in second
    assert "Page 2 of" in second and every and 'rel="next"' not in first.split("</nav>")[-1]
    status, _html = site.status("adam", "/admin/users?page=0")
    assert status == 422


def test_one_user_page_shows_the_account_and_its_forms(site: Site) -> None:
    html = site.get("adam", "/admin/users/soon")
    assert 'data-api="/api/v1/users/soon" data-method="PATCH"' in html
    assert '<option value="analyst" selected>' in html
    soon = (date.today() + timedelta(days=10)).isoformat()
    assert f'name="certified_until" type="date" required value="{soon}"' in html
    assert "data-body='{\"disabled\": true}'" in html
    gone = site.get("adam", "/admin/users/gone")
    assert "data-body='{\"disabled\": false}'" in gone and "Enable the account" in gone
    tokens = site.get("adam", "/admin/users/ana")
    assert "&lt;script&gt;alert(&#39;token&#39;)&lt;/script&gt;" in tokens
    assert "old-script" in tokens and "revoked" in tokens
    status, html = site.status("adam", "/admin/users/otto")  # another agency's
    assert status == 404 and "There is no user named" in html
    assert site.status("adam", "/admin/users/nobody")[0] == 404


def test_hostile_names_show_as_text(site: Site) -> None:
    for url in ("/admin/users", "/admin", "/admin/agencies", "/admin/tokens"):
        html = site.get("root", url)
        assert "<svg/onload" not in html and "<img src=x" not in html, url
        assert "<script>alert" not in html, url
    users = site.get("root", "/admin/users")
    assert "&lt;svg/onload=alert(1)&gt;" in users
    assert 'href="/admin/users/%3Csvg%2Fonload%3Dalert%281%29%3E"' in users
    agencies = site.get("root", "/admin/agencies")
    assert "&lt;img src=x onerror=alert(1)&gt; Polizei" in agencies
    one = site.get("root", "/admin/users/%3Csvg%2Fonload%3Dalert%281%29%3E")
    assert "<svg/onload" not in one and "&lt;svg/onload=alert(1)&gt;" in one


def test_agencies_are_listed_and_only_a_system_admin_may_add_one(site: Site) -> None:
    root = site.get("root", "/admin/agencies")
    assert 'data-api="/api/v1/agencies" data-method="POST"' in root
    names = re.findall(r"<tr><td>([^<]*)</td><td>([A-Z]{2})</td>", root)
    assert (AGENCY, "DE") in names and len(names) == 2
    adam = site.get("adam", "/admin/agencies")
    assert "Kripo Berlin" in adam and 'data-api="/api/v1/agencies"' not in adam


def test_tokens_are_listed_in_scope_with_revoke_buttons_and_no_secret(site: Site) -> None:
    adam = site.get("adam", "/admin/tokens")
    ids = re.findall(r'<tr data-token="(\d+)">', adam)
    assert ids == sorted(ids, key=int, reverse=True) and len(ids) == 2  # ana's; not otto's
    assert "met-sync" not in adam
    revoked, active = adam.split('data-token="')[1:3]  # newest first
    assert "old-script" in revoked and "revoked" in revoked and "DELETE" not in revoked
    assert 'data-method="DELETE"' in active and "read, write" in active
    for secret in site.token_secrets:  # a token's secret is shown once, by the API only
        assert secret.rsplit("_", 1)[1] not in adam
    assert "met-sync" in site.get("root", "/admin/tokens")
    options = re.findall(r'<option value="([^"]*)"', adam.split('id="token-user"')[1])
    assert "gone" not in options and "otto" not in options and "adam" in options
    scopes = re.findall(r'name="scopes" value="(\w+)"', adam)
    assert scopes == ["read", "write", "admin", "audit"]


def test_tokens_page(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin, "PER_PAGE", 1)
    first = site.get("root", "/admin/tokens")
    second = site.get("root", "/admin/tokens?page=2")
    assert len(re.findall(r"<tr data-token=", first)) == 1
    assert re.findall(r'data-token="(\d+)"', first) != re.findall(r'data-token="(\d+)"', second)
    assert "Page 2 of 3" in second and 'href="/admin/tokens?page=3"' in second


def test_pages_carry_the_strict_policy_and_no_inline_script(site: Site) -> None:
    response = site.clients["root"].get("/admin/users")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert INLINE_SCRIPT.search(response.text) is None
    assert re.search(r"\son\w+=", response.text.replace("onerror=alert", "")) is None
    assert ' style="' not in response.text
    script = site.app_client.get("/static/js/admin.js")
    assert script.status_code == 200 and "innerHTML" not in script.text
