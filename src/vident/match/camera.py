"""Links from camera facts: same body serial, same make and model, same place, same moment.

A body serial number links pictures taken with one camera across seizures: near-certain
evidence that the same device (and often the same person) took them. Make and model alone
are weak (millions of identical phones) unless the model is rare in the store, so their
score falls with the number of pictures sharing them. GPS places a picture; two pictures
taken close together in both time and space were probably taken on the same occasion.

Every lookup is bounded: serials use the ``exif.body_serial`` index, places a latitude and
longitude bounding box (then the exact great-circle distance on the few candidates), and
moments a ``taken_at`` range inside that box. :func:`gps_clusters` buckets points in a 3-D
grid, so it costs about linear time in the number of located pictures.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from vident.media.types import ExifFacts
from vident.store.models import Exif, Media

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M: Final = 6_371_008.8
#: Default radii and time window.
PLACE_RADIUS_M: Final = 100.0
TOGETHER_RADIUS_M: Final = 250.0
TOGETHER_SECONDS: Final = 3600.0
#: Most links returned by one lookup (a popular phone model matches half the store).
MAX_LINKS: Final = 200
#: A make and model shared by at most this many pictures keeps the full make/model score.
RARE_MODEL_COUNT: Final = 10
MAKE_MODEL_SCORE: Final = 0.4


@dataclass(frozen=True, slots=True)
class Link:
    """One media linked to the one asked about, by one kind of evidence.

    ``by`` is ``serial``, ``make_model``, ``gps``, ``time_place`` (or ``text``, see
    :mod:`vident.match.text_search`); ``score`` is 0..1; ``detail`` says why (the serial, the
    distance in metres, the seconds apart...).
    """

    media_id: int
    sha256: str
    by: str
    score: float
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "media_id": self.media_id,
            "sha256": self.sha256,
            "by": self.by,
            "score": self.score,
            "detail": self.detail,
        }


# --- geometry ----------------------------------------------------------------------------


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def valid_position(lat: float | None, lon: float | None) -> bool:
    """A usable GPS fix: in range, and not the 0,0 that some cameras write without a fix."""
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return False
    return not (lat == 0.0 and lon == 0.0)


def bounding_box(lat: float, lon: float, radius_m: float) -> ColumnElement[bool]:
    """SQL condition: ``exif`` rows inside the lat/lon box around a circle (antimeridian-safe)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    lat_lo, lat_hi = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    cos_lat = math.cos(math.radians(max(abs(lat_lo), abs(lat_hi))))
    in_lat = Exif.gps_lat.between(lat_lo, lat_hi)
    if cos_lat < 1e-6 or dlat / cos_lat >= 180.0:
        return and_(in_lat, Exif.gps_lon.is_not(None))
    dlon = dlat / cos_lat
    lon_lo, lon_hi = lon - dlon, lon + dlon
    if lon_lo < -180.0:
        in_lon = or_(Exif.gps_lon >= lon_lo + 360.0, Exif.gps_lon <= lon_hi)
    elif lon_hi > 180.0:
        in_lon = or_(Exif.gps_lon >= lon_lo, Exif.gps_lon <= lon_hi - 360.0)
    else:
        in_lon = Exif.gps_lon.between(lon_lo, lon_hi)
    return and_(in_lat, in_lon)


# --- the facts asked about -----------------------------------------------------------------


def facts_of(session: Session, media_id: int) -> ExifFacts | None:
    """The stored camera facts of one media, or None when it has none."""
    row = session.get(Exif, media_id)
    if row is None:
        return None
    return ExifFacts(
        make=row.make,
        model=row.model,
        body_serial=row.body_serial,
        other_serials={str(k): str(v) for k, v in (row.other_serials or {}).items()},
        lens=row.lens,
        software=row.software,
        taken_at=row.taken_at,
        gps_lat=row.gps_lat,
        gps_lon=row.gps_lon,
    )


def _body_serials(facts: ExifFacts) -> dict[str, str]:
    """Serials that name a camera body: the body serial, and internal serials (not lenses)."""
    found: dict[str, str] = {}
    if facts.body_serial and facts.body_serial.strip():
        found[facts.body_serial.strip()] = "body_serial"
    for name, value in facts.other_serials.items():
        if "lens" not in name.lower() and value.strip():
            found.setdefault(value.strip(), name)
    return found


