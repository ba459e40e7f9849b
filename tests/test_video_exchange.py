"""Videos between instances, by vPDQ: a re-encoded copy of a shared video is `near`.

Country A shares a video internationally; the hub learns it with its frame hashes. Country B
holds a re-encoded copy (other bytes, the same pictures): its triage calls it `near` with a
`vpdq` reason naming `peer:country-a`, both after a pull and through a remote match, while
an unrelated video stays `new`. Single frames never stand for the video (kind `vpdq`, not
`pdq`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser import live_server
from tests.test_video_previews import scenes_video
from vident.config import Settings
from vident.demo.synthetic import photo_like
from vident.service.agencies import add_agency
from vident.service.cases import add_case
from vident.service.context import Context, local_operator, open_context
from vident.service.exchange_sync import match_source, sync_peer
from vident.service.peers import add_peer, instance_identity
from vident.service.sources import ingest_source
from vident.service.store_admin import init_store
from vident.service.triage import triage_source
from vident.web.app import create_app

SCENES = [photo_like(160, 120, 7_000 + i) for i in range(6)]


@dataclass
class Pair:
    a: Context
    b: Context
    tmp: Path


def _instance(tmp: Path, name: str) -> Context:
    settings = Settings(data=tmp / name)
    init_store(settings, name=name)
    return open_context(settings, local_operator(settings))


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    hub_settings = Settings(data=tmp_path / "hub")
    init_store(hub_settings, name="hub")
    hub = open_context(hub_settings, local_operator(hub_settings))
    a, b = _instance(tmp_path, "country-a"), _instance(tmp_path, "country-b")
    with live_server(create_app(hub_settings)) as url:
        hub_key = instance_identity(hub).key
        for national in (a, b):
            me = instance_identity(national)
            add_peer(hub, me.name, "http://127.0.0.1:9", me.key, role="national")
            add_peer(national, "hub", url, hub_key)
        yield Pair(a, b, tmp_path)
    for ctx in (hub, a, b):
        ctx.close()


def _seizure(folder: Path, name: str, video: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(video)
    return folder


def _verdict(ctx: Context, source: str, path: str) -> tuple[str, list[dict[str, object]]]:
    item = next(i for i in triage_source(ctx, source).items if i.path == path)
    return item.verdict, [r.model_dump() for r in item.reasons]


def test_a_reencoded_copy_of_a_shared_video_is_near(pair: Pair) -> None:
    add_agency(pair.a, "Kripo Berlin", "DE")
    add_case(pair.a, "op-video", agency="Kripo Berlin", sharing="international")
    original = scenes_video(SCENES, rate=10)
    folder = _seizure(pair.tmp / "seized-a", "clip.mp4", original)
    ingest_source(pair.a, folder, "A1", case="op-video", workers=1, signals=("pdq",))
    sync_peer(pair.a, "hub")

    copy = scenes_video(SCENES, rate=12)  # re-encoded: other bytes, the same pictures
    assert copy != original
    other = scenes_video([photo_like(160, 120, 9_000 + i) for i in range(6)], rate=10)
    folder_b = _seizure(pair.tmp / "seized-b", "copy.mp4", copy)
    (folder_b / "other.mp4").write_bytes(other)
    ingest_source(pair.b, folder_b, "B1", workers=1, signals=("pdq",))
    assert _verdict(pair.b, "B1", "copy.mp4")[0] == "new"

    matched = match_source(pair.b, "B1", "hub")
    assert matched.videos == 2 and matched.matches >= 1
    verdict, reasons = _verdict(pair.b, "B1", "copy.mp4")
    assert verdict == "near"
    assert reasons[0]["signal"] == "vpdq" and reasons[0]["hashset"] == "peer:country-a"
    assert _verdict(pair.b, "B1", "other.mp4")[0] == "new"


def test_a_pulled_video_record_carries_its_frames(pair: Pair) -> None:
    add_agency(pair.a, "Kripo Berlin", "DE")
    add_case(pair.a, "op-video", agency="Kripo Berlin", sharing="international")
    folder = _seizure(pair.tmp / "seized-a", "clip.mp4", scenes_video(SCENES, rate=10))
    ingest_source(pair.a, folder, "A1", case="op-video", workers=1, signals=("pdq",))
    sync_peer(pair.a, "hub")
    pulled = sync_peer(pair.b, "hub")
    assert pulled.pulled_result.added == 1
    folder_b = _seizure(pair.tmp / "seized-b", "copy.mp4", scenes_video(SCENES, rate=12))
    ingest_source(pair.b, folder_b, "B1", workers=1, signals=("pdq",))
    verdict, reasons = _verdict(pair.b, "B1", "copy.mp4")
    assert verdict == "near"
    assert {r["signal"] for r in reasons} == {"vpdq"}
    assert reasons[0]["hashset"] == "peer:country-a"
