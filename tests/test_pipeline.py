"""Ingest and triage through the library API on both backends, with real pictures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import transformed, write_jpeg
from vident.config import Settings
from vident.exchange.records import KnownRecord
from vident.index.near import NearIndex, open_all
from vident.ingest.pipeline import ingest_source
from vident.match.triage import triage_source
from vident.store.db import Store
from vident.store.hashsets import import_records
from vident.store.models import Media, Occurrence
from vident.store.sources import get_source


def _indexes(settings: Settings, store: Store) -> dict[str, NearIndex]:
    with store.reader() as session:
        return open_all(session, settings.index_dir, settings.pdq_min_quality)


def _verdicts(settings: Settings, store: Store, source: str) -> dict[str, str]:
    indexes = _indexes(settings, store)
    with store.reader() as session:
        report = triage_source(session, get_source(session, source), indexes, {"pdq": 31})
    return {item.path: item.verdict.value for item in report.items}


def test_ingest_then_triage_known_near_new_error(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    reference = tmp_path / "reference"
    for seed in range(4):
        write_jpeg(reference / f"ref{seed}.jpg", seed)
    summary = ingest_source(store, settings, reference, "reference", workers=1)
    assert (summary.files, summary.errors, summary.new_media) == (4, 0, 4)

    seizure = tmp_path / "seizure"
    seizure.mkdir()
    shutil.copy(reference / "ref0.jpg", seizure / "copy.jpg")
    transformed(reference / "ref1.jpg", seizure / "rotated.jpg", "rotate90")
    transformed(reference / "ref2.jpg", seizure / "small.jpg", "resize")
    write_jpeg(seizure / "fresh.jpg", 99)
    (seizure / "empty.jpg").write_bytes(b"")
    (seizure / "notes.jpg").write_text("not a picture at all\n")
    (seizure / "broken.jpg").write_bytes((reference / "ref3.jpg").read_bytes()[:3000])

    summary = ingest_source(store, settings, seizure, "seizure", workers=2)
    assert summary.files == 7
    assert summary.errors == 3

    assert _verdicts(settings, store, "seizure") == {
        "copy.jpg": "known",
        "rotated.jpg": "near",
        "small.jpg": "near",
        "fresh.jpg": "new",
        "empty.jpg": "error",
        "notes.jpg": "error",
        "broken.jpg": "error",
    }
    # The earlier source is not made "known" by the later one.
    assert set(_verdicts(settings, store, "reference").values()) == {"new"}


def test_rerun_adds_nothing(settings: Settings, store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "s"
    for seed in range(3):
        write_jpeg(folder / f"{seed}.jpg", seed)
    shutil.copy(folder / "0.jpg", folder / "dup.jpg")
    first = ingest_source(store, settings, folder, "s", workers=1)
    assert (first.files, first.new_media) == (4, 3)
    again = ingest_source(store, settings, folder, "s", workers=2)
    assert (again.files, again.skipped, again.new_media) == (0, 4, 0)
    with store.reader() as session:
        assert session.scalar(select(func.count(Occurrence.id))) == 4
        assert session.scalar(select(func.count(Media.id))) == 3


def test_hash_set_makes_known_and_near(settings: Settings, store: Store, tmp_path: Path) -> None:
    from vident.ingest.pipeline import limits_of
    from vident.ingest.records import WorkItem
    from vident.ingest.worker import process_item

    original = write_jpeg(tmp_path / "orig" / "a.jpg", 7)
    other = write_jpeg(tmp_path / "orig" / "b.jpg", 8)
    records = []
    for path, keep in ((original, ("md5",)), (other, ("pdq",))):
        result = process_item(WorkItem(path=path.name, fs_path=str(path)), limits_of(settings))
        hashes = {s.kind: s.value for s in result.signals if s.kind in keep}
        records.append(KnownRecord(hashes=hashes, category="1", series="demo-series"))
    import_records(store, "national", records)

    seizure = tmp_path / "seizure"
    seizure.mkdir()
    shutil.copy(original, seizure / "x.jpg")
    transformed(other, seizure / "y.jpg", "flip")
    ingest_source(store, settings, seizure, "seizure", workers=1)
    indexes = _indexes(settings, store)
    with store.reader() as session:
        report = triage_source(session, get_source(session, "seizure"), indexes, {"pdq": 31})
    by_path = {i.path: i for i in report.items}
    assert by_path["x.jpg"].verdict.value == "known"
    assert by_path["x.jpg"].reasons[0].hashset == "national"
    assert by_path["x.jpg"].reasons[0].series == "demo-series"
    assert by_path["y.jpg"].verdict.value == "near"
    assert by_path["y.jpg"].reasons[0].signal == "pdq"
    assert by_path["y.jpg"].reasons[0].distance <= 31


def test_hash_set_metadata_round_trips_on_every_backend(store: Store) -> None:
    from vident.store.models import HashSetEntry

    record = KnownRecord(
        hashes={"md5": bytes(range(16)), "pdq": bytes(32)},
        category="2",
        category_scheme="US",
        series="Series A",
        victim_identified=True,
        offender_identified=False,
        tags=["tag one", "zwei"],
        comment="née",
        media_size=1234,
        mime_type="image/jpeg",
        files=[{"FileName": "a.jpg", "FilePath": "x/a.jpg"}],
        extra={"IsPrecategorized": True, "Exifs": [{"PropertyName": "Make"}]},
    )
    bare = KnownRecord(hashes={"sha1": bytes(20)})
    summary = import_records(store, "set", [record, bare, record])
    assert (summary.records, summary.new_entries) == (3, 2)
    with store.reader() as session:
        entries = {e.category: e for e in session.scalars(select(HashSetEntry))}
    full, empty = entries["2"], entries[None]
    assert (full.category_scheme, full.series, full.comment) == ("US", "Series A", "née")
    assert (full.victim_identified, full.offender_identified, full.is_distributed) == (
        True,
        False,
        None,
    )
    assert full.tags == ["tag one", "zwei"] and full.files == record.files
    assert full.extra == record.extra and full.media_size == 1234
    assert (empty.tags, empty.files, empty.extra) == (None, None, None)


def test_large_archive_members_travel_as_files_and_are_cleaned_up(
    settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import os
    import zipfile

    from vident.ingest import archives
    from vident.ingest.records import FileTimes
    from vident.media.detect import ArchiveFormat

    monkeypatch.setattr(archives, "MEMBER_MEMORY_BYTES", 1024 * 1024)
    big = os.urandom(3 * 1024 * 1024)
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    with zipfile.ZipFile(seizure / "a.zip", "w") as archive:
        archive.writestr("big.bin", big)
        archive.writestr("small.jpg", (write_jpeg(tmp_path / "s.jpg", 3)).read_bytes())
    walked = list(
        archives.expand_archive(
            (seizure / "a.zip").open("rb"),
            "a.zip",
            ArchiveFormat.ZIP,
            FileTimes(),
            None,
            settings,
            settings.tmp_dir,
        )
    )
    spooled = [item for item in walked if item.spooled]
    assert [item.path for item in spooled] == ["a.zip/big.bin"]
    assert Path(str(spooled[0].fs_path)).parent == settings.tmp_dir

    summary = ingest_source(store, settings, seizure, "s", workers=2)
    assert (summary.files, summary.errors) == (2, 0)
    with store.reader() as session:
        digests = {bytes(d) for d in session.scalars(select(Media.sha256))}
    assert hashlib.sha256(big).digest() in digests
    assert list(settings.tmp_dir.iterdir()) == []
