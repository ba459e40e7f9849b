"""Geometric verification of local features: is the candidate the same picture, or place?

Candidates come from cheap signals (PDQ, the scene embedding); this module decides, from the
stored keypoints alone (:mod:`vident.signals.keypoints`), whether a query and a candidate
show the same physical content, and how:

* ``"duplicate"``: a near-similarity transform (scale, a tilt of a few degrees or a right
  angle, translation, optionally a mirror) maps most of each picture onto most of the other:
  the same picture resized, recompressed, cropped by up to ~20% per side, rotated, flipped,
  or partly painted over;
* ``"same_scene"``: many keypoints agree on one homography, but the views differ (a part of
  the picture, another angle, a perspective change): the same place or object.

Matching is Lowe's ratio test on Hamming distances (one query point per candidate point),
then RANSAC twice: a 4-parameter similarity and a full homography (USAC MAGSAC++) for the
changed view. Inlier counts alone are not enough: on the shared corpus, different photos of
one person in the same pose (the deepface set's aligned portraits) line up 40-50 similarity
inliers covering 85-95% of each other. Two agreement tests separate them from edited copies:

* **repeat**: inliers over the keypoints either side holds in the overlap. An edited copy
  re-finds a good share of its keypoints (median 0.52 over all corpus edits); another photo
  agrees on a few (highest 0.101, ``img5.jpg`` against ``img10.jpg``);
* **spread**: the area the inliers span over the area the candidate's keypoints span, both
  inside the overlap. An edited copy agrees wherever it has keypoints; another photo of a
  similar subject agrees on one patch (the face): highest 0.20.

A duplicate needs a repeat of :data:`STRONG_REPEAT` (0.2, twice the highest false one), or a
repeat of :data:`MIN_DUPLICATE_REPEAT` with a spread of :data:`MIN_DUPLICATE_SPREAD` (0.25,
above the highest false 0.20; the unrelated fit with repeat 0.101 has a spread of 0.12).
The true duplicates this loses are edits of the corpus's 100-pixel camera thumbnails cropped
and halved to about 45 pixels; PDQ finds some of them. ``python -m bench.quality_near``
prints these margins with every run.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

import cv2
import faiss
import numpy as np
import numpy.typing as npt
from PIL import Image

from vident.media.types import DecodedImage
from vident.signals.keypoints import (
    MAX_UPSCALE,
    STORED_POINTS,
    LocalFeatures,
    detect_grey,
    split,
    unpack,
    working_grey,
)

#: Keypoints computed for a query: as many as are stored. 1,000 found no more duplicates on
#: the corpus than 500 (``bench.quality_near``) and doubled the matching time; with the same
#: number, a stored value and its mirrored variant *are* the query features
#: (:func:`stored_query_features`).
QUERY_POINTS: Final = STORED_POINTS
#: Enlargement allowed for a second feature set of small queries (see :func:`query_features`).
QUERY_UPSCALE: Final = 8.0
#: Lowe's ratio: best Hamming distance over second best, below which a match is kept.
RATIO: Final = 0.8
#: RANSAC reprojection error, in thousandths of the candidate's longer side.
REPROJ: Final = 8.0
#: Ratio-test matches below which no fit is tried.
MIN_MATCHES: Final = 8
#: Similarity inliers needed for a duplicate.
MIN_DUPLICATE_INLIERS: Final = 15
#: Homography inliers needed for the same scene.
MIN_SCENE_INLIERS: Final = 20
#: Inliers over ratio-test matches: below this the agreement is likely chance.
MIN_INLIER_RATIO: Final = 0.2
#: Each picture must cover at least this fraction of the other for a duplicate: a crop of up
#: to ~20% per side (10% per side leaves 0.64); the other-angle views keep 50-60%.
MIN_DUPLICATE_COVERAGE: Final = 0.6
#: Fraction of the keypoints in the overlap that must be similarity inliers for a duplicate.
MIN_DUPLICATE_REPEAT: Final = 0.1
#: Share of the area spanned by the candidate's keypoints that the inliers must span.
MIN_DUPLICATE_SPREAD: Final = 0.25
#: A repeat ratio that is enough on its own, however the inliers are spread (a picture whose
#: keypoints crowd on one textured part agrees only there).
STRONG_REPEAT: Final = 0.2
#: The same two tests for the same scene: another view re-finds fewer keypoints (turned,
#: warped), and a false same_scene misleads rather than mislinks, so they are looser. On the
#: corpus they leave 2 links between different photos of one person in the same pose
#: (of 276 other-angle queries against 146 pictures), and lose no top-1 rank.
MIN_SCENE_REPEAT: Final = 0.05
MIN_SCENE_SPREAD: Final = 0.2
#: Largest tilt, in degrees away from a multiple of 90, of a duplicate: a straightened photo
#: (5 degrees) is a duplicate; the other-angle views (turned 10-25 degrees) are not.
MAX_DUPLICATE_TILT: Final = 8.0
#: A same-scene match keeps the similarity if it has this share of the homography's inliers.
SIMPLER_MODEL: Final = 0.9
#: Largest scale change between two views accepted at all (beyond it the fit is degenerate).
MAX_SCALE_CHANGE: Final = 8.0
#: Inlier count at which the match score is 0.5 (score = inliers / (inliers + this)).
SCORE_HALF: Final = 25.0

Relation = Literal["duplicate", "same_scene"]
Key = TypeVar("Key", bound=Hashable)
_F64 = npt.NDArray[np.float64]
_Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class GeometricMatch:
    """The verified relation between a query and a candidate.

    ``transform`` maps query pixels (full picture, or the queried region, never mirrored)
    to candidate pixels; ``mirrored`` says the query was matched as its mirror image.
    ``coverage_query`` is the fraction of the query covered by the candidate, and
    ``coverage_candidate`` the fraction of the candidate covered by the query.
    """

    relation: Relation
    inliers: int
    inlier_ratio: float
    coverage_query: float
    coverage_candidate: float
    transform: list[list[float]]
    score: float
    mirrored: bool = False


def query_features(
    image: DecodedImage, region: tuple[int, int, int, int] | None = None
) -> list[LocalFeatures]:
    """Features of the query picture (or of ``region``, x, y, w, h in full-picture pixels),
    and of its mirror image: ORB is not mirror-invariant, so a flipped copy is found only
    by matching the flipped query. A small query gets both again at a larger scale. Empty
    results are left out; a ``region`` outside the picture raises ValueError."""
    pixels, width, height = image.pixels, image.width, image.height
    if region is not None:
        pixels, width, height = _crop(image, region)
    grey, factor = working_grey(pixels)
    greys = [grey]
    if factor >= MAX_UPSCALE:
        # A small query may be a reduced copy of a small stored picture, which was enlarged
        # up to the limit too: the same content then sits at a scale the stored features
        # barely cover. Features at up to QUERY_UPSCALE x as well meet it at its own scale.
        larger, more = working_grey(pixels, QUERY_UPSCALE)
        if more > factor * 1.2:
            greys.append(larger)
    out = []
    for g in greys:
        out.append(detect_grey(g, width, height, QUERY_POINTS))
        mirror = np.ascontiguousarray(g[:, ::-1])
        out.append(detect_grey(mirror, width, height, QUERY_POINTS, mirrored=True))
    return [f for f in out if len(f)]


def stored_query_features(
    value: bytes, variants: Sequence[bytes] | bytes = ()
) -> list[LocalFeatures]:
    """The query features of a picture already stored: its value and mirrored variant
    (concatenated variants as the store keeps them are split). The same as
    :func:`query_features` on its pixels but for the enlarged sets of small pictures, so
    triage of stored material needs no pixels."""
    extra = split(variants) if isinstance(variants, bytes) else list(variants)
    out = [unpack(value), *(unpack(v, mirrored=True) for v in extra)]
    return [f for f in out if len(f)]


def _crop(image: DecodedImage, region: tuple[int, int, int, int]) -> tuple[Image.Image, int, int]:
    x, y, w, h = region
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(image.width, x + w), min(image.height, y + h)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"region {region} lies outside the {image.width}x{image.height} picture")
    sx, sy = image.pixels.width / image.width, image.pixels.height / image.height
    box = (
        math.floor(x0 * sx),
        math.floor(y0 * sy),
        max(math.floor(x0 * sx) + 1, math.ceil(x1 * sx)),
        max(math.floor(y0 * sy) + 1, math.ceil(y1 * sy)),
    )
    return image.pixels.crop(box), x1 - x0, y1 - y0


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the two RANSAC fits found, before any threshold is applied (kept apart so the
    thresholds can be tuned on recorded evidence, see ``bench.quality_near``).

    Matrices map query pixels to candidate pixels, in the frame of the features given (a
    mirrored query's own frame). ``*_spread`` is the area the inliers span over the area
    the candidate's keypoints span in the overlap; ``*_repeat`` see :meth:`Overlap.repeat`.
    """

    matches: int
    sim_inliers: int
    sim_residual: float
    sim_scale: float
    sim_tilt: float
    sim_matrix: _F64 | None
    sim_overlap: Overlap
    sim_spread: float
    hom_inliers: int
    hom_sane: bool
    hom_matrix: _F64 | None
    hom_overlap: Overlap
    hom_spread: float

    @property
    def sim_repeat(self) -> float:
        return self.sim_overlap.repeat(self.sim_inliers)

    @property
    def hom_repeat(self) -> float:
        return self.hom_overlap.repeat(self.hom_inliers)


