"""The triage grid over HTTP: pages of at most 60 tiles, new material first, filters, stacks of
known series, sources of other agencies answered as missing, and file names that stay text."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import jpeg_bytes
from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.categories import vote_category
from vident.service.category_schemes import DEFAULT_CATEGORIES, set_agency_scheme
from vident.service.context import (
    Context,
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.hashsets import import_hashset
from vident.service.reviews import mark_reviewed
from vident.service.sessions import login
from vident.service.sources import ingest_source
from vident.service.store_admin import init_store
from vident.service.triage import Verdict
from vident.service.triage_view import KEY_SCHEME, PER_PAGE, TriageFilter, triage_view
from vident.service.users import add_user
from vident.web.app import create_app
from vident.web.auth import COOKIE

PASSWORD = "a fine long password for the triage grid"
UNTIL = date.today() + timedelta(days=30)
SOURCE = "T-SEIZURE"
HOSTILE = "<img src=x onerror=alert(1)>.jpg"
#: Pictures in the seizure besides the hostile one; 1 and 2 are known in series T-1, 3 in T-2.
PICTURES = 64
PEOPLE = {"ana": ("Met", Role.ANALYST), "vera": ("Met", Role.VIEWER), "bea": ("BKA", Role.ANALYST)}


@dataclass
class World:
    settings: Settings
    root: Context
    ana: Context
    totp: dict[str, str]
    sha: dict[str, str]  # file name -> SHA-256

    sessions: dict[str, str] = field(default_factory=dict)
    apps: list[FastAPI] = field(default_factory=list)

    def client(self, username: str) -> TestClient:
        """A page client signed in as ``username`` (one sign-in each: a code is used once)."""
        if username not in self.sessions:
            code = pyotp.TOTP(self.totp[username]).now()
            self.sessions[username] = login(self.root, username, PASSWORD, code).secret
        if not self.apps:
            self.apps.append(create_app(self.settings))
        client = TestClient(self.apps[0], base_url="http://127.0.0.1")
        client.cookies.set(COOKIE, self.sessions[username])
        return client


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("triage")
    settings = Settings(data=tmp / "data", workers=1)
    init_store(settings)
    root = open_context(settings, local_operator(settings))
    ids = {name: add_agency(root, name, c).id for name, c in (("Met", "GB"), ("BKA", "DE"))}
    totp = {}
    for username, (agency, role) in PEOPLE.items():
        enrolment = add_user(root, username, agency, role, UNTIL, PASSWORD)
        totp[username] = enrolment.totp_uri.split("secret=")[1].split("&")[0]
    ana = open_context(
        settings,
        Principal(name="ana", kind=PrincipalKind.USER, role=Role.ANALYST, agency_id=ids["Met"]),
    )
    seizure = tmp / "seizure"
    seizure.mkdir()
    sha = {}
    for seed in range(1, PICTURES + 2):
        name = HOSTILE if seed == PICTURES + 1 else f"img-{seed:03d}.jpg"
        data = jpeg_bytes(seed, (160, 120))
        (seizure / name).write_bytes(data)
        sha[name] = hashlib.sha256(data).hexdigest()
    ingest_source(ana, seizure, SOURCE, case="Op T", signals=("pdq",), workers=1)
    known = tmp / "known.csv"
    rows = [("img-001.jpg", "T-1"), ("img-002.jpg", "T-1"), ("img-003.jpg", "T-2")]
    known.write_text("sha256,category,series\n" + "".join(f"{sha[n]},B,{s}\n" for n, s in rows))
    import_hashset(ana, known, "t-reference")
    made = World(settings, root, ana, totp, sha)
    yield made
    ana.close()
    root.close()


def _tiles(html: str) -> list[str]:
    """The tiles of a grid page as "kind:what": item:path (hidden members too) or stack:series."""
    found = []
    for tag in re.findall(r"<li class=\"tile[^>]*>", html):
        stack = re.search(r'data-stack="([^"]*)"', tag)
        path = re.search(r'data-path="([^"]*)"', tag)
        member = " member" if "data-member-of" in tag else ""
        found.append(f"stack:{stack[1]}" if stack else f"item:{path[1] if path else '?'}{member}")
    return found


def _grid(client: TestClient, query: str = "") -> tuple[int, str]:
    response = client.get(f"/sources/{SOURCE}/triage{query}")
    return response.status_code, response.text


def test_the_grid_is_paged_new_first_with_known_series_stacked(world: World) -> None:
    client = world.client("ana")
    status, first = _grid(client)
    assert status == 200
    tiles = _tiles(first)
    assert len(tiles) == PER_PAGE and all(t.startswith("item:") for t in tiles)
    assert 'data-verdict="known"' not in first  # new material first, known on the last page
    assert "Page 1 of 2" in first and 'rel="next"' in first
    status, second = _grid(client, "?page=2")
    tiles = _tiles(second)
    # 65 files: 62 new, three known of which two share series T-1 -> 64 entries on 2 pages.
    assert tiles[-4:] == [
        "stack:T-1",
        "item:img-001.jpg member",
        "item:img-002.jpg member",
        "item:img-003.jpg",
    ]
    assert "series T-1: 2 items" in second
    assert len([t for t in tiles if not t.endswith("member")]) == 64 - PER_PAGE
    assert _grid(client, "?page=99")[1].count("Page 2 of 2") == 1  # clamped to the last


def test_filters_narrow_the_grid(world: World) -> None:
    client = world.client("ana")
    _, known = _grid(client, "?verdict=known")
    assert "3 items match" in known
    assert sorted(_tiles(known)) == sorted(
        ["stack:T-1", "item:img-001.jpg member", "item:img-002.jpg member", "item:img-003.jpg"]
    )
    _, series = _grid(client, "?series=T-1")  # one series asked for: its items, not a stack
    assert sorted(_tiles(series)) == ["item:img-001.jpg", "item:img-002.jpg"]
    _, category = _grid(client, "?category=B&verdict=")
    assert "3 items match" in category
    _, videos = _grid(client, "?type=video")
    assert "No items match these filters." in videos and _tiles(videos) == []
    _, faces = _grid(client, "?face=yes")  # only PDQ was computed: nothing has faces
    assert "0 items match" in faces
    _, no_text = _grid(client, "?text=no&verdict=new")
    assert "62 items match" in no_text
    status, bad = _grid(client, "?verdict=awful")
    assert status == 422 and "no verdict" in bad


def test_the_service_builds_only_the_page_asked_for(world: World) -> None:
    view = triage_view(world.ana, SOURCE, TriageFilter(verdict=Verdict.NEW, page=2))
    assert view.matched == 62 and view.pages == 2 and view.page == 2
    assert len(view.tiles) == 2 and view.counts["known"] == 3
    assert [t.kind for t in view.tiles] == ["item", "item"]


def test_a_vote_shows_on_its_tile(world: World) -> None:
    sha = world.sha["img-003.jpg"]
    vote_category(world.ana, sha, KEY_SCHEME, "C")
    _, page = _grid(world.client("ana"), "?verdict=known")
    tile = page[page.index(f'data-sha="{sha}"') :]
    assert "your vote: C" in tile[: tile.index("</li>")]


def test_a_source_of_another_agency_reads_as_missing(world: World) -> None:
    bea = world.client("bea")
    status, page = _grid(bea)
    assert status == 404 and "no source named" in page
    assert bea.get("/sources/nothing-here/triage").status_code == 404
    listing = bea.get("/sources").text
    assert SOURCE not in listing and "You see no sources yet." in listing
    ana = world.client("ana")
    listing = ana.get("/sources").text
    assert f'href="/sources/{SOURCE}/triage"' in listing
    assert f'hx-get="/sources/{SOURCE}/counts"' in listing
    counts = ana.get(f"/sources/{SOURCE}/counts").text
    assert re.search(r"verdict-new\">new</span> 62", counts)
    assert "<html" not in counts  # a fragment, not a page
    assert bea.get(f"/sources/{SOURCE}/counts").status_code == 404


def test_a_hostile_file_name_is_shown_as_text(world: World) -> None:
    _, page = _grid(world.client("ana"))
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in page
    assert "<img src=x" not in page


def test_a_viewer_gets_no_editing_controls(world: World) -> None:
    _, page = _grid(world.client("vera"))
    assert 'data-can-edit="false"' in page and "data-toolbar" not in page
    _, page = _grid(world.client("ana"))
    assert 'data-can-edit="true"' in page and "data-toolbar" in page


def test_reviewed_tiles_say_so_and_the_filter_hides_them(world: World) -> None:
    shas = [world.sha["img-010.jpg"], world.sha["img-011.jpg"]]
    mark_reviewed(world.ana, shas)
    client = world.client("ana")
    _, page = _grid(client, "?verdict=new")
    for sha in shas:
        tag = page[page.rindex("<li", 0, page.index(f'data-sha="{sha}"')) :]
        tile = tag[: tag.index("</li>")]
        assert 'data-reviewed="true"' in tile and " reviewed" in tile.split(">")[0]
        assert re.search(r"data-reviewed-mark>reviewed</span>", tile)
        assert "img-0" in tile and ", reviewed" in tile.split(">")[0]  # in the tile's name
    assert page.count('data-reviewed="true"') == 2
    assert 'name="unreviewed" value="yes">' in page  # the filter, not ticked
    _, left = _grid(client, "?verdict=new&unreviewed=yes")
    assert "60 items match" in left and not any(f'data-sha="{s}"' in left for s in shas)
    assert 'value="yes" checked' in left and "data-mark-reviewed" in left
    status, bad = _grid(client, "?unreviewed=maybe")
    assert status == 422 and "must be yes or no" in bad
    mark_reviewed(world.ana, shas, False)
    _, again = _grid(client, "?verdict=new&unreviewed=yes")
    assert "62 items match" in again


def test_an_agency_with_its_own_scheme_sees_its_keys_and_votes_in_it(world: World) -> None:
    grades = ["7=VII=Grade VII <b>", "8=VIII=Grade VIII", "0=none=Not indecent"]
    set_agency_scheme(world.root, "Met", "MET-GRADES", grades)
    try:
        client = world.client("ana")
        _, page = _grid(client, "?verdict=new")
        legend = page[page.index("data-category-keys") :]
        legend = legend[: legend.index("</ul>")]
        keys = re.findall(
            r'<li data-key="(\d)" data-category="([^"]*)"><kbd>\d</kbd> ([^<]*)</li>', legend
        )
        assert keys == [
            ("7", "VII", "Grade VII &lt;b&gt;"),
            ("8", "VIII", "Grade VIII"),
            ("0", "none", "Not indecent"),
        ]
        assert "Categories (MET-GRADES)" in page and 'data-scheme="MET-GRADES"' in page
        assert '<option value="VIII">VIII</option>' in page  # the category filter offers it
        # What the keys send (the grid's scheme) is what the tile shows as the vote.
        scheme = re.search(r'data-triage data-scheme="([^"]*)"', page)
        assert scheme is not None and scheme[1] == "MET-GRADES"
        sha = world.sha["img-020.jpg"]
        vote_category(world.ana, sha, KEY_SCHEME, "A")  # another scheme's vote: not shown
        vote_category(world.ana, sha, scheme[1], "VIII")
        _, page = _grid(client, "?verdict=new")
        tile = page[page.index(f'data-sha="{sha}"') :]
        assert "your vote: VIII" in tile[: tile.index("</li>")]
        view = triage_view(world.ana, SOURCE, TriageFilter(verdict=Verdict.NEW))
        assert view.scheme.name == "MET-GRADES" and view.categories[:3] == ["VII", "VIII", "none"]
    finally:
        set_agency_scheme(world.root, "Met", KEY_SCHEME, [*DEFAULT_CATEGORIES])
    _, page = _grid(world.client("ana"), "?verdict=new")
    assert 'data-key="1" data-category="A"' in page and "VIII" not in page
