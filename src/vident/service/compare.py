"""Looking closely: what the store keeps of one media, and two media side by side.

:func:`media_facts` gathers what a detail page shows beside the verdict and the links (which
:mod:`vident.service.media_lookup` and :mod:`vident.service.similar` answer): the media's
hashes, camera facts, faces and recognised text with their boxes, every place it was seen and
the series it belongs to, all limited to what the caller may see.

:func:`compare` verifies two stored pictures against each other with their stored local
features (:mod:`vident.match.geometry`, the same test triage uses) and returns the keypoint
pairs that agree with the fitted transform, in pixels of each one's preview (at most
:data:`vident.media.preview.LONGEST` px on the longer side), so a page can draw them without
ever needing the pictures' full size; plus the PDQ distance of the two.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Final

import numpy as np
import numpy.typing as npt
from pydantic import Field, JsonValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.match.geometry import RATIO as LOWE_RATIO
from vident.match.geometry import REPROJ, GeometricMatch, stored_query_features, verify
from vident.media.preview import LONGEST
from vident.service.context import Context
from vident.service.domain import parse_sha256
from vident.service.errors import NotFound
from vident.service.schemas import Model
from vident.service.scope import check_media, sight_of, visible_series, visible_sources
from vident.service.use_case import SEE_MEDIA, use_case
from vident.signals.keypoints import LocalFeatures, unpack
from vident.signals.registry import get
from vident.store.models import Exif, Face, Frame, Media, Occurrence, Signal, Source
from vident.store.models_cases import Series, SeriesMedia
from vident.store.previews import has_preview

__all__ = [
    "BoxOut",
    "CompareOut",
    "ExifOut",
    "FaceOut",
    "FrameOut",
    "MediaFactsOut",
    "PlaceOut",
    "PointPair",
    "TextLineOut",
    "compare",
    "media_facts",
    "preview_size",
]

#: Places listed for one media at most (a picture shared in a chat can be in thousands).
MOST_PLACES: Final = 500
#: Keypoint pairs returned at most (a duplicate agrees on up to 500).
MOST_PAIRS: Final = 500
#: Slack on the verification's reprojection error when picking the pairs that agree.
PAIR_SLACK: Final = 1.5
#: Hashes shown, in this order.
HASH_KINDS: Final = ("md5", "sha1", "sha256", "pdq")

Point = tuple[float, float]
Box = tuple[int, int, int, int]


class BoxOut(Model):
    """A rectangle in pixels of the full picture: x, y, width, height."""

    x: int
    y: int
    w: int
    h: int


class FaceOut(Model):
    """A face found in the media (``frame`` 0 for a picture, else the video keyframe)."""

    id: int
    frame: int
    box: BoxOut
    score: float | None
    person: int | None = Field(description="The person candidate it was clustered into.")


class TextLineOut(Model):
    """A line of recognised text and the rectangle around it."""

    frame: int
    text: str
    box: BoxOut | None
    score: float | None


class ExifOut(Model):
    make: str | None
    model: str | None
    body_serial: str | None
    other_serials: dict[str, JsonValue]
    lens: str | None
    software: str | None
    taken_at: datetime | None
    gps_lat: float | None
    gps_lon: float | None


class PlaceOut(Model):
    """One place the media was seen: a source and the path inside it.

    ``deleted``: read from a disk image through its file system's record of a deleted file,
    which an analyst weighs differently from a live file.
    """

    source: str
    path: str
    deleted: bool = False


class FrameOut(Model):
    """A keyframe of a video: its sequence number and time (seconds)."""

    seq: int
    ts: float


class MediaFactsOut(Model):
    """What the store keeps of one media, as far as the caller may see it."""

    sha256: str
    type: str
    mime: str | None
    size: int
    width: int | None
    height: int | None
    duration: float | None
    error: str | None
    preview: bool = Field(description="Whether a preview of the media exists.")
    preview_width: int | None = Field(description="Width of the preview, in pixels.")
    preview_height: int | None
    hashes: dict[str, str] = Field(description="md5, sha1, sha256, pdq in hexadecimal.")
    pdq_quality: int | None
    exif: ExifOut | None
    faces: list[FaceOut]
    text: list[TextLineOut]
    places: list[PlaceOut]
    more_places: int = Field(description="Places seen but beyond the listing's limit.")
    series: list[str]
    keyframes: list[FrameOut]


class PointPair(Model):
    """One keypoint of ``a`` and the keypoint of ``b`` it matched, in preview pixels."""

    a: Point
    b: Point


class CompareOut(Model):
    """How two stored media relate by their local features, and their PDQ distance."""

    a: str
    b: str
    a_size: tuple[int, int] | None = Field(description="Preview size of a (width, height).")
    b_size: tuple[int, int] | None
    relation: str | None = Field(description="duplicate, same_scene, or None: not verified.")
    inliers: int = Field(description="Keypoints that agree with the transform.")
    score: float | None
    mirrored: bool
    transform: list[list[float]] | None = Field(
        description="3x3 matrix from pixels of a (full size) to pixels of b."
    )
    scale: float | None = Field(description="Size of b over size of a, by the transform.")
    rotation: float | None = Field(description="Degrees a is turned to lie on b.")
    pairs: list[PointPair]
    pdq_distance: int | None = Field(
        description="Bits apart of the PDQ hashes (a turned or flipped a counts), 0..256."
    )


def preview_size(width: int | None, height: int | None) -> tuple[int, int] | None:
    """The size of the preview of a ``width`` x ``height`` picture (renditions keep the
    aspect and shrink the longer side to :data:`LONGEST`)."""
    if not width or not height:
        return None
    scale = min(1.0, LONGEST / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _media(ctx: Context, session: Session, sha256: str) -> Media:
    digest = parse_sha256(sha256)
    media = session.scalar(select(Media).where(Media.sha256 == digest))
    if media is None:
        raise NotFound(f"no stored media has SHA-256 {digest.hex()}: ingest it first")
    check_media(ctx, session, media.id, digest.hex())
    return media


def _hashes(session: Session, media: Media) -> tuple[dict[str, str], int | None]:
    rows = session.execute(
        select(Signal.kind, Signal.value, Signal.quality).where(
            Signal.media_id == media.id, Signal.kind.in_(HASH_KINDS), Signal.frame == 0
        )
    )
    found: dict[str, str] = {}
    quality: int | None = None
    for kind, value, q in rows:
        found[kind] = bytes(value).hex()
        if kind == "pdq":
            quality = q
    found["sha256"] = bytes(media.sha256).hex()
    return {kind: found[kind] for kind in HASH_KINDS if kind in found}, quality


def _exif(session: Session, media_id: int) -> ExifOut | None:
    row = session.get(Exif, media_id)
    if row is None:
        return None
    others: dict[str, JsonValue] = {str(k): str(v) for k, v in (row.other_serials or {}).items()}
    return ExifOut(
        make=row.make,
        model=row.model,
        body_serial=row.body_serial,
        other_serials=others,
        lens=row.lens,
        software=row.software,
        taken_at=row.taken_at,
        gps_lat=row.gps_lat,
        gps_lon=row.gps_lon,
    )


def _faces(session: Session, media_id: int) -> list[FaceOut]:
    rows = session.scalars(
        select(Face)
        .where(Face.media_id == media_id, Face.rejected.is_(False))
        .order_by(Face.frame, Face.idx)
    )
    return [
        FaceOut(
            id=f.id,
            frame=f.frame,
            box=BoxOut(x=f.box_x, y=f.box_y, w=f.box_w, h=f.box_h),
            score=f.score,
            person=f.person_id,
        )
        for f in rows
    ]


def _line_box(points: object) -> BoxOut | None:
    """The rectangle around a line's four corner points (as OCR stored them)."""
    if not isinstance(points, list) or not points:
        return None
    xs: list[float] = []
    ys: list[float] = []
    for point in points:
        if not isinstance(point, list) or len(point) != 2:
            return None
        x, y = point
        if not isinstance(x, int | float) or not isinstance(y, int | float):
            return None
        xs.append(float(x))
        ys.append(float(y))
    left, top = max(0, math.floor(min(xs))), max(0, math.floor(min(ys)))
    width, height = math.ceil(max(xs)) - left, math.ceil(max(ys)) - top
    if width <= 0 or height <= 0:
        return None
    return BoxOut(x=left, y=top, w=width, h=height)


