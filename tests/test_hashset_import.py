"""Hash-set import into the store: every accepted format, idempotent, matched by triage."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from tests.conftest import transformed, write_jpeg
from tests.test_cli import vident
from vident.exchange.records import KnownRecord
from vident.store.db import Store
from vident.store.hashsets import BATCH, import_records
from vident.store.models import HashSet, HashSetEntry, HashSetHash

MD5 = "0123456789abcdef0123456789abcdef"
SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA256 = "ab" * 32


def _sets(data: Path, url: str | None = None) -> dict[str, tuple[int, str, str | None]]:
    """Every hash set in the store: name -> (entries, status, format)."""
    store = Store(url or f"sqlite:///{data / 'vident.db'}")
    with store.reader() as session:
        rows = session.execute(
            select(HashSet.name, func.count(HashSetEntry.id), HashSet.status, HashSet.format)
            .outerjoin(HashSetEntry, HashSetEntry.hashset_id == HashSet.id)
            .group_by(HashSet.id)
        )
        found = {name: (count, status, fmt) for name, count, status, fmt in rows}
    store.dispose()
    return found


def _list_rows(out: str) -> list[list[str]]:
    """The body rows of the table ``vident hashset list`` prints, cell by cell."""
    rows: list[list[str]] = []
    for line in out.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if rows and not cells[0]:  # a cell folded onto the next line
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    return [row for row in rows if row[0] != "name"]


def _counts(data: Path) -> tuple[int, int]:
    store = Store(f"sqlite:///{data / 'vident.db'}")
    with store.reader() as session:
        entries = session.scalar(select(func.count(HashSetEntry.id))) or 0
        hashes = session.scalar(select(func.count(HashSetHash.id))) or 0
    store.dispose()
    return entries, hashes


def test_csv_text_and_vics_import_idempotently(tmp_path: Path) -> None:
    data = tmp_path / "data"
    vident(data, "init")
    csv_file = tmp_path / "list.csv"
    csv_file.write_text(
        "\ufeffMD5,SHA1,Category,Series,Victim_Identified,Comment\n"
        f"{MD5.upper()},{SHA1},1,S1,true,first\n"
        "nothex,,1,,,bad row\n",
        encoding="utf-8",
    )
    code, out, err = vident(data, "hashset", "import", str(csv_file), "--name", "csv")
    assert code == 0 and "1 new entries" in out and "1 rejected" in out
    assert "rejected" in err
    # The same file again adds nothing.
    code, out, _ = vident(data, "hashset", "import", str(csv_file), "--name", "csv")
    assert "0 new entries" in out
    assert _counts(data) == (1, 2)

    text_file = tmp_path / "list.txt"
    text_file.write_text(f"# a comment\n{MD5}\n{SHA1}\n{SHA256}\n\n")
    code, out, _ = vident(data, "hashset", "import", str(text_file), "--name", "text")
    assert code == 0 and "3 new entries" in out

    vics = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases",
        "value": [
            {
                "CaseNumber": "C-1",
                "Media": [
                    {
                        "MD5": MD5.upper(),
                        "Category": "1",
                        "VictimIdentified": "true",
                        "AlternativeHashes": [
                            {"HashName": "SHA256", "HashValue": SHA256.upper()},
                            {"HashName": "PDQ", "HashValue": "f" * 64},
                        ],
                    }
                ],
            }
        ],
    }
    vics_file = tmp_path / "case.json"
    vics_file.write_bytes(b"\xef\xbb\xbf" + json.dumps(vics).encode())
    code, out, _ = vident(data, "hashset", "import", str(vics_file), "--name", "vics")
    assert code == 0 and "1 new entries" in out
    # Each set keeps its own name and entries (a lost or merged name would fail here).
    assert _sets(data) == {
        "csv": (1, "complete", "csv"),
        "text": (3, "complete", "text"),
        "vics": (1, "complete", "vics"),
    }
    _, out, _ = vident(data, "hashset", "list")
    rows = _list_rows(out)
    assert {row[0]: row[1:4] for row in rows} == {
        "csv": ["1", "csv", "complete"],
        "text": ["3", "text", "complete"],
        "vics": ["1", "vics", "complete"],
    }


def test_plain_64_digit_list_as_pdq(tmp_path: Path) -> None:
    """64-digit lines imported with --kind pdq are PDQ hashes that find their picture."""
    from vident.config import Limits
    from vident.ingest.records import WorkItem
    from vident.ingest.worker import process_item

    data = tmp_path / "data"
    vident(data, "init")
    picture = write_jpeg(tmp_path / "known.jpg", 7)
    result = process_item(WorkItem(path=picture.name, fs_path=str(picture)), Limits())
    known_pdq = next(s.value.hex() for s in result.signals if s.kind == "pdq")
    listing = tmp_path / "pdq.txt"
    listing.write_text(f"{known_pdq}\n{'f0' * 32}\n")
    code, out, _ = vident(data, "hashset", "import", str(listing), "--name", "p", "--kind", "pdq")
    assert code == 0 and "2 new entries" in out
    store = Store(f"sqlite:///{data / 'vident.db'}")
    with store.reader() as session:
        rows = {(k, v) for k, v in session.execute(select(HashSetHash.kind, HashSetHash.value))}
    store.dispose()
    assert rows == {("pdq", bytes.fromhex(known_pdq)), ("pdq", bytes.fromhex("f0" * 32))}
    # A re-encoded copy of the picture (not the same bytes) is found through the PDQ index.
    copy = transformed(picture, tmp_path / "copy.jpg", "resize")
    code, out, _ = vident(data, "search", str(copy), "--format", "json")
    assert code == 0, out
    pdq_matches = [m for m in json.loads(out)["matches"] if m["signal"] == "pdq"]
    assert [m["hashset"] for m in pdq_matches] == ["p"]


# --- bad records are rejected one by one, never a traceback, never half-done in silence ------

CTX = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases"
GOOD = ("0" * 31 + "1", "0" * 31 + "3")  # the records around each bad one
SNIFF_PAD = "#" + "x" * 70_000 + "\n"  # pushes damage past the 64 KiB encoding sniff


def _vics(bad_media: str) -> bytes:
    return (
        f'{{"@odata.context": "{CTX}", "value": [{{"MD5": "{GOOD[0]}"}}, {bad_media}, '
        f'{{"MD5": "{GOOD[1]}"}}]}}'
    ).encode()


def _bad(body: str) -> str:
    return '{"MD5": "' + "0" * 31 + '2", ' + body + "}"


# name -> (file name, content, where the bad record is, why it is rejected)
BAD_RECORDS: dict[str, tuple[str, bytes, str, str]] = {
    "vics size of 2^63": (
        "v.json",
        _vics(_bad(f'"MediaSize": {2**63}')),
        "value[1]",
        "MediaSize is too large",
    ),
    "csv size of 2^63": (
        "s.csv",
        f"md5,size\n{GOOD[0]},1\n{'0' * 31}2,{2**63}\n{GOOD[1]},3\n".encode(),
        "line 3",
        "size is too large",
    ),
    "vics number of 100,000 digits": (
        "v.json",
        _vics(_bad('"Score": ' + "7" * 100_000)),
        "value[1]",
        "a number longer than 1000 characters",
    ),
    "vics size of 100,000 digits": (
        "v.json",
        _vics(_bad('"MediaSize": ' + "7" * 100_000)),
        "value[1]",
        "a number longer than 1000 characters",
    ),
    "csv size of 5,000 digits": (  # past Python's int-from-text limit
        "s.csv",
        f"md5,size\n{GOOD[0]},1\n{'0' * 31}2,{'7' * 5000}\n{GOOD[1]},3\n".encode(),
        "line 3",
        "size is too large or not an integer",
    ),
    "vics nested 10,000 levels deep": (
        "v.json",
        _vics(_bad('"Deep": ' + "[" * 10_000 + "]" * 10_000)),
        "value[1]",
        "nested deeper than 64 levels",
    ),
    "vics lone high surrogate": (
        "v.json",
        _vics(_bad('"Comments": "ab\\ud800cd"')),
        "value[1]",
        "Comments: text with an escaped lone surrogate",
    ),
    "vics lone low surrogate": (
        "v.json",
        _vics(_bad('"Series": "\\udc00"')),
        "value[1]",
        "Series: text with an escaped lone surrogate",
    ),
    "vics bytes that are not utf-8": (
        "v.json",
        _vics(_bad('"Comments": "x"')).replace(b'"x"', b'"\xff\xfe"'),
        "value[1]",
        "Comments: text that is not valid UTF-8",
    ),
    "csv bytes that are not utf-8": (
        "s.csv",
        f"md5,comment\n{GOOD[0]},a\n{SNIFF_PAD}".encode()
        + b"0" * 31
        + b"2,\xff\xfe\n"
        + f"{GOOD[1]},b\n".encode(),
        "line 4",
        "the line is not valid UTF-8 text",
    ),
    "plain list bytes that are not utf-8": (
        "p.txt",
        f"{GOOD[0]}\n{SNIFF_PAD}".encode() + b"0" * 31 + b"2 \xff\n" + f"{GOOD[1]}\n".encode(),
        "line 3",
        "the line is not valid UTF-8 text",
    ),
    "csv line of 2 MB": (
        "s.csv",
        f"md5,comment\n{GOOD[0]},a\n{'0' * 31}2,{'c' * 2_000_000}\n{GOOD[1]},b\n".encode(),
        "line 3",
        "the line is longer than 1048576 characters",
    ),
    "csv cell of 100 KB": (
        "s.csv",
        f"md5,comment\n{GOOD[0]},a\n{'0' * 31}2,{'c' * 100_000}\n{GOOD[1]},b\n".encode(),
        "line 3",
        "a field is longer than 65536 characters",
    ),
    "csv quoted cell over many lines": (
        "s.csv",
        f'md5,comment\n{GOOD[0]},a\n{"0" * 31}2,"{("c" * 1000 + chr(10)) * 1100}"\n'
        f"{GOOD[1]},b\n".encode(),
        "line 3",
        "longer than",
    ),
    "plain line of 2 MB": (
        "p.txt",
        f"{GOOD[0]}\n{'0' * 2_000_000}\n{GOOD[1]}\n".encode(),
        "line 2",
        "the line is longer than 1048576 characters",
    ),
    "vics comment of 1 MB": (
        "v.json",
        _vics(_bad('"Comments": "' + "c" * 1_000_000 + '"')),
        "value[1]",
        "Comments: a text value longer than 65536 bytes",
    ),
}


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_a_bad_record_is_rejected_by_its_place_and_the_rest_imported(
    tmp_path: Path, case: str
) -> None:
    name, content, where, why = BAD_RECORDS[case]
    data = tmp_path / "data"
    vident(data, "init")
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = vident(data, "hashset", "import", str(path), "--name", "bad")
    assert code == 0, err
    assert "2 new entries, 1 rejected" in out
    assert f"rejected: {where}: " in err and why in err, err
    assert "Traceback" not in out + err
    file_format = {".json": "vics", ".csv": "csv", ".txt": "text"}[path.suffix]
    assert _sets(data) == {"bad": (2, "complete", file_format)}
    store = Store(f"sqlite:///{data / 'vident.db'}")
    with store.reader() as session:
        md5s = {v.hex() for v in session.scalars(select(HashSetHash.value))}
    store.dispose()
    assert md5s == set(GOOD)


def test_broken_json_stops_with_one_error_line_and_leaves_the_set_incomplete(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    vident(data, "init")
    path = tmp_path / "broken.json"
    good = ", ".join(f'{{"MD5": "{i:032x}"}}' for i in range(3))
    path.write_text(f'{{"@odata.context": "{CTX}", "value": [{good}, {{"MD5": 12x}}, {good}]}}')
    code, out, err = vident(data, "hashset", "import", str(path), "--name", "broken")
    assert code == 1
    assert "3 new entries" in out
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "value[3]" in error_lines[0], err
    assert "malformed JSON" in error_lines[0] and "incomplete" in error_lines[0]
    assert _sets(data) == {"broken": (3, "incomplete", "vics")}
    _, out, _ = vident(data, "hashset", "list")
    assert _list_rows(out)[0][:4] == [
        "broken",
        "3",
        "vics",
        "incomplete (the file could not be read to its end)",
    ]


def test_a_killed_import_shows_as_incomplete_and_the_same_command_finishes_it(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    vident(data, "init")
    listing = tmp_path / "many.txt"
    count = 3 * BATCH
    listing.write_text("".join(f"{i:032x}\n" for i in range(count)))
    command = [sys.executable, "-m", "vident", "--data", str(data), "hashset", "import"]
    command += [str(listing), "--name", "big", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if (data / "vident.db").exists() and _sets(data).get("big", (0,))[0] > 0:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the import ended before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    entries, status, _ = _sets(data)["big"]
    assert 0 < entries < count and status == "importing"
    _, out, _ = vident(data, "hashset", "list")
    assert _list_rows(out)[0][3].startswith("incomplete (import running or interrupted")
    code, out, err = vident(data, "hashset", "import", str(listing), "--name", "big", "-q")
    assert code == 0, err
    assert f"{count - entries} new entries" in out
    assert _sets(data) == {"big": (count, "complete", "text")}


@pytest.mark.parametrize("backend_case", ["vics size of 2^63", "vics lone low surrogate"])
def test_bad_records_and_status_on_both_backends(
    tmp_path: Path, store_url: str, backend_case: str
) -> None:
    """PostgreSQL refuses what SQLite lets by (over-long categories): never a failed batch."""
    data = tmp_path / "data"
    name, content, where, why = BAD_RECORDS[backend_case]
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = vident(data, "hashset", "import", str(path), "--name", "a", db=store_url)
    assert code == 0 and f"rejected: {where}: " in err and why in err, err
    csv_file = tmp_path / "long.csv"
    csv_file.write_text(
        f"md5,category,series\n{GOOD[0]},1,s\n{'0' * 31}2,{'9' * 100},s\n"
        f"{'0' * 31}4,1,{'s' * 300}\n{GOOD[1]},2,s\n"
    )
    code, out, err = vident(data, "hashset", "import", str(csv_file), "--name", "b", db=store_url)
    assert code == 0, err
    assert "2 new entries, 2 rejected" in out
    assert "line 3: category is longer than 64 characters" in err
    assert "line 4: series is longer than 200 characters" in err
    assert _sets(data, store_url) == {"a": (2, "complete", "vics"), "b": (2, "complete", "csv")}


def test_a_failed_import_stays_importing_until_run_again(store: Store) -> None:
    """An import that dies between batches is visibly unfinished; the same import finishes it."""

    def dying(count: int) -> Iterator[KnownRecord]:
        for i in range(count):
            yield KnownRecord(hashes={"md5": i.to_bytes(16, "big")}, origin=f"line {i + 1}")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_records(store, "dies", dying(BATCH + 10))
    with store.reader() as session:
        hashset = session.scalars(select(HashSet)).one()
        entries = session.scalar(select(func.count(HashSetEntry.id)))
    assert (hashset.status, entries) == ("importing", BATCH)

    records = (KnownRecord(hashes={"md5": i.to_bytes(16, "big")}) for i in range(BATCH + 10))
    summary = import_records(store, "dies", records)
    assert summary.new_entries == 10
    with store.reader() as session:
        assert session.scalars(select(HashSet.status)).one() == "complete"


def test_an_unusable_set_name_is_one_error_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    vident(data, "init")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{GOOD[0]}\n")
    for name in ("n" * 201, "bad\udcffname", " "):
        code, _, err = vident(data, "hashset", "import", str(listing), "--name", name)
        assert code == 1 and err.startswith("error: a hash set needs a name of 1 to 200"), err
    assert _sets(data) == {}


def test_migration_0003_marks_earlier_sets_complete(store_url: str) -> None:
    """Sets imported before import status existed finished their import: they are complete."""
    from alembic import command

    from vident.store.db import alembic_config, upgrade

    store = Store(store_url)
    command.downgrade(alembic_config(store.engine), "0002")
    with store.engine.begin() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("hashset")}
        assert "status" not in columns
        connection.execute(
            text("INSERT INTO hashset (id, name, created_at) VALUES (1, 'old', '2026-01-01')")
        )
    upgrade(store.engine)
    with store.reader() as session:
        assert session.execute(select(HashSet.name, HashSet.status)).all() == [("old", "complete")]
    store.dispose()
