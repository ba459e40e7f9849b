"""The records pages over a real app: cases, series, victims, offenders, locations and clues.

Each page is fetched as a signed-in analyst (a page session cookie, as the browser holds it),
as a viewer (who is shown no forms) and as an analyst of another agency (who is not shown what
was not shared with them). Names and notes typed by analysts carry markup: it must come back
as text. Everything is made through the REST API, as the pages' forms make it.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient

from tests.api_support import API, PASSWORD, Api, api_over, secret_of
from tests.conftest import transformed, write_jpeg
from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.case_views import show_case
from vident.service.cases import add_case
from vident.service.context import Role
from vident.service.sessions import login
from vident.service.sources import ingest_source
from vident.service.users import add_user
from vident.store.db import Store, upgrade
from vident.web.auth import COOKIE
from vident.web.pages.records import PAGE_SIZE, segment, window

HOSTILE = '<img src=x onerror="alert(1)">'
SCRIPT = "<script>alert('x')</script>"


@dataclass
class Site:
    """The app with case Op Base (owned by Met) holding EX1 (three pictures) and EX2 (a
    smaller copy of EX1's first), and page sessions of ana and vera (Met) and dora (Polizei)."""

    api: Api
    pages: dict[str, TestClient]
    sha256: list[str]
    copy: str

    def get(self, username: str, path: str) -> httpx.Response:
        response: httpx.Response = self.pages[username].get(path, follow_redirects=False)
        return response

    def post(self, username: str, path: str, body: dict[str, object]) -> httpx.Response:
        response: httpx.Response = self.api.client.post(
            f"{API}{path}", json=body, headers=self.api.bearer(username)
        )
        assert response.status_code in (200, 201), response.text
        return response


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("records")
    data = root / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'vident.db'}"
    store = Store(url)
    upgrade(store.engine)
    store.dispose()
    settings = Settings(data=data, db=url, workers=1)
    with api_over(settings) as api:
        add_agency(api.ctx, "Polizei", "de")
        until = date.today() + timedelta(days=365)
        api.secrets["dora"] = secret_of(
            add_user(api.ctx, "dora", "Polizei", Role.ANALYST, until, PASSWORD)
        )
        pictures = [write_jpeg(root / "ex1" / f"p{seed}.jpg", 60 + seed) for seed in range(3)]
        copy = transformed(pictures[0], root / "ex2" / "copy.jpg", "resize")
        add_case(api.ctx, "Op Base", agency="Met")
        for folder, name in ((root / "ex1", "EX1"), (root / "ex2", "EX2")):
            ingest_source(api.ctx, folder, name, case="Op Base", workers=1, signals=("pdq",))
        pages: dict[str, TestClient] = {}
        for username in ("ana", "vera", "dora"):
            code = pyotp.TOTP(api.secrets[username]).now()
            opened = login(api.ctx, username, PASSWORD, code)
            client = api.client_for("http://127.0.0.1")
            client.cookies.set(COOKIE, opened.secret)
            pages[username] = client
        digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in pictures]
        yield Site(api, pages, digests, hashlib.sha256(copy.read_bytes()).hexdigest())