def _text(session: Session, media_id: int) -> list[TextLineOut]:
    rows = session.execute(
        select(Signal.frame, Signal.value, Signal.detail)
        .where(Signal.media_id == media_id, Signal.kind == "text")
        .order_by(Signal.frame)
    )
    out: list[TextLineOut] = []
    for frame, value, detail in rows:
        lines = detail.get("lines") if isinstance(detail, dict) else None
        if not isinstance(lines, list):
            text = bytes(value).decode("utf-8", "replace")
            out.extend(
                TextLineOut(frame=frame, text=line, box=None, score=None)
                for line in text.splitlines()
                if line.strip()
            )
            continue
        for line in lines:
            if not isinstance(line, dict) or not isinstance(line.get("text"), str):
                continue
            score = line.get("score")
            out.append(
                TextLineOut(
                    frame=frame,
                    text=line["text"],
                    box=_line_box(line.get("box")),
                    score=float(score) if isinstance(score, int | float) else None,
                )
            )
    return out


def _places(ctx: Context, session: Session, media_id: int) -> tuple[list[PlaceOut], int]:
    query = (
        select(Source.name, Occurrence.path, Occurrence.deleted)
        .join(Occurrence, Occurrence.source_id == Source.id)
        .where(Occurrence.media_id == media_id, visible_sources(sight_of(ctx, session)))
        .order_by(Source.id, Occurrence.path)
    )
    rows = session.execute(query.limit(MOST_PLACES + 1)).all()
    places = [
        PlaceOut(source=name, path=path, deleted=deleted)
        for name, path, deleted in rows[:MOST_PLACES]
    ]
    more = 0
    if len(rows) > MOST_PLACES:
        total = len(session.execute(query.with_only_columns(Occurrence.id)).all())
        more = total - MOST_PLACES
    return places, more


