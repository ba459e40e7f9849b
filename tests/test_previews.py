"""Server-made previews with wellbeing defaults, on SQLite and PostgreSQL.

Pictures are ingested through the service, previews fetched through the REST API: veiled
(greyscale, blurred) unless revealed, each reveal audited, sealed at rest, never cached, and
only for callers who may see the media.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageChops, ImageFilter, ImageStat

from tests.api_support import API, PASSWORD, Api, api_over, problem
from tests.conftest import jpeg_bytes, write_jpeg
from tests.helpers_media import photo_like
from vident.config import Settings
from vident.security.crypto import Keyring
from vident.service.agencies import add_agency
from vident.service.audit import list_events
from vident.service.context import Principal, PrincipalKind, Role, open_context
from vident.service.sources import ingest_source
from vident.service.tokens import create_token
from vident.service.users import add_user
from vident.store.previews import preview_path

UNTIL = date.today() + timedelta(days=30)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _get(api: Api, sha: str, user: str = "vera", reveal: bool | None = None) -> httpx.Response:
    params = {"reveal": str(reveal).lower()} if reveal is not None else None
    response: httpx.Response = api.client.get(
        f"{API}/media/{sha}/preview", params=params, headers=api.bearer(user)
    )
    return response


def _picture(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "no-store"
    assert response.content[:2] == b"\xff\xd8"
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image.convert("RGB")


def _colour_spread(image: Image.Image) -> int:
    """The largest difference between two colour channels of any pixel (0 for grey)."""
    red, green, blue = image.split()
    return max(
        int(ImageStat.Stat(ImageChops.difference(a, b)).extrema[0][1])
        for a, b in ((red, green), (green, blue), (red, blue))
    )


def _edges(image: Image.Image) -> float:
    """High-frequency energy: variance of an edge filter inside the picture (the filter's
    own border, where it meets the picture's edge, is left out)."""
    edges = image.convert("L").filter(ImageFilter.FIND_EDGES)
    inside = edges.crop((4, 4, edges.width - 4, edges.height - 4))
    return float(ImageStat.Stat(inside).var[0])


def test_a_preview_is_veiled_until_revealed_and_each_reveal_is_audited(
    api: Api, tmp_path: Path
) -> None:
    seizure = tmp_path / "seizure"
    sha = _sha(write_jpeg(seizure / "a.jpg", 11, size=(1280, 960)))
    done = ingest_source(api.ctx, seizure, "EX1", workers=1, signals=("pdq",))
    assert done.files == 1 and done.notes == []

    veiled = _picture(_get(api, sha))
    assert veiled.size == (320, 240)
    assert _colour_spread(veiled) <= 2
    revealed = _picture(_get(api, sha, reveal=True))
    assert revealed.size == (320, 240)
    assert _colour_spread(revealed) > 40
    assert _edges(veiled) * 20 < _edges(revealed)
    assert _picture(_get(api, sha, reveal=False)).tobytes() == veiled.tobytes()

    reveals = list_events(api.ctx, action="media.reveal").events
    assert [(e.actor, e.target, e.outcome) for e in reveals] == [("vera", sha, "ok")]
    views = list_events(api.ctx, action="media.preview", actor="vera").events
    assert [(e.target, e.outcome) for e in views] == [(sha, "ok"), (sha, "ok")]


def test_the_preview_is_sealed_at_rest_and_bound_to_its_media(api: Api, tmp_path: Path) -> None:
    seizure = tmp_path / "seizure"
    first = _sha(write_jpeg(seizure / "a.jpg", 12))
    second = _sha(write_jpeg(seizure / "b.jpg", 13))
    ingest_source(api.ctx, seizure, "EX1", workers=1, signals=("pdq",))
    data = api.ctx.settings.data
    stored = preview_path(data, bytes.fromhex(first))
    assert stored == data / "previews" / first[:2] / f"{first}.sealed"
    assert stored.stat().st_mode & 0o777 == 0o600
    sealed = stored.read_bytes()
    plain = _get(api, first, reveal=True).content
    assert not sealed.startswith(b"\xff\xd8") and b"JFIF" not in sealed
    assert all(plain[at : at + 32] not in sealed for at in range(0, len(plain) - 32, 512))

    # Copied over another media's preview, it does not open as that media's.
    preview_path(data, bytes.fromhex(second)).write_bytes(sealed)
    refused = problem(_get(api, second, reveal=True), 500)
    assert f"the preview of media {second} cannot be read" in str(refused["detail"])


def test_another_agency_gets_not_found(api: Api, settings: Settings, tmp_path: Path) -> None:
    met = add_agency(api.ctx, "MetX", "gb").id
    add_agency(api.ctx, "BKA", "de")
    analyst = add_user(api.ctx, "met_ana", "MetX", Role.ANALYST, UNTIL, PASSWORD).user
    add_user(api.ctx, "bka_vic", "BKA", Role.VIEWER, UNTIL, PASSWORD)
    api.tokens["bka_vic"] = create_token(api.ctx, "bka_vic", "t", 30, ["read"]).secret
    api.tokens["met_ana"] = create_token(api.ctx, "met_ana", "t", 30, ["read"]).secret
    principal = Principal(
        name="met_ana",
        kind=PrincipalKind.USER,
        role=Role.ANALYST,
        agency_id=met,
        user_id=analyst.id,
    )
    seizure = tmp_path / "seizure"
    sha = _sha(write_jpeg(seizure / "a.jpg", 14))
    ctx = open_context(settings, principal)
    try:
        ingest_source(ctx, seizure, "MET-1", case="Op Met", workers=1, signals=("pdq",))
    finally:
        ctx.close()

    assert _picture(_get(api, sha, user="met_ana", reveal=True)).size == (320, 240)
    missing = "0" * 64
    for reveal in (False, True):
        hidden = problem(_get(api, sha, user="bka_vic", reveal=reveal), 404)
        absent = problem(_get(api, missing, user="bka_vic", reveal=reveal), 404)
        assert hidden["detail"] == str(absent["detail"]).replace(missing, sha)
    reveals = list_events(api.ctx, action="media.reveal", actor="bka_vic").events
    assert [(e.target, e.outcome) for e in reveals] == [(sha, "failed"), (missing, "failed")]


def test_a_corrupt_file_keeps_its_item_without_a_preview(api: Api, tmp_path: Path) -> None:
    seizure = tmp_path / "seizure"
    good = _sha(write_jpeg(seizure / "good.jpg", 15))
    cut = seizure / "cut.jpg"
    cut.write_bytes(jpeg_bytes(16)[:3000])
    done = ingest_source(api.ctx, seizure, "EX1", workers=1, signals=("pdq",))
    assert done.files == 2 and done.errors == 1
    assert _get(api, good).status_code == 200
    body = problem(_get(api, _sha(cut)), 404)
    assert body["detail"] == f"no preview of media {_sha(cut)}: ingest the source again to make one"
    assert not preview_path(api.ctx.settings.data, bytes.fromhex(_sha(cut))).exists()


def test_a_rerun_makes_the_previews_that_are_missing(api: Api, tmp_path: Path) -> None:
    seizure = tmp_path / "seizure"
    shas = [_sha(write_jpeg(seizure / f"{i}.jpg", 20 + i)) for i in range(3)]
    ingest_source(api.ctx, seizure, "EX1", workers=1, signals=("pdq",))
    lost = preview_path(api.ctx.settings.data, bytes.fromhex(shas[1]))
    lost.unlink()
    assert problem(_get(api, shas[1]), 404)

    again = ingest_source(api.ctx, seizure, "EX1", workers=1, signals=("pdq",))
    assert (again.skipped, again.files, again.new_media) == (2, 1, 0)
    assert lost.stat().st_size > 0
    assert _picture(_get(api, shas[1])).size == (320, 240)
    finished = ingest_source(api.ctx, seizure, "EX1", workers=1, signals=("pdq",))
    assert (finished.skipped, finished.files) == (3, 0)


def test_without_the_keyring_ingest_goes_on_without_previews(api: Api, tmp_path: Path) -> None:
    data = api.ctx.settings.data
    Keyring.open(data, "a passphrase the ingest does not have")
    seizure = tmp_path / "seizure"
    sha = _sha(write_jpeg(seizure / "a.jpg", 30))
    done = ingest_source(api.ctx, seizure, "EX1", workers=1, signals=("pdq",))
    assert done.files == 1 and done.errors == 0 and done.new_media == 1
    assert len(done.notes) == 1
    assert done.notes[0].startswith("no previews made: the keyring could not be opened")
    assert not (data / "previews").exists()
    assert not preview_path(data, bytes.fromhex(sha)).exists()


def test_the_preview_is_upright_and_carries_no_metadata(api: Api, tmp_path: Path) -> None:
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: shown rotated a quarter turn
    exif[0x010F] = "SecretCam"
    photo_like(640, 480, 31).save(seizure / "side.jpg", "JPEG", exif=exif.tobytes())
    sha = _sha(seizure / "side.jpg")
    ingest_source(api.ctx, seizure, "EX1", workers=1, signals=("pdq",))
    response = _get(api, sha, reveal=True)
    assert _picture(response).size == (240, 320)
    assert b"SecretCam" not in response.content and b"Exif" not in response.content