@dataclass(frozen=True, slots=True)
class Overlap:
    """Where two frames overlap under a transform: the fraction of each covered by the other,
    and how many of each one's keypoints lie in the overlap."""

    candidate: float = 0.0
    query: float = 0.0
    candidate_points: int = 0
    query_points: int = 0
    #: Area of the convex hull of the candidate's keypoints in the overlap (pixels).
    candidate_hull: float = 0.0

    def repeat(self, inliers: int) -> float:
        """Inliers over the keypoints either side could have matched in the overlap.

        The same picture, however edited, finds again a good part of its keypoints (ORB's
        repeatability); another photo of a similar subject (the same face in the same pose)
        can line up tens of inliers but only a small fraction of the points it holds.
        """
        available = min(self.candidate_points, self.query_points)
        return inliers / available if available else 0.0


def verify(query: LocalFeatures, candidate: LocalFeatures) -> GeometricMatch | None:
    """How ``query`` relates to ``candidate``, or None when nothing consistent is found."""
    evidence = measure(query, candidate)
    return None if evidence is None else classify(evidence, query)


def measure(query: LocalFeatures, candidate: LocalFeatures) -> Evidence | None:
    """Ratio-test matches, then a similarity and a homography fitted by RANSAC.

    None when too few matches pass the ratio test for either relation to be possible.
    """
    if min(len(query), len(candidate)) < MIN_MATCHES:
        return None
    src, dst = _ratio_matches(query, candidate)
    if len(src) < MIN_MATCHES:
        return None
    qs, cs = _unit(query), _unit(candidate)
    src_u, dst_u = src * np.float32(qs), dst * np.float32(cs)
    sim_mask, sim_residual, sim_scale, sim_tilt, sim_matrix = _fit_similarity(src_u, dst_u, qs, cs)
    hom_mask, hom_sane, hom_matrix = _fit_homography(src_u, dst_u, qs, cs)
    sim_overlap = _overlap(sim_matrix, query, candidate)
    hom_overlap = _overlap(hom_matrix, query, candidate) if hom_sane else Overlap()
    return Evidence(
        matches=len(src),
        sim_inliers=int(sim_mask.sum()),
        sim_residual=sim_residual,
        sim_scale=sim_scale,
        sim_tilt=sim_tilt,
        sim_matrix=sim_matrix,
        sim_overlap=sim_overlap,
        sim_spread=_spread(dst[sim_mask], sim_overlap),
        hom_inliers=int(hom_mask.sum()),
        hom_sane=hom_sane,
        hom_matrix=hom_matrix,
        hom_overlap=hom_overlap,
        hom_spread=_spread(dst[hom_mask], hom_overlap),
    )


