"""Videos get previews at ingest: a strip of veiled keyframes, sealed like pictures' previews.

A generated video of twelve distinct scenes (one keyframe each) is ingested through the
service; its strip holds eight keyframes evenly spread, each sealed for its media and frame
number, served through the REST API veiled (greyscale, blurred) unless revealed, each reveal
audited, and only to callers who may see the video. A rerun makes missing video previews.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from PIL import Image, ImageChops, ImageStat
from playwright.sync_api import Browser, expect

from tests.api_support import API, PASSWORD, Api, api_over, problem
from tests.helpers_media import photo_like
from tests.workspace import Workspace
from vident.config import Settings
from vident.media.preview import FrameStrip
from vident.media.types import DecodedImage
from vident.service.agencies import add_agency
from vident.service.audit import list_events
from vident.service.compare import media_facts
from vident.service.context import (
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.previews import frame_strip, preview_sealer
from vident.service.sources import ingest_source
from vident.service.tokens import create_token
from vident.service.triage import triage_source
from vident.service.users import add_user
from vident.store.previews import (
    frame_preview_path,
    frame_subject,
    preview_path,
    write_frame_preview,
)

SCENES = 12
UNTIL = date.today() + timedelta(days=30)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


def scenes_video(pictures: Sequence[Image.Image], rate: int = 10) -> bytes:
    """Each picture shown for one second, encoded with PyAV (MPEG-4 part 2) in an MP4."""
    width, height = pictures[0].size
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as output:
        stream = output.add_stream("mpeg4", rate=rate)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 4_000_000
        for index in range(len(pictures) * rate):
            pixels = np.asarray(pictures[index // rate].convert("RGB"))
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, rate)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()


def write_video(path: Path, scenes: int = SCENES, seed: int = 0) -> str:
    """A video of ``scenes`` unrelated colourful pictures; returns its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures = [photo_like(160, 120, seed * 100 + i) for i in range(scenes)]
    path.write_bytes(scenes_video(pictures))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _get(
    api: Api, sha: str, frame: int, user: str = "vera", reveal: bool | None = None
) -> httpx.Response:
    params = {"reveal": str(reveal).lower()} if reveal is not None else None
    response: httpx.Response = api.client.get(
        f"{API}/media/{sha}/frames/{frame}/preview", params=params, headers=api.bearer(user)
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
    red, green, blue = image.split()
    return max(
        int(ImageStat.Stat(ImageChops.difference(a, b)).extrema[0][1])
        for a, b in ((red, green), (green, blue), (red, blue))
    )


# --- the strip's choice of keyframes --------------------------------------------------------


def _decoded(seed: int) -> DecodedImage:
    return DecodedImage(pixels=photo_like(64, 48, seed), width=64, height=48, format="video")


@pytest.mark.parametrize("count", [1, 5, 8])
def test_a_strip_keeps_every_keyframe_of_a_short_video(count: int) -> None:
    strip = FrameStrip(8)
    for seq in range(1, count + 1):
        strip.add(seq * 3, _decoded(seq))
    chosen = strip.chosen()
    assert [seq for seq, _ in chosen] == [seq * 3 for seq in range(1, count + 1)]
    assert all(jpeg[:2] == b"\xff\xd8" for _, jpeg in chosen)
    assert strip.first() == chosen[0][1]


@pytest.mark.parametrize("count", [9, 16, 40, 300])
def test_a_strip_spreads_eight_keyframes_over_a_long_video(count: int) -> None:
    strip = FrameStrip(8)
    for seq in range(1, count + 1):
        strip.add(seq, _decoded(seq % 7))
    chosen = [seq for seq, _ in strip.chosen()]
    assert len(chosen) == 8 and chosen == sorted(chosen)
    assert chosen[0] == 1 and chosen[-1] >= count * 3 // 4
    gaps = [b - a for a, b in itertools.pairwise(chosen)]
    assert max(gaps) <= 2 * min(gaps) + 1, gaps  # evenly spread, not bunched at one end
    assert len(strip._kept) < 16  # never more than twice the strip is held


def test_an_empty_strip_has_no_preview() -> None:
    strip = FrameStrip()
    assert strip.first() is None and strip.chosen() == []


# --- ingest and the API ---------------------------------------------------------------------


def test_a_video_gets_a_sealed_strip_of_veiled_keyframes(api: Api, tmp_path: Path) -> None:
    seizure = tmp_path / "seizure"
    sha = write_video(seizure / "clip.mp4")
    done = ingest_source(api.ctx, seizure, "VID-1", workers=1, signals=("pdq",))
    assert done.files == 1 and done.errors == 0 and done.notes == []

    frames = frame_strip(api.ctx, sha).frames
    assert len(frames) == 8
    numbers = [f.frame for f in frames]
    times = [f.ts for f in frames]
    assert numbers == sorted(numbers) and times == sorted(times)
    assert times[0] < 1.0 and times[-1] > SCENES - 3  # first and last scenes, spread between
    data, digest = api.ctx.settings.data, bytes.fromhex(sha)
    for number in numbers:
        stored = frame_preview_path(data, digest, number)
        assert stored == data / "previews" / sha[:2] / f"{sha}-{number}.sealed"
        assert stored.stat().st_mode & 0o777 == 0o600
        sealed = stored.read_bytes()
        assert not sealed.startswith(b"\xff\xd8") and b"JFIF" not in sealed
    # The video's own preview (used by the tiles) is its first keyframe's.
    assert preview_path(data, digest).stat().st_size > 0
    whole = api.client.get(
        f"{API}/media/{sha}/preview", params={"reveal": "true"}, headers=api.bearer("vera")
    )
    first = _get(api, sha, numbers[0], reveal=True)
    assert whole.status_code == 200 and whole.content == first.content

    veiled = _picture(_get(api, sha, numbers[3]))
    revealed = _picture(_get(api, sha, numbers[3], reveal=True))
    assert veiled.size == revealed.size == (160, 120)
    assert _colour_spread(veiled) <= 2 and _colour_spread(revealed) > 40
    # Each keyframe is its own picture.
    other = _picture(_get(api, sha, numbers[4], reveal=True))
    assert ImageStat.Stat(ImageChops.difference(revealed, other)).mean[0] > 10

    reveals = list_events(api.ctx, action="media.reveal", actor="vera").events
    assert [(e.target, e.outcome) for e in reveals] == [(sha, "ok")] * 4
    views = list_events(api.ctx, action="media.preview", actor="vera").events
    assert [(e.target, e.outcome) for e in views] == [(sha, "ok")]

    # A frame without a preview, and a sealed frame moved onto another frame's name.
    unlisted = next(n for n in range(1, 100) if n not in numbers)
    body = problem(_get(api, sha, unlisted), 404)
    assert f"no preview of frame {unlisted} of media {sha}" in str(body["detail"])
    assert _get(api, sha, 0).status_code == 422
    moved = frame_preview_path(data, digest, numbers[0]).read_bytes()
    frame_preview_path(data, digest, numbers[1]).write_bytes(moved)
    refused = problem(_get(api, sha, numbers[1], reveal=True), 500)
    assert f"the preview of media {sha} cannot be read" in str(refused["detail"])
    # Nor does a frame's seal open as the video's own preview.
    preview_path(data, digest).write_bytes(moved)
    shown = api.client.get(f"{API}/media/{sha}/preview", headers=api.bearer("vera"))
    assert problem(shown, 500)


def test_another_agency_gets_not_found_for_a_keyframe(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    met = add_agency(api.ctx, "MetV", "gb").id
    add_agency(api.ctx, "BKA", "de")
    analyst = add_user(api.ctx, "met_ana", "MetV", Role.ANALYST, UNTIL, PASSWORD).user
    add_user(api.ctx, "bka_vic", "BKA", Role.VIEWER, UNTIL, PASSWORD)
    for name in ("met_ana", "bka_vic"):
        api.tokens[name] = create_token(api.ctx, name, "t", 30, ["read"]).secret
    principal = Principal(
        name="met_ana",
        kind=PrincipalKind.USER,
        role=Role.ANALYST,
        agency_id=met,
        user_id=analyst.id,
    )
    seizure = tmp_path / "seizure"
    sha = write_video(seizure / "clip.mp4", scenes=3, seed=1)
    ctx = open_context(settings, principal)
    try:
        ingest_source(ctx, seizure, "MET-V", case="Op MetV", workers=1, signals=("pdq",))
        number = frame_strip(ctx, sha).frames[0].frame
    finally:
        ctx.close()

    assert _picture(_get(api, sha, number, user="met_ana", reveal=True)).size == (160, 120)
    missing = "0" * 64
    for reveal in (False, True):
        hidden = problem(_get(api, sha, number, user="bka_vic", reveal=reveal), 404)
        absent = problem(_get(api, missing, number, user="bka_vic", reveal=reveal), 404)
        assert hidden["detail"] == str(absent["detail"]).replace(missing, sha)
    reveals = list_events(api.ctx, action="media.reveal", actor="bka_vic").events
    assert [(e.target, e.outcome) for e in reveals] == [(sha, "failed"), (missing, "failed")]
    # An auditor sees no material at all.
    assert problem(_get(api, sha, number, user="aud"), 403)


def test_a_rerun_makes_the_video_previews_that_are_missing(api: Api, tmp_path: Path) -> None:
    seizure = tmp_path / "seizure"
    sha = write_video(seizure / "clip.mp4", scenes=4, seed=2)
    (seizure / "still.jpg").write_bytes(_jpeg(3))
    ingest_source(api.ctx, seizure, "VID-R", workers=1, signals=("pdq",))
    data, digest = api.ctx.settings.data, bytes.fromhex(sha)
    numbers = [f.frame for f in frame_strip(api.ctx, sha).frames]
    assert len(numbers) == 4
    made = [frame_preview_path(data, digest, n) for n in numbers]
    kept = made[2].read_bytes()
    for path in [preview_path(data, digest), *made[:2]]:
        path.unlink()
    assert len(frame_strip(api.ctx, sha).frames) == 2

    again = ingest_source(api.ctx, seizure, "VID-R", workers=1, signals=("pdq",))
    assert (again.skipped, again.files, again.new_media) == (1, 1, 0)
    assert [f.frame for f in frame_strip(api.ctx, sha).frames] == numbers
    assert preview_path(data, digest).stat().st_size > 0
    assert made[2].read_bytes() == kept  # a preview still there is not written again
    finished = ingest_source(api.ctx, seizure, "VID-R", workers=1, signals=("pdq",))
    assert (finished.skipped, finished.files) == (2, 0)


def test_a_picture_has_no_strip(api: Api, tmp_path: Path) -> None:
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    (seizure / "a.jpg").write_bytes(_jpeg(4))
    sha = hashlib.sha256(_jpeg(4)).hexdigest()
    ingest_source(api.ctx, seizure, "PIC-1", workers=1, signals=("pdq",))
    assert frame_strip(api.ctx, sha).frames == []
    assert problem(_get(api, sha, 1), 404)


def _jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    photo_like(320, 240, seed).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


# --- the media page in a browser ------------------------------------------------------------


def _demo_video_with_a_strip(workspace: Workspace) -> str:
    """The demo seizure's video, its keyframe strip made when the workspace predates strips
    (sealed like ingest seals them, from generated renditions: the workspace's origin folder
    need not be reachable)."""
    settings = workspace.settings
    ctx = open_context(settings, local_operator(settings))
    try:
        items = triage_source(ctx, "demo-seizure").items
        video = next((i.sha256 for i in items if i.type == "video" and i.sha256), None)
        if video is None:
            pytest.skip("the demo workspace has no video (made without the corpus)")
        if not frame_strip(ctx, video).frames:
            seal, _ = preview_sealer(ctx)
            assert seal is not None
            digest = bytes.fromhex(video)
            keyframes = media_facts(ctx, video).keyframes[:3]
            assert keyframes, "the demo video has keyframes"
            for number, frame in enumerate(keyframes):
                jpeg = _jpeg(40 + number)
                sealed = seal(frame_subject(digest, frame.seq), jpeg)
                write_frame_preview(settings.data, digest, frame.seq, sealed)
        return video
    finally:
        ctx.close()


def test_each_keyframe_of_the_strip_is_revealed_on_its_own(
    browser: Browser, workspace: Workspace
) -> None:
    video = _demo_video_with_a_strip(workspace)
    with workspace.tab(browser, "ana") as tab:
        page = tab.page
        page.goto(f"/media/{video}")
        frames = page.locator("#frame-strip img")
        expect(frames).not_to_have_count(0)
        expect(page.locator("video[autoplay], #preview, #viewer")).to_have_count(0)
        count = frames.count()
        for index in range(count):
            expect(frames.nth(index)).to_have_js_property("complete", True)
            assert frames.nth(index).evaluate("img => img.naturalWidth") > 0
        first, button = frames.first, page.locator("#frame-strip button").first
        veiled = first.get_attribute("src") or ""
        assert re.fullmatch(rf"/api/v1/media/{video}/frames/\d+/preview", veiled)
        button.click()
        expect(first).to_have_attribute("src", veiled + "?reveal=true")
        expect(button).to_have_attribute("aria-pressed", "true")
        expect(page.locator(".strip-frame").first).to_have_class(re.compile("revealed"))
        expect(first).to_have_js_property("complete", True)
        assert first.evaluate("img => img.naturalWidth") > 0
        if count > 1:  # the others stay veiled
            assert "reveal" not in (frames.nth(1).get_attribute("src") or "")
        button.click()
        expect(first).to_have_attribute("src", veiled)
        expect(button).to_have_attribute("aria-pressed", "false")
        expect(page.locator("#frame-strip .frame-time").first).to_have_text(
            re.compile(r"^\d+(\.\d+)? s$")
        )
