"""Every use case checks who acts and leaves an event in the audit trail, whatever calls it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import write_jpeg
from vident.cli import app
from vident.config import Settings
from vident.service.audit import list_events, verify_trail
from vident.service.context import Principal, PrincipalKind, Role, open_context
from vident.service.errors import Forbidden, NotFound
from vident.service.sources import ingest_source, list_sources
from vident.service.triage import triage_source

runner = CliRunner()


def _as(settings: Settings, role: Role, name: str = "someone") -> Principal:
    return Principal(name=name, kind=PrincipalKind.USER, role=role)


def _events(settings: Settings) -> list[tuple[str, str, str | None, str]]:
    context = open_context(settings, _as(settings, Role.AUDITOR, "auditor"))
    try:
        found = list_events(context).events
    finally:
        context.close()
    return [(e.actor, e.action, e.target, e.outcome) for e in found]


def test_command_line_use_cases_are_audited_as_the_operator(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seizure = tmp_path / "seizure"
    write_jpeg(seizure / "a.jpg", 1)
    env = {"VIDENT_OPERATOR": "op-anna"}

    def vident(*args: str) -> str:
        result = runner.invoke(app, ["--data", str(data), *args], env=env)
        assert result.exit_code == 0, result.output
        return result.stdout

    vident("init")
    vident("ingest", str(seizure), "--source", "ex1", "--signals", "pdq", "--quiet")
    vident("triage", "--source", "ex1", "--format", "json")
    failed = runner.invoke(app, ["--data", str(data), "triage", "--source", "nope"], env=env)
    assert failed.exit_code == 1

    events = _events(Settings(data=data))
    assert ("op-anna", "source.ingest", str(seizure), "ok") in events
    assert ("op-anna", "triage.read", "ex1", "ok") in events
    assert ("op-anna", "triage.read", "nope", "failed") in events
    assert "audit trail intact" in vident("audit", "verify")


def test_roles_are_checked_and_refusals_recorded(settings: Settings, tmp_path: Path) -> None:
    seizure = tmp_path / "seizure"
    write_jpeg(seizure / "a.jpg", 2)
    analyst = open_context(settings, _as(settings, Role.ANALYST, "ana"))
    viewer = open_context(settings, _as(settings, Role.VIEWER, "vic"))
    auditor = open_context(settings, _as(settings, Role.AUDITOR, "aud"))
    try:
        with pytest.raises(Forbidden):
            ingest_source(viewer, seizure, "ex1", signals=("pdq",))
        ingest_source(analyst, seizure, "ex1", signals=("pdq",))
        assert [s.name for s in list_sources(viewer).sources] == ["ex1"]
        assert triage_source(viewer, "ex1").counts["new"] == 1
        with pytest.raises(Forbidden):  # the auditor sees who looked, never the material
            triage_source(auditor, "ex1")
        with pytest.raises(NotFound):
            triage_source(viewer, "missing")
        verified = verify_trail(auditor)
        assert verified.intact and verified.count >= 6
    finally:
        for context in (analyst, viewer, auditor):
            context.close()
    events = _events(settings)
    assert ("vic", "source.ingest", str(seizure), "denied") in events
    assert ("ana", "source.ingest", str(seizure), "ok") in events
    assert ("vic", "source.list", None, "ok") in events
    assert ("aud", "triage.read", "ex1", "denied") in events
    assert ("vic", "triage.read", "missing", "failed") in events