def classify(evidence: Evidence, query: LocalFeatures) -> GeometricMatch | None:
    """Apply the thresholds: a duplicate, the same scene, or nothing.

    Both relations need inliers that are not chance (:data:`MIN_DUPLICATE_INLIERS`,
    :data:`MIN_SCENE_INLIERS`, :data:`MIN_INLIER_RATIO`), that re-find a share of the
    keypoints in the overlap (``repeat``) and that span the overlap (``spread``): two
    different photos of one face in the same pose pass the first test, not the others.
    """
    e = evidence
    sim_ok = (
        e.sim_matrix is not None
        and e.sim_inliers >= MIN_DUPLICATE_INLIERS
        and e.sim_inliers >= MIN_INLIER_RATIO * e.matches
        and 1 / MAX_SCALE_CHANGE <= e.sim_scale <= MAX_SCALE_CHANGE
    )
    if (
        sim_ok
        and e.sim_matrix is not None
        and e.sim_tilt <= MAX_DUPLICATE_TILT
        and min(e.sim_overlap.candidate, e.sim_overlap.query) >= MIN_DUPLICATE_COVERAGE
        and _agrees(e.sim_repeat, e.sim_spread, MIN_DUPLICATE_REPEAT, MIN_DUPLICATE_SPREAD)
    ):
        return _result("duplicate", e.sim_inliers, e, e.sim_overlap, e.sim_matrix, query)
    sim_scene = sim_ok and _agrees(e.sim_repeat, e.sim_spread, MIN_SCENE_REPEAT, MIN_SCENE_SPREAD)
    hom_scene = (
        e.hom_matrix is not None
        and e.hom_sane
        and e.hom_inliers >= MIN_SCENE_INLIERS
        and e.hom_inliers >= MIN_INLIER_RATIO * e.matches
        and min(e.hom_overlap.candidate, e.hom_overlap.query) > 0.0
        and _agrees(e.hom_repeat, e.hom_spread, MIN_SCENE_REPEAT, MIN_SCENE_SPREAD)
    )
    if not (sim_scene or hom_scene):
        return None
    # Report the similarity when it explains nearly as much: 4 parameters extrapolate to the
    # frame's corners far better than the homography's 8 fitted on a part of the picture.
    usable_hom = hom_scene or (e.hom_sane and e.hom_inliers >= MIN_SCENE_INLIERS)
    if (
        sim_ok
        and e.sim_matrix is not None
        and (not usable_hom or e.sim_inliers >= SIMPLER_MODEL * e.hom_inliers)
    ):
        return _result("same_scene", e.sim_inliers, e, e.sim_overlap, e.sim_matrix, query)
    if e.hom_matrix is not None and usable_hom:
        return _result("same_scene", e.hom_inliers, e, e.hom_overlap, e.hom_matrix, query)
    return None


