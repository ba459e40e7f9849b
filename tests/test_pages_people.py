"""The people pages over a real app: person cards a page at a time, one person's faces with
the media and case they are in, face crops veiled unless revealed, and no controls (and no
decisions) for a viewer.

Person candidates are synthetic (faces of made-up vectors in pictures without pixels, as the
people use-case tests make them), plus one face in a real ingested picture so that its crop
can be cut from the sealed preview.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt
import pyotp
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from tests.api_support import API, PASSWORD, Api, api_over
from tests.conftest import write_jpeg
from tests.test_service_people import DIM, add_picture, faces_of
from vident.config import Settings
from vident.service.audit import list_events
from vident.service.cases import add_case
from vident.service.people import FACE_SIDE, _scaled_box, cluster_people
from vident.service.sessions import login
from vident.service.sources import ingest_source
from vident.signals.base import SignalValue
from vident.signals.registry import get
from vident.store.db import Store, upgrade
from vident.store.derived import write_signals
from vident.store.models import Face, Media, Person
from vident.web.auth import COOKIE
from vident.web.pages.people import PAGE_SIZE, window

HOSTILE = '<img src=x onerror="alert(1)">'
#: Synthetic persons made besides the one in the real picture: more than a page of cards.
SYNTHETIC = PAGE_SIZE + 3


@dataclass
class Site:
    """The app with SYNTHETIC one-face persons in source PEOPLE-SYN, a two-face person ``pair``
    (PEOPLE-PAIR) and person ``real``, whose face ``face`` is in the ingested picture ``sha``
    of source PEOPLE-REAL (case Op Faces)."""

    api: Api
    pages: dict[str, TestClient]
    real: int
    face: int
    sha: str
    pair: int

    def get(self, username: str, path: str) -> httpx.Response:
        response: httpx.Response = self.pages[username].get(path, follow_redirects=False)
        return response

    def post(self, username: str, path: str, body: object = None) -> httpx.Response:
        response: httpx.Response = self.api.client.post(
            f"{API}{path}", json=body, headers=self.api.bearer(username)
        )
        return response


def _lone_vector() -> npt.NDArray[np.float32]:
    """A face vector far from every synthetic person's (clustering leaves it alone)."""
    vector = np.random.default_rng(4242).standard_normal(DIM).astype(np.float32)
    unit: npt.NDArray[np.float32] = vector / np.linalg.norm(vector)
    return unit


def _real_face(api: Api, root: Path) -> tuple[int, int, str]:
    """A person with one face (box 200,100,160x200) in an ingested 640x480 picture."""
    add_case(api.ctx, "Op Faces")
    picture = write_jpeg(root / "real" / "face.jpg", 5)
    ingest_source(api.ctx, picture.parent, "PEOPLE-REAL", case="Op Faces", signals=("pdq",))
    detail = {"faces": [{"box": [200, 100, 160, 200], "landmarks": None, "score": 1.0}]}
    value = SignalValue(
        kind="face",
        version=1,
        value=_lone_vector().tobytes(),
        model=get("face").model,
        detail=detail,
    )
    with api.ctx.store.session() as session:
        media = session.scalars(select(Media)).one()
        write_signals(session, [(media.id, value)])
        person = Person(model=get("face").model)
        session.add(person)
        session.flush()
        face = session.scalars(select(Face).where(Face.media_id == media.id)).one()
        face.person_id = person.id
        return person.id, face.id, media.sha256.hex()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("people")
    data = root / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'vident.db'}"
    store = Store(url)
    upgrade(store.engine)
    store.dispose()
    with api_over(Settings(data=data, db=url, workers=1)) as api:
        real, face, sha = _real_face(api, root)
        with api.ctx.store.session() as session:
            for n in range(SYNTHETIC):
                person = Person(model=get("face").model)
                session.add(person)
                session.flush()
                made = add_picture(session, "PEOPLE-SYN", faces_of(n % 8, 1)[0])
                session.get_one(Face, made).person_id = person.id
            pair = Person(model=get("face").model)
            session.add(pair)
            session.flush()
            for vector in faces_of(3, 2):
                made = add_picture(session, "PEOPLE-PAIR", vector)
                session.get_one(Face, made).person_id = pair.id
            pair_id = pair.id
        pages: dict[str, TestClient] = {}
        for username in ("ana", "vera"):
            code = pyotp.TOTP(api.secrets[username]).now()
            opened = login(api.ctx, username, PASSWORD, code)
            client = api.client_for("http://127.0.0.1")
            client.cookies.set(COOKIE, opened.secret)
            pages[username] = client
        yield Site(api, pages, real, face, sha, pair_id)