def _same_model(facts: ExifFacts, row: Any) -> bool | None:
    if not facts.model or not row.model:
        return None
    return bool(facts.model.strip().lower() == str(row.model).strip().lower())


def _serial_links(session: Session, facts: ExifFacts, exclude: int | None) -> list[Link]:
    serials = _body_serials(facts)
    if not serials:
        return []
    rows = session.execute(
        select(Exif.media_id, Media.sha256, Exif.body_serial, Exif.make, Exif.model)
        .join(Media, Media.id == Exif.media_id)
        .where(Exif.body_serial.in_(list(serials)))
        .order_by(Exif.media_id)
        .limit(MAX_LINKS + 1)
    )
    links = []
    for row in rows:
        if row.media_id == exclude:
            continue
        same = _same_model(facts, row)
        # Numeric serials of different makers can collide; a model mismatch halves the trust.
        score = 1.0 if same else (0.9 if same is None else 0.5)
        detail: dict[str, Any] = {"serial": row.body_serial, "field": serials[row.body_serial]}
        if same is False:
            detail["model_mismatch"] = [facts.model, row.model]
        links.append(_link(row, "serial", score, detail))
    return links[:MAX_LINKS]


def _make_model_links(session: Session, facts: ExifFacts, exclude: int | None) -> list[Link]:
    if not facts.make or not facts.model:
        return []
    same = and_(Exif.make == facts.make, Exif.model == facts.model)
    count = int(session.execute(select(func.count()).select_from(Exif).where(same)).scalar_one())
    others = max(1, count - (1 if exclude is not None else 0))
    base = MAKE_MODEL_SCORE * min(1.0, RARE_MODEL_COUNT / others)
    rows = session.execute(
        select(Exif.media_id, Media.sha256, Exif.lens, Exif.software)
        .join(Media, Media.id == Exif.media_id)
        .where(same)
        .order_by(Exif.media_id)
        .limit(MAX_LINKS + 1)
    )
    links = []
    for row in rows:
        if row.media_id == exclude:
            continue
        detail: dict[str, Any] = {"make": facts.make, "model": facts.model, "count": count}
        score = base
        # The same lens and the same firmware or editor narrow the camera down a little.
        if facts.lens and row.lens == facts.lens:
            detail["lens"] = facts.lens
            score += 0.1
        if facts.software and row.software == facts.software:
            detail["software"] = facts.software
            score += 0.1
        links.append(
            Link(row.media_id, bytes(row.sha256).hex(), "make_model", round(score, 3), detail)
        )
    links.sort(key=lambda link: (-link.score, link.media_id))
    return links[:MAX_LINKS]


def _place_links(
    session: Session, facts: ExifFacts, exclude: int | None, radius_m: float
) -> list[Link]:
    if not valid_position(facts.gps_lat, facts.gps_lon):
        return []
    assert facts.gps_lat is not None and facts.gps_lon is not None
    rows = session.execute(
        select(Exif.media_id, Media.sha256, Exif.gps_lat, Exif.gps_lon)
        .join(Media, Media.id == Exif.media_id)
        .where(bounding_box(facts.gps_lat, facts.gps_lon, radius_m))
    )
    links = []
    for row in rows:
        if row.media_id == exclude or not valid_position(row.gps_lat, row.gps_lon):
            continue
        distance = haversine_m(facts.gps_lat, facts.gps_lon, row.gps_lat, row.gps_lon)
        if distance <= radius_m:
            score = 1.0 - 0.5 * distance / radius_m if radius_m > 0 else 1.0
            detail = {"distance_m": round(distance, 1), "lat": row.gps_lat, "lon": row.gps_lon}
            links.append(
                Link(row.media_id, bytes(row.sha256).hex(), "gps", round(score, 3), detail)
            )
    links.sort(key=lambda link: (-link.score, link.media_id))
    return links[:MAX_LINKS]


