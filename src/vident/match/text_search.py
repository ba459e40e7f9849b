"""Full-text search over the text read in pictures, and links between pictures by their text.

SQLite searches its FTS5 table ``media_text_fts`` (``unicode61 remove_diacritics 2``: case and
accents do not matter); PostgreSQL the GIN index on ``to_tsvector('simple', text)`` (case does
not matter, accents do). The analyst types plain words: each becomes a quoted term, so no
character of the query (quotes, ``-``, ``*``, ``:``, ``NEAR``, ``OR``...) is ever read as
search syntax. Every word must match; ``"two words"`` must match as a phrase; a trailing
``*`` matches any word that starts with what precedes it.

:func:`shared_text` links a picture to others that show the same distinctive text (a school
name, a shop sign). Each word of its text is looked up in the index; words found in many
texts are boilerplate and ignored, the rest count by rarity (inverse document frequency),
and a whole shared line counts once more.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from vident.match.camera import Link
from vident.store.models import Media, MediaText, Occurrence, Source

#: Highlight marks around matched words in snippets.
MARK_START: Final = "**"
MARK_END: Final = "**"
#: Words of a query; everything else separates words (as the FTS5 and PostgreSQL parsers do).
_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')
#: Words shorter than this are not used to link pictures (too many chance matches).
MIN_LINK_WORD: Final = 3
MIN_LINK_NUMBER: Final = 5
#: Most distinct words of one picture looked up by :func:`shared_text` (longest first).
MAX_LINK_WORDS: Final = 64
#: A word found in more texts than ``max(COMMON_MIN, COMMON_FRACTION * texts)`` is boilerplate.
COMMON_MIN: Final = 20
COMMON_FRACTION: Final = 0.01
#: Rarity is computed as if the store held at least this many texts, so that scores mean the
#: same in a small store and a large one.
MIN_TEXTS: Final = 1000
#: Score = 1 - exp(-evidence / SCALE): one rare word about 0.4, three about 0.8.
SCALE: Final = 12.0
#: Function words of common languages: never evidence, whatever the store says.
_STOP_TEXT: Final = (
    "the and for with from this that are was you your not but all our its www com http https "
    "org net der die das und mit von den für les des une est pour dans sur par aux del los las "
    "con por una che per non sono della"
)
STOP_WORDS: Final = frozenset(_STOP_TEXT.split(" "))


@dataclass(frozen=True, slots=True)
class TextHit:
    """A picture (or keyframe ``frame`` of a video) whose text matches a search."""

    media_id: int
    frame: int
    sha256: str
    snippet: str
    score: float
    path: str | None
    source: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "media_id": self.media_id,
            "frame": self.frame,
            "sha256": self.sha256,
            "snippet": self.snippet,
            "score": self.score,
            "path": self.path,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Term:
    """One query unit: a word or a phrase (its words), optionally a prefix."""

    words: tuple[str, ...]
    prefix: bool = False
    #: What the analyst typed for it (PostgreSQL parses plain terms itself, as it did the text).
    raw: str = ""


def parse_query(query: str) -> list[Term]:
    """The analyst's query as terms; characters with search meaning become separators."""
    terms = []
    for match in _TOKEN.finditer(query):
        phrase, bare = match.group(1), match.group(2)
        raw = phrase if phrase is not None else bare
        prefix = bare is not None and bare.endswith("*")
        words = tuple(_WORD.findall(raw))
        if words:
            prefix = prefix and bool(_WORD.fullmatch(raw[-2:-1] or "_"))
            # Control characters (NUL among them) are never text; PostgreSQL refuses NUL.
            printable = "".join(ch if ch.isprintable() else " " for ch in raw)
            terms.append(Term(words, prefix, printable))
    return terms


def fts5_query(terms: list[Term]) -> str:
    """An FTS5 MATCH expression: every term a double-quoted string, ANDed."""
    parts = []
    for term in terms:
        quoted = '"' + " ".join(term.words).replace('"', '""') + '"'
        parts.append(quoted + ("*" if term.prefix else ""))
    return " ".join(parts)


