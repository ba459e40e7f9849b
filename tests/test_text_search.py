"""Full-text search and links by shared text, on both backends, through the real indexes."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ImageDraw, ImageFont
from sqlalchemy.orm import Session

from vident.demo.synthetic import photo_like
from vident.match.text_search import (
    MARK_END,
    MARK_START,
    parse_query,
    search_text,
    shared_text,
)
from vident.media.types import DecodedImage
from vident.signals.base import SignalValue
from vident.signals.text import Text
from vident.store.db import Store
from vident.store.derived import write_signals
from vident.store.models import Media, Occurrence, Source
from vident.store.writer import path_key

TEXTS = {
    1: "LINCOLN HIGH SCHOOL\nWelcome visitors",
    2: "Lincoln High School\nParking",
    3: "École Saint-Exupéry\nSortie",
    4: "Springfield Elementary",
    5: "Contact: info@example.org e-mail 12.5% off",
    6: "high noon at the school gate",
}


def add_media(session: Session, texts: dict[int, str], source: str = "seizure") -> None:
    """Media with an occurrence each and a text signal (derived ``media_text`` rows)."""
    src = session.query(Source).filter_by(name=source).one_or_none()
    if src is None:
        src = Source(name=source, origin="test")
        session.add(src)
        session.flush()
    for media_id in texts:
        sha = hashlib.sha256(str(media_id).encode()).digest()
        session.add(Media(id=media_id, sha256=sha, size=1, media_type="image"))
        path = f"/evidence/{media_id}.jpg"
        session.add(
            Occurrence(source_id=src.id, path_key=path_key(path), path=path, media_id=media_id)
        )
    session.flush()
    signals = [
        (media_id, SignalValue(kind="text", version=1, value=body.encode(), model="test"))
        for media_id, body in texts.items()
    ]
    write_signals(session, signals)


@pytest.fixture
def db(store_url: str) -> Iterator[Store]:
    store = Store(store_url)
    with store.session() as session:
        add_media(session, TEXTS)
    yield store
    store.dispose()


def _ids(store: Store, query: str) -> list[int]:
    with store.reader() as session:
        return [hit.media_id for hit in search_text(session, query)]


def test_words_match_any_case_with_snippet_and_where(db: Store) -> None:
    with db.reader() as session:
        hits = search_text(session, "springfield")
    assert [h.media_id for h in hits] == [4]
    hit = hits[0]
    assert f"{MARK_START}Springfield{MARK_END}" in hit.snippet
    assert hit.path == "/evidence/4.jpg"
    assert hit.source == "seizure"
    assert hit.sha256 == hashlib.sha256(b"4").hexdigest()
    assert hit.frame == 0


def test_all_words_must_match(db: Store) -> None:
    assert sorted(_ids(db, "lincoln school")) == [1, 2]
    assert _ids(db, "lincoln parking") == [2]
    assert _ids(db, "lincoln nowhere") == []


def test_quoted_phrase_keeps_word_order(db: Store) -> None:
    assert sorted(_ids(db, "high school")) == [1, 2, 6]
    assert sorted(_ids(db, '"high school"')) == [1, 2]


def test_trailing_star_is_a_prefix(db: Store) -> None:
    assert _ids(db, "spring") == []
    assert _ids(db, "spring*") == [4]
    assert _ids(db, "SPRINGF*") == [4]


def test_accents_do_not_matter_on_sqlite(db: Store) -> None:
    assert _ids(db, "École") == [3]
    if db.dialect == "sqlite":
        assert _ids(db, "ecole exupery") == [3]


def test_punctuation_in_words(db: Store) -> None:
    assert _ids(db, "e-mail") == [5]
    assert _ids(db, "info@example.org") == [5]
    assert _ids(db, "saint-exupéry") == [3]


HOSTILE_QUERIES = (
    '"',
    '""',
    'a"b',
    "-",
    "-lincoln",
    "*",
    "**",
    ":",
    "text:lincoln",
    "NEAR(lincoln school)",
    "NOT",
    "AND",
    "'",
    "\\",
    "(((",
    "^lincoln",
    "%",
    "_",
    "lincoln'; DROP TABLE media; --",
    "lincoln\x00",
    "   ",
    "",
)


def test_query_syntax_is_never_interpreted(db: Store) -> None:
    with db.reader() as session:
        for query in HOSTILE_QUERIES:
            hits = search_text(session, query)
            assert all(hit.media_id in TEXTS for hit in hits), query
        assert sorted(h.media_id for h in search_text(session, "-lincoln")) == [1, 2]
        assert sorted(h.media_id for h in search_text(session, "text:lincoln")) == []
        # Operators are plain words: "lincoln OR springfield" needs all three words.
        assert search_text(session, "lincoln OR springfield") == []


def test_one_hit_per_video_and_limit(store_url: str) -> None:
    store = Store(store_url)
    with store.session() as session:
        add_media(session, {1: "nothing here"})
        frames = [
            (1, SignalValue(kind="text", version=1, value=b"Gare du Nord", model="t", frame=n))
            for n in (1, 2, 3)
        ]
        write_signals(session, frames)
        add_media(session, {n: f"Gare du Nord quai {n}" for n in range(10, 20)})
    with store.reader() as session:
        hits = search_text(session, "gare nord")
        assert [h.media_id for h in hits].count(1) == 1
        assert len(hits) == 11
        assert len(search_text(session, "gare nord", limit=3)) == 3
    store.dispose()


def test_empty_text_is_stored_but_not_indexed(store_url: str) -> None:
    store = Store(store_url)
    with store.session() as session:
        add_media(session, {7: ""})
    with store.reader() as session:
        assert search_text(session, "anything") == []
        assert shared_text(session, 7) == []
    store.dispose()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(query=st.text(max_size=30))
def test_any_query_is_safe(db: Store, query: str) -> None:
    with db.reader() as session:
        search_text(session, query)


@functools.cache
def _sign_text() -> SignalValue:
    """The text signal of a generated street sign, computed once (OCR is the slow part)."""
    picture = photo_like(640, 480, 11)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((40, 190, 600, 260), fill=(240, 240, 235))
    font = ImageFont.load_default(size=40)  # Pillow's own font: no accented capitals
    draw.text((60, 200), "ECOLE ST MARTIN 12", font=font, fill=(10, 10, 10))
    value = Text().compute(DecodedImage(picture, 1280, 960, "JPEG"))
    assert value is not None
    return value


def test_ocr_signal_to_search_end_to_end(store_url: str) -> None:
    store = Store(store_url)
    with store.session() as session:
        add_media(session, {1: "unrelated"})
        write_signals(session, [(1, _sign_text())])
    with store.reader() as session:
        hits = search_text(session, "ecole martin")
        assert [h.media_id for h in hits] == [1]
        assert f"{MARK_START}MARTIN{MARK_END}" in hits[0].snippet
        if store.dialect == "sqlite":
            assert [h.media_id for h in search_text(session, "école")] == [1]
    store.dispose()


def test_parse_query() -> None:
    terms = parse_query('lincoln "high school" spring* e-mail * -')
    assert [(t.words, t.prefix) for t in terms] == [
        (("lincoln",), False),
        (("high", "school"), False),
        (("spring",), True),
        (("e", "mail"), False),
    ]


def test_shared_text_finds_the_same_sign_and_ignores_boilerplate(store_url: str) -> None:
    store = Store(store_url)
    boilerplate = {n: f"Welcome to picture {n}" for n in range(100, 130)}
    with store.session() as session:
        add_media(session, TEXTS)
        add_media(session, boilerplate)
    with store.reader() as session:
        links = shared_text(session, 1)
    by_media = {link.media_id: link for link in links}
    assert links[0].media_id == 2
    assert links[0].by == "text"
    assert 0.8 < links[0].score <= 1.0
    assert links[0].detail["lines"] == ["LINCOLN HIGH SCHOOL"]
    assert sorted(w.lower() for w in links[0].detail["words"]) == ["high", "lincoln", "school"]
    assert "Welcome" in links[0].detail["common"]
    # "welcome" is on 31 texts: boilerplate, so no picture is linked by it alone.
    assert not set(by_media) & set(boilerplate)
    # Picture 6 shares "high" and "school" but not the name: a weaker link.
    assert by_media[6].score < links[0].score
    assert 1 not in by_media
    store.dispose()
