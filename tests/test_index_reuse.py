"""The API keeps its indexes open between requests and still answers what a fresh open would.

Opening every index for every request cost most of a search's time, so the server shares one
:class:`~vident.index.catalog.SharedIndexes` between requests and catches it up with the store
at each use. These tests hold it to that: requests share one set of indexes, media ingested
between two requests (in this process, or uploaded as a job) is found by the second, and
requests from many threads during an ingest neither fail nor add any row twice. On SQLite and
PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.api_support import API, Api, api_over
from tests.conftest import transformed, write_jpeg
from tests.test_api_jobs import _upload, _wait, _zip
from vident.config import Settings
from vident.index import catalog
from vident.index.catalog import Indexes, SharedIndexes
from vident.service import context as context_module
from vident.service.context import Context, local_operator, open_context
from vident.service.similar import find_similar_media
from vident.service.sources import ingest_source
from vident.service.triage import triage_source
from vident.signals.registry import get
from vident.store.models import Media, Signal

PDQ = ("pdq",)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every opening of the indexes from disk, whoever asks for it."""
    calls: list[int] = []
    real = catalog.open_indexes

    def counting(session: Session, settings: Settings) -> Indexes:
        calls.append(1)
        return real(session, settings)

    monkeypatch.setattr(catalog, "open_indexes", counting)
    monkeypatch.setattr(context_module, "open_indexes", counting)
    return calls


def _pictures(folder: Path, seeds: range) -> Path:
    for seed in seeds:
        write_jpeg(folder / f"p{seed}.jpg", seed)
    return folder


def _similar(api: Api, picture: Path, by: str, user: str = "ana") -> list[str]:
    files = {"file": (picture.name, picture.read_bytes(), "image/jpeg")}
    response = api.client.post(
        f"{API}/similar", params={"by": by}, files=files, headers=api.bearer(user)
    )
    assert response.status_code == 200, response.text
    return [str(r["sha256"]) for r in response.json()["results"]]


def _search(api: Api, picture: Path, user: str = "vera") -> dict[str, object]:
    files = {"file": (picture.name, picture.read_bytes(), "image/jpeg")}
    response = api.client.post(f"{API}/search", files=files, headers=api.bearer(user))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _holds_each_pdq_row_once(api: Api) -> None:
    """The shared PDQ index holds every stored PDQ row once (none of these generated pictures
    is below the quality floor, and no hash set is loaded)."""
    kind = get("pdq")
    with api.ctx.store.reader() as session:
        stored = session.scalar(
            select(func.count())
            .select_from(Signal)
            .where(Signal.kind == kind.name, Signal.version == kind.version)
        )
        shared = api.app.state.vident.indexes.get(session, api.ctx.settings)
        assert stored and len(shared.near["pdq"]) == stored


def test_requests_share_one_set_of_indexes(api: Api, tmp_path: Path, opened: list[int]) -> None:
    folder = _pictures(tmp_path / "ex1", range(2))
    ingest_source(api.ctx, folder, "EX1", workers=1, signals=PDQ)
    queries = [
        transformed(folder / f"p{n}.jpg", tmp_path / "q" / f"g{n}.jpg", "grey") for n in (0, 1)
    ]
    first, second = (_similar(api, query, "pdq") for query in queries)
    assert len(first) == len(second) == 1 and first != second
    triage = api.client.get(f"{API}/sources/EX1/triage", headers=api.bearer("vera"))
    assert triage.status_code == 200
    assert len(opened) == 1  # three requests, the indexes read from disk once

    state = api.app.state.vident
    with api.ctx.store.reader() as session:
        shared = state.indexes.get(session, api.ctx.settings)
        assert shared.sync(session) == 0  # nothing new: nothing added
    one = Context(api.ctx.settings, api.ctx.store, api.ctx.principal, shared_indexes=state.indexes)
    two = Context(api.ctx.settings, api.ctx.store, api.ctx.principal, shared_indexes=state.indexes)
    with api.ctx.store.reader() as session:
        assert one.indexes(session) is two.indexes(session) is shared
    assert len(opened) == 1


def test_a_command_context_still_opens_its_own(settings: Settings, opened: list[int]) -> None:
    ctx = open_context(settings, local_operator(settings))
    try:
        with ctx.store.reader() as session:
            assert ctx.indexes(session) is ctx.indexes(session)  # once per context
        other = open_context(settings, local_operator(settings))
        with other.store.reader() as session:
            other.indexes(session)
        other.close()
    finally:
        ctx.close()
    assert len(opened) == 2


