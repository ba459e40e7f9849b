"""The media detail and compare pages over HTTP, and the compare API route.

A Met seizure holds a reduced copy (under a hostile name, with hostile EXIF) of a picture
Met stored before, and an unrelated picture; BKA holds its own. The detail page must show the
facts as text (never markup), link the copy to its original and to the compare page, offer a
clue only to those who may record one, and answer another agency's media as missing; the
compare page carries the matched keypoints for its script in a data attribute.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from PIL import Image
from PIL.ExifTags import Base

from tests.conftest import write_jpeg
from tests.test_video_previews import write_video
from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.context import (
    Context,
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.sessions import login
from vident.service.sources import ingest_source
from vident.service.store_admin import init_store
from vident.service.users import add_user
from vident.web.app import create_app
from vident.web.auth import COOKIE

PASSWORD = "a fine long password for media pages"
UNTIL = date.today() + timedelta(days=30)
HOSTILE_NAME = "<svg onload=alert('name')>.jpg"
HOSTILE_MAKE = "<img src=x onerror=alert('exif')>"
HOSTILE_VIDEO = "<img src=x onerror=alert('video')>.mp4"
PEOPLE = {"ana": ("Met", Role.ANALYST), "vera": ("Met", Role.VIEWER), "bea": ("BKA", Role.ANALYST)}


@dataclass
class World:
    settings: Settings
    root: Context
    totp: dict[str, str]
    sha: dict[str, str]  # file name -> SHA-256
    #: username -> session secret: a one-time code signs in once, so sessions are kept.
    sessions: dict[str, str] = field(default_factory=dict)

    def client(self, username: str) -> TestClient:
        if username not in self.sessions:
            code = pyotp.TOTP(self.totp[username]).now()
            self.sessions[username] = login(self.root, username, PASSWORD, code).secret
        client = TestClient(create_app(self.settings), base_url="http://127.0.0.1")
        client.cookies.set(COOKIE, self.sessions[username])
        return client


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("media-pages")
    settings = Settings(data=tmp / "data", workers=1)
    init_store(settings)
    root = open_context(settings, local_operator(settings))
    ids = {name: add_agency(root, name, c).id for name, c in (("Met", "GB"), ("BKA", "DE"))}
    totp = {}
    for username, (agency, role) in PEOPLE.items():
        enrolment = add_user(root, username, agency, role, UNTIL, PASSWORD)
        totp[username] = enrolment.totp_uri.split("secret=")[1].split("&")[0]
    seizure = tmp / "seizure"
    original = write_jpeg(tmp / "earlier" / "original.jpg", 7)
    exif = Image.Exif()
    exif[Base.Make] = HOSTILE_MAKE
    exif[Base.Model] = "<b>model</b>"
    with Image.open(original) as opened:
        buffer = io.BytesIO()
        opened.resize((320, 240)).save(buffer, "JPEG", quality=92, exif=exif.tobytes())
    seizure.mkdir()
    (seizure / HOSTILE_NAME).write_bytes(buffer.getvalue())
    write_jpeg(seizure / "other.jpg", 33)
    write_jpeg(tmp / "bka" / "bka.jpg", 44)
    video = write_video(tmp / "video" / HOSTILE_VIDEO, scenes=10, seed=5)
    signals = ("pdq", "keypoints")
    for who, folder, source, case in (
        ("ana", tmp / "earlier", "MET-E", "Op Met"),
        ("ana", seizure, "MET-M", "Op Met"),
        ("ana", tmp / "video", "MET-V", "Op Met"),
        ("bea", tmp / "bka", "BKA-M", "Op BKA"),
    ):
        agency = PEOPLE[who][0]
        principal = Principal(
            name=who, kind=PrincipalKind.USER, role=Role.ANALYST, agency_id=ids[agency]
        )
        ctx = open_context(settings, principal)
        ingest_source(ctx, folder, source, case=case, signals=signals, workers=1)
        ctx.close()
    sha = {p.name: _digest(p) for p in [*seizure.iterdir(), original, tmp / "bka" / "bka.jpg"]}
    sha[HOSTILE_VIDEO] = video
    yield World(settings, root, totp, sha)
    root.close()


def test_the_detail_page_shows_facts_as_text_and_links_the_original(world: World) -> None:
    crop, original = world.sha[HOSTILE_NAME], world.sha["original.jpg"]
    response = world.client("ana").get(f"/media/{crop}")
    assert response.status_code == 200, response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    assert 'class="verdict verdict-near"' in page
    # Hostile file name and EXIF only ever as text.
    assert "<svg onload" not in page and "<img src=x" not in page and "<b>" not in page
    assert str(escape(HOSTILE_NAME)) in page and str(escape(HOSTILE_MAKE)) in page
    assert "&lt;b&gt;model&lt;/b&gt;" in page
    # The original it was cropped from, its detail page and the compare page.
    assert f'href="/media/{original}"' in page
    assert f'href="/compare?a={crop}&amp;b={original}"' in page
    for kind in ("MD5", "SHA1", "SHA256", "PDQ"):
        assert f'<th scope="row">{kind}</th>' in page
    assert f'<td class="hash">{crop}</td>' in page
    assert "MET-M" in page  # where it was seen
    # A veiled preview, and the box form with a clue for an analyst.
    assert f'src="/api/v1/media/{crop}/preview"' in page and "?reveal" not in page
    assert 'id="region"' in page and 'id="clue-add"' in page


def test_a_videos_page_lists_its_keyframes_veiled_with_their_times(world: World) -> None:
    video = world.sha[HOSTILE_VIDEO]
    response = world.client("vera").get(f"/media/{video}")
    assert response.status_code == 200, response.text
    page = response.text
    assert "<img src=x" not in page and str(escape(HOSTILE_VIDEO)) in page
    strip = page.split('id="frame-strip"', 1)[1].split("</ol>", 1)[0]
    frames = re.findall(r'<img id="frame-(\d+)" data-frame-src="([^"]+)"', strip)
    assert len(frames) == 8
    for number, src in frames:
        assert src == f"/api/v1/media/{video}/frames/{number}/preview"
        assert f'src="{src}"' in strip and f'data-reveal-frame="frame-{number}"' in strip
    times = [float(t) for t in re.findall(r'class="frame-time">([\d.]+) s<', strip)]
    assert len(times) == 8 and times == sorted(times) and times[-1] > 6
    # Veiled, no player, no zoomable picture viewer; the frames answer veiled JPEGs.
    assert "?reveal" not in page and "<video" not in page and 'id="viewer"' not in page
    first = world.client("vera").get(frames[0][1])
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    assert world.client("bea").get(f"/media/{video}").status_code == 404
    assert world.client("bea").get(frames[0][1]).status_code == 404


def test_a_viewer_may_search_a_box_but_not_record_a_clue(world: World) -> None:
    page = world.client("vera").get(f"/media/{world.sha[HOSTILE_NAME]}").text
    assert 'id="region-search"' in page and 'id="clue-add"' not in page


def test_the_compare_page_carries_the_matched_keypoints(world: World) -> None:
    crop, original = world.sha[HOSTILE_NAME], world.sha["original.jpg"]
    response = world.client("ana").get(f"/compare?a={crop}&b={original}")
    assert response.status_code == 200, response.text
    page = response.text
    found = re.search(r"data-drawing='([^']*)'", page)
    assert found is not None
    drawing = json.loads(html.unescape(found[1]))
    assert drawing["a_size"] == [320, 240] and drawing["b_size"] == [320, 240]
    assert len(drawing["pairs"]) >= 15 and all(len(p) == 4 for p in drawing["pairs"])
    assert 'id="relation">duplicate<' in page
    assert 'data-reveal="img-a"' in page and 'data-reveal="img-b"' in page
    assert "<svg onload" not in page
    unrelated = world.client("ana").get(f"/compare?a={world.sha['other.jpg']}&b={original}")
    assert unrelated.status_code == 200 and "not verified" in unrelated.text


def test_another_agencys_media_is_missing_and_bad_asks_are_explained(world: World) -> None:
    crop, original = world.sha[HOSTILE_NAME], world.sha["original.jpg"]
    bea = world.client("bea")
    for path in (f"/media/{crop}", f"/compare?a={world.sha['bka.jpg']}&b={original}"):
        response = bea.get(path)
        assert response.status_code == 404 and "no stored media" in response.text
        assert "MET-" not in response.text and "Op Met" not in response.text
    ana = world.client("ana")
    assert ana.get("/compare?a=" + crop).status_code == 422
    assert ana.get("/media/not-a-hash").status_code == 422
    stranger = TestClient(create_app(world.settings), base_url="http://127.0.0.1")
    moved = stranger.get(f"/media/{crop}", follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"].startswith("/login?next=")


def test_the_compare_api_route_answers_json_for_seen_media_only(world: World) -> None:
    crop, original = world.sha[HOSTILE_NAME], world.sha["original.jpg"]
    response = world.client("ana").get("/api/v1/compare", params={"a": crop, "b": original})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["relation"] == "duplicate" and body["inliers"] >= 15
    assert body["a"] == crop and body["b"] == original and len(body["pairs"]) >= 15
    assert set(body["pairs"][0]) == {"a", "b"} and isinstance(body["pdq_distance"], int)
    hidden = world.client("bea").get("/api/v1/compare", params={"a": crop, "b": original})
    assert hidden.status_code == 404
    assert hidden.headers["content-type"] == "application/problem+json"
