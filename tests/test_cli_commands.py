"""Every command of the command line, run as a user runs it, checked by what it did.

Commands that write run on SQLite and on PostgreSQL; each test reads back the store (through
another command or straight from its tables), not only the exit status. People commands and
``related`` on faces are in ``test_cli_people.py``; a last test walks the command tree so that
a new command without a test here or there fails the suite.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from tests.conftest import _fresh_pg_database, transformed, write_jpeg
from vident import __version__
from vident.cli import app
from vident.demo.synthetic import photo_like

runner = CliRunner()
TESTS = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Env:
    """A data directory and, for PostgreSQL, the store URL: ``--data DIR [--db URL]``."""

    data: Path
    db: str | None

    def run(self, *args: str) -> Result:
        options = ["--data", str(self.data)] + (["--db", self.db] if self.db else [])
        return runner.invoke(app, [*options, *args])

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, f"vident {' '.join(args)}: {result.stderr}{result.exception}"
        return result

    def json(self, *args: str) -> dict[str, Any]:
        """The parsed ``--format json`` output of a command that must succeed."""
        payload = json.loads(self.ok(*args, "--format", "json").stdout)
        assert isinstance(payload, dict)
        return payload

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Rows straight from the store, to check what a command wrote."""
        if self.db is None:
            with sqlite3.connect(self.data / "vident.db") as connection:
                return list(connection.execute(query))
        engine = create_engine(self.db)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(query))]
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def bare(request: pytest.FixtureRequest, tmp_path: Path) -> Env:
    """A data directory not yet initialised and, for PostgreSQL, an empty database."""
    db = None
    if request.param == "postgresql":
        db = _fresh_pg_database(request.getfixturevalue("pg_server"))
    return Env(tmp_path / "data", db)


@pytest.fixture
def env(bare: Env) -> Env:
    """A store made by ``vident init`` on each backend."""
    bare.ok("init")
    return bare


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Env:
    """An initialised SQLite store, for commands that only read."""
    made = Env(tmp_path / "data", None)
    made.ok("init")
    return made


def _pictures(folder: Path, seeds: range) -> list[Path]:
    return [write_jpeg(folder / f"p{seed}.jpg", seed) for seed in seeds]


# --- global options and init --------------------------------------------------------------


def test_version_prints_the_package_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"vident {__version__}\n"


def test_init_makes_a_current_store_and_a_second_init_keeps_its_data(
    bare: Env, tmp_path: Path
) -> None:
    from vident.store.db import head_revision

    assert "vident store ready" in bare.ok("init").stdout
    assert bare.sql("SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert (bare.data / "index").is_dir()
    assert (bare.data / "vident.db").exists() == (bare.db is None)  # PostgreSQL: no SQLite file

    listing = tmp_path / "known.txt"
    listing.write_text(hashlib.md5(b"one").hexdigest() + "\n")
    bare.ok("hashset", "import", str(listing), "--name", "kept", "--quiet")
    assert "vident store ready" in bare.ok("init").stdout
    assert bare.sql("SELECT count(*) FROM hashset_entry") == [(1,)]


# --- hash sets ------------------------------------------------------------------------------


def test_hashset_import_stores_every_row_and_list_counts_them(env: Env, tmp_path: Path) -> None:
    known = tmp_path / "national.csv"
    with known.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["md5", "sha1", "sha256", "category", "series"])
        for n in range(3):
            body = f"picture {n}".encode()
            writer.writerow(
                [
                    hashlib.md5(body).hexdigest(),
                    hashlib.sha1(body).hexdigest(),
                    hashlib.sha256(body).hexdigest(),
                    "1",
                    f"S-{n}",
                ]
            )
        writer.writerow(["not-hex", "", "", "", ""])
    result = env.ok("hashset", "import", str(known), "--name", "national", "--quiet")
    assert "'national': 3 records read, 3 new entries, 1 rejected" in result.stdout
    assert env.sql("SELECT count(*) FROM hashset_entry") == [(3,)]
    series = env.sql("SELECT series FROM hashset_entry ORDER BY series")
    assert series == [("S-0",), ("S-1",), ("S-2",)]

    again = env.ok("hashset", "import", str(known), "--name", "national", "--quiet")
    assert "3 new entries" not in again.stdout and "0 new entries" in again.stdout
    assert env.sql("SELECT count(*) FROM hashset_entry") == [(3,)]

    listed = env.ok("hashset", "list").stdout
    row = next(line for line in listed.splitlines() if "national" in line)
    assert re.search(r"national\s*│\s*3\s*│\s*csv", row), listed


# --- ingest, sources, triage, index rebuild -----------------------------------------------