def ok(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    return response.text


def refused(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert 'role="alert"' in response.text
    return response.text


def escaped(page: str, text: str) -> bool:
    """``text`` is on the page as text only: its escaped form is there, its markup is not."""
    return html.escape(text, quote=False) in page.replace("&#39;", "'").replace("&#34;", '"') and (
        text not in page
    )


# --- helpers of the module -----------------------------------------------------------------


def test_a_list_is_shown_a_page_at_a_time() -> None:
    items = list(range(PAGE_SIZE * 2 + 5))
    first, pager = window(items, 1)
    assert first == items[:PAGE_SIZE] and pager.previous is None and pager.next == 2
    last, pager = window(items, 99)  # past the end: the last page
    assert last == items[PAGE_SIZE * 2 :] and pager.number == 3 and pager.next is None
    empty: list[int] = []
    none, pager = window(empty, 1)
    assert none == [] and pager.pages == 1 and pager.total == 0
    assert segment("a/b c?") == "a%2Fb%20c%3F"


# --- cases ---------------------------------------------------------------------------------


def test_cases_are_listed_shown_with_their_media_and_shared_by_form(site: Site) -> None:
    site.post("ana", "/cases", {"name": HOSTILE, "sharing": "national"})
    listing = ok(site.get("ana", "/cases"))
    assert 'href="/cases/Op%20Base"' in listing
    assert escaped(listing, HOSTILE)
    assert f'href="/cases/{quote(HOSTILE, safe="")}"' in listing
    assert 'id="case-form"' in listing and 'data-api="/api/v1/cases"' in listing
    assert 'maxlength="200"' in listing and "required" in listing
    assert 'id="case-form"' not in ok(site.get("vera", "/cases"))

    shown = ok(site.get("vera", "/cases/Op%20Base"))
    assert re.search(r'id="case-media">4<', shown), "three pictures and one copy"
    assert "EX1" in shown and "EX2" in shown and ">Met<" in shown
    assert 'id="case-sharing-form"' not in shown  # a viewer changes nothing
    mine = ok(site.get("ana", "/cases/Op%20Base"))
    assert 'data-api="/api/v1/cases/Op%20Base" data-method="PATCH"' in mine
    assert show_case(site.api.ctx, "Op Base").media == 4

    refused(site.get("ana", "/cases/Nowhere"), 404)
    refused(site.get("dora", "/cases/Op%20Base"), 404)  # Met's, shared within Met only
    stranger = site.api.client_for("http://127.0.0.1")
    stranger.cookies.set(COOKIE, "nonsense")
    away = stranger.get("/cases", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == "/login?next=/cases"


# --- series --------------------------------------------------------------------------------


def test_a_series_shows_its_media_people_and_what_may_belong(site: Site) -> None:
    name = f"REC {HOSTILE}"  # a "/" in a name cannot be addressed by the API's paths
    site.post("ana", "/series", {"name": name, "case": "Op Base", "notes": SCRIPT})
    site.post("ana", f"/series/{quote(name, safe='')}/media", {"sha256": site.sha256[0]})
    victim = site.post("ana", "/victims", {"series": [name]}).json()["code"]

    listing = ok(site.get("ana", "/series"))
    assert escaped(listing, name) and 'id="series-form"' in listing
    assert f'href="/series/{segment(name)}"' in listing
    assert 'value="Op Base"' in ok(site.get("ana", "/series?case=Op%20Base"))

    shown = ok(site.get("ana", f"/series/{segment(name)}"))
    assert escaped(shown, name) and escaped(shown, SCRIPT)
    assert f'href="/media/{site.sha256[0]}"' in shown
    assert f'src="/api/v1/media/{site.sha256[0]}/preview"' in shown
    assert f'href="/victims/{victim}"' in shown and "not identified" in shown
    # The smaller copy of the member is suggested, with a button that adds it as such.
    body = re.search(r"data-body='([^']*)'", shown)
    assert body is not None, "no suggestion offered"
    assert json.loads(html.unescape(body.group(1))) == {
        "sha256": site.copy,
        "how": "suggestion",
    }
    assert f'data-api="/api/v1/series/{segment(name)}/media"' in shown
    assert 'id="series-edit-form"' in shown and 'data-method="PATCH"' in shown

    viewed = ok(site.get("vera", f"/series/{segment(name)}"))
    assert f'href="/media/{site.sha256[0]}"' in viewed
    assert "<form" not in viewed.split("<main", 1)[1] and "data-body" not in viewed
    assert "Add to series" not in viewed

    refused(site.get("dora", f"/series/{segment(name)}"), 404)
    unknown = "<svg onload=alert(1)>"
    assert escaped(refused(site.get("ana", f"/series/{segment(unknown)}"), 404), unknown)


# --- victims and offenders -----------------------------------------------------------------


def test_victims_show_who_identified_them_and_personal_details_only_as_allowed(
    site: Site,
) -> None:
    site.post("ana", "/series", {"name": "REC victims"})
    made = site.post(
        "ana",
        "/victims",
        {"personal": {"name": SCRIPT, "birth_year": 2010}, "series": ["REC victims"]},
    ).json()
    code = made["code"]
    listing = ok(site.get("ana", "/victims"))
    assert f'href="/victims/{code}"' in listing and escaped(listing, SCRIPT)
    assert 'data-records-subject="/api/v1/victims"' in listing
    assert 'value="REC victims"' in ok(site.get("ana", "/victims?series=REC%20victims"))
    shown = ok(site.get("ana", f"/victims/{code}"))
    assert "not identified" in shown and 'id="identify-form"' in shown and "2010" in shown
    assert f'data-api="/api/v1/victims/{code}/identify"' in shown

    site.post("ana", f"/victims/{code}/identify", {"on": "2026-03-01"})
    shown = ok(site.get("ana", f"/victims/{code}"))
    assert "identified by Met (GB), 2026-03-01" in shown
    assert 'id="identify-form"' not in shown  # once identified, nothing more to record
    series = ok(site.get("ana", "/series/REC%20victims"))
    assert "victim_identified" in series and "identified by Met (GB), 2026-03-01" in series

    viewed = ok(site.get("vera", f"/victims/{code}"))
    assert "identified by Met (GB), 2026-03-01" in viewed
    assert "alert(" not in viewed and "2010" not in viewed  # sealed from a viewer
    assert "data-records-subject" not in ok(site.get("vera", "/victims"))
    refused(site.get("ana", "/victims/V-1999-0001"), 404)
    refused(site.get("ana", f"/offenders/{code}"), 404)  # a victim is no offender


def test_offenders_are_listed_and_shown_apart_from_victims(site: Site) -> None:
    code = site.post("ana", "/offenders", {"media": [site.sha256[1]]}).json()["code"]
    assert code.startswith("O-")
    listing = ok(site.get("ana", "/offenders"))
    assert f'href="/offenders/{code}"' in listing
    assert 'data-records-subject="/api/v1/offenders"' in listing
    assert f'href="/offenders/{code}"' not in ok(site.get("ana", "/victims"))
    shown = ok(site.get("ana", f"/offenders/{code}"))
    assert f'href="/media/{site.sha256[1]}"' in shown
    assert f'data-api="/api/v1/offenders/{code}/identify"' in shown
    refused(site.get("dora", f"/offenders/{code}"), 404)


# --- locations and clues -------------------------------------------------------------------


def test_locations_are_listed_with_a_form(site: Site) -> None:
    site.post("ana", "/locations", {"name": HOSTILE, "country": "de", "lat": 52.5, "lon": 13.4})
    listing = ok(site.get("ana", "/locations"))
    assert escaped(listing, HOSTILE) and "52.50000, 13.40000" in listing and "DE" in listing
    assert 'id="location-form"' in listing and 'data-api="/api/v1/locations"' in listing
    assert 'id="location-form"' not in ok(site.get("vera", "/locations"))


def test_clues_are_listed_filtered_and_offer_status_buttons(site: Site) -> None:
    clue = site.post(
        "ana", "/clues", {"sha256": site.sha256[2], "kind": "logo", "note": SCRIPT}
    ).json()
    listing = ok(site.get("ana", "/clues"))
    assert escaped(listing, SCRIPT) and f'href="/media/{site.sha256[2]}"' in listing
    row = listing.split(f'id="clue-{clue["id"]}"', 1)[1].split("</tr>", 1)[0]
    buttons = re.findall(r"data-body='([^']*)'", row)
    assert [json.loads(html.unescape(b))["status"] for b in buttons] == [
        "in_progress",
        "resolved",
    ]
    assert f'data-api="/api/v1/clues/{clue["id"]}/status"' in row
    site.post("ana", f"/clues/{clue['id']}/status", {"status": "resolved"})
    assert f'id="clue-{clue["id"]}"' not in ok(site.get("ana", "/clues?status=open"))
    assert f'id="clue-{clue["id"]}"' in ok(site.get("ana", "/clues?status=resolved"))
    viewed = ok(site.get("vera", "/clues"))
    assert f'id="clue-{clue["id"]}"' in viewed and "data-body" not in viewed
    assert "'bogus'" in html.unescape(refused(site.get("ana", "/clues?status=bogus"), 422))


def test_the_pages_own_script_and_stylesheet_are_served(site: Site) -> None:
    for path in ("/static/css/records.css", "/static/js/records.js"):
        served = site.get("vera", path)
        assert served.status_code == 200 and len(served.content) > 100, path
    listing = ok(site.get("ana", "/victims"))
    assert '<script src="/static/js/records.js" defer></script>' in listing
