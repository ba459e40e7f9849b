"""VICS and series, both ways: an import makes the series a file names into series of the store
(never moving one back, never touching another agency's), and an export writes each media's
series with whether its victim and offender are identified. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import _fresh_pg_database, write_jpeg
from vident.cli import app
from vident.config import Settings
from vident.exchange.records import KnownRecord
from vident.exchange.vics import VicsWriter
from vident.service.agencies import add_agency
from vident.service.context import (
    Context,
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.exports import export_vics_file
from vident.service.hashsets import import_hashset
from vident.service.series import (
    add_series,
    add_series_media,
    list_series,
    show_series,
    update_series,
)
from vident.service.sources import ingest_source
from vident.service.store_admin import init_store
from vident.service.triage import triage_source
from vident.service.victims import add_offender, add_victim, identify_offender, identify_victim

runner = CliRunner()


def _digest(path: Path, name: str) -> bytes:
    return hashlib.new(name, path.read_bytes()).digest()


def _write_vics(path: Path, records: list[KnownRecord]) -> Path:
    with path.open("w", encoding="utf-8") as handle, VicsWriter(handle) as writer:
        for record in records:
            writer.write(record)
    return path


def _record(
    picture: Path | None,
    series: str | None,
    *,
    victim: bool | None = None,
    offender: bool | None = None,
    by: str = "sha256",
    seed: int = 0,
) -> KnownRecord:
    """A known record of ``picture`` (by one of its digests), or of no stored media."""
    value = _digest(picture, by) if picture else hashlib.new(by, f"x{seed}".encode()).digest()
    return KnownRecord(
        hashes={by: value},
        series=series,
        victim_identified=victim,
        offender_identified=offender,
    )


def _media(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The Media of a VICS document by SHA-256 (lower-case hex)."""
    found: dict[str, dict[str, Any]] = {}
    for case in document["value"]:
        for media in case["Media"]:
            for alternative in media.get("AlternativeHashes", []):
                if alternative["HashName"] == "SHA256":
                    found[alternative["HashValue"].lower()] = media
    return found


def _series(ctx: Context) -> dict[str, tuple[str, str, str | None]]:
    """Every series the context sees: name -> (status, created_by, notes)."""
    return {s.name: (s.status, s.created_by, s.notes) for s in list_series(ctx).series}


def _analyst(settings: Settings, name: str, agency_id: int) -> Context:
    principal = Principal(name, PrincipalKind.USER, Role.ANALYST, agency_id=agency_id)
    return open_context(settings, principal)


@pytest.fixture
def operator(settings: Settings) -> Iterator[Context]:
    ctx = open_context(settings, local_operator(settings))
    yield ctx
    ctx.close()