def test_ingest_sources_triage_and_index_rebuild(env: Env, tmp_path: Path) -> None:
    seizure = tmp_path / "ex7"
    _pictures(seizure, range(3))
    (seizure / "notes.jpg").write_text("a text file named as a picture")
    args = ("ingest", str(seizure), "--source", "EX7", "--case", "OP-BLUE")
    first = env.ok(*args, "--signals", "pdq", "--workers", "1")
    assert "4 files ingested (4 new media, 1 errors), 0 already done" in first.stderr
    assert "notes.jpg" in first.stderr and "next: vident triage --source EX7" in first.stderr
    assert env.sql("SELECT count(*), count(error) FROM occurrence") == [(4, 1)]
    assert env.sql("SELECT name FROM case_file") == [("OP-BLUE",)]
    assert env.sql("SELECT count(*) FROM signal WHERE kind = 'pdq'")[0][0] >= 3

    rerun = env.ok(*args, "--signals", "pdq", "--workers", "1")
    assert "0 files ingested (0 new media, 0 errors), 4 already done" in rerun.stderr
    assert env.sql("SELECT count(*) FROM occurrence") == [(4,)]

    table = env.ok("sources").stdout
    row = next(line for line in table.splitlines() if "EX7" in line)
    assert re.search(r"EX7\s*│\s*4\s*│\s*1\s*│\s*complete", row), table

    report = env.json("triage", "--source", "EX7")
    assert report["counts"] == {"known": 0, "near": 0, "related": 0, "new": 3, "error": 1}

    shutil.rmtree(env.data / "index")
    rebuilt = env.ok("index", "rebuild").stdout
    assert "index pdq: 3 entries" in rebuilt
    assert (env.data / "index").is_dir() and any((env.data / "index").iterdir())
    # The rebuilt index answers: a grey copy of a stored picture is found near it.
    probe = transformed(seizure / "p1.jpg", tmp_path / "probe.jpg", "grey")
    found = env.json("search", str(probe))
    near = [m for m in found["matches"] if m["signal"] == "pdq"]
    assert near and near[0]["occurrences"] == [{"source": "EX7", "path": "p1.jpg"}]


# --- compare and connect (read-only: one backend) ------------------------------------------


def test_similar_and_related_by_pdq(sqlite_env: Env, tmp_path: Path) -> None:
    env = sqlite_env
    reference = _pictures(tmp_path / "ref", range(3))
    env.ok("ingest", str(tmp_path / "ref"), "--source", "ref", "--signals", "pdq", "--quiet")
    later = tmp_path / "later"
    transformed(reference[2], later / "copy.jpg", "flip")
    env.ok("ingest", str(later), "--source", "later", "--signals", "pdq", "--quiet")

    found = env.json("similar", str(later / "copy.jpg"), "--by", "pdq")
    assert found["query"]["path"] == str(later / "copy.jpg")
    first = found["results"][0]
    assert (first["path"], first["source"], first["by"]) == ("p2.jpg", "ref", "pdq")
    assert "p2.jpg" in env.ok("similar", str(later / "copy.jpg"), "--by", "pdq").stdout

    stranger = write_jpeg(tmp_path / "stranger.jpg", 77)
    alone = env.ok("similar", str(stranger), "--by", "pdq").stdout
    assert "nothing similar in the store" in alone

    sha = env.json("triage", "--source", "later")["items"][0]["sha256"]
    related = env.json("related", sha)
    assert [(r["path"], r["source"], r["by"]) for r in related["results"]] == [
        ("p2.jpg", "ref", "pdq")
    ]
    assert "p2.jpg" in env.ok("related", sha).stdout
    lonely = env.json("triage", "--source", "ref")["items"]
    p0 = next(i["sha256"] for i in lonely if i["path"] == "p0.jpg")
    assert "no strong link to any other media" in env.ok("related", p0).stdout


def _sign(words: str, seed: int) -> Image.Image:
    """A photo-like picture with a light plate of dark words on it, like a street sign."""
    picture = photo_like(640, 480, seed)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=36)
    left, top, right, bottom = draw.textbbox((0, 0), words, font=font)
    x, y = 60, 200
    plate = (x - 10, y - 10, x + right - left + 10, y + bottom - top + 12)
    draw.rectangle(plate, fill=(240, 240, 240))
    draw.text((x - left, y - top), words, font=font, fill=(15, 15, 25))
    return picture


def test_text_finds_words_read_from_ingested_pictures(sqlite_env: Env, tmp_path: Path) -> None:
    env = sqlite_env
    signs = tmp_path / "signs"
    signs.mkdir()
    _sign("LINCOLN HIGH SCHOOL", 3).save(signs / "school.png")
    _sign("NIGHT PHARMACY", 4).save(signs / "pharmacy.png")
    env.ok("ingest", str(signs), "--source", "signs", "--signals", "text", "--quiet")

    school = env.json("text", "lincoln school")
    assert school["query"] == "lincoln school"
    assert [(r["path"], r["source"]) for r in school["results"]] == [("school.png", "signs")]
    assert "LINCOLN" in school["results"][0]["snippet"].upper()
    prefix = env.json("text", "pharm*")
    assert [r["path"] for r in prefix["results"]] == ["pharmacy.png"]
    assert "school.png" in env.ok("text", "high school").stdout
    assert "no recognised text matches 'zebra'" in env.ok("text", "zebra").stdout


# --- every command is covered ---------------------------------------------------------------


def _command_paths() -> Iterator[tuple[str, ...]]:
    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        subcommands = getattr(command, "commands", {})
        if path and (not subcommands or getattr(command, "invoke_without_command", False)):
            yield path
        for name, sub in subcommands.items():
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


def test_every_command_is_run_by_some_test() -> None:
    """A command no test runs through the command line is a command nobody checked.

    Each command's words must appear as consecutive string arguments (``"people", "merge"``)
    in some test module, the way the tests above and ``test_cli_people.py`` call them.
    """
    sources = "\n".join(p.read_text() for p in sorted(TESTS.glob("test_*.py")))
    missing = []
    for path in _command_paths():
        pattern = r",\s*".join(f'"{re.escape(word)}"' for word in path)
        if not re.search(pattern, sources):
            missing.append(" ".join(path))
    assert len(list(_command_paths())) >= 22
    assert missing == [], f"no test runs: {missing}"
