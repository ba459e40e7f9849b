"""Hash-set import into the store: every accepted format, idempotent, matched by triage."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from tests.test_cli import vident
from vident.store.db import Store
from vident.store.models import HashSetEntry, HashSetHash

MD5 = "0123456789abcdef0123456789abcdef"
SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA256 = "ab" * 32


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
    _, out, _ = vident(data, "hashset", "list")
    assert "vics" in out and "csv" in out and "text" in out


def test_plain_64_digit_list_as_pdq(tmp_path: Path) -> None:
    data = tmp_path / "data"
    vident(data, "init")
    listing = tmp_path / "pdq.txt"
    listing.write_text(f"{'0f' * 32}\n{'f0' * 32}\n")
    code, out, _ = vident(data, "hashset", "import", str(listing), "--name", "p", "--kind", "pdq")
    assert code == 0 and "2 new entries" in out
    store = Store(f"sqlite:///{data / 'vident.db'}")
    with store.reader() as session:
        kinds = set(session.scalars(select(HashSetHash.kind)))
    store.dispose()
    assert kinds == {"pdq"}
    assert (data / "index").is_dir()
