"""Each agency's category scheme: the default without one, an administrator sets their own
agency's (a system administrator any), bad schemes are refused whole, every change audited;
the triage grid votes, reads votes and agrees in the caller's agency's scheme."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from fastapi.testclient import TestClient

from tests.api_support import API, PASSWORD
from tests.conftest import jpeg_bytes
from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.audit import list_events
from vident.service.categories import vote_category
from vident.service.category_schemes import (
    DEFAULT_SCHEME,
    agency_scheme,
    set_agency_scheme,
    show_agency_scheme,
)
from vident.service.context import (
    Context,
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.errors import Forbidden, Invalid, NotFound
from vident.service.sessions import login
from vident.service.sources import ingest_source
from vident.service.store_admin import init_store
from vident.service.tokens import create_token
from vident.service.triage_view import TriageFilter, category_keys, triage_view
from vident.service.users import add_user
from vident.web.app import create_app
from vident.web.auth import COOKIE

#: username -> (agency, role)
PEOPLE = {
    "ana": ("Met", Role.ANALYST),
    "adam": ("Met", Role.AGENCY_ADMIN),
    "bea": ("BKA", Role.ANALYST),
    "bert": ("BKA", Role.AGENCY_ADMIN),
    "root": (None, Role.SYSTEM_ADMIN),
    "audrey": (None, Role.AUDITOR),
}
GRADES = [("1", "I", "Grade I"), ("2", "II", "Grade II"), ("0", "none", "Not indecent")]


@dataclass
class World:
    settings: Settings
    op: Context
    people: dict[str, Context]
    shas: list[str]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = Settings(data=tmp_path / "data", workers=1)
    init_store(settings)
    op = open_context(settings, local_operator(settings))
    ids = {name: add_agency(op, name, c).id for name, c in (("Met", "GB"), ("BKA", "DE"))}
    people = {
        name: open_context(
            settings,
            Principal(
                name=name,
                kind=PrincipalKind.USER,
                role=role,
                agency_id=ids[agency] if agency else None,
            ),
        )
        for name, (agency, role) in PEOPLE.items()
    }
    folder = tmp_path / "seized"
    folder.mkdir()
    shas = []
    for seed in range(1, 4):
        data = jpeg_bytes(seed, (96, 72))
        (folder / f"s-{seed}.jpg").write_bytes(data)
        shas.append(hashlib.sha256(data).hexdigest())
    ingest_source(op, folder, "S-OPEN", signals=("pdq",))
    yield World(settings, op, people, shas)
    for context in people.values():
        context.close()
    op.close()


def _events(world: World, action: str) -> list[tuple[str, str | None, str]]:
    trail = list_events(world.op, action=action).events
    return [(e.actor, e.target, e.outcome) for e in trail]


def test_without_a_scheme_of_its_own_an_agency_votes_in_uk_caid(world: World) -> None:
    ana = world.people["ana"]
    mine = agency_scheme(ana)
    assert (mine.agency, mine.name, mine.default) == ("Met", DEFAULT_SCHEME, True)
    assert [(c.key, c.code) for c in mine.categories] == [
        ("1", "A"),
        ("2", "B"),
        ("3", "C"),
        ("0", "not-indecent"),
    ]
    # A principal of no agency (the operator, a system administrator) gets it too.
    assert agency_scheme(world.op).name == DEFAULT_SCHEME
    assert agency_scheme(world.people["root"]).agency is None
    assert show_agency_scheme(world.people["bea"], "Met") == mine
    # Reading one's own is not audited (the grid reads it on every load); the API's read is.
    assert _events(world, "category_scheme.show") == [("bea", "Met", "ok")]


def test_an_agency_admin_sets_their_own_agencys_scheme_and_it_is_audited(world: World) -> None:
    adam, ana, bea = (world.people[n] for n in ("adam", "ana", "bea"))
    lines = ["1=I=Grade I", " 2 = II = Grade II ", "0=none=Not indecent = harmless"]
    out = set_agency_scheme(adam, "Met", "  MET-GRADES ", lines)
    assert (out.agency, out.name, out.default) == ("Met", "MET-GRADES", False)
    assert [(c.key, c.code, c.label) for c in out.categories] == [
        ("1", "I", "Grade I"),
        ("2", "II", "Grade II"),
        ("0", "none", "Not indecent = harmless"),
    ]
    assert agency_scheme(ana) == out
    assert agency_scheme(bea).name == DEFAULT_SCHEME  # BKA keeps the default
    assert _events(world, "category_scheme.set") == [("adam", "Met", "ok")]
    # Set again: replaced whole, tuples as well as lines.
    again = set_agency_scheme(adam, "Met", "MET-2", GRADES[:1])
    assert [c.code for c in again.categories] == ["I"] and agency_scheme(ana).name == "MET-2"


def test_only_administrators_set_a_scheme_and_an_agency_admin_only_their_own(
    world: World,
) -> None:
    for name in ("ana", "audrey"):
        with pytest.raises(Forbidden):
            set_agency_scheme(world.people[name], "Met", "X", GRADES)
    with pytest.raises(Forbidden):
        set_agency_scheme(world.people["bert"], "Met", "X", GRADES)
    with pytest.raises(NotFound):
        set_agency_scheme(world.people["root"], "Nowhere", "X", GRADES)
    assert agency_scheme(world.people["ana"]).default  # nothing changed
    set_agency_scheme(world.people["root"], "Met", "ROOT-SET", GRADES)
    assert agency_scheme(world.people["ana"]).name == "ROOT-SET"
    outcomes = _events(world, "category_scheme.set")
    assert ("bert", "Met", "failed") in outcomes and ("ana", "Met", "denied") in outcomes
    assert outcomes[-1] == ("root", "Met", "ok")


@pytest.mark.parametrize(
    ("name", "categories", "says"),
    [
        ("", GRADES, "scheme name"),
        ("x" * 33, GRADES, "scheme name"),
        ("bad\nname", GRADES, "scheme name"),
        ("S", [], "1 to 10 categories"),
        ("S", [(str(i % 10), f"c{i}", f"C {i}") for i in range(11)], "1 to 10 categories"),
        ("S", [("1", "A", "a"), ("1", "B", "b")], "key 1 is given to two"),
        ("S", [("1", "A", "a"), ("2", "A", "b")], "on two keys"),
        ("S", [("a", "A", "a")], "one digit"),
        ("S", [("10", "A", "a")], "one digit"),
        ("S", [("1", "", "a")], "category code"),
        ("S", [("1", "c" * 65, "a")], "category code"),
        ("S", [("1", "A", "l" * 101)], "category label"),
        ("S", [("1", "A", "tab\there")], "category label"),
        ("S", [("1", "A\x00", "a")], "category code"),
        ("S", ["1=A"], "key=code=label"),
    ],
)
def test_a_bad_scheme_is_refused_whole(
    world: World, name: str, categories: list[tuple[str, str, str] | str], says: str
) -> None:
    with pytest.raises(Invalid, match=says):
        set_agency_scheme(world.people["adam"], "Met", name, categories)
    assert agency_scheme(world.people["ana"]).default


def test_the_grid_votes_and_agrees_in_the_agencys_scheme(world: World) -> None:
    ana, bea, adam = (world.people[n] for n in ("ana", "bea", "adam"))
    sha = world.shas[0]
    vote_category(ana, sha, DEFAULT_SCHEME, "A")  # cast before Met had a scheme
    set_agency_scheme(adam, "Met", "MET-GRADES", GRADES)
    view = triage_view(ana, "S-OPEN", TriageFilter())
    assert view.scheme.name == "MET-GRADES"
    assert [k.category for k in category_keys(view.scheme)] == ["I", "II", "none"]
    assert view.categories[:3] == ["I", "II", "none"]

    def my_vote(ctx: Context) -> str | None:
        tiles = triage_view(ctx, "S-OPEN", TriageFilter()).tiles
        return next(t.my_vote for t in tiles if t.kind == "item" and t.sha256 == sha)

    assert my_vote(ana) is None  # the UK-CAID vote is not a vote in Met's scheme
    vote_category(ana, sha, "MET-GRADES", "II")
    assert my_vote(ana) == "II"
    vote_category(bea, sha, DEFAULT_SCHEME, "C")
    assert my_vote(bea) == "C"  # BKA still votes in UK-CAID
    world.settings.category_votes_needed = 1
    agreed = triage_view(ana, "S-OPEN", TriageFilter(category="II"))
    assert [t.sha256 for t in agreed.tiles if t.kind == "item"] == [sha]
    assert triage_view(bea, "S-OPEN", TriageFilter(category="II")).matched == 0


def test_the_api_reads_and_sets_schemes(world: World) -> None:
    until = date.today() + timedelta(days=365)
    app = create_app(world.settings)
    client = TestClient(app, base_url="http://127.0.0.1")

    def login(username: str, role: Role) -> dict[str, str]:
        add_user(world.op, username, "Met", role, until, PASSWORD)
        token = create_token(world.op, username, "test", 1, ["read", "write", "admin"]).secret
        return {"Authorization": f"Bearer {token}"}

    admin = login("met_admin", Role.AGENCY_ADMIN)
    shown = client.get(f"{API}/agencies/Met/scheme", headers=admin).json()
    assert shown["name"] == DEFAULT_SCHEME and shown["default"] is True
    body = {
        "name": "MET-GRADES",
        "categories": ["1=I=Grade I", {"key": "0", "code": "none", "label": "Not indecent"}],
    }
    answer = client.put(f"{API}/agencies/Met/scheme", json=body, headers=admin)
    assert answer.status_code == 200, answer.text
    assert [c["code"] for c in answer.json()["categories"]] == ["I", "none"]
    viewer = login("met_viewer", Role.VIEWER)
    assert client.get(f"{API}/agencies/Met/scheme", headers=viewer).json()["name"] == "MET-GRADES"
    refused = client.put(f"{API}/agencies/Met/scheme", json=body, headers=viewer)
    assert refused.status_code == 403
    bad = dict(body, categories=["1=I=Grade I", "1=J=Grade J"])
    assert client.put(f"{API}/agencies/Met/scheme", json=bad, headers=admin).status_code == 422
    assert client.get(f"{API}/agencies/Nowhere/scheme", headers=admin).status_code == 404
    app.state.vident.store.dispose()


def test_the_admin_page_offers_the_form_to_the_agencys_administrators_only(
    world: World,
) -> None:
    until = date.today() + timedelta(days=365)
    app = create_app(world.settings)

    def page(username: str, url: str) -> tuple[int, str]:
        client = TestClient(app, base_url="http://127.0.0.1")
        client.cookies.set(COOKIE, sessions[username])
        answer = client.get(url)
        return answer.status_code, answer.text

    sessions: dict[str, str] = {}
    for username, agency, role in (
        ("p_adam", "Met", Role.AGENCY_ADMIN),
        ("p_ana", "Met", Role.ANALYST),
        ("p_root", "BKA", Role.SYSTEM_ADMIN),
    ):
        enrolment = add_user(world.op, username, agency, role, until, PASSWORD)
        code = pyotp.TOTP(parse_qs(urlparse(enrolment.totp_uri).query)["secret"][0]).now()
        sessions[username] = login(world.op, username, PASSWORD, code).secret
    set_agency_scheme(world.op, "Met", "MET-GRADES", ["1=I=<b>Grade I</b>"])
    status, html = page("p_adam", "/admin/scheme")
    assert status == 200
    assert 'data-api="/api/v1/agencies/Met/scheme" data-method="PUT"' in html
    assert 'value="MET-GRADES"' in html and "1=I=&lt;b&gt;Grade I&lt;/b&gt;</textarea>" in html
    assert "<b>Grade I" not in html
    _, agencies = page("p_adam", "/admin/agencies")
    assert 'href="/admin/scheme?agency=Met"' in agencies and "agency=BKA" not in agencies
    assert page("p_adam", "/admin/scheme?agency=BKA")[0] == 403
    assert page("p_ana", "/admin/scheme")[0] == 403
    # A system administrator starts at their own agency and may choose any other.
    status, bka = page("p_root", "/admin/scheme")
    assert status == 200 and 'data-api="/api/v1/agencies/BKA/scheme"' in bka
    assert "BKA chose no scheme of its own" in bka and "1=A=Category A" in bka
    assert '<option value="Met">Met</option>' in bka
    status, met = page("p_root", "/admin/scheme?agency=Met")
    assert status == 200 and 'data-api="/api/v1/agencies/Met/scheme"' in met
    assert '<option value="Met" selected>Met</option>' in met
    assert page("p_root", "/admin/scheme?agency=Nowhere")[0] == 404
    app.state.vident.store.dispose()