def _agrees(repeat: float, spread: float, min_repeat: float, min_spread: float) -> bool:
    """Enough of the overlap agrees: a high repeat ratio alone, or a lower one with inliers
    spread over the area the keypoints cover."""
    return repeat >= STRONG_REPEAT or (repeat >= min_repeat and spread >= min_spread)


def best_match(
    query_feats: Sequence[LocalFeatures], candidate: LocalFeatures
) -> GeometricMatch | None:
    """The strongest verification of ``candidate`` by any of the query's feature sets."""
    best: GeometricMatch | None = None
    for feats in query_feats:
        found = verify(feats, candidate)
        if found is not None and (best is None or _rank(found) > _rank(best)):
            best = found
    return best


def rerank(
    query_feats: Sequence[LocalFeatures],
    candidates: Sequence[tuple[Key, LocalFeatures, float]],
) -> list[tuple[Key, float, GeometricMatch | None]]:
    """Candidates in a new order: verified duplicates, then the same scene, then the rest.

    Within each group verified candidates are ordered by their match score, the others by
    their ``prior_score`` (the cosine similarity of the scene embedding, say). The returned
    score is in 0..1 and keeps that order: 2/3 and up for duplicates, 1/3 and up for the
    same scene, the prior (clipped to 0..1) divided by 3 for the unverified.
    """
    scored: list[tuple[Key, float, GeometricMatch | None]] = []
    for key, feats, prior in candidates:
        found = best_match(query_feats, feats)
        if found is None:
            score = min(max(prior, 0.0), 1.0) / 3.0
        else:
            base = 2.0 if found.relation == "duplicate" else 1.0
            score = (base + found.score) / 3.0
        scored.append((key, score, found))
    scored.sort(key=lambda item: item[1], reverse=True)
    return scored


def _rank(match: GeometricMatch) -> tuple[int, float]:
    return (match.relation == "duplicate", match.score)


