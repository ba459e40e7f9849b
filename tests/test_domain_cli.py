"""The investigation commands as an operator runs them, on SQLite and PostgreSQL, and the
identification of a series' victim reaching the triage of another seizure."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import transformed, write_jpeg
from vident.cli import app
from vident.config import Settings
from vident.service.context import Principal, PrincipalKind, Role, open_context
from vident.service.errors import Forbidden
from vident.service.victims import add_victim, list_victims
from vident.store.db import Store
from vident.store.models_cases import CaseOwner, Subject

runner = CliRunner()


def vident(settings: Settings, *args: str) -> tuple[int, str, str]:
    options = ["--data", str(settings.data), "--db", settings.database_url]
    result = runner.invoke(app, [*options, *args])
    return result.exit_code, result.stdout, result.stderr


def ok(settings: Settings, *args: str) -> str:
    code, stdout, stderr = vident(settings, *args)
    assert code == 0, (stdout, stderr)
    return stdout


def failed(outcome: tuple[int, str, str], *words: str) -> None:
    code, _, stderr = outcome
    assert code == 1, outcome
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
    for word in words:
        assert word in stderr, stderr


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ingest(settings: Settings, folder: Path, source: str) -> None:
    ok(settings, "ingest", str(folder), "--source", source, "--signals", "pdq", "--workers", "1")


@pytest.fixture
def pictures(tmp_path: Path, settings: Settings) -> list[Path]:
    """Three generated pictures ingested as source 'first'."""
    folder = tmp_path / "first"
    found = [write_jpeg(folder / f"p{i}.jpg", 300 + i) for i in range(3)]
    _ingest(settings, folder, "first")
    return found


def test_identified_victim_reaches_the_triage_of_another_seizure(
    tmp_path: Path, settings: Settings, pictures: list[Path]
) -> None:
    ok(settings, "agency", "add", "Agency North", "--country", "GB")
    ok(settings, "series", "add", "Blue Room")
    ok(settings, "series", "add-media", "Blue Room", sha(pictures[0]))
    added = ok(settings, "victim", "add", "--series", "Blue Room")
    code = added.split()[1]
    line = ok(
        settings, "victim", "identify", code, "--agency", "Agency North", "--on", "2026-03-01"
    )
    assert f"victim {code} identified by Agency North, GB, 2026-03-01" in line
    shown = json.loads(ok(settings, "series", "show", "Blue Room", "--format", "json"))
    assert shown["series"]["status"] == "victim_identified"

    second = tmp_path / "second"
    second.mkdir()
    shutil.copy(pictures[0], second / "copy.jpg")
    transformed(pictures[0], second / "grey.jpg", "grey")
    shutil.copy(pictures[1], second / "other.jpg")  # known, but in no series
    _ingest(settings, second, "second")

    report = json.loads(ok(settings, "triage", "--source", "second", "--format", "json"))
    items = {i["path"].rsplit("/", 1)[-1]: i for i in report["items"]}
    assert items["copy.jpg"]["verdict"] == "known"
    assert items["grey.jpg"]["verdict"] == "near"
    for name in ("copy.jpg", "grey.jpg"):
        reason = items[name]["reasons"][0]
        assert reason["series"] == "Blue Room"
        assert reason["identified"] == "victim identified by Agency North, GB, 2026-03-01"
    other = items["other.jpg"]["reasons"][0]
    assert other["series"] is None and "identified" not in other

    table = ok(settings, "triage", "--source", "second")
    # Cells wrap at the terminal's width: read the reason column back as one text.
    cells = " ".join(line.split("│")[-2].strip() for line in table.splitlines() if "│" in line)
    assert " ".join(cells.split()).count("victim identified by Agency North, GB, 2026-03-01") == 2


def test_series_commands(settings: Settings, pictures: list[Path]) -> None:
    ok(settings, "case", "add", "Op Lantern")
    ok(settings, "series", "add", "Red Door", "--case", "Op Lantern", "--sharing", "national")
    failed(vident(settings, "series", "add", "Red Door"), "exists already")
    ok(settings, "series", "add-media", "Red Door", sha(pictures[0]), sha(pictures[1]))
    ok(settings, "series", "add-media", "Red Door", sha(pictures[1]), "--suggestion")
    listed = json.loads(ok(settings, "series", "list", "--format", "json"))["series"]
    assert [(s["name"], s["media"], s["case"], s["sharing"]) for s in listed] == [
        ("Red Door", 2, "Op Lantern", "national")
    ]
    after = json.loads(
        ok(settings, "series", "remove-media", "Red Door", sha(pictures[0]), "--format", "json")
    )
    assert [m["sha256"] for m in after["media"]] == [sha(pictures[1])]
    assert (
        ok(settings, "series", "status", "Red Door", "closed").strip() == "series Red Door: closed"
    )
    failed(vident(settings, "series", "status", "Red Door", "solved"), "'solved'", "closed")
    failed(vident(settings, "series", "add-media", "Red Door", "ab" * 32), "no stored media")
    failed(vident(settings, "series", "show", "Nowhere"), "no series named 'Nowhere'")
    # A resized copy ingested later is offered to the series that holds the original.
    copy = transformed(pictures[1], pictures[1].parent.parent / "later" / "small.jpg", "resize")
    _ingest(settings, copy.parent, "later")
    offered = json.loads(ok(settings, "series", "suggestions", "Red Door", "--format", "json"))
    assert [(s["link"]["sha256"], s["member"]) for s in offered["suggestions"]] == [
        (sha(copy), sha(pictures[1]))
    ]
    assert sha(copy)[:16] in " ".join(ok(settings, "series", "suggestions", "Red Door").split())


def test_case_commands_record_the_owner(settings: Settings) -> None:
    ok(settings, "agency", "add", "Agency East", "--country", "DE")
    ok(settings, "case", "add", "Op Harbour", "--agency", "Agency East", "--sharing", "national")
    ok(settings, "case", "add", "Op Quiet")
    cases = json.loads(ok(settings, "case", "list", "--format", "json"))["cases"]
    assert [(c["name"], c["agency"], c["sharing"]) for c in cases] == [
        ("Op Harbour", "Agency East", "national"),
        ("Op Quiet", None, "agency"),
    ]
    failed(vident(settings, "case", "add", "Op Odd", "--sharing", "public"), "'public'")
    failed(vident(settings, "case", "add", "Op X", "--agency", "Nobody"), "no agency named")
    said = ok(settings, "case", "share", "Op Harbour", "international")
    assert said.strip() == "case Op Harbour shared: international"
    failed(vident(settings, "case", "share", "Op Harbour", "everyone"), "'everyone'")
    failed(vident(settings, "case", "share", "Op Nowhere", "agency"), "no case named")
    harbour = next(c["id"] for c in cases if c["name"] == "Op Harbour")
    said = ok(settings, "annotation", "add", "case", str(harbour), "warrant served 3 Dec")
    assert said.strip().endswith(f"on case {harbour}")
    notes = json.loads(ok(settings, "annotation", "list", "case", str(harbour), "--format", "json"))
    assert [n["text"] for n in notes["annotations"]] == ["warrant served 3 Dec"]
    assert "warrant served" in ok(settings, "annotation", "list", "case", str(harbour))
    failed(vident(settings, "annotation", "add", "case", "999", "x"), "no case 999")
    failed(vident(settings, "annotation", "add", "planet", "1", "x"), "'planet'")
    store = Store(settings.database_url)
    with store.reader() as session:
        assert len(session.scalars(select(CaseOwner)).all()) == 2
    store.dispose()


def test_victims_and_offenders_keep_personal_details_secret(
    settings: Settings, pictures: list[Path]
) -> None:
    ok(settings, "agency", "add", "Agency West", "--country", "FR")
    ok(settings, "series", "add", "Green Wall")
    victim = ok(settings, "victim", "add", "--name", "Jane Example", "--birth-year", "2015")
    offender = ok(
        settings, "offender", "add", "--name", "John Sample", "--series", "Green Wall",
        "--media", sha(pictures[2]),
    )  # fmt: skip
    v_code, o_code = victim.split()[1], offender.split()[1]
    assert v_code.startswith("V-") and o_code.startswith("O-")

    store = Store(settings.database_url)
    with store.reader() as session:
        rows = session.scalars(select(Subject)).all()
        assert all(
            r.personal and b"Jane" not in r.personal and b"John" not in r.personal for r in rows
        )
    store.dispose()

    victims = json.loads(ok(settings, "victim", "list", "--format", "json"))["subjects"]
    assert victims[0]["personal"] == {"name": "Jane Example", "birth_year": 2015, "notes": None}
    assert "Jane Example" in ok(settings, "victim", "list")
    ok(settings, "offender", "identify", o_code, "--agency", "Agency West", "--country", "BE")
    offenders = json.loads(ok(settings, "offender", "list", "--format", "json"))["subjects"]
    assert offenders[0]["identified_by"] == "Agency West"
    assert offenders[0]["identified_country"] == "BE"
    assert offenders[0]["media"] == [sha(pictures[2])]
    assert "John Sample" in ok(settings, "offender", "list")
    shown = json.loads(ok(settings, "series", "show", "Green Wall", "--format", "json"))
    assert shown["series"]["status"] == "offender_identified"
    failed(vident(settings, "offender", "identify", o_code), "identified already")
    # The local operator belongs to no agency: who identified must be said.
    failed(vident(settings, "victim", "identify", v_code), "which agency")

    viewer = Principal("viewer", PrincipalKind.USER, Role.VIEWER)
    context = open_context(settings, viewer)
    try:
        seen = list_victims(context).subjects
        assert [s.code for s in seen] == [v_code] and seen[0].personal is None
        with pytest.raises(Forbidden):
            add_victim(context)
    finally:
        context.close()


def test_location_and_clue_commands(settings: Settings, pictures: list[Path]) -> None:
    ok(settings, "location", "add", "Harbour cafe", "--country", "nl", "--lat", "52.37",
       "--lon", "4.89", "--notes", "sign on the wall")  # fmt: skip
    failed(vident(settings, "location", "add", "Half", "--lat", "1.0"), "both latitude")
    places = json.loads(ok(settings, "location", "list", "--format", "json"))["locations"]
    assert [(p["name"], p["country"], p["lat"], p["lon"]) for p in places] == [
        ("Harbour cafe", "NL", 52.37, 4.89)
    ]
    assert "Harbour cafe" in ok(settings, "location", "list")

    added = ok(settings, "clue", "add", sha(pictures[1]), "--kind", "logo", "--box", "10,20,30,40")
    clue_id = added.split()[1]
    failed(vident(settings, "clue", "add", sha(pictures[1]), "--kind", "smell"), "'smell'")
    failed(
        vident(settings, "clue", "add", sha(pictures[1]), "--kind", "logo", "--box", "1,2"), "x,y"
    )
    assert ok(settings, "clue", "status", clue_id, "in_progress").strip().endswith("in_progress")
    clues = json.loads(ok(settings, "clue", "list", "--format", "json"))["clues"]
    assert [(c["media"], c["kind"], c["status"], c["box"]) for c in clues] == [
        (sha(pictures[1]), "logo", "in_progress", [10, 20, 30, 40])
    ]
    assert json.loads(ok(settings, "clue", "list", "--status", "open", "--format", "json")) == {
        "clues": []
    }
    failed(vident(settings, "clue", "status", "999", "resolved"), "no clue 999")


def test_category_is_agreed_by_enough_voters(
    settings: Settings, pictures: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    media = sha(pictures[0])
    for voter, category in (("ann", "A"), ("bob", "B"), ("cat", "A"), ("ann", "B")):
        monkeypatch.setenv("VIDENT_OPERATOR", voter)
        ok(settings, "category", "vote", media, category, "--scheme", "UK-CAID")
    shown = json.loads(
        ok(settings, "category", "show", media, "--scheme", "UK-CAID", "--format", "json")
    )
    # ann changed her vote: two for B, one for A, three needed.
    assert shown["tally"] == {"A": 1, "B": 2} and shown["agreed"] is None
    monkeypatch.setenv("VIDENT_OPERATOR", "dan")
    voted = json.loads(
        ok(settings, "category", "vote", media, "B", "--scheme", "UK-CAID", "--format", "json")
    )
    assert voted["agreed"] == "B" and voted["needed"] == 3
    assert "UK-CAID category: B" in ok(settings, "category", "show", media, "--scheme", "UK-CAID")
    other = json.loads(
        ok(settings, "category", "show", media, "--scheme", "US", "--format", "json")
    )
    assert other["agreed"] is None and other["votes"] == []