def _series(ctx: Context, session: Session, media_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Series.name)
            .join(SeriesMedia, SeriesMedia.series_id == Series.id)
            .where(SeriesMedia.media_id == media_id, visible_series(sight_of(ctx, session)))
            .order_by(Series.name)
        )
    )


def _keyframes(session: Session, media_id: int) -> list[FrameOut]:
    rows = session.execute(
        select(Frame.seq, Frame.ts)
        .where(Frame.media_id == media_id, Frame.keyframe.is_(True))
        .order_by(Frame.seq)
    )
    return [FrameOut(seq=seq, ts=ts) for seq, ts in rows]


@use_case("media.facts", SEE_MEDIA)
def media_facts(ctx: Context, sha256: str) -> MediaFactsOut:
    """Hashes, camera facts, faces, text, places and series of the stored media ``sha256``."""
    with ctx.store.reader() as session:
        media = _media(ctx, session, sha256)
        hashes, quality = _hashes(session, media)
        places, more = _places(ctx, session, media.id)
        digest = bytes(media.sha256)
        made = has_preview(ctx.settings.data, digest)
        size = preview_size(media.width, media.height) if made else None
        return MediaFactsOut(
            sha256=digest.hex(),
            type=media.media_type,
            mime=media.mime,
            size=media.size,
            width=media.width,
            height=media.height,
            duration=media.duration,
            error=media.decode_error,
            preview=made,
            preview_width=size[0] if size else None,
            preview_height=size[1] if size else None,
            hashes=hashes,
            pdq_quality=quality,
            exif=_exif(session, media.id),
            faces=_faces(session, media.id),
            text=_text(session, media.id),
            places=places,
            more_places=more,
            series=_series(ctx, session, media.id),
            keyframes=_keyframes(session, media.id),
        )


# -- two media side by side ------------------------------------------------------------------

_POPCOUNT: Final = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)


def _keypoints(session: Session, media_id: int) -> tuple[bytes, bytes] | None:
    kind = get("keypoints")
    row = session.execute(
        select(Signal.value, Signal.variants).where(
            Signal.media_id == media_id,
            Signal.kind == kind.name,
            Signal.version == kind.version,
            Signal.model == kind.model,
            Signal.frame == 0,
        )
    ).first()
    if row is None or not row[0]:
        return None
    return bytes(row[0]), bytes(row[1] or b"")


def _pdq(session: Session, media_id: int) -> tuple[bytes, bytes] | None:
    row = session.execute(
        select(Signal.value, Signal.variants).where(
            Signal.media_id == media_id, Signal.kind == "pdq", Signal.frame == 0
        )
    ).first()
    if row is None or not row[0]:
        return None
    return bytes(row[0]), bytes(row[1] or b"")


def pdq_distance(a: tuple[bytes, bytes], b: tuple[bytes, bytes]) -> int:
    """Bits apart of ``b``'s hash and the nearest of ``a``'s hash and its variants (the
    hashes of a's turns and flips), as near matching counts them."""
    value, variants = a
    size = len(value)
    target = int.from_bytes(b[0], "big")
    candidates = [value] + [variants[i : i + size] for i in range(0, len(variants), size or 1)]
    return min(
        (int.from_bytes(c, "big") ^ target).bit_count() for c in candidates if len(c) == size
    )


def _hamming(
    query: npt.NDArray[np.uint8], candidate: npt.NDArray[np.uint8]
) -> npt.NDArray[np.uint16]:
    """Hamming distances between every query and every candidate descriptor."""
    xor = np.bitwise_xor(query[:, None, :], candidate[None, :, :])
    distances: npt.NDArray[np.uint16] = _POPCOUNT[xor].sum(axis=2, dtype=np.uint16)
    return distances