def ok(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    return response.text


def cards(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li class="person-card[^"]*" id="person-(\d+)"', page)]


def test_a_page_window_and_a_face_box_scaled_into_the_preview() -> None:
    assert window([], 5)[1].pages == 1
    # a 1000x500 picture shown as 320x160: the box keeps a quarter of its size around it
    assert _scaled_box((100, 100, 200, 100), (1000, 500), (320, 160)) == (16, 24, 112, 72)
    # a box at the very edge stays inside the rendition and is never empty
    assert _scaled_box((990, 490, 10, 10), (1000, 500), (320, 160)) == (316, 156, 320, 160)
    assert _scaled_box((5000, 5000, 1, 1), (1000, 500), (320, 160)) == (319, 159, 320, 160)


def test_people_are_shown_as_face_cards_a_page_at_a_time(site: Site) -> None:
    first = ok(site.get("ana", "/people"))
    shown = cards(first)
    assert len(shown) == PAGE_SIZE
    assert 'rel="next"' in first and 'href="/people?page=2"' in first
    assert 'rel="prev"' not in first
    second = cards(ok(site.get("ana", "/people?page=2")))
    assert len(second) == SYNTHETIC + 2 - PAGE_SIZE
    assert shown[0] == site.pair  # most faces first
    assert not set(shown) & set(second)
    assert site.real in shown + second
    assert cards(ok(site.get("ana", "/people?page=99"))) == second  # past the end: the last
    # a face is a veiled crop, never the picture's path
    assert f'src="/api/v1/faces/{site.face}/preview"' in first + ok(
        site.get("ana", "/people?page=2")
    )
    assert "face.jpg" not in first
    assert site.get("ana", "/people?page=0").status_code == 422


def test_a_person_page_follows_each_face_to_its_media_source_and_case(site: Site) -> None:
    page = ok(site.get("ana", f"/people/{site.real}"))
    assert f'href="/media/{site.sha}"' in page
    assert "PEOPLE-REAL" in page and "Op Faces" in page
    assert f'src="/api/v1/faces/{site.face}/preview"' in page
    listing = ok(site.get("ana", "/people?page=2")) + ok(site.get("ana", "/people"))
    card = listing.split(f'id="person-{site.real}"')[1].split('class="person-card')[0]
    assert "Op Faces" in card and "PEOPLE-REAL" in card
    pair = ok(site.get("ana", f"/people/{site.pair}"))
    assert len(re.findall(r"Similarity to the others \d\.\d\d<", pair)) == 2
    assert "PEOPLE-PAIR" in pair
    missing = site.get("ana", "/people/999999")
    assert missing.status_code == 404 and 'role="alert"' in missing.text


def test_an_analyst_gets_controls_and_a_viewer_none_and_is_refused(site: Site) -> None:
    page = ok(site.get("ana", "/people"))
    assert 'draggable="true"' in page and "data-merge=" in page
    assert "data-label-form=" in page and "data-move-selected" in page
    assert "/reject" in page and "/confirm" in page
    for path in ("/people", f"/people/{site.real}"):
        seen = ok(site.get("vera", path))
        for control in ("draggable", "data-merge", "data-label-form", "data-pick", "data-api"):
            assert control not in seen, (path, control)
        assert f"/api/v1/faces/{site.face}/preview" in seen  # she may still look
    refused = site.post("vera", f"/people/{site.real}/label", {"label": "V-1"})
    assert refused.status_code == 403
    assert site.post("vera", f"/faces/{site.face}/reject").status_code == 403


def test_a_label_shows_as_text_and_decisions_survive_reclustering(site: Site) -> None:
    assert site.post("ana", f"/people/{site.real}/label", {"label": HOSTILE}).status_code == 200
    assert site.post("ana", f"/people/{site.real}/confirm").status_code == 200
    cluster_people(site.api.ctx, again=True)
    page = ok(site.get("ana", f"/people/{site.real}"))
    assert html.escape(HOSTILE, quote=False) in page.replace("&#34;", '"')
    assert HOSTILE not in page
    assert "confirmed" in page and f"/api/v1/people/{site.real}/confirm" not in page
    cleared = site.post("ana", f"/people/{site.real}/label", {"label": None})
    assert cleared.status_code == 200 and cleared.json()["label"] is None


def _jpeg(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "no-store"
    with Image.open(io.BytesIO(response.content)) as opened:
        opened.load()
        return opened.copy()


def test_a_face_crop_is_veiled_unless_revealed_and_a_reveal_is_audited(site: Site) -> None:
    client = site.pages["vera"]
    veiled = _jpeg(client.get(f"{API}/faces/{site.face}/preview"))
    shown = _jpeg(client.get(f"{API}/faces/{site.face}/preview", params={"reveal": "true"}))
    assert veiled.mode == "L" and shown.mode == "RGB"
    # the box (160x200 with a quarter around it: 240x300) cut out, then scaled to 160 px
    assert shown.size == (round(FACE_SIDE * 240 / 300), FACE_SIDE) == veiled.size
    reveals = list_events(site.api.ctx, action="face.reveal", actor="vera").events
    assert [e.target for e in reveals] == [str(site.face)]
    missing = client.get(f"{API}/faces/999999/preview")
    assert missing.status_code == 404
    # a face in a picture without a sealed preview: NotFound, never a crash
    synthetic = site.get("ana", "/people").text
    other = re.findall(r'data-face="(\d+)"', synthetic)
    lacking = next(f for f in other if int(f) != site.face)
    assert client.get(f"{API}/faces/{lacking}/preview").status_code == 404
