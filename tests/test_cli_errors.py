"""Every failure a user can cause is one line on stderr, exit status 1, and changes nothing.

The commands run as a user runs them (typer's runner, exceptions not caught by the runner), so
a traceback fails the test instead of being swallowed.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import write_jpeg
from vident.cli import app

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def one_line_error(outcome: tuple[int, str, str], *expected: str) -> str:
    """Assert the outcome is a one-line error naming ``expected``; returns the line."""
    code, out, err = outcome
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert code == 1, (code, out, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


@pytest.fixture
def initialised(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    assert run("--data", str(data), "init")[0] == 0
    return data


def _truncated_store(path: Path) -> None:
    data = path.parent
    assert run("--data", str(data), "init")[0] == 0
    for leftover in data.glob("vident.db-*"):
        leftover.unlink()
    path.write_bytes(path.read_bytes()[:5000])


def _random_bytes(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(64 * 1024))


@pytest.mark.parametrize("damage", [_random_bytes, _truncated_store], ids=["random", "truncated"])
@pytest.mark.parametrize("command", ["init", "sources", "triage"])
def test_damaged_store_is_reported_and_left_alone(
    tmp_path: Path, damage: object, command: str
) -> None:
    store = tmp_path / "data" / "vident.db"
    damage(store)  # type: ignore[operator]
    before = store.read_bytes()
    args = ["triage", "--source", "s"] if command == "triage" else [command]
    line = one_line_error(run("--data", str(store.parent), *args), str(store), "damaged")
    assert "backup" in line
    assert store.read_bytes() == before


def test_a_file_that_is_not_a_database_given_as_store(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database at all\n" * 100)
    for command in ("init", "sources"):
        one_line_error(run("--db", f"sqlite:///{notes}", command), str(notes), "not a vident store")
    assert notes.read_text() == "not a database at all\n" * 100


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nonsense", "not a store URL"),
        ("mysql://someone:secret@localhost/x", "SQLite or PostgreSQL"),
        ("postgresql+psycopg://127.0.0.1:1/x", "cannot reach the store"),
    ],
)
def test_bad_or_unreachable_store_url(tmp_path: Path, url: str, expected: str) -> None:
    for command in ("init", "sources"):
        line = one_line_error(run("--data", str(tmp_path), "--db", url, command), expected)
        assert "secret" not in line


def test_data_directory_that_is_a_regular_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("mine")
    for args in (["init"], ["sources"], ["ingest", str(tmp_path), "--source", "s"]):
        one_line_error(run("--data", str(data), *args), str(data), "is a file")
    assert data.read_text() == "mine"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VIDENT_WORKERS", "abc"),
        ("VIDENT_PDQ_THRESHOLD", "-5"),
        ("VIDENT_PDQ_THRESHOLD", "300"),
        ("VIDENT_BATCH_SIZE", "0"),
        ("VIDENT_MAX_PIXELS", "lots"),
    ],
)
def test_bad_environment_setting(initialised: Path, variable: str, value: str) -> None:
    outcome = run("--data", str(initialised), "sources", env={variable: value})
    one_line_error(outcome, f"{variable}='{value}'", "unset it")


@pytest.mark.parametrize(
    "args",
    [
        ["show", "99999999999999999999"],
        ["confirm", "99999999999999999999"],
        ["merge", "1", "99999999999999999999"],
        ["split", "99999999999999999999", "1"],
        ["split", "1", "99999999999999999999"],
        ["reject", "99999999999999999999"],
        ["move", "99999999999999999999", "1"],
        ["move", "1", "99999999999999999999"],
        ["label", "99999999999999999999", "V-1"],
    ],
)
def test_ids_beyond_64_bits(initialised: Path, args: list[str]) -> None:
    line = one_line_error(run("--data", str(initialised), "people", *args), "99999999999999999999")
    assert "ids run from 1 to 9223372036854775807" in line


@pytest.fixture
def with_source(initialised: Path, tmp_path: Path) -> Path:
    write_jpeg(tmp_path / "seizure" / "a.jpg", 1)
    code, _, err = run(
        "--data",
        str(initialised),
        "ingest",
        str(tmp_path / "seizure"),
        "--source",
        "s",
        "--signals",
        "pdq",
        "--workers",
        "1",
        "-q",
    )
    assert code == 0, err
    return initialised


def test_export_into_missing_folder_or_onto_a_directory(with_source: Path, tmp_path: Path) -> None:
    data = with_source
    missing = tmp_path / "missing" / "x.json"
    line = one_line_error(
        run("--data", str(data), "export", "vics", "--source", "s", "-o", str(missing))
    )
    assert "does not exist" in line and str(missing.parent) in line
    assert not missing.parent.exists()

    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep")
    line = one_line_error(
        run("--data", str(data), "export", "vics", "--source", "s", "-o", str(folder))
    )
    assert "is a directory" in line
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]
    assert not list(tmp_path.rglob("*.part"))

    # The same command with a proper destination works, and leaves no .part either.
    good = folder / "s.json"
    code, _, err = run("--data", str(data), "export", "vics", "--source", "s", "-o", str(good))
    assert code == 0, err
    assert good.is_file() and not list(tmp_path.rglob("*.part"))


def test_export_of_an_unknown_source_leaves_no_file(with_source: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    one_line_error(
        run("--data", str(with_source), "export", "vics", "--source", "nope", "-o", str(target)),
        "nope",
    )
    assert not target.exists() and not list(tmp_path.rglob("*.part"))


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_empty_source_name_is_refused(with_source: Path, tmp_path: Path, name: str) -> None:
    data = str(with_source)
    seizure = str(tmp_path / "seizure")
    commands = [
        ["ingest", seizure, "--source", name],
        ["ingest", seizure, "--source", "t", "--case", name],
        ["triage", "--source", name],
        ["export", "vics", "--source", name, "-o", str(tmp_path / "x.json")],
        ["signals", "compute", "--source", name, "--signals", "pdq"],
    ]
    for args in commands:
        one_line_error(run("--data", data, *args), "is empty")
    with sqlite3.connect(with_source / "vident.db") as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM source")]
    assert names == ["s"]
    assert not (tmp_path / "x.json").exists()


def test_an_os_error_without_errno_keeps_its_message(
    initialised: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Libraries raise ``OSError("...")`` with a message and no errno; the line keeps it."""
    import vident.service.sources

    def unreadable(_context: object) -> object:
        raise OSError("the evidence volume went away")

    monkeypatch.setattr(vident.service.sources, "list_sources", unreadable)
    one_line_error(run("--data", str(initialised), "sources"), "the evidence volume went away")
