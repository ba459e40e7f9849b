"""File names are data, not terminal commands.

Seized material names its own files. Escape sequences, carriage returns, C1 controls and bidi
overrides in a name must reach the terminal as visible escapes, and Rich markup in a name must
print literally, in every table and message; JSON and CSV keep the exact names.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.conftest import jpeg_bytes, transformed
from vident.cli import app
from vident.cli_text import LiteralConsole, LiteralTable, visible

runner = CliRunner()

#: Name on disk -> how it must be shown.
NAMES = {
    "\x1b]0;pwned\x07a.jpg": "\\x1b]0;pwned\\x07a.jpg",  # OSC: retitles the terminal
    "\x1b[2Jb.jpg": "\\x1b[2Jb.jpg",  # clears the screen
    "\x1b[1A\x1b[2Kc.jpg": "\\x1b[1A\\x1b[2Kc.jpg",  # erases the line above
    "d\re.jpg": "d\\x0de.jpg",  # overwrites its own line
    "f\u202egpj.jpg": "f\\u202egpj.jpg",  # reads backwards
    "g\x85\x9bh.jpg": "g\\x85\\x9bh.jpg",  # C1 controls (NEL, CSI)
    "tab\tline\nx.jpg": "tab\\x09line\\x0ax.jpg",
    "[bold red]x.jpg": "[bold red]x.jpg",  # markup, printed as is
    "[/].jpg": "[/].jpg",  # a closing tag with nothing open: Rich's MarkupError
    "\\[i]y.jpg": "\\[i]y.jpg",  # an escaped bracket stays two characters
    ":thumbs_up:.jpg": ":thumbs_up:.jpg",  # no emoji
    "{task}.jpg": "{task}.jpg",
}
BROKEN = "bad\x1b[31m.jpg"  # text named as a picture: an error line carries its name
MEMBERS = {
    "z\x1b]2;t\x07m.jpg": "z.zip/z\\x1b]2;t\\x07m.jpg",
    "o[/]p\rq.jpg": "z.zip/o[/]p\\x0dq.jpg",
}
RAW = ("\x1b", "\x07", "\r", "\x85", "\x9b", "\u202e", "\x08", "\t")
WIDE = {"COLUMNS": "400"}  # tables never fold a name across lines


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=WIDE, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def assert_no_raw_controls(text: str) -> None:
    for char in RAW:
        assert char not in text, (char, text)


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, Path]:
    seizure = tmp_path / "seiz\x1b[5mure"  # the source's origin path is shown too
    for i, name in enumerate(NAMES):
        path = seizure / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(jpeg_bytes(500 + i, size=(160, 120)))
    (seizure / BROKEN).write_text("not a picture")
    with zipfile.ZipFile(seizure / "z.zip", "w") as archive:
        for i, name in enumerate(MEMBERS):
            archive.writestr(name, jpeg_bytes(600 + i, size=(160, 120)))
    data = tmp_path / "data"
    assert run("--data", str(data), "init")[0] == 0
    code, out, err = run(
        "--data", str(data), "ingest", str(seizure), "--source", "s", "--signals", "pdq",
        "--workers", "1",
    )  # fmt: skip
    assert code == 0, err
    assert_no_raw_controls(out + err)
    assert f"error: {visible(BROKEN)}:" in err
    return data, seizure


def test_triage_table_shows_names_escaped(store: tuple[Path, Path]) -> None:
    data, _ = store
    code, out, err = run("--data", str(data), "triage", "--source", "s")
    assert code == 0, err
    assert_no_raw_controls(out)
    for shown in [*NAMES.values(), *MEMBERS.values(), visible(BROKEN)]:
        assert shown in out, shown


def test_json_and_csv_keep_the_exact_names(store: tuple[Path, Path]) -> None:
    data, _ = store
    exact = {*NAMES, *(f"z.zip/{m}" for m in MEMBERS), BROKEN}
    code, out, _ = run("--data", str(data), "triage", "--source", "s", "--format", "json")
    assert code == 0
    assert {item["path"] for item in json.loads(out)["items"]} == exact
    code, out, _ = run("--data", str(data), "triage", "--source", "s", "--format", "csv")
    assert code == 0
    assert {row["path"] for row in csv.DictReader(io.StringIO(out, newline=""))} == exact


def test_search_similar_sources_and_hashsets_show_names_escaped(
    store: tuple[Path, Path], tmp_path: Path
) -> None:
    data, seizure = store
    # A query file whose own name is hostile, a grey copy of one with a hostile name.
    query = transformed(seizure / "\x1b[2Jb.jpg", tmp_path / "q\x1b]0;x\x07[/].jpg", "grey")
    for args in (["search", str(query)], ["similar", str(query), "--by", "pdq"]):
        code, out, err = run("--data", str(data), *args)
        assert code == 0, err
        assert_no_raw_controls(out + err)
        assert "q\\x1b]0;x\\x07[/].jpg" in out
        assert "\\x1b[2Jb.jpg" in out

    code, out, err = run("--data", str(data), "sources")
    assert code == 0, err
    assert_no_raw_controls(out)
    assert "seiz\\x1b[5mure" in out

    listing = tmp_path / "h\x1b]0;t\x07[" / "]set.txt"  # origin h...[/]set.txt
    listing.parent.mkdir()
    listing.write_text("d41d8cd98f00b204e9800998ecf8427e\n")
    code, out, err = run("--data", str(data), "hashset", "import", str(listing), "--name", "n\r")
    assert code == 0, err
    assert_no_raw_controls(out + err)
    code, out, err = run("--data", str(data), "hashset", "list")
    assert code == 0, err
    assert_no_raw_controls(out)
    assert "h\\x1b]0;t\\x07[/]set.txt" in out and "n\\x0d" in out


def test_error_messages_show_names_escaped(store: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = store
    missing = tmp_path / "gone\x1b[2J[/]"
    code, out, err = run("--data", str(data), "ingest", str(missing), "--source", "t")
    assert code == 1
    assert_no_raw_controls(out + err)
    assert "gone\\x1b[2J[/]" in err and len(err.strip().splitlines()) == 1


def test_visible_escapes_only_what_a_terminal_acts_on() -> None:
    assert visible("plain/path ü 写真 😀.jpg") == "plain/path ü 写真 😀.jpg"
    assert visible("a\x00b\x7fc\u2028d\u2066e") == "a\\x00b\\x7fc\\u2028d\\u2066e"
    undecodable = b"x\xff.jpg".decode("utf-8", "surrogateescape")
    assert visible(undecodable) == "x\\xff.jpg"


def test_literal_console_and_table_never_read_markup() -> None:
    console = LiteralConsole(file=io.StringIO(), width=200, emoji=False)
    console.print("[/] [bold]x[/bold] \x1b[2J :smile:")
    table = LiteralTable()
    table.add_column("path")
    table.add_row("[/]\x1b]0;t\x07")
    console.print(table)
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "[/] [bold]x[/bold] \\x1b[2J :smile:" in shown
    assert "[/]\\x1b]0;t\\x07" in shown
    assert_no_raw_controls(shown)
    assert isinstance(console, Console)
