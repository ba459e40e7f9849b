"""The command line contract, as a user runs it."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import transformed, write_jpeg
from vident.cli import app

runner = CliRunner()


def vident(data: Path, *args: str, db: str | None = None) -> tuple[int, str, str]:
    options = ["--data", str(data)] + (["--db", db] if db else [])
    result = runner.invoke(app, [*options, *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def seizure(tmp_path: Path) -> dict[str, Path]:
    ref = tmp_path / "ref"
    paths = {f"ref{i}": write_jpeg(ref / f"ref{i}.jpg", i) for i in range(3)}
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    shutil.copy(paths["ref0"], seizure / "a.jpg")
    transformed(paths["ref1"], seizure / "b.jpg", "grey")
    write_jpeg(seizure / "c.jpg", 50)
    (seizure / "d.jpg").write_text("text, not a picture")
    return {"ref": ref, "seizure": seizure, **paths}


def _hash_csv(path: Path, pictures: list[Path]) -> Path:
    from vident.config import Limits
    from vident.ingest.records import WorkItem
    from vident.ingest.worker import process_item

    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["md5", "sha1", "sha256", "pdq", "category", "series", "comment"])
        for picture in pictures:
            result = process_item(WorkItem(path=picture.name, fs_path=str(picture)), Limits())
            h = {s.kind: s.value.hex() for s in result.signals}
            writer.writerow([h["md5"].upper(), h["sha1"], h["sha256"], h["pdq"], "1", "S-1", ""])
    return path


def test_full_flow_json_csv_table(tmp_path: Path, seizure: dict[str, Path]) -> None:
    data = tmp_path / "data"
    assert vident(data, "init")[0] == 0
    hashes = _hash_csv(tmp_path / "known.csv", [seizure["ref0"], seizure["ref1"]])
    code, out, _ = vident(data, "hashset", "import", str(hashes), "--name", "national")
    assert code == 0 and "2 new entries" in out
    code, _, err = vident(
        data,
        "ingest",
        str(seizure["seizure"]),
        "--source",
        "s1",
        "--case",
        "op-1",
        "--workers",
        "2",
    )
    assert code == 0, err

    code, out, _ = vident(data, "triage", "--source", "s1", "--format", "json")
    report = json.loads(out)
    assert report["source"] == "s1"
    assert report["counts"] == {"known": 1, "near": 1, "related": 0, "new": 1, "error": 1}
    items = {i["path"]: i for i in report["items"]}
    assert set(items["a.jpg"]) == {"path", "sha256", "type", "verdict", "reasons", "error"}
    assert items["a.jpg"]["verdict"] == "known" and items["a.jpg"]["type"] == "image"
    reason = items["a.jpg"]["reasons"][0]
    assert reason["hashset"] == "national" and reason["category"] == "1"
    assert reason["series"] == "S-1" and reason["distance"] == 0 and reason["media"] is None
    assert items["b.jpg"]["verdict"] == "near" and items["b.jpg"]["reasons"][0]["signal"] == "pdq"
    assert items["c.jpg"]["verdict"] == "new" and items["c.jpg"]["reasons"] == []
    assert items["d.jpg"]["verdict"] == "error" and "text" in items["d.jpg"]["error"]

    code, out, _ = vident(data, "triage", "--source", "s1", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["verdict"] for r in rows] == ["new", "error", "near", "known"]

    code, out, _ = vident(data, "triage", "--source", "s1")
    assert code == 0 and out.index("c.jpg") < out.index("a.jpg")


def test_search_and_index_rebuild(tmp_path: Path, seizure: dict[str, Path]) -> None:
    data = tmp_path / "data"
    vident(data, "init")
    vident(data, "ingest", str(seizure["ref"]), "--source", "ref", "--workers", "1")
    code, out, _ = vident(data, "search", str(seizure["seizure"] / "b.jpg"), "--format", "json")
    result = json.loads(out)
    assert code == 0 and result["type"] == "image"
    near = [m for m in result["matches"] if m["signal"] == "pdq"]
    assert near and near[0]["occurrences"] == [{"source": "ref", "path": "ref1.jpg"}]

    shutil.rmtree(data / "index")
    code, out, _ = vident(data, "index", "rebuild")
    assert code == 0 and "index pdq: 3 entries" in out
    code, out, _ = vident(data, "search", str(seizure["seizure"] / "b.jpg"), "--format", "json")
    assert [m["media"] for m in json.loads(out)["matches"] if m["signal"] == "pdq"] == [
        m["media"] for m in near
    ]


def test_export_vics_reads_back_as_known(tmp_path: Path, seizure: dict[str, Path]) -> None:
    data = tmp_path / "data"
    vident(data, "init")
    vident(data, "ingest", str(seizure["ref"]), "--source", "ref", "--workers", "1")
    exported = tmp_path / "ref.json"
    code, _, err = vident(data, "export", "vics", "--source", "ref", "-o", str(exported))
    assert code == 0, err
    document = json.loads(exported.read_text())
    assert document["@odata.context"].endswith("$metadata#Cases")
    media = document["value"][0]["Media"]
    assert len(media) == 3 and all(m["MD5"] and m["SHA1"] for m in media)

    other = tmp_path / "other"
    vident(other, "init")
    code, out, _ = vident(other, "hashset", "import", str(exported), "--name", "from-ref")
    assert code == 0 and "3 new entries" in out
    vident(other, "ingest", str(seizure["seizure"]), "--source", "s", "--workers", "1")
    _, out, _ = vident(other, "triage", "--source", "s", "--format", "json")
    items = {i["path"]: i for i in json.loads(out)["items"]}
    assert items["a.jpg"]["verdict"] == "known"
    assert items["b.jpg"]["verdict"] == "near"


def test_errors_are_one_line_and_non_zero(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, _, err = vident(data, "triage", "--source", "x")
    assert code == 1 and "vident" in err and "init" in err and len(err.strip().splitlines()) == 1
    vident(data, "init")
    code, _, err = vident(data, "ingest", str(tmp_path / "missing"), "--source", "m")
    assert code == 1 and "does not exist" in err and len(err.strip().splitlines()) == 1
    code, _, err = vident(data, "triage", "--source", "nope")
    assert code == 1 and "no source named 'nope'" in err


def test_installed_command_runs(tmp_path: Path) -> None:
    """The console script pip installed beside the interpreter works, not only ``-m vident``."""
    from vident import __version__

    script = Path(sys.executable).parent / "vident"
    assert script.is_file(), f"no console script at {script}: reinstall the package"
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"vident {__version__}"

    data = tmp_path / "data"
    init = subprocess.run(
        [str(script), "--data", str(data), "init"], capture_output=True, text=True
    )
    assert init.returncode == 0, init.stderr
    assert "vident store ready" in init.stdout and (data / "vident.db").is_file()
    with sqlite3.connect(data / "vident.db") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"media", "occurrence", "hashset", "alembic_version"} <= tables


@pytest.mark.postgres
def test_postgresql_store_via_cli(tmp_path: Path, seizure: dict[str, Path], pg_server: str) -> None:
    from tests.conftest import _fresh_pg_database

    url = _fresh_pg_database(pg_server)
    data = tmp_path / "data"
    assert vident(data, "init", db=url)[0] == 0
    assert (
        vident(data, "ingest", str(seizure["ref"]), "--source", "ref", "--workers", "1", db=url)[0]
        == 0
    )
    code, _, err = vident(
        data, "ingest", str(seizure["seizure"]), "--source", "s", "--workers", "2", db=url
    )
    assert code == 0, err
    _, out, _ = vident(data, "triage", "--source", "s", "--format", "json", db=url)
    assert json.loads(out)["counts"] == {"known": 1, "near": 1, "related": 0, "new": 1, "error": 1}
    assert not (data / "vident.db").exists()
