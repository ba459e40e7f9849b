"""The multi-user load test at a tiny size, on a real PostgreSQL: it must prove its own claims.

A few clients for a few seconds while a small second ingest runs: every operation of the mix
is exercised, no request errors, every acknowledged write reads back from the store, and the
second source lists every file written for it. A check that a lost write would fail is in
the second test: the bench's read-back, given a write the store never saw, reports it.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from bench import load_pg
from sqlalchemy import create_engine, text

from vident.config import Settings
from vident.service.context import local_operator, open_context
from vident.service.people import list_people, show_person
from vident.store.db import Store

pytestmark = pytest.mark.postgres

#: Requests the API serves at once: anyio's default thread limiter, which Starlette uses.
API_THREADS = 40

TINY = load_pg.Plan(
    clients=4, seconds=5.0, photos=3, faces=6, analysts=2, alone=1, repeats=1, second_min=10
)


def _database(server: str, name: str) -> str:
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


def test_a_tiny_load_run_loses_nothing(pg_server: str, tmp_path: Path) -> None:
    url = _database(pg_server, "vident_load_tiny")
    outcome = load_pg.run_on(url, tmp_path, TINY, say=lambda _line: None)
    assert outcome.problems == []
    rows = {row.operation: row for row in outcome.rows}
    assert set(rows) == set(load_pg.OPERATIONS)
    for row in rows.values():
        assert row.requests > 0, f"{row.operation} never ran under load"
        assert row.errors == 0
        assert row.p95_ms >= row.p50_ms > 0
    assert all(rows[op].alone_p50_ms for op in rows if op != f"triage {load_pg.SECOND}")
    assert outcome.second_listed == outcome.second_files >= TINY.second_min
    assert min(outcome.writes.values()) > 0
    # The read-back is real: a label and a note the store never took are reported lost.
    settings = Settings(data=tmp_path / "data", db=url)
    ctx = open_context(settings, local_operator(settings))
    try:
        people = list_people(ctx).people
        ledger = load_pg.Ledger()
        ledger.labels[people[0].id] = [(0.0, 1.0, "never-sent")]
        ledger.notes[show_person(ctx, people[0].id).faces[0].media_id] = ["never"]
        lost = load_pg._check(ctx, ledger)
    finally:
        ctx.close()
    assert len(lost) == 2
    assert "never-sent" in lost[0] and "1 notes lost" in lost[1]


def test_the_api_s_threads_all_get_a_connection_at_once(pg_server: str) -> None:
    """The API runs up to 40 requests at once (Starlette's thread pool) on one engine; with
    SQLAlchemy's default pool of 15 the 16th waited 30 s and the request failed with a 500."""
    store = Store(_database(pg_server, "vident_load_pool"))
    with ExitStack() as held:
        connections = [held.enter_context(store.engine.connect()) for _ in range(API_THREADS)]
        assert all(c.execute(text("select 1")).scalar() == 1 for c in connections)
    store.dispose()


def test_the_command_says_in_one_line_why_it_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m bench.load_pg`` without face pictures: exit status 1 and one line, no
    traceback (the throwaway server and folder are removed on the way out)."""
    monkeypatch.setenv("VIDENT_CORPUS", str(tmp_path / "nowhere"))
    assert load_pg.main(["--quick", "--clients", "2", "--seconds", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no face pictures under") and "\n" not in err
