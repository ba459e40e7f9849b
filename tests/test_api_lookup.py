"""Search by hash and similar by region through the REST API, on both stores.

A stored media asked about by its SHA-256 gets the answer an upload of its file gets; a
region of an uploaded picture is compared on its own, as the command line's region does.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import Image

from tests.api_support import API, PASSWORD, Api, api_over, problem
from tests.conftest import jpeg_bytes, write_jpeg
from vident.config import Settings
from vident.service.agencies import add_agency, agency_by_name
from vident.service.context import Context, Principal, PrincipalKind, Role
from vident.service.sources import ingest_source
from vident.service.tokens import create_token
from vident.service.users import add_user


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


@pytest.fixture
def seized(api: Api, tmp_path: Path) -> Path:
    """Two pictures in source EX1; EX2 holds a copy of the first under another name."""
    first, second = tmp_path / "ex1", tmp_path / "ex2"
    for seed in (1, 2):
        write_jpeg(first / f"p{seed}.jpg", seed)
    second.mkdir()
    (second / "copy.jpg").write_bytes((first / "p1.jpg").read_bytes())
    ingest_source(api.ctx, first, "EX1", workers=1, signals=("pdq",))
    ingest_source(api.ctx, second, "EX2", workers=1, signals=("pdq",))
    return first


def test_a_stored_media_asked_by_hash_answers_as_a_search_of_its_file(
    api: Api, seized: Path
) -> None:
    picture = (seized / "p1.jpg").read_bytes()
    sha = hashlib.sha256(picture).hexdigest()
    found = api.client.get(f"{API}/media/{sha.upper()}", headers=api.bearer("vera"))
    assert found.status_code == 200, found.text
    body = found.json()
    searched = api.client.post(
        f"{API}/search",
        files={"file": ("p1.jpg", picture, "image/jpeg")},
        headers=api.bearer("vera"),
    ).json()
    for key in ("sha256", "type", "verdict", "error", "matches"):
        assert body[key] == searched[key], key
    assert body["verdict"] == "known" and body["sha256"] == sha
    assert body["file"] == "p1.jpg" and body["sources"] == ["EX1", "EX2"]
    assert (body["size"], body["mime"], body["width"], body["height"]) == (
        len(picture),
        "image/jpeg",
        640,
        480,
    )
    seen = {(o["source"], o["path"]) for m in body["matches"] for o in m["occurrences"]}
    assert seen == {("EX1", "p1.jpg"), ("EX2", "copy.jpg")}

    unknown = api.client.get(f"{API}/media/{'ab' * 32}", headers=api.bearer("vera"))
    assert "no stored media has SHA-256" in str(problem(unknown, 404)["detail"])
    assert problem(api.client.get(f"{API}/media/{'ab' * 31}", headers=api.bearer("vera")), 422)
    assert problem(api.client.get(f"{API}/media/not-hex", headers=api.bearer("vera")), 422)
    assert problem(api.client.get(f"{API}/media/{sha}", headers=api.bearer("aud")), 403)


def _side_by_side(left: bytes, right: bytes) -> bytes:
    """One picture holding two: ``left`` in the left half, ``right`` in the right half."""
    first, second = Image.open(io.BytesIO(left)), Image.open(io.BytesIO(right))
    canvas = Image.new("RGB", (first.width + second.width, max(first.height, second.height)))
    canvas.paste(first, (0, 0))
    canvas.paste(second, (first.width, 0))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=95)
    return out.getvalue()


def test_similar_by_a_region_compares_only_that_part(api: Api, seized: Path) -> None:
    picture = (seized / "p1.jpg").read_bytes()
    sha = hashlib.sha256(picture).hexdigest()
    files = {"file": ("pair.jpg", _side_by_side(jpeg_bytes(7), picture), "image/jpeg")}

    def similar(**params: int) -> list[str]:
        answer = api.client.post(
            f"{API}/similar",
            params={"by": "pdq", "top": 5, **params},
            files=files,
            headers=api.bearer("ana"),
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["query"]["path"] == "pair.jpg"
        return [str(r["sha256"]) for r in answer.json()["results"]]

    assert sha not in similar()  # the whole picture is not the stored one...
    assert similar(x=640, y=0, w=640, h=480)[:1] == [sha]  # ...its right half is
    assert sha not in similar(x=0, y=0, w=640, h=480)

    partial = api.client.post(
        f"{API}/similar", params={"x": 0, "y": 0}, files=files, headers=api.bearer("ana")
    )
    assert "x, y, w and h" in str(problem(partial, 422)["detail"])
    outside = api.client.post(
        f"{API}/similar",
        params={"x": 5000, "y": 5000, "w": 10, "h": 10},
        files=files,
        headers=api.bearer("ana"),
    )
    assert "lies outside the 1280x480 picture" in str(problem(outside, 422)["detail"])
    empty = api.client.post(
        f"{API}/similar",
        params={"x": 0, "y": 0, "w": 0, "h": 10},
        files=files,
        headers=api.bearer("ana"),
    )
    assert problem(empty, 422)


def test_search_by_hash_shows_only_what_the_callers_agency_sees(api: Api, tmp_path: Path) -> None:
    """Met's case is Met's own: another agency finds the shared copy, never Met's places."""
    open_folder, met_folder = tmp_path / "open", tmp_path / "met"
    shared = write_jpeg(open_folder / "shared.jpg", 1).read_bytes()
    (met_folder / "copy.jpg").parent.mkdir()
    (met_folder / "copy.jpg").write_bytes(shared)
    own = write_jpeg(met_folder / "own.jpg", 2).read_bytes()
    ingest_source(api.ctx, open_folder, "OPEN", workers=1, signals=("pdq",))
    met = Principal(
        name="ana",
        kind=PrincipalKind.USER,
        role=Role.ANALYST,
        agency_id=agency_by_name(api.ctx, "Met").id,
    )
    met_ctx = Context(settings=api.ctx.settings, store=api.ctx.store, principal=met)
    ingest_source(met_ctx, met_folder, "MET-1", case="Op Met", workers=1, signals=("pdq",))
    add_agency(api.ctx, "BKA", "DE")
    add_user(api.ctx, "bea", "BKA", Role.ANALYST, date.today() + timedelta(days=9), PASSWORD)
    bea = {"Authorization": f"Bearer {create_token(api.ctx, 'bea', 'bea', 1).secret}"}

    shared_sha = hashlib.sha256(shared).hexdigest()
    at_met = api.client.get(f"{API}/media/{shared_sha}", headers=api.bearer("ana")).json()
    assert at_met["sources"] == ["OPEN", "MET-1"]
    elsewhere = api.client.get(f"{API}/media/{shared_sha}", headers=bea)
    assert elsewhere.status_code == 200, elsewhere.text
    body = elsewhere.json()
    assert (body["sources"], body["file"], body["verdict"]) == (["OPEN"], "shared.jpg", "known")
    assert "MET-1" not in elsewhere.text and "copy.jpg" not in elsewhere.text

    own_sha = hashlib.sha256(own).hexdigest()
    assert api.client.get(f"{API}/media/{own_sha}", headers=api.bearer("ana")).status_code == 200
    hidden = problem(api.client.get(f"{API}/media/{own_sha}", headers=bea), 404)
    missing = problem(api.client.get(f"{API}/media/{'cd' * 32}", headers=bea), 404)
    assert hidden["detail"] == str(missing["detail"]).replace("cd" * 32, own_sha)