def _unit(features: LocalFeatures) -> float:
    """Scale to thousandths of the longer side: thresholds then ignore the picture size."""
    return 1000.0 / max(features.width, features.height, 1)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run faiss on the calling thread only: for a few hundred descriptors OpenMP's start-up
    and, on a busy machine, its spinning threads cost ten times the work itself."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _ratio_matches(
    query: LocalFeatures, candidate: LocalFeatures
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Query and candidate points of the matches that pass the ratio test.

    faiss's brute-force Hamming k-NN is used rather than ``cv2.BFMatcher``: same result,
    about three times faster here, and no Python object per match.
    """
    if len(candidate) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    with _one_thread():
        distances, nearest = faiss.knn_hamming(query.descriptors, candidate.descriptors, 2)
    kept = np.flatnonzero(distances[:, 0] < RATIO * distances[:, 1])
    # One query point per candidate point (the closest): a textured candidate point that many
    # query points pick would otherwise outvote real matches (a degenerate zero-scale fit).
    order = kept[np.argsort(distances[kept, 0], kind="stable")]
    _, first = np.unique(nearest[order, 0], return_index=True)
    kept = np.sort(order[first])
    return query.points[kept], candidate.points[nearest[kept, 0]]


def _fit_similarity(
    src_u: npt.NDArray[np.float32], dst_u: npt.NDArray[np.float32], qs: float, cs: float
) -> tuple[_Mask, float, float, float, _F64 | None]:
    """(inlier mask, the inliers' median error in units, scale, tilt in degrees from the
    nearest right angle, pixel matrix)."""
    none = np.zeros(len(src_u), bool)
    # The stubs say arrays; OpenCV returns None where no model is found.
    found: tuple[Any, Any] = cv2.estimateAffinePartial2D(
        src_u,
        dst_u,
        method=cv2.RANSAC,
        ransacReprojThreshold=REPROJ,
        maxIters=2000,
        confidence=0.995,
    )
    if found[0] is None or found[1] is None:
        return none, 0.0, 0.0, 180.0, None
    model = np.asarray(found[0], np.float64)
    inlier = np.asarray(found[1]).ravel().astype(bool)
    predicted = src_u[inlier] @ model[:, :2].T + model[:, 2]
    residual = float(np.median(np.linalg.norm(predicted - dst_u[inlier], axis=1)))
    scale = math.hypot(model[0, 0], model[1, 0])
    angle = math.degrees(math.atan2(model[1, 0], model[0, 0]))
    tilt = abs((angle + 45.0) % 90.0 - 45.0)
    matrix = _to_pixels(np.vstack([model, [0.0, 0.0, 1.0]]), qs, cs)
    return inlier, residual, scale, tilt, matrix


def _fit_homography(
    src_u: npt.NDArray[np.float32], dst_u: npt.NDArray[np.float32], qs: float, cs: float
) -> tuple[_Mask, bool, _F64 | None]:
    """(inlier mask, whether the homography is one a camera can produce, pixel matrix)."""
    none = np.zeros(len(src_u), bool)
    if len(src_u) < 4:
        return none, False, None
    found: tuple[Any, Any] = cv2.findHomography(
        src_u, dst_u, cv2.USAC_MAGSAC, REPROJ, maxIters=2000, confidence=0.995
    )
    if found[0] is None or found[1] is None:
        return none, False, None
    h_unit = np.asarray(found[0], np.float64)
    inlier = np.asarray(found[1]).ravel().astype(bool)
    return inlier, _sane(h_unit), _to_pixels(h_unit, qs, cs)


def _spread(points: npt.NDArray[np.float32], overlap: Overlap) -> float:
    """The area the inliers span over the area the candidate's keypoints span, both inside
    the overlap (convex hulls, candidate frame).

    An edited copy agrees wherever the candidate has keypoints; two different photos of a
    similar subject (the same face in the same pose, the same caption) agree on one patch.
    """
    if overlap.candidate_hull <= 0:
        return 0.0
    return min(_hull_area(points) / overlap.candidate_hull, 1.0)


def _sane(h_unit: _F64) -> bool:
    """A homography a camera can produce: orientation kept (mirrors are matched separately),
    bounded scale change, and a mapped unit frame that stays convex."""
    if abs(h_unit[2, 2]) < 1e-12:
        return False
    h = h_unit / h_unit[2, 2]
    det = float(np.linalg.det(h[:2, :2]))
    if not 1 / MAX_SCALE_CHANGE**2 <= det <= MAX_SCALE_CHANGE**2:
        return False
    square = np.array([[0, 0], [1000, 0], [1000, 1000], [0, 1000]], np.float64)
    mapped = _apply(h, square)
    return mapped is not None and bool(cv2.isContourConvex(mapped.astype(np.float32)))


def _to_pixels(h_unit: _F64, qs: float, cs: float) -> _F64:
    """The transform in pixel units: query pixels to candidate pixels."""
    return np.diag([1 / cs, 1 / cs, 1.0]) @ h_unit @ np.diag([qs, qs, 1.0])


def _apply(h: _F64, pts: _F64) -> _F64 | None:
    ones = np.hstack([pts, np.ones((len(pts), 1))])
    mapped = ones @ h.T
    w = mapped[:, 2]
    if np.any(w <= 1e-9):
        return None  # part of the frame maps beyond the horizon
    return mapped[:, :2] / w[:, None]


def _frame(width: int, height: int) -> _F64:
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)


def _overlap(matrix: _F64 | None, query: LocalFeatures, candidate: LocalFeatures) -> Overlap:
    """The query frame mapped forward onto the candidate, the candidate's mapped back."""
    if matrix is None or not np.all(np.isfinite(matrix)):
        return Overlap()
    try:
        inverse: _F64 = np.linalg.inv(matrix).astype(np.float64)
    except np.linalg.LinAlgError:
        return Overlap()
    cov_c, in_c = _covered(matrix, query, candidate)
    cov_q, in_q = _covered(inverse, candidate, query)
    inside = candidate.points[in_c]
    return Overlap(cov_c, cov_q, int(in_c.sum()), int(in_q.sum()), _hull_area(inside))