def test_media_ingested_between_requests_is_found(api: Api, tmp_path: Path) -> None:
    first = _pictures(tmp_path / "ex1", range(2))
    ingest_source(api.ctx, first, "EX1", workers=1, signals=PDQ)
    later = _pictures(tmp_path / "ex2", range(10, 12))
    query = transformed(later / "p10.jpg", tmp_path / "q" / "grey10.jpg", "grey")
    assert _similar(api, query, "pdq") == []  # the shared indexes are open now
    assert _search(api, query)["verdict"] == "new"

    ingest_source(api.ctx, later, "EX2", workers=1, signals=PDQ)

    found = _similar(api, query, "pdq")
    assert len(found) == 1  # p10 itself, and nothing twice
    searched = _search(api, query)
    assert searched["verdict"] == "near" and searched["sha256"] != found[0]
    _holds_each_pdq_row_once(api)


def test_scene_neighbours_ingested_between_requests_are_found(api: Api, tmp_path: Path) -> None:
    signals = ("pdq", "scene")
    ingest_source(api.ctx, _pictures(tmp_path / "ex1", range(2)), "EX1", signals=signals)
    later = _pictures(tmp_path / "ex2", range(20, 21))
    query = transformed(later / "p20.jpg", tmp_path / "q" / "flip20.jpg", "flip")
    before = _similar(api, query, "scene")

    ingest_source(api.ctx, later, "EX2", workers=1, signals=signals)

    after = _similar(api, query, "scene")
    with api.ctx.store.reader() as session:
        sha = session.scalar(
            select(Media.sha256).where(Media.sha256.not_in([bytes.fromhex(s) for s in before]))
        )
    assert sha is not None and sha.hex() not in before
    assert after[0] == sha.hex()  # the new picture, first
    assert sorted(after) == sorted([*before, sha.hex()])


def test_a_job_uploaded_between_requests_is_found(api: Api, tmp_path: Path) -> None:
    folder = tmp_path / "up"
    assert _similar(api, write_jpeg(folder / "q.jpg", 31), "pdq") == []
    accepted = _upload(api.client, api.bearer("ana"), _zip(range(31, 33), broken=False), "UP-1")
    assert accepted.status_code == 202, accepted.text
    assert _wait(api.client, accepted.json()["id"], api.bearer("ana"))["status"] == "done"
    query = transformed(folder / "q.jpg", folder / "grey.jpg", "grey")
    # One media (found by PDQ and, as every signal was computed, by verified local features).
    assert len(set(_similar(api, query, "pdq"))) == 1
    triage = api.client.get(f"{API}/sources/UP-1/triage", headers=api.bearer("vera"))
    assert triage.status_code == 200 and triage.json()["counts"]["new"] == 2


def test_concurrent_requests_during_an_ingest(api: Api, tmp_path: Path) -> None:
    ingest_source(api.ctx, _pictures(tmp_path / "ex1", range(3)), "EX1", workers=1, signals=PDQ)
    later = _pictures(tmp_path / "ex2", range(40, 46))
    query = transformed(later / "p40.jpg", tmp_path / "q" / "grey40.jpg", "grey")
    errors: list[BaseException] = []
    stop = threading.Event()

    def keep_asking(ask: Callable[[], object]) -> None:
        try:
            while not stop.is_set():
                ask()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    asks: list[Callable[[], object]] = [
        lambda: _similar(api, query, "pdq"),
        lambda: _search(api, query),
        lambda: api.client.get(f"{API}/sources/EX1/triage", headers=api.bearer("vera")),
        lambda: find_similar_media(
            Context(
                api.ctx.settings,
                api.ctx.store,
                api.ctx.principal,
                shared_indexes=api.app.state.vident.indexes,
            ),
            query,
            by="pdq",
        ),
    ]
    threads = [threading.Thread(target=keep_asking, args=(ask,)) for ask in asks * 2]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        ingest_source(api.ctx, later, "EX2", workers=1, signals=PDQ)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert not errors, errors
    assert len(_similar(api, query, "pdq")) == 1  # found once: no row was added twice
    _holds_each_pdq_row_once(api)
    assert triage_source(api.ctx, "EX2").counts["new"] == 6


def test_each_data_directory_has_its_own_indexes(settings: Settings, tmp_path: Path) -> None:
    shared = SharedIndexes()
    other = settings.model_copy(update={"data": tmp_path / "elsewhere"})
    ctx = open_context(settings, local_operator(settings))
    try:
        with ctx.store.reader() as session:
            here = shared.get(session, settings)
            there = shared.get(session, other)
            assert here is not there
            assert shared.get(session, settings) is here and shared.get(session, other) is there
    finally:
        ctx.close()