def _together_links(
    session: Session,
    facts: ExifFacts,
    exclude: int | None,
    max_seconds: float,
    radius_m: float,
) -> list[Link]:
    if facts.taken_at is None or not valid_position(facts.gps_lat, facts.gps_lon):
        return []
    assert facts.gps_lat is not None and facts.gps_lon is not None
    taken = facts.taken_at.replace(tzinfo=None)
    window = timedelta(seconds=max_seconds)
    rows = session.execute(
        select(Exif.media_id, Media.sha256, Exif.gps_lat, Exif.gps_lon, Exif.taken_at)
        .join(Media, Media.id == Exif.media_id)
        .where(
            Exif.taken_at.between(taken - window, taken + window),
            bounding_box(facts.gps_lat, facts.gps_lon, radius_m),
        )
    )
    links = []
    for row in rows:
        if row.media_id == exclude or not valid_position(row.gps_lat, row.gps_lon):
            continue
        seconds = abs((_naive(row.taken_at) - taken).total_seconds())
        distance = haversine_m(facts.gps_lat, facts.gps_lon, row.gps_lat, row.gps_lon)
        if distance > radius_m or seconds > max_seconds:
            continue
        score = 1.0 - 0.25 * _fraction(seconds, max_seconds) - 0.25 * _fraction(distance, radius_m)
        detail = {"seconds": round(seconds, 1), "distance_m": round(distance, 1)}
        links.append(_link(row, "time_place", score, detail))
    links.sort(key=lambda link: (-link.score, link.media_id))
    return links[:MAX_LINKS]


def _link(row: Any, by: str, score: float, detail: dict[str, Any]) -> Link:
    return Link(row.media_id, bytes(row.sha256).hex(), by, round(score, 3), detail)


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None)


def _fraction(value: float, limit: float) -> float:
    return value / limit if limit > 0 else 0.0


# --- media in the store ----------------------------------------------------------------------


def same_serial(session: Session, media_id: int) -> list[Link]:
    """Media taken with the same camera body (same body or internal serial number)."""
    facts = facts_of(session, media_id)
    return _serial_links(session, facts, media_id) if facts else []


def same_make_model(session: Session, media_id: int) -> list[Link]:
    """Media from the same camera make and model; scored by how rare that model is here."""
    facts = facts_of(session, media_id)
    return _make_model_links(session, facts, media_id) if facts else []


def near_place(session: Session, media_id: int, radius_m: float = PLACE_RADIUS_M) -> list[Link]:
    """Media whose GPS position is within ``radius_m`` metres of this one's."""
    facts = facts_of(session, media_id)
    return _place_links(session, facts, media_id, radius_m) if facts else []


def together(
    session: Session,
    media_id: int,
    max_seconds: float = TOGETHER_SECONDS,
    radius_m: float = TOGETHER_RADIUS_M,
) -> list[Link]:
    """Media taken within ``max_seconds`` and ``radius_m`` of this one (EXIF date and GPS).

    EXIF times are the camera clock's local time without a zone: pictures of two cameras in
    one place share the zone, but a badly set clock hides a link, never invents one.
    """
    facts = facts_of(session, media_id)
    return _together_links(session, facts, media_id, max_seconds, radius_m) if facts else []


def camera_links(
    session: Session,
    media_id: int,
    radius_m: float = PLACE_RADIUS_M,
    max_seconds: float = TOGETHER_SECONDS,
) -> list[Link]:
    """All camera, place and time links of one stored media, best first."""
    facts = facts_of(session, media_id)
    return _all_links(session, facts, media_id, radius_m, max_seconds) if facts else []


def camera_links_for_file(
    exif: ExifFacts,
    session: Session,
    radius_m: float = PLACE_RADIUS_M,
    max_seconds: float = TOGETHER_SECONDS,
) -> list[Link]:
    """The same links for a file that is not in the store (``vident similar FILE --by camera``)."""
    return _all_links(session, exif, None, radius_m, max_seconds)


def _all_links(
    session: Session,
    facts: ExifFacts,
    exclude: int | None,
    radius_m: float,
    max_seconds: float,
) -> list[Link]:
    links = [
        *_serial_links(session, facts, exclude),
        *_make_model_links(session, facts, exclude),
        *_place_links(session, facts, exclude, radius_m),
        *_together_links(session, facts, exclude, max_seconds, max(radius_m, TOGETHER_RADIUS_M)),
    ]
    links.sort(key=lambda link: (-link.score, link.by, link.media_id))
    return links