@pytest.fixture
def other(settings: Settings, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """A second, empty data directory on the same kind of database."""
    url = None
    if settings.database_url.startswith("postgresql"):
        url = _fresh_pg_database(request.getfixturevalue("pg_server"))
    fresh = Settings(data=tmp_path / "other", db=url, workers=2)
    init_store(fresh)
    return fresh


def test_a_victim_identified_here_travels_by_vics_to_another_instance(
    settings: Settings, operator: Context, other: Settings, tmp_path: Path
) -> None:
    seizure = tmp_path / "seizure"
    a = write_jpeg(seizure / "a.jpg", 11)
    write_jpeg(seizure / "b.jpg", 12)
    ingest_source(operator, seizure, "EX1", workers=1, signals=("pdq",))
    sha_a = _digest(a, "sha256").hex()
    add_agency(operator, "Met", "GB")
    add_series(operator, "Garden")
    add_series_media(operator, "Garden", [sha_a])
    victim = add_victim(operator, series=["Garden"])
    identify_victim(operator, victim.code, agency="Met")

    exported = tmp_path / "ex1.json"
    export_vics_file(operator, "EX1", exported)
    media = _media(json.loads(exported.read_text(encoding="utf-8")))
    assert len(media) == 2
    assert media[sha_a]["Series"] == "Garden"
    assert media[sha_a]["VictimIdentified"] is True
    assert media[sha_a]["OffenderIdentified"] is False
    (sha_b,) = set(media) - {sha_a}
    assert "Series" not in media[sha_b] and "VictimIdentified" not in media[sha_b]

    there = open_context(other, local_operator(other))
    try:
        ingest_source(there, seizure, "EX1", workers=1, signals=("pdq",))
        done = import_hashset(there, exported, "from-met")
        assert (done.series_created, done.series_updated, done.series_skipped) == (1, 0, 0)
        assert done.series_media_added == 1
        shown = show_series(there, "Garden")
        assert shown.series.status == "victim_identified"
        assert shown.series.notes == "from hash set from-met"
        assert [(m.sha256, m.how) for m in shown.media] == [(sha_a, "suggestion")]

        first = {i.path: i for i in triage_source(there, "EX1").items}
        assert {r.series for r in first["a.jpg"].reasons} == {"Garden"}
        # A later seizure holding the same picture learns the identification through the media.
        later = tmp_path / "later"
        later.mkdir()
        (later / "copy.jpg").write_bytes(a.read_bytes())
        ingest_source(there, later, "EX2", workers=1, signals=("pdq",))
        (item,) = triage_source(there, "EX2").items
        by_media = [r for r in item.reasons if r.media == sha_a]
        assert by_media and by_media[0].series == "Garden"
        assert by_media[0].identified == "victim identified"

        again = import_hashset(there, exported, "from-met")
        assert (again.series_created, again.series_updated, again.series_media_added) == (0, 0, 0)
    finally:
        there.close()


def test_an_import_makes_each_named_series_with_the_status_its_records_give(
    settings: Settings, operator: Context, tmp_path: Path
) -> None:
    seizure = tmp_path / "seizure"
    a, b, c = (write_jpeg(seizure / f"{n}.jpg", 20 + i) for i, n in enumerate("abc"))
    ingest_source(operator, seizure, "EX1", workers=1, signals=("pdq",))
    met = add_agency(operator, "Met", "GB").id
    file = _write_vics(
        tmp_path / "known.json",
        [
            _record(a, "Alpha", victim=False, by="md5"),
            _record(None, "Alpha", victim=True, seed=1),
            _record(b, "Bravo", victim=False, offender=True, by="sha1"),
            _record(c, "Charlie", victim=False, offender=False),
            _record(None, "  ", seed=2),
            _record(None, None, victim=True, seed=3),
        ],
    )
    ana = _analyst(settings, "ana", met)
    try:
        done = import_hashset(ana, file, "national")
        assert done.new_entries == 6
        assert (done.series_created, done.series_updated, done.series_skipped) == (3, 0, 0)
        assert done.series_media_added == 3
        note = "from hash set national"
        assert _series(ana) == {
            "Alpha": ("victim_identified", "ana", note),
            "Bravo": ("offender_identified", "ana", note),
            "Charlie": ("unidentified", "ana", note),
        }
        for name, picture in (("Alpha", a), ("Bravo", b), ("Charlie", c)):
            shown = show_series(ana, name)
            assert shown.series.sharing == "agency"
            assert [(m.sha256, m.how, m.added_by) for m in shown.media] == [
                (_digest(picture, "sha256").hex(), "suggestion", "ana")
            ]
        # The series are the importing agency's: another agency does not see them.
        bka = add_agency(operator, "BKA", "DE").id
        bea = _analyst(settings, "bea", bka)
        try:
            assert _series(bea) == {}
        finally:
            bea.close()
        again = import_hashset(ana, file, "national")
        assert (again.series_created, again.series_updated, again.series_media_added) == (0, 0, 0)
    finally:
        ana.close()


def test_an_import_moves_a_series_forward_and_never_back(
    settings: Settings, operator: Context, tmp_path: Path
) -> None:
    seizure = tmp_path / "seizure"
    a = write_jpeg(seizure / "a.jpg", 31)
    ingest_source(operator, seizure, "EX1", workers=1, signals=("pdq",))
    met = add_agency(operator, "Met", "GB").id
    ana = _analyst(settings, "ana", met)
    try:
        add_series(ana, "Waiting")
        add_series(operator, "Nobodys")  # no agency: the instance's own, any importer may move it
        add_series(ana, "Found")
        update_series(ana, "Found", status="victim_identified")
        add_series(ana, "Caught")
        update_series(ana, "Caught", status="offender_identified")
        add_series(ana, "Shut")
        update_series(ana, "Shut", status="closed")
        file = _write_vics(
            tmp_path / "flags.json",
            [
                _record(a, "Waiting", victim=True),
                _record(None, "Nobodys", offender=True, seed=1),
                _record(None, "Found", victim=False, offender=False, seed=2),
                _record(None, "Caught", victim=True, seed=3),
                _record(None, "Shut", victim=True, seed=4),
            ],
        )
        done = import_hashset(ana, file, "update")
        assert (done.series_created, done.series_updated, done.series_skipped) == (0, 2, 0)
        assert done.series_media_added == 1
        statuses = {name: facts[0] for name, facts in _series(ana).items()}
        assert statuses == {
            "Waiting": "victim_identified",
            "Nobodys": "offender_identified",
            "Found": "victim_identified",
            "Caught": "offender_identified",
            "Shut": "closed",
        }
        assert [m.how for m in show_series(ana, "Waiting").media] == ["suggestion"]
    finally:
        ana.close()


def test_another_agencys_series_of_the_same_name_is_left_alone(
    settings: Settings, operator: Context, tmp_path: Path
) -> None:
    seizure = tmp_path / "seizure"
    a = write_jpeg(seizure / "a.jpg", 41)
    ingest_source(operator, seizure, "EX1", workers=1, signals=("pdq",))
    met = add_agency(operator, "Met", "GB").id
    bka = add_agency(operator, "BKA", "DE").id
    bea = _analyst(settings, "bea", bka)
    ana = _analyst(settings, "ana", met)
    try:
        add_series(bea, "Shared name", sharing="international")
        file = _write_vics(tmp_path / "k.json", [_record(a, "Shared name", victim=True)])
        done = import_hashset(ana, file, "national")
        assert (done.series_created, done.series_updated, done.series_skipped) == (0, 0, 1)
        assert done.series_media_added == 0
        shown = show_series(bea, "Shared name")
        assert shown.series.status == "unidentified" and shown.media == []
        assert shown.series.created_by == "bea"
    finally:
        ana.close()
        bea.close()


def test_only_a_vics_file_makes_series(
    settings: Settings, operator: Context, tmp_path: Path
) -> None:
    seizure = tmp_path / "seizure"
    a = write_jpeg(seizure / "a.jpg", 51)
    ingest_source(operator, seizure, "EX1", workers=1, signals=("pdq",))
    table = tmp_path / "known.csv"
    table.write_text(
        f"sha256,series,victim_identified\n{_digest(a, 'sha256').hex()},Delta,true\n",
        encoding="utf-8",
    )
    done = import_hashset(operator, table, "table")
    assert done.format == "csv" and done.new_entries == 1
    assert (done.series_created, done.series_media_added) == (0, 0)
    assert _series(operator) == {}


def test_export_prefers_an_identified_series_and_says_whose_offender_is_known(
    settings: Settings, operator: Context, tmp_path: Path
) -> None:
    seizure = tmp_path / "seizure"
    a = write_jpeg(seizure / "a.jpg", 61)
    b = write_jpeg(seizure / "b.jpg", 62)
    ingest_source(operator, seizure, "EX1", workers=1, signals=("pdq",))
    sha_a, sha_b = (_digest(p, "sha256").hex() for p in (a, b))
    add_agency(operator, "Met", "GB")
    for name in ("Apple", "Zebra", "Offenders"):
        add_series(operator, name)
    add_series_media(operator, "Apple", [sha_a])
    add_series_media(operator, "Zebra", [sha_a])
    update_series(operator, "Zebra", status="victim_identified")
    add_series_media(operator, "Offenders", [sha_b])
    offender = add_offender(operator, series=["Offenders"])
    update_series(operator, "Offenders", status="closed")
    identify_offender(operator, offender.code, agency="Met")

    exported = tmp_path / "out.json"
    export_vics_file(operator, "EX1", exported)
    media = _media(json.loads(exported.read_text(encoding="utf-8")))
    assert (media[sha_a]["Series"], media[sha_a]["VictimIdentified"]) == ("Zebra", True)
    assert media[sha_b]["Series"] == "Offenders"
    assert (media[sha_b]["VictimIdentified"], media[sha_b]["OffenderIdentified"]) == (False, True)


def test_hashset_import_command_reports_the_series(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seizure = tmp_path / "seizure"
    a = write_jpeg(seizure / "a.jpg", 71)
    file = _write_vics(tmp_path / "k.json", [_record(a, "Echo", victim=True)])

    def vident(*args: str) -> str:
        result = runner.invoke(app, ["--data", str(data), *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    vident("init")
    vident("ingest", str(seizure), "--source", "ex1", "--signals", "pdq", "--quiet")
    out = vident("hashset", "import", str(file), "--name", "k", "--quiet")
    assert "1 records read, 1 new entries, 0 rejected" in out
    assert "series: 1 created, 0 updated, 0 skipped" in out
    assert "1 stored media suggested" in out
    shown = json.loads(vident("series", "list", "--format", "json"))
    assert shown["series"][0]["name"] == "Echo"
    assert shown["series"][0]["status"] == "victim_identified"


def test_a_hash_set_hit_on_an_identified_series_says_so_in_triage(
    operator: Context, tmp_path: Path
) -> None:
    picture = write_jpeg(tmp_path / "seen" / "p.jpg", 71)
    other = write_jpeg(tmp_path / "seen" / "q.jpg", 72)
    records = [_record(picture, "Lake", victim=True), _record(other, "Pier")]
    import_hashset(operator, _write_vics(tmp_path / "known.json", records), "ICSE")
    ingest_source(operator, picture.parent, "S1", workers=1, signals=("pdq",))
    reasons = {i.path: i.reasons for i in triage_source(operator, "S1").items}
    lake = [r for r in reasons["p.jpg"] if r.hashset == "ICSE"]
    assert lake and lake[0].series == "Lake" and lake[0].identified == "victim identified"
    pier = [r for r in reasons["q.jpg"] if r.hashset == "ICSE"]
    assert pier and pier[0].series == "Pier" and pier[0].identified is None


def test_a_media_without_hash_signals_is_exported_by_its_stored_sha256(
    operator: Context, tmp_path: Path
) -> None:
    from tests.test_service_people import add_picture, faces_of

    with operator.store.session() as session:
        add_picture(session, "FACES", faces_of(1, 1)[0])
    out = tmp_path / "faces.json"
    export_vics_file(operator, "FACES", out)
    media = _media(json.loads(out.read_text()))
    assert len(media) == 1