def tsquery_parts(terms: list[Term]) -> list[tuple[str, str]]:
    """PostgreSQL tsquery pieces as (function, argument), ANDed with ``&&`` in SQL.

    Plain terms go through ``phraseto_tsquery`` (PostgreSQL parses them as it parsed the
    text); a prefix term is built from its words, which hold only letters and digits, so
    ``to_tsquery`` sees no operator that the analyst typed.
    """
    parts = []
    for term in terms:
        if term.prefix:
            lexemes = [f"'{w.lower()}'" for w in term.words]
            lexemes[-1] += ":*"
            parts.append(("to_tsquery", " <-> ".join(lexemes)))
        else:
            parts.append(("phraseto_tsquery", term.raw or " ".join(term.words)))
    return parts


def _pg_tsquery(parts: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    sql = " && ".join(f"{fn}('simple', :q{i})" for i, (fn, _) in enumerate(parts))
    return f"({sql})", {f"q{i}": arg for i, (_, arg) in enumerate(parts)}


def _sqlite_rows(session: Session, terms: list[Term], limit: int) -> list[Any]:
    sql = text(
        "SELECT mt.media_id, mt.frame, "
        "snippet(media_text_fts, 0, :start, :stop, '…', 16) AS snippet, "
        "-bm25(media_text_fts) AS score "
        "FROM media_text_fts JOIN media_text mt ON mt.id = media_text_fts.rowid "
        "WHERE media_text_fts MATCH :q ORDER BY bm25(media_text_fts), mt.id LIMIT :limit"
    )
    params = {"q": fts5_query(terms), "start": MARK_START, "stop": MARK_END, "limit": limit}
    return list(session.execute(sql, params))


def _pg_rows(session: Session, terms: list[Term], limit: int) -> list[Any]:
    query, params = _pg_tsquery(tsquery_parts(terms))
    options = f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=24, MinWords=8"
    # The query expression is repeated, not put in a CTE, so the planner sees a constant
    # and uses the GIN index on the same to_tsvector expression.
    sql = text(
        "SELECT mt.media_id, mt.frame, "
        f"ts_headline('simple', mt.text, {query}, :options) AS snippet, "
        f"ts_rank(to_tsvector('simple', mt.text), {query}) AS score "
        f"FROM media_text mt WHERE to_tsvector('simple', mt.text) @@ {query} "
        "ORDER BY score DESC, mt.id LIMIT :limit"
    )
    return list(session.execute(sql, {**params, "options": options, "limit": limit}))


def search_text(session: Session, query: str, limit: int = 50) -> list[TextHit]:
    """Pictures whose text matches ``query``, best first, one hit per picture or video."""
    terms = parse_query(query)
    if not terms or limit <= 0:
        return []
    dialect = session.get_bind().dialect.name
    fetch = _pg_rows if dialect == "postgresql" else _sqlite_rows
    # A video can match on many keyframes: fetch more rows than asked, keep each media's best.
    best: dict[int, Any] = {}
    for row in fetch(session, terms, limit * 4):
        best.setdefault(row.media_id, row)
    rows = list(best.values())[:limit]
    where = first_occurrences(session, [r.media_id for r in rows])
    sha = media_digests(session, [r.media_id for r in rows])
    return [
        TextHit(
            media_id=r.media_id,
            frame=r.frame,
            sha256=sha.get(r.media_id, ""),
            snippet=" ".join(str(r.snippet).split()),
            score=round(float(r.score), 6),
            path=where.get(r.media_id, (None, None))[0],
            source=where.get(r.media_id, (None, None))[1],
        )
        for r in rows
    ]


def media_digests(session: Session, media_ids: list[int]) -> dict[int, str]:
    if not media_ids:
        return {}
    rows = session.execute(select(Media.id, Media.sha256).where(Media.id.in_(media_ids)))
    return {media_id: bytes(sha).hex() for media_id, sha in rows}


def first_occurrences(session: Session, media_ids: list[int]) -> dict[int, tuple[str, str]]:
    """(path, source name) where each media was first recorded."""
    if not media_ids:
        return {}
    first = (
        select(func.min(Occurrence.id).label("id"))
        .where(Occurrence.media_id.in_(media_ids))
        .group_by(Occurrence.media_id)
        .subquery()
    )
    rows = session.execute(
        select(Occurrence.media_id, Occurrence.path, Source.name)
        .join(first, first.c.id == Occurrence.id)
        .join(Source, Source.id == Occurrence.source_id)
    )
    return {media_id: (path, source) for media_id, path, source in rows if media_id is not None}


# --- links by shared text -------------------------------------------------------------------


def fold(word: str) -> str:
    """Lower case without accents: how SQLite's index compares words."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _link_words(texts: list[str]) -> dict[str, str]:
    """Distinct words worth linking on, folded form to the form first seen."""
    words: dict[str, str] = {}
    for body in texts:
        for word in _WORD.findall(body):
            key = fold(word)
            # Short numbers are prices and dates; long ones (phones, plates) are evidence.
            number_ok = not key.isdigit() or len(key) >= MIN_LINK_NUMBER
            if len(key) >= MIN_LINK_WORD and key not in STOP_WORDS and number_ok:
                words.setdefault(key, word)
    ranked = sorted(words.items(), key=lambda kv: (-len(kv[0]), kv[0]))
    return dict(ranked[:MAX_LINK_WORDS])


def _link_lines(texts: list[str]) -> list[tuple[str, ...]]:
    """Distinct lines of two words or more, as their words."""
    lines: dict[tuple[str, ...], tuple[str, ...]] = {}
    for body in texts:
        for line in body.splitlines():
            words = tuple(_WORD.findall(line))
            if len(words) >= 2:
                lines.setdefault(tuple(fold(w) for w in words), words)
    return list(lines.values())


def _media_matching(session: Session, term: Term, cap: int) -> set[int]:
    """Media whose text holds ``term`` (at most ``cap`` + 1 of them: enough to call it common)."""
    if session.get_bind().dialect.name == "postgresql":
        query, params = _pg_tsquery(tsquery_parts([term]))
        sql = text(
            "SELECT DISTINCT media_id FROM media_text "
            f"WHERE to_tsvector('simple', text) @@ {query} LIMIT :cap"
        )
        rows = session.execute(sql, {**params, "cap": cap + 1})
    else:
        sql = text(
            "SELECT DISTINCT mt.media_id FROM media_text_fts "
            "JOIN media_text mt ON mt.id = media_text_fts.rowid "
            "WHERE media_text_fts MATCH :q LIMIT :cap"
        )
        rows = session.execute(sql, {"q": fts5_query([term]), "cap": cap + 1})
    return {int(media_id) for (media_id,) in rows}


def _text_count(session: Session) -> int:
    """About how many texts the store holds (the largest id: an index lookup, not a count)."""
    return int(session.execute(select(func.coalesce(func.max(MediaText.id), 0))).scalar_one())


def shared_text(session: Session, media_id: int, limit: int = 50) -> list[Link]:
    """Media whose text shares distinctive words or whole lines with this media's text.

    Each link's ``detail`` lists the shared ``words`` and ``lines``; ``common`` (on the
    first link) the words left out as boilerplate.
    """
    mine = select(MediaText.text).where(MediaText.media_id == media_id)
    texts = [body for (body,) in session.execute(mine)]
    words = _link_words(texts)
    if not words:
        return []
    total = _text_count(session)
    common = max(COMMON_MIN, int(COMMON_FRACTION * total))
    texts_for_idf = max(total, MIN_TEXTS)
    evidence: dict[int, float] = defaultdict(float)
    shared_words: dict[int, list[str]] = defaultdict(list)
    boilerplate: list[str] = []
    weight: dict[str, float] = {}
    for key, word in words.items():
        found = _media_matching(session, Term((word,)), common)
        if len(found) > common:
            boilerplate.append(word)
            continue
        weight[key] = math.log(texts_for_idf / max(1, len(found)))
        for other in found - {media_id}:
            evidence[other] += weight[key]
            shared_words[other].append(word)
    shared_lines: dict[int, list[str]] = defaultdict(list)
    for line in _link_lines(texts):
        line_weight = sum(weight.get(fold(w), 0.0) for w in line)
        if line_weight <= 0:
            continue
        for other in _media_matching(session, Term(line), common) - {media_id}:
            if other in evidence:
                evidence[other] += line_weight
                shared_lines[other].append(" ".join(line))
    ranked = sorted(evidence.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    sha = media_digests(session, [m for m, _ in ranked])
    links = []
    for other, value in ranked:
        detail: dict[str, Any] = {"words": shared_words[other], "lines": shared_lines[other]}
        score = round(1 - math.exp(-value / SCALE), 3)
        links.append(Link(other, sha.get(other, ""), "text", score, detail))
    if links and boilerplate:
        links[0].detail["common"] = boilerplate
    return links