def _hull_area(points: npt.NDArray[np.float32]) -> float:
    if len(points) < 3:
        return 0.0
    return float(cv2.contourArea(cv2.convexHull(np.ascontiguousarray(points, np.float32))))


def _covered(matrix: _F64, source: LocalFeatures, target: LocalFeatures) -> tuple[float, _Mask]:
    """(fraction of ``target``'s frame covered by ``source``'s, which target keypoints lie
    inside it)."""
    none = np.zeros(len(target), bool)
    mapped = _apply(matrix, _frame(source.width, source.height))
    if mapped is None:
        return 0.0, none
    poly = mapped.astype(np.float32)
    if not cv2.isContourConvex(poly):
        return 0.0, none
    rect = _frame(target.width, target.height).astype(np.float32)
    area, _ = cv2.intersectConvexConvex(poly, rect)
    fraction = float(min(max(area / (target.width * target.height), 0.0), 1.0))
    return fraction, _inside(target.points, mapped)


def _inside(points: npt.NDArray[np.float32], poly: _F64) -> _Mask:
    """Which points lie inside a convex quadrilateral (either winding)."""
    edges = np.roll(poly, -1, axis=0) - poly
    rel = points[:, None, :].astype(np.float64) - poly[None, :, :]
    cross = edges[None, :, 0] * rel[:, :, 1] - edges[None, :, 1] * rel[:, :, 0]
    inside: _Mask = np.all(cross >= 0, axis=1) | np.all(cross <= 0, axis=1)
    return inside


def _result(
    relation: Relation,
    inliers: int,
    evidence: Evidence,
    overlap: Overlap,
    matrix: _F64,
    query: LocalFeatures,
) -> GeometricMatch:
    if query.mirrored:
        # The points were those of the mirror image: compose with the flip x -> W - x.
        flip = np.array([[-1.0, 0.0, query.width], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        matrix = matrix @ flip
    matrix = matrix / matrix[2, 2]
    return GeometricMatch(
        relation=relation,
        inliers=inliers,
        inlier_ratio=round(inliers / evidence.matches, 4),
        coverage_query=round(overlap.query, 4),
        coverage_candidate=round(overlap.candidate, 4),
        transform=[[float(v) for v in row] for row in matrix],
        score=inliers / (inliers + SCORE_HALF),
        mirrored=query.mirrored,
    )
