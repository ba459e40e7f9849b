"""Similar and related: stored media that look like a query, each with the reason it was found.

``similar`` ranks the store by likeness to a file from outside (or a part of it), by one kind of
likeness or by all; ``related`` follows every strong link of a media already stored. Both only
read: the indexes are caught up with the store when the context opens them and never saved
here, so neither needs the data directory to itself.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, JsonValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.ingest.pipeline import limits_of
from vident.match.connect import BY_CHOICES, records
from vident.match.connect import related as find_related
from vident.match.connect import similar as find_similar
from vident.match.links import Linker
from vident.match.probe import describe_probe, probe_file, probe_media
from vident.media.errors import MediaError
from vident.service.context import Context
from vident.service.domain import parse_sha256
from vident.service.errors import Invalid, NotFound
from vident.service.schemas import Model
from vident.service.scope import NOT_SHARED, check_media, seen_sources
from vident.service.use_case import SEE_MEDIA, use_case
from vident.signals.base import ImageSignal
from vident.signals.registry import get
from vident.store.models import Media

__all__ = [
    "BY_CHOICES",
    "FileQueryOut",
    "LinkOut",
    "QueryOut",
    "Region",
    "RelatedOut",
    "SimilarOut",
    "find_related_media",
    "find_similar_media",
    "parse_sha256",
]

#: A part of a picture, in its pixels: x, y, width, height.
Region = tuple[int, int, int, int]


class QueryOut(Model):
    """What was asked about: the query's hash, type and what it shows."""

    sha256: str | None = Field(description="SHA-256 of the query (None if it was unreadable).")
    type: str = Field(description="image or video.")
    faces: int | None = Field(
        description="Faces found in the query (None: not looked for by this likeness)."
    )
    frames: int | None = Field(description="Keyframes compared, for a video.")
    text: str | None = Field(
        description="The start of the text recognised in the query (None: none, or not read)."
    )


class FileQueryOut(QueryOut):
    """A query that is a file from outside the store."""

    path: str


class LinkOut(Model):
    """A stored media that matches the query, because of ``by``, with the evidence."""

    sha256: str
    path: str = Field(description="Where the media was first seen.")
    source: str = Field(description="The source (seizure) it was first seen in.")
    type: str
    by: str = Field(description="What found it: pdq, keypoints, vpdq, face, person, scene ...")
    score: float = Field(description="Strength of the link, 0..1; results are best first.")
    verdict: str | None = Field(
        default=None,
        description="What triage calls the query for this link alone: near (a copy: PDQ, a "
        "verified crop, turn or containment, a matching video), related (another strong "
        "link), or None (a weak likeness).",
    )
    where: str | None = Field(
        default=None,
        description="For a verified picture: which part of it the query shows, or where in "
        "the query it lies.",
    )
    detail: dict[str, JsonValue]


class SimilarOut(Model):
    query: FileQueryOut
    results: list[LinkOut]


class RelatedOut(Model):
    query: QueryOut
    results: list[LinkOut]


#: The picture signals of the query each likeness needs (PDQ and scene links are verified
#: with local features; the scene finder also proposes crops). Reading text and finding faces
#: are the costly ones, so a question about one likeness computes only what it needs.
NEEDS: dict[str, tuple[str, ...]] = {
    "pdq": ("pdq", "scene", "keypoints"),
    "scene": ("pdq", "scene", "keypoints"),
    "face": ("face",),
    "text": ("text",),
    "camera": (),
}


def _needed_kinds(by: str | None) -> list[ImageSignal] | None:
    """The signals to compute for a likeness (None: every configured one)."""
    if by is None:
        return None
    kinds = [get(name) for name in NEEDS[by]]
    return [kind for kind in kinds if isinstance(kind, ImageSignal)]


def _check_region(region: Region | None) -> None:
    if region is None:
        return
    x, y, w, h = region
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise Invalid(f"region {x},{y},{w},{h}: x and y must be >= 0, width and height > 0")


def _stored_media_id(session: Session, sha256: bytes | None) -> int | None:
    if sha256 is None:
        return None
    found: int | None = session.scalar(select(Media.id).where(Media.sha256 == sha256))
    return found


def _shown(ctx: Context, session: Session, links: list[LinkOut]) -> list[LinkOut]:
    """``links`` with where material of agencies that did not share it was seen left out:
    the hash and the evidence of the likeness stay, the path and source do not."""
    seen = seen_sources(ctx, session, {link.source for link in links})
    return [
        link
        if link.source in seen
        else link.model_copy(update={"source": NOT_SHARED, "path": NOT_SHARED})
        for link in links
    ]


def _linker(ctx: Context, session: Session) -> Linker:
    return Linker(session, ctx.indexes(session), ctx.settings)


@use_case("similar.query", SEE_MEDIA)
def find_similar_media(
    ctx: Context,
    file: Path,
    *,
    by: str | None = None,
    region: Region | None = None,
    top: int = 10,
) -> SimilarOut:
    """The ``top`` stored media most like ``file`` (or its ``region``), best first."""
    if by is not None and by not in BY_CHOICES:
        raise Invalid(f"the likeness {by!r} is not known; choose from {', '.join(BY_CHOICES)}")
    if top < 1:
        raise Invalid(f"ask for at least one result, not {top}")
    _check_region(region)
    if not file.is_file():
        raise Invalid(f"{file} is not a file")
    kinds = _needed_kinds(by)
    try:
        probe = probe_file(
            file,
            limits_of(ctx.settings),
            kinds=kinds,
            region=region,
            min_pdq_quality=ctx.settings.pdq_min_quality,
        )
    except MediaError as exc:
        raise Invalid(f"cannot read {file}: {exc}") from None
    with ctx.store.reader() as session:
        probe.media_id = _stored_media_id(session, probe.sha256)
        found = records(session, find_similar(_linker(ctx, session), probe, by, top))
        results = _shown(ctx, session, [LinkOut.model_validate(r) for r in found])
    described = describe_probe(probe)
    names = {kind.name for kind in kinds} if kinds is not None else None
    if names is not None and "face" not in names:
        described["faces"] = None
    if names is not None and "text" not in names:
        described["text"] = None
    query = FileQueryOut.model_validate({**described, "path": str(file)})
    return SimilarOut(query=query, results=results)


@use_case("related.query", SEE_MEDIA)
def find_related_media(ctx: Context, sha256: str) -> RelatedOut:
    """Every strong link of the stored media ``sha256``: strongest first, one per media and kind."""
    digest = parse_sha256(sha256)
    with ctx.store.reader() as session:
        try:
            probe = probe_media(session, digest, ctx.settings.pdq_min_quality)
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        if probe.media_id is not None:
            check_media(ctx, session, probe.media_id, digest.hex())
        found = records(session, find_related(_linker(ctx, session), probe))
        results = _shown(ctx, session, [LinkOut.model_validate(r) for r in found])
    query = QueryOut.model_validate(describe_probe(probe))
    return RelatedOut(query=query, results=results)
