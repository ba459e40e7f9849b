"""The use cases behind the core commands, called directly on SQLite and PostgreSQL.

Every interface (the command line today, the web API next) calls these functions; so they are
tested without one: each returns its pydantic model, and each failure is a ServiceError of the
right kind (and HTTP status) whose message names no command-line option.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_jpeg
from vident.config import Settings
from vident.ingest.lock import writer_lock
from vident.service.context import Context, local_operator, open_context
from vident.service.errors import Busy, Invalid, NotFound, ServiceError
from vident.service.exports import export_vics_file, export_vics_stream
from vident.service.hashsets import import_hashset, list_hashsets
from vident.service.indexes import rebuild_indexes
from vident.service.search import search_file
from vident.service.sources import ingest_source, list_sources
from vident.service.store_admin import init_store
from vident.service.triage import triage_source


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    context = open_context(settings, local_operator(settings))
    yield context
    context.close()


@pytest.fixture
def seizure(tmp_path: Path) -> Path:
    """Two distinct pictures and one file that only looks like one."""
    folder = tmp_path / "seizure"
    write_jpeg(folder / "a.jpg", 1)
    write_jpeg(folder / "b.jpg", 2)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a picture")
    return folder


def _ingest(ctx: Context, folder: Path, source: str = "S1") -> None:
    ingest_source(ctx, folder, source, signals=("pdq",), workers=1)


def _known_csv(path: Path, picture: Path) -> Path:
    digest = hashlib.sha256(picture.read_bytes()).hexdigest()
    path.write_text(f"sha256,category,series\n{digest},1,S-9\nnot-a-hash,1,S-9\n")
    return path


def _flagless(error: ServiceError) -> None:
    """Library messages never name a command-line option."""
    assert "--" not in str(error), str(error)


def test_ingest_counts_and_lists_the_source(ctx: Context, seizure: Path) -> None:
    first = ingest_source(ctx, seizure, "S1", signals=("pdq",), workers=1)
    assert (first.source, first.files, first.new_media, first.errors) == ("S1", 3, 3, 1)
    assert [e.path for e in first.error_samples] == ["broken.jpg"]
    again = ingest_source(ctx, seizure, "S1", signals=("pdq",), workers=1)
    assert (again.files, again.skipped) == (0, 3)
    listed = list_sources(ctx).model_dump(mode="json")
    assert listed == {
        "sources": [
            {
                "name": "S1",
                "files": 3,
                "errors": 1,
                "status": "complete",
                "origin": str(seizure.resolve()),
            }
        ]
    }


def test_ingest_failures_are_service_errors(ctx: Context, tmp_path: Path, seizure: Path) -> None:
    with pytest.raises(NotFound, match="does not exist") as missing:
        ingest_source(ctx, tmp_path / "nowhere", "S1", signals=("pdq",))
    assert missing.value.status == 404
    with pytest.raises(Invalid, match="source name is empty") as blank:
        ingest_source(ctx, seizure, "  ")
    _flagless(blank.value)
    with writer_lock(ctx.settings.data), pytest.raises(Busy, match="another vident") as busy:
        ingest_source(ctx, seizure, "S1", signals=("pdq",), workers=1)
    assert busy.value.status == 503
    assert list_sources(ctx).sources == []


def test_hashset_import_rejects_bad_rows_and_lists(ctx: Context, tmp_path: Path) -> None:
    picture = write_jpeg(tmp_path / "ref.jpg", 7)
    done = import_hashset(ctx, _known_csv(tmp_path / "known.csv", picture), "national")
    assert (done.format, done.records, done.new_entries, done.rejected) == ("csv", 1, 1, 1)
    assert len(done.rejected_samples) == 1 and "line 3" in done.rejected_samples[0]
    assert done.fatal is None
    (shown,) = list_hashsets(ctx).hashsets
    assert (shown.name, shown.entries, shown.status, shown.format) == (
        "national",
        1,
        "complete",
        "csv",
    )


def test_hashset_import_refusals(ctx: Context, tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="is not a file"):
        import_hashset(ctx, tmp_path / "absent.csv", "x")
    plain = tmp_path / "plain.txt"
    plain.write_text("ab" * 32 + "\n")
    with pytest.raises(Invalid) as kind:
        import_hashset(ctx, plain, "x", kind="crc32")
    _flagless(kind.value)
    assert list_hashsets(ctx).hashsets == []


def test_a_truncated_vics_file_is_reported_as_incomplete(ctx: Context, tmp_path: Path) -> None:
    vics = tmp_path / "cut.json"
    head = '{"value": [{"Media": [{"MD5": "' + "a" * 32 + '", "Category": 1}, {"MD5": "'
    vics.write_text(head)
    done = import_hashset(ctx, vics, "cut")
    assert done.fatal is not None and "incomplete" in done.fatal and "--" not in done.fatal
    (shown,) = list_hashsets(ctx).hashsets
    assert shown.status == "incomplete"


def test_triage_reasons_use_the_shared_model(ctx: Context, seizure: Path, tmp_path: Path) -> None:
    import_hashset(ctx, _known_csv(tmp_path / "known.csv", seizure / "a.jpg"), "national")
    _ingest(ctx, seizure)
    report = triage_source(ctx, "S1")
    assert report.source == "S1"
    assert report.counts == {"known": 1, "near": 0, "related": 0, "new": 1, "error": 1}
    assert [i.path for i in report.items] == ["a.jpg", "b.jpg", "broken.jpg"]
    assert [i.verdict.value for i in report.by_priority()] == ["new", "error", "known"]
    known = report.items[0]
    reason = known.reasons[0]
    assert (reason.signal, reason.hashset, reason.series, reason.category) == (
        "sha256",
        "national",
        "S-9",
        "1",
    )
    dumped = report.model_dump(mode="json")
    assert list(dumped) == ["source", "counts", "items"]
    assert dumped["items"][0]["verdict"] == "known"
    json.dumps(dumped)  # the whole result is plain JSON


def test_triage_of_an_unknown_source_names_the_known_ones(ctx: Context, seizure: Path) -> None:
    _ingest(ctx, seizure)
    with pytest.raises(NotFound, match="no source named 'S2'; known sources: S1"):
        triage_source(ctx, "S2")


def test_search_finds_where_a_file_was_seen(ctx: Context, seizure: Path, tmp_path: Path) -> None:
    _ingest(ctx, seizure)
    found = search_file(ctx, seizure / "b.jpg")
    assert found.verdict.value == "known"
    assert found.sha256 == hashlib.sha256((seizure / "b.jpg").read_bytes()).hexdigest()
    exact = [m for m in found.matches if m.signal == "sha256"]
    assert exact and exact[0].source == "S1"
    assert [(o.source, o.path) for o in exact[0].occurrences] == [("S1", "b.jpg")]
    fresh = search_file(ctx, write_jpeg(tmp_path / "fresh.jpg", 99))
    assert (fresh.verdict.value, fresh.matches) == ("new", [])
    with pytest.raises(Invalid, match="is not a file"):
        search_file(ctx, tmp_path)


def test_export_writes_atomically_or_not_at_all(
    ctx: Context, seizure: Path, tmp_path: Path
) -> None:
    _ingest(ctx, seizure)
    target = tmp_path / "out" / "s1.json"
    with pytest.raises(Invalid, match="does not exist"):
        export_vics_file(ctx, "S1", target)
    target.parent.mkdir()
    with pytest.raises(Invalid, match="is a directory"):
        export_vics_file(ctx, "S1", target.parent)
    with pytest.raises(NotFound, match="no source named 'nope'"):
        export_vics_file(ctx, "nope", target)
    assert list(target.parent.iterdir()) == []
    done = export_vics_file(ctx, "S1", target)
    assert (done.source, done.media, done.destination) == ("S1", 3, str(target))
    written = json.loads(target.read_text(encoding="utf-8"))
    assert len(written["value"][0]["Media"]) == 3
    assert [p.name for p in target.parent.iterdir()] == ["s1.json"]
    stream = io.StringIO()
    assert export_vics_stream(ctx, "S1", stream).media == 3
    assert json.loads(stream.getvalue())["value"][0]["Media"] == written["value"][0]["Media"]


def test_a_failed_export_keeps_the_earlier_file_and_no_part(
    ctx: Context, seizure: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ingest(ctx, seizure)
    target = tmp_path / "s1.json"
    target.write_text("earlier export")

    def fail_halfway(_session: object, _source: object, stream: io.TextIOBase) -> int:
        stream.write('{"value": [')
        raise OSError(28, "No space left on device", str(target) + ".part")

    monkeypatch.setattr("vident.service.exports.export_source", fail_halfway)
    with pytest.raises(OSError):
        export_vics_file(ctx, "S1", target)
    assert target.read_text() == "earlier export"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_rebuild_counts_every_index(ctx: Context, seizure: Path) -> None:
    _ingest(ctx, seizure)
    sizes = {i.name: i.entries for i in rebuild_indexes(ctx).indexes}
    assert sizes["pdq"] == 2 and {"scene", "face"} <= set(sizes)
    with writer_lock(ctx.settings.data), pytest.raises(Busy):
        rebuild_indexes(ctx)


def test_init_creates_then_migrates(tmp_path: Path) -> None:
    settings = Settings(data=tmp_path / "fresh")
    ready = init_store(settings)
    assert ready.data == str(settings.data) and "vident.db" in ready.store
    assert (settings.data / "vident.db").is_file() and settings.index_dir.is_dir()
    assert init_store(settings) == ready  # run again: already current
    context = open_context(settings, local_operator(settings))
    try:
        assert list_sources(context).sources == []
    finally:
        context.close()
