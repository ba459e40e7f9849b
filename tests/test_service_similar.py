"""Similar, related and text search called as use cases, on SQLite and PostgreSQL.

The pictures are generated; they are ingested with PDQ only (no model to load), and the
use cases are called with a context as the command line makes one. What is checked is the
JSON contract (the models) and the service errors, not the rendering.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import transformed, write_jpeg
from vident.config import Settings
from vident.ingest.pipeline import ingest_source
from vident.service.context import Context, local_operator, open_context
from vident.service.errors import Invalid, NotFound
from vident.service.similar import (
    FileQueryOut,
    find_related_media,
    find_similar_media,
)
from vident.service.text import search_text


@pytest.fixture
def ctx(settings: Settings, tmp_path: Path) -> Iterator[Context]:
    """A store holding source ``ref`` (p0..p2.jpg) and ``later`` (a flipped copy of p2)."""
    ref = tmp_path / "ref"
    for seed in range(3):
        write_jpeg(ref / f"p{seed}.jpg", seed)
    later = tmp_path / "later"
    transformed(ref / "p2.jpg", later / "copy.jpg", "flip")
    context = open_context(settings, local_operator(settings))
    ingest_source(context.store, settings, ref, "ref", workers=1, signals=("pdq",))
    ingest_source(context.store, settings, later, "later", workers=1, signals=("pdq",))
    yield context
    context.close()


def test_similar_finds_the_flipped_copy_with_its_reason(ctx: Context, tmp_path: Path) -> None:
    query = tmp_path / "later" / "copy.jpg"
    found = find_similar_media(ctx, query, by="pdq", top=5)
    assert isinstance(found.query, FileQueryOut)
    assert found.query.path == str(query) and found.query.type == "image"
    assert found.query.sha256 is not None and len(found.query.sha256) == 64
    first = found.results[0]
    assert (first.path, first.source, first.by) == ("p2.jpg", "ref", "pdq")
    assert 0 < first.score <= 1 and "distance" in first.detail
    dumped = found.model_dump(mode="json")
    assert set(dumped) == {"query", "results"}
    assert set(dumped["results"][0]) == {
        "sha256",
        "path",
        "source",
        "type",
        "by",
        "score",
        "verdict",
        "where",
        "detail",
    }
    # A PDQ match alone makes the copy near in triage; no local features, so no region.
    assert (first.verdict, first.where) == ("near", None)
    # The query itself is stored (source "later"): it is never its own result.
    assert all(r.source != "later" for r in found.results)


def test_similar_by_nothing_known_is_empty(ctx: Context, tmp_path: Path) -> None:
    stranger = write_jpeg(tmp_path / "stranger.jpg", 77)
    assert find_similar_media(ctx, stranger, by="pdq").results == []


def test_related_follows_the_strong_link(ctx: Context) -> None:
    copy = find_similar_media(ctx, ctx.settings.data.parent / "later" / "copy.jpg", by="pdq")
    sha = copy.query.sha256
    assert sha is not None
    related = find_related_media(ctx, sha)
    assert related.query.sha256 == sha
    assert "path" not in related.query.model_dump()
    assert [(r.path, r.source, r.by) for r in related.results] == [("p2.jpg", "ref", "pdq")]


def test_bad_queries_are_service_errors_without_option_names(ctx: Context, tmp_path: Path) -> None:
    picture = tmp_path / "ref" / "p0.jpg"
    with pytest.raises(Invalid, match="not known; choose from pdq") as unknown:
        find_similar_media(ctx, picture, by="smell")
    with pytest.raises(Invalid, match="is not a file"):
        find_similar_media(ctx, tmp_path / "missing.jpg")
    with pytest.raises(Invalid, match="x and y must be >= 0") as region:
        find_similar_media(ctx, picture, region=(0, 0, 0, 10))
    (tmp_path / "notes.txt").write_text("not a picture")
    with pytest.raises(Invalid, match="cannot read"):
        find_similar_media(ctx, tmp_path / "notes.txt")
    with pytest.raises(Invalid, match="not a SHA-256 in hexadecimal"):
        find_related_media(ctx, "xyz")
    with pytest.raises(Invalid, match="64 hex digits"):
        find_related_media(ctx, "ab" * 8)
    with pytest.raises(NotFound, match="no media with SHA-256"):
        find_related_media(ctx, "00" * 32)
    for error in (unknown.value, region.value):
        assert "--" not in str(error)
    with pytest.raises(Invalid):
        search_text(ctx, "school", limit=0)


def test_text_search_without_text_is_empty(ctx: Context) -> None:
    found = search_text(ctx, "lincoln school")
    assert found.query == "lincoln school" and found.results == []


def test_one_likeness_computes_only_the_signals_it_needs(ctx: Context, tmp_path: Path) -> None:
    from vident.match.connect import BY_CHOICES
    from vident.service.similar import NEEDS

    assert set(NEEDS) == set(BY_CHOICES)
    query = tmp_path / "later" / "copy.jpg"
    by_pdq = find_similar_media(ctx, query, by="pdq", top=2)
    assert by_pdq.query.faces is None and by_pdq.query.text is None  # not looked for
    assert by_pdq.results[0].path == "p2.jpg"
    by_face = find_similar_media(ctx, query, by="face", top=2)
    assert by_face.query.faces == 0  # looked for, none in a generated photo