def _agreeing_pairs(
    query: LocalFeatures, candidate: LocalFeatures, found: GeometricMatch
) -> list[tuple[Point, Point]]:
    """Ratio-test matches of ``query`` to ``candidate`` that the verified transform maps
    onto their partner: the inliers, in full-picture pixels (the query's own frame, not
    the mirror image's)."""
    if len(query) < 2 or len(candidate) < 2:
        return []
    distances = _hamming(query.descriptors, candidate.descriptors)
    order = np.argsort(distances, axis=1, kind="stable")
    rows = np.arange(len(query))
    best, second = distances[rows, order[:, 0]], distances[rows, order[:, 1]]
    kept = np.flatnonzero(best < LOWE_RATIO * second)
    src = query.points[kept].astype(np.float64)
    if query.mirrored:
        src[:, 0] = query.width - src[:, 0]
    dst = candidate.points[order[kept, 0]].astype(np.float64)
    matrix = np.asarray(found.transform, dtype=np.float64)
    mapped = np.hstack([src, np.ones((len(src), 1))]) @ matrix.T
    w = mapped[:, 2]
    ok = np.abs(w) > 1e-9
    projected = mapped[:, :2] / np.where(ok, w, 1.0)[:, None]
    tolerance = PAIR_SLACK * REPROJ * max(candidate.width, candidate.height) / 1000.0
    error = np.linalg.norm(projected - dst, axis=1)
    inside = np.flatnonzero(ok & (error <= tolerance))
    inside = inside[np.argsort(error[inside], kind="stable")][:MOST_PAIRS]
    return [
        ((float(src[i, 0]), float(src[i, 1])), (float(dst[i, 0]), float(dst[i, 1]))) for i in inside
    ]


def _best(
    query_sets: list[LocalFeatures], candidate: LocalFeatures
) -> tuple[LocalFeatures, GeometricMatch] | None:
    best: tuple[LocalFeatures, GeometricMatch] | None = None
    for feats in query_sets:
        found = verify(feats, candidate)
        if found is None:
            continue
        rank = (found.relation == "duplicate", found.score)
        if best is None or rank > (best[1].relation == "duplicate", best[1].score):
            best = (feats, found)
    return best


def _to_preview(point: Point, frame: tuple[int, int], size: tuple[int, int]) -> Point:
    return (
        round(point[0] * size[0] / frame[0], 1),
        round(point[1] * size[1] / frame[1], 1),
    )


@use_case("media.compare", SEE_MEDIA)
def compare(ctx: Context, sha_a: str, sha_b: str) -> CompareOut:
    """How the stored media ``sha_b`` relates to ``sha_a``: the keypoint pairs that agree
    (in preview pixels), the transform from a to b and the PDQ distance. Both must be media
    the caller sees, else NotFound."""
    with ctx.store.reader() as session:
        a = _media(ctx, session, sha_a)
        b = _media(ctx, session, sha_b)
        a_points, b_points = _keypoints(session, a.id), _keypoints(session, b.id)
        a_pdq, b_pdq = _pdq(session, a.id), _pdq(session, b.id)
        digests = bytes(a.sha256).hex(), bytes(b.sha256).hex()
        sizes = preview_size(a.width, a.height), preview_size(b.width, b.height)
    distance = pdq_distance(a_pdq, b_pdq) if a_pdq and b_pdq else None
    verified = None
    if a_points is not None and b_points is not None:
        candidate = unpack(b_points[0])
        verified = _best(stored_query_features(*a_points), candidate)
    if verified is None:
        return CompareOut(
            a=digests[0],
            b=digests[1],
            a_size=sizes[0],
            b_size=sizes[1],
            relation=None,
            inliers=0,
            score=None,
            mirrored=False,
            transform=None,
            scale=None,
            rotation=None,
            pairs=[],
            pdq_distance=distance,
        )
    feats, found = verified
    pairs: list[PointPair] = []
    a_size, b_size = sizes
    if a_size is not None and b_size is not None:
        a_frame = (feats.width, feats.height)
        b_frame = (candidate.width, candidate.height)
        pairs = [
            PointPair(a=_to_preview(p, a_frame, a_size), b=_to_preview(q, b_frame, b_size))
            for p, q in _agreeing_pairs(feats, candidate, found)
        ]
    m = found.transform
    return CompareOut(
        a=digests[0],
        b=digests[1],
        a_size=a_size,
        b_size=b_size,
        relation=found.relation,
        inliers=found.inliers,
        score=round(found.score, 4),
        mirrored=found.mirrored,
        transform=m,
        scale=round(math.sqrt(abs(m[0][0] * m[1][1] - m[0][1] * m[1][0])), 4),
        rotation=round(math.degrees(math.atan2(m[1][0], m[0][0])), 2),
        pairs=pairs,
        pdq_distance=distance,
    )
