"""``vident init`` killed while migrating loses nothing, and the next ``init`` finishes the job.

The kills are real: SIGKILL to a process running the upgrade, either at a chosen SQL statement
(a listener kills its own process right before the statement runs) or at a random moment of a
real ``vident init``.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from vident.store.db import (
    SCHEMA_REVISION,
    Store,
    alembic_config,
    current_revision,
    include_object,
)
from vident.store.metadata import metadata

VIDENT = Path(sys.executable).parent / "vident"

#: Runs the upgrade of the store at argv[1] and SIGKILLs itself right before the first SQL
#: statement that contains argv[2].
KILL_AT_STATEMENT = """
import os, signal, sys
from sqlalchemy import event
from vident.store.db import Store, upgrade

store = Store(f"sqlite:///{sys.argv[1]}")

@event.listens_for(store.engine, "before_cursor_execute")
def _die(conn, cursor, statement, parameters, context, executemany):
    if sys.argv[2] in statement:
        os.kill(os.getpid(), signal.SIGKILL)

upgrade(store.engine)
"""


def _store_at_0001(path: Path) -> None:
    """A store of the first release holding one media with one signal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{path}")
    command.upgrade(alembic_config(store.engine), "0001")
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO media (id, sha256, size, media_type, created_at) "
                "VALUES (1, x'00', 1, 'image', '2026-01-01')"
            )
        )
        connection.execute(
            text("INSERT INTO signal (media_id, kind, version, value) VALUES (1, 'md5', 1, x'01')")
        )
    store.dispose()


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in rows}


def _init(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VIDENT), "--data", str(data), "init"], capture_output=True, text=True, timeout=120
    )


def _assert_complete_and_intact(path: Path) -> None:
    """At the newest schema, exactly the models, the old rows kept, the file sound."""
    store = Store(f"sqlite:///{path}")
    assert current_revision(store.engine) == SCHEMA_REVISION
    with store.engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"include_object": include_object}),
            metadata,
        )
        assert diff == []
        assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        row = connection.execute(text("SELECT media_id, kind, frame, model FROM signal")).one()
        assert tuple(row) == (1, "md5", 0, "")
    store.dispose()
    assert not [name for name in _tables(path) if name.startswith("_alembic_tmp_")]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO _alembic_tmp_signal",  # halfway through rebuilding the signal table
        "CREATE TABLE face",  # signal rebuilt, new tables being made
        "CREATE VIRTUAL TABLE media_text_fts",  # the last step of the migration
        "UPDATE alembic_version",  # everything done but the version stamp
    ],
)
def test_init_killed_at_a_statement_leaves_the_old_store(tmp_path: Path, statement: str) -> None:
    data = tmp_path / "data"
    db = data / "vident.db"
    _store_at_0001(db)
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AT_STATEMENT, str(db), statement],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    # Nothing of the interrupted migration is visible: the store is the first release's.
    store = Store(f"sqlite:///{db}")
    assert current_revision(store.engine) == "0001"
    store.dispose()
    assert not [name for name in _tables(db) if name.startswith("_alembic_tmp_")]
    assert "face" not in _tables(db)

    done = _init(data)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    _assert_complete_and_intact(db)


def test_init_clears_what_an_older_vident_left_behind(tmp_path: Path) -> None:
    """A store an earlier release left at 0001 with its batch copy table still there."""
    data = tmp_path / "data"
    db = data / "vident.db"
    _store_at_0001(db)
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE _alembic_tmp_signal (id INTEGER NOT NULL PRIMARY KEY)")
    done = _init(data)
    assert done.returncode == 0, done.stderr
    _assert_complete_and_intact(db)


def test_init_clears_a_first_migration_that_never_got_its_version(tmp_path: Path) -> None:
    """An earlier release killed during its very first init left empty tables, no version."""
    data = tmp_path / "data"
    db = data / "vident.db"
    data.mkdir()
    store = Store(f"sqlite:///{db}")
    command.upgrade(alembic_config(store.engine), "0001")
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
        connection.execute(text("DROP TABLE occurrence"))  # killed before the last table
    store.dispose()
    done = _init(data)
    assert done.returncode == 0, done.stderr
    store = Store(f"sqlite:///{db}")
    assert current_revision(store.engine) == SCHEMA_REVISION
    store.dispose()


def test_init_killed_at_random_moments(tmp_path: Path) -> None:
    """SIGKILL a real ``vident init`` at random moments, a few times; the last one finishes."""
    data = tmp_path / "data"
    db = data / "vident.db"
    _store_at_0001(db)
    started = time.monotonic()
    probe = _init(tmp_path / "probe")  # how long a whole init takes here
    assert probe.returncode == 0, probe.stderr
    whole = time.monotonic() - started
    chance = random.Random(20261206)
    for _ in range(4):
        process = subprocess.Popen(
            [str(VIDENT), "--data", str(data), "init"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(chance.uniform(0.3, 1.0) * whole)
        process.kill()
        _, stderr = process.communicate(timeout=60)
        assert b"Traceback" not in stderr
        store = Store(f"sqlite:///{db}")
        assert current_revision(store.engine) in ("0001", SCHEMA_REVISION)
        store.dispose()
        assert not [name for name in _tables(db) if name.startswith("_alembic_tmp_")]
    done = _init(data)
    assert done.returncode == 0, done.stderr
    _assert_complete_and_intact(db)