# --- clusters of places ---------------------------------------------------------------------


def _unit_vectors(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]) -> Any:
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def cluster_points(
    points: Sequence[tuple[int, float, float]], radius_m: float, min_size: int = 2
) -> list[list[int]]:
    """Clusters of ``(id, lat, lon)``: chains of points each within ``radius_m`` of the next.

    DBSCAN with ``min_samples=1`` (single linkage), kept if ``min_size`` ids or more. Points
    are bucketed in a 3-D grid of unit vectors whose cell is the chord of ``radius_m``, so a
    point is compared only with the 27 cells around it: no trouble at the poles or the
    antimeridian, and about linear cost for spread-out points. Pictures at the very same
    position (common: one phone at one home) are merged before any comparison.
    """
    same_place: dict[tuple[float, float], list[int]] = defaultdict(list)
    for media_id, lat, lon in points:
        if valid_position(lat, lon):
            same_place[(lat, lon)].append(media_id)
    if not same_place:
        return []
    places = list(same_place)
    xyz = _unit_vectors(np.array([p[0] for p in places]), np.array([p[1] for p in places]))
    chord = 2.0 * math.sin(min(max(radius_m, 0.0) / EARTH_RADIUS_M, math.pi) / 2.0)
    keys = np.floor(xyz / max(chord, 1e-12)).astype(np.int64)
    buckets: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for index, key in enumerate(map(tuple, keys.tolist())):
        buckets[key].append(index)
    cells = {key: np.array(idx) for key, idx in buckets.items()}
    found = _UnionFind(len(places))
    limit = chord * chord * (1 + 1e-9)
    for key, mine in cells.items():
        for offset in _HALF_NEIGHBOURS:
            other = (key[0] + offset[0], key[1] + offset[1], key[2] + offset[2])
            theirs = cells.get(other)
            if theirs is not None:
                _join_close(found, xyz, mine, theirs, limit)
    groups: dict[int, list[int]] = defaultdict(list)
    for index, place in enumerate(places):
        groups[found.find(index)].extend(same_place[place])
    clusters = [sorted(g) for g in groups.values() if len(g) >= min_size]
    clusters.sort(key=lambda g: (-len(g), g[0]))
    return clusters


#: The cell itself and half of its 26 neighbours: every pair of adjacent cells once.
_HALF_NEIGHBOURS: Final = [
    (a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1) if (a, b, c) >= (0, 0, 0)
]
#: Distances computed at once when comparing two cells (bounds memory in crowded cells).
_PAIR_BLOCK: Final = 1 << 20


def _join_close(found: _UnionFind, xyz: Any, mine: Any, theirs: Any, limit: float) -> None:
    """Union every pair of points of two cells that lie within the chord ``sqrt(limit)``."""
    step = max(1, _PAIR_BLOCK // max(1, len(theirs)))
    for start in range(0, len(mine), step):
        block = mine[start : start + step]
        diff = xyz[block][:, None, :] - xyz[theirs][None, :, :]
        for a, b in np.argwhere((diff * diff).sum(axis=2) <= limit).tolist():
            found.union(int(block[a]), int(theirs[b]))


def gps_clusters(session: Session, radius_m: float, min_size: int = 2) -> list[list[int]]:
    """Media ids grouped by place: each cluster a chain of GPS points within ``radius_m``."""
    rows = session.execute(
        select(Exif.media_id, Exif.gps_lat, Exif.gps_lon).where(
            Exif.gps_lat.is_not(None), Exif.gps_lon.is_not(None)
        )
    )
    points = [(m, la, lo) for m, la, lo in rows if la is not None and lo is not None]
    return cluster_points(points, radius_m, min_size)


def media_links(links: Iterable[Link]) -> dict[int, list[Link]]:
    """Links grouped by linked media, each media's strongest first."""
    grouped: dict[int, list[Link]] = defaultdict(list)
    for link in links:
        grouped[link.media_id].append(link)
    for group in grouped.values():
        group.sort(key=lambda link: -link.score)
    return dict(grouped)
