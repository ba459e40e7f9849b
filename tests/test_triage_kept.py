"""A process keeps the verdicts of a source only while nothing in the store changed.

Triage asks every index for every file, which costs seconds for a large seizure; the grid asks
for one page at a time. The kept verdicts must never be stale: a change made by a use case of
this process, by another process on the same store, or a store made again at the same place
all give verdicts computed afresh. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import write_jpeg
from vident.config import Settings
from vident.service.context import Context, local_operator, open_context
from vident.service.hashsets import import_hashset
from vident.service.series import add_series
from vident.service.sources import ingest_source
from vident.service.store_admin import init_store
from vident.service.triage import triage_source

PDQ = ("pdq",)


@contextmanager
def _operator(settings: Settings) -> Iterator[Context]:
    ctx = open_context(settings, local_operator(settings))
    try:
        yield ctx
    finally:
        ctx.close()


def _seizure(folder: Path) -> Path:
    for seed in (1, 2):
        write_jpeg(folder / f"IMG_{seed}.jpg", seed)
    return folder


def _hash_list(tmp_path: Path, picture: Path) -> Path:
    listed = tmp_path / "known.txt"
    listed.write_text(hashlib.sha256(picture.read_bytes()).hexdigest() + "\n")
    return listed


def test_a_change_in_this_process_gives_fresh_verdicts(settings: Settings, tmp_path: Path) -> None:
    init_store(settings)
    seizure = _seizure(tmp_path / "seizure")
    with _operator(settings) as ctx:
        ingest_source(ctx, seizure, "s1", signals=PDQ)
        first = triage_source(ctx, "s1")
        assert first.counts["new"] == 2
        assert triage_source(ctx, "s1") == first  # kept, and the same answer
        import_hashset(ctx, _hash_list(tmp_path, seizure / "IMG_1.jpg"), "known", kind="sha256")
        after = triage_source(ctx, "s1")
        assert after.counts["known"] == 1 and after.counts["new"] == 1
        assert triage_source(ctx, "s1") == after
        add_series(ctx, "KEPT-1")  # a change that no verdict depends on costs a recomputation
        assert triage_source(ctx, "s1") == after
        import_hashset(ctx, _hash_list(tmp_path, seizure / "IMG_2.jpg"), "more", kind="sha256")
        assert triage_source(ctx, "s1").counts["known"] == 2


def test_a_change_by_another_process_gives_fresh_verdicts(
    settings: Settings, tmp_path: Path
) -> None:
    init_store(settings)
    seizure = _seizure(tmp_path / "seizure")
    with _operator(settings) as ctx:
        ingest_source(ctx, seizure, "s1", signals=PDQ)
        assert triage_source(ctx, "s1").counts["new"] == 2
        known = _hash_list(tmp_path, seizure / "IMG_2.jpg")
        command = [sys.executable, "-m", "vident", "--data", str(settings.data)]
        if settings.database_url != Settings(data=settings.data).database_url:
            command += ["--db", settings.database_url]
        subprocess.run(
            [*command, "hashset", "import", str(known), "--name", "k", "--kind", "sha256"],
            check=True,
            capture_output=True,
        )
        assert triage_source(ctx, "s1").counts["known"] == 1


def test_a_store_made_again_at_the_same_place_is_not_taken_for_the_old(tmp_path: Path) -> None:
    settings = Settings(data=tmp_path / "data")
    seizure = _seizure(tmp_path / "seizure")
    listed = _hash_list(tmp_path, seizure / "IMG_1.jpg")
    # Both rounds make two changes (the same generation counter): only the store differs.
    for round_, known in ((1, 1), (2, 0)):
        shutil.rmtree(settings.data, ignore_errors=True)
        init_store(settings)
        with _operator(settings) as ctx:
            ingest_source(ctx, seizure, "s1", signals=PDQ)
            if round_ == 1:
                import_hashset(ctx, listed, "known", kind="sha256")
            else:
                add_series(ctx, "UNRELATED")
            counts = triage_source(ctx, "s1").counts
        assert counts["known"] == known, f"round {round_}: {counts}"
