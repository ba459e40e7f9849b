"""The REST API in process: authentication, CSRF, problem JSON, headers and the first routes.

Each test runs on a real SQLite store and a real PostgreSQL (the ``settings`` fixture), with
users made by the service layer and one-time codes computed from their enrolment secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api_support import API, HIT, PASSWORD, PUBLIC_ROUTES, Api, api_over, problem, routes_of
from tests.conftest import jpeg_bytes, transformed, write_jpeg
from vident.config import Settings
from vident.media.runtime import scratch_dir
from vident.service.context import Context, local_operator, open_context
from vident.service.errors import Invalid
from vident.service.sources import ingest_source
from vident.service.tokens import create_token, revoke_token
from vident.service.triage import triage_source
from vident.service.users import bootstrap_admin
from vident.store.models_security import ApiToken
from vident.web.app import create_app
from vident.web.auth import COOKIE


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


# --- authentication -------------------------------------------------------------------------


def test_health_needs_no_credentials_and_has_security_headers(api: Api) -> None:
    response = api.client.get(f"{API}/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    for answer in (response, api.client.get(f"{API}/sources")):
        headers = answer.headers
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"


def test_every_route_but_health_and_login_refuses_a_caller_without_credentials(
    api: Api,
) -> None:
    checked = 0
    for method, path in sorted(routes_of(api.app) - PUBLIC_ROUTES):
        url = path.replace("{name}", "EX7").replace("{person_id}", "1")
        url = url.replace("{sha256}", "0" * 64)
        body = problem(api.client.request(method, url), 401)
        assert body["title"] == "unauthenticated"
        checked += 1
    assert checked == len(routes_of(api.app)) - len(PUBLIC_ROUTES) > 10


def test_a_token_authenticates_until_revoked_or_expired(api: Api) -> None:
    assert api.client.get(f"{API}/sources", headers=api.bearer("vera")).status_code == 200
    bad = api.client.get(f"{API}/sources", headers={"Authorization": "Bearer vt_1_nonsense"})
    assert problem(bad, 401)["detail"] == (
        "the API token is unknown: ask an administrator for a new one"
    )
    assert bad.headers["www-authenticate"] == "Bearer"
    assert problem(api.client.get(f"{API}/sources", headers={"Authorization": "x"}), 401)

    created = create_token(api.ctx, "ana", "short", 1)
    headers = {"Authorization": f"Bearer {created.secret}"}
    assert api.client.get(f"{API}/hashsets", headers=headers).status_code == 200
    with api.ctx.store.session() as session:
        row = session.get(ApiToken, created.token.id)
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    assert "expired" in str(problem(api.client.get(f"{API}/hashsets", headers=headers), 401))

    revoke_token(api.ctx, int(api.tokens["vera"].split("_")[1]))
    gone = api.client.get(f"{API}/sources", headers=api.bearer("vera"))
    assert "revoked" in str(problem(gone, 401)["detail"])


def test_login_sets_a_strict_http_only_cookie_and_csrf_guards_changes(api: Api) -> None:
    wrong = api.client.post(
        f"{API}/auth/login", json={"username": "ana", "password": "nope", "totp": "123456"}
    )
    assert problem(wrong, 401)["detail"] == "wrong username, password or one-time code"

    response = api.login(api.client, "ana")
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=vs_")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/api/" in lowered
    assert "secure" not in lowered  # plain HTTP on loopback: a browser would drop it
    csrf = response.json()["csrf_token"]
    assert response.json()["session"]["user"]["username"] == "ana"

    assert api.client.get(f"{API}/sources").status_code == 200  # the cookie authenticates
    label = f"{API}/people/1/label"
    refused = problem(api.client.post(label, json={"label": "V-1"}), 403)
    assert "X-CSRF-Token" in str(refused["detail"])
    wrong_csrf = api.client.post(label, json={"label": "V-1"}, headers={"X-CSRF-Token": "0"})
    assert problem(wrong_csrf, 403)
    with_csrf = api.client.post(label, json={"label": "V-1"}, headers={"X-CSRF-Token": csrf})
    assert problem(with_csrf, 404)["detail"] == "no person 1"  # past CSRF, to the use case

    assert problem(api.client.post(f"{API}/auth/logout"), 403)  # logging out is a change too
    out = api.client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200 and out.json() == {"ended": True}
    api.client.cookies.set(COOKIE, response.cookies[COOKIE], domain="127.0.0.1", path="/api/")
    assert "ended" in str(problem(api.client.get(f"{API}/sources"), 401)["detail"])


def test_the_session_cookie_is_secure_off_loopback(api: Api) -> None:
    with api.client_for("https://vident.example") as client:
        response = api.login(client, "vera")
        assert response.status_code == 200, response.text
        assert "secure" in response.headers["set-cookie"].lower()
        assert client.get(f"{API}/sources").status_code == 200


def test_a_token_logs_out_nothing_and_needs_no_csrf(api: Api) -> None:
    out = api.client.post(f"{API}/auth/logout", headers=api.bearer("ana"))
    assert out.status_code == 200 and out.json() == {"ended": False}


# --- routes ---------------------------------------------------------------------------------


@pytest.fixture
def seized(api: Api, tmp_path: Path) -> Path:
    """Source EX7 of three pictures, ingested with PDQ only (fast)."""
    folder = tmp_path / "ex7"
    for seed in range(3):
        write_jpeg(folder / f"p{seed}.jpg", seed)
    ingest_source(api.ctx, folder, "EX7", workers=1, signals=("pdq",))
    return folder


def test_triage_through_the_api_equals_the_service(api: Api, seized: Path) -> None:
    response = api.client.get(f"{API}/sources/EX7/triage", headers=api.bearer("vera"))
    assert response.status_code == 200
    assert response.json() == triage_source(api.ctx, "EX7").model_dump(mode="json")
    assert response.json()["counts"]["new"] == 3
    listed = api.client.get(f"{API}/sources", headers=api.bearer("vera")).json()
    assert [s["name"] for s in listed["sources"]] == ["EX7"]
    missing = api.client.get(f"{API}/sources/NOPE/triage", headers=api.bearer("vera"))
    assert "NOPE" in str(problem(missing, 404)["detail"])
    # Items filtered, ordered and paged; the counts still cover the whole source.
    page = api.client.get(
        f"{API}/sources/EX7/triage",
        params={"verdict": ["new"], "order": "priority", "limit": 2, "offset": 1},
        headers=api.bearer("vera"),
    ).json()
    everything = response.json()["items"]
    assert page["counts"] == response.json()["counts"]
    assert [i["path"] for i in page["items"]] == [i["path"] for i in everything][1:3]
    known = api.client.get(
        f"{API}/sources/EX7/triage", params={"verdict": "known"}, headers=api.bearer("vera")
    )
    assert known.json()["items"] == []
    bad = api.client.get(
        f"{API}/sources/EX7/triage", params={"verdict": "maybe"}, headers=api.bearer("vera")
    )
    problem(bad, 422)


def test_search_similar_and_related_by_upload(api: Api, seized: Path) -> None:
    picture = (seized / "p1.jpg").read_bytes()
    files = {"file": ("evidence/../p1-copy.jpg", picture, "image/jpeg")}
    found = api.client.post(f"{API}/search", files=files, headers=api.bearer("vera"))
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["file"] == "p1-copy.jpg" and body["verdict"] == "known"
    sha = body["sha256"]
    assert not any(scratch_dir(api.ctx.settings).iterdir())  # the upload is gone

    grey = transformed(seized / "p1.jpg", seized.parent / "grey.jpg", "grey").read_bytes()
    similar = api.client.post(
        f"{API}/similar",
        params={"by": "pdq", "top": 2},
        files={"file": ("grey.jpg", grey, "image/jpeg")},
        headers=api.bearer("ana"),
    )
    assert similar.status_code == 200, similar.text
    assert similar.json()["query"]["path"] == "grey.jpg"
    assert similar.json()["results"][0]["sha256"] == sha

    related = api.client.get(f"{API}/media/{sha}/related", headers=api.bearer("ana"))
    assert related.status_code == 200 and "results" in related.json()
    unknown = api.client.get(f"{API}/media/{'0' * 64}/related", headers=api.bearer("ana"))
    assert problem(unknown, 404)
    assert problem(api.client.get(f"{API}/media/xyz/related", headers=api.bearer("ana")), 422)

    no_file = api.client.post(f"{API}/search", data={"x": "1"}, headers=api.bearer("vera"))
    assert "'file'" in str(problem(no_file, 422)["detail"])
    bad_by = api.client.post(
        f"{API}/similar", params={"by": "smell"}, files=files, headers=api.bearer("ana")
    )
    assert "smell" in str(problem(bad_by, 422)["detail"])


def test_an_upload_over_the_limit_is_413_and_leaves_nothing(settings: Settings) -> None:
    ctx = open_context(settings, local_operator(settings))
    secret = create_token(ctx, _admin(ctx), "tests", 1).secret
    small = settings.model_copy(update={"max_file_bytes": 10_000})
    with TestClient(create_app(small), base_url="http://127.0.0.1") as client:
        HIT.add(("POST", f"{API}/search"))
        files = {"file": ("big.jpg", jpeg_bytes(1, (800, 600)), "image/jpeg")}
        headers = {"Authorization": f"Bearer {secret}"}
        refused = client.post(f"{API}/search", files=files, headers=headers)
        assert "10000 bytes" in str(problem(refused, 413)["detail"])
    folder = scratch_dir(settings)
    assert not folder.exists() or not any(folder.iterdir())
    ctx.close()


def _admin(ctx: Context) -> str:
    bootstrap_admin(ctx, "boss", PASSWORD)
    return "boss"


def test_text_people_and_hashsets_read(api: Api) -> None:
    text = api.client.get(f"{API}/text", params={"q": "springfield"}, headers=api.bearer("vera"))
    assert text.status_code == 200 and text.json() == {"query": "springfield", "results": []}
    assert problem(api.client.get(f"{API}/text", headers=api.bearer("vera")), 422)["errors"]
    people = api.client.get(f"{API}/people", headers=api.bearer("vera"))
    assert people.status_code == 200 and people.json()["items"] == []
    assert problem(api.client.get(f"{API}/people/7", headers=api.bearer("vera")), 404)
    hashsets = api.client.get(f"{API}/hashsets", headers=api.bearer("vera"))
    assert hashsets.status_code == 200 and hashsets.json() == {"hashsets": []}


def test_a_viewer_reads_but_cannot_decide_about_people(api: Api) -> None:
    denied = api.client.post(f"{API}/people/1/confirm", headers=api.bearer("vera"))
    assert problem(denied, 403)["title"] == "forbidden"
    by_analyst = api.client.post(f"{API}/people/1/confirm", headers=api.bearer("ana"))
    assert problem(by_analyst, 404)["detail"] == "no person 1"
    label = api.client.post(
        f"{API}/people/1/label", json={"label": "V-1"}, headers=api.bearer("vera")
    )
    assert problem(label, 403)


def test_audit_for_auditors_and_admin_lists_for_admins(api: Api) -> None:
    assert api.login(api.client, "vera").status_code == 200
    events = api.client.get(
        f"{API}/audit", params={"action": "user.login"}, headers=api.bearer("aud")
    )
    assert events.status_code == 200
    assert [(e["target"], e["outcome"]) for e in events.json()["events"]] == [("vera", "ok")]
    verified = api.client.get(f"{API}/audit/verify", headers=api.bearer("aud"))
    assert verified.status_code == 200 and verified.json()["intact"] is True
    assert problem(api.client.get(f"{API}/audit", headers=api.bearer("ana")), 403)

    agencies = api.client.get(f"{API}/agencies", headers=api.bearer("root"))
    assert [a["name"] for a in agencies.json()["agencies"]] == ["Met"]
    users = api.client.get(f"{API}/users", headers=api.bearer("root"))
    assert {u["username"] for u in users.json()["users"]} == {"root", "vera", "ana", "aud"}
    assert problem(api.client.get(f"{API}/users", headers=api.bearer("vera")), 403)


def test_openapi_lists_every_route_and_no_docs_ui_is_served(api: Api) -> None:
    schema = api.client.get(f"{API}/openapi.json").json()
    listed = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert listed == routes_of(api.app) and len(listed) > 10
    for ops in schema["paths"].values():
        for op in ops.values():
            ok = [code for code in op["responses"] if code.startswith("2")]
            assert ok and all(op["responses"][c].get("content") or c == "204" for c in ok)
    upload = schema["paths"][f"{API}/search"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    assert problem(api.client.get(f"{API}/docs"), 404)
    for ui in ("/docs", "/redoc"):  # outside the API: the pages' own "no such page"
        answered = api.client.get(ui)
        assert answered.status_code == 404 and "swagger" not in answered.text.lower()
        assert answered.headers["content-type"].startswith("text/html")


def test_a_token_does_only_what_its_scopes_allow(api: Api) -> None:
    reader = create_token(api.ctx, "root", "reader", 1, ["read"]).secret
    headers = {"Authorization": f"Bearer {reader}"}
    assert api.client.get(f"{API}/sources", headers=headers).status_code == 200
    picture = {"file": ("p.jpg", jpeg_bytes(3, (64, 64)), "image/jpeg")}
    assert api.client.post(f"{API}/search", files=picture, headers=headers).status_code == 200
    for method, path in (("GET", "/users"), ("GET", "/audit"), ("POST", "/people/1/confirm")):
        refused = api.client.request(method, f"{API}{path}", headers=headers)
        assert "scope" in str(problem(refused, 403)["detail"]), path
    with pytest.raises(Invalid, match="not a scope"):
        create_token(api.ctx, "root", "odd", 1, ["everything"])
