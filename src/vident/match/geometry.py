"""Geometric verification of local features: is the candidate the same picture, or place?

Candidates come from cheap signals (the scene embedding's neighbours, keypoint votes); this
module decides, from the stored keypoints alone (:mod:`vident.signals.keypoints`), whether a
query and a candidate show the same physical content, and how:

* ``"duplicate"``: the same picture, however redistributed. A similarity (turn by any angle,
  scale, shift) or an affine map (also a stretch) explains the matches, and one picture lies
  (almost) wholly inside the other: the query a crop of the candidate, down to a quarter of
  it (``region`` says which part), or the candidate inside the query, as in a screenshot, a
  collage tile or a picture pasted into another (``query_region`` says where). Resized,
  recompressed, graded, captioned, mirrored copies are the simple case of this;
* ``"same_scene"``: many keypoints agree on one homography that no affine map follows
  (:func:`_affine_share`): another viewpoint of the same place or object, or a part of it
  that neither picture contains.

Matching is Lowe's ratio test on Hamming distances (one query point per candidate point),
then RANSAC three times: a 4-parameter similarity, a 6-parameter affine map, and a full
homography (USAC MAGSAC++). Inlier counts alone are not enough: on the shared corpus,
different photos of one person in the same pose (the deepface set's aligned portraits) line
up 40-50 similarity inliers covering 85-95% of each other. Two agreement tests separate them
from edited copies:

* **repeat**: inliers over the keypoints either side holds in the overlap. An edited copy
  re-finds a good share of its keypoints; another photo agrees on a few;
* **spread**: the area the inliers span over the area the candidate's keypoints span, both
  inside the overlap. An edited copy agrees wherever it has keypoints; another photo of a
  similar subject agrees on one patch (the face).

:func:`agreement` folds both into one number against :data:`STRONG_REPEAT`,
:data:`MIN_DUPLICATE_REPEAT` and :data:`MIN_DUPLICATE_SPREAD`; a duplicate needs
:data:`DUPLICATE_AGREEMENT`. Over every ordered pair of different corpus pictures the
strongest duplicate-shaped fit reaches 0.58 (0.88 with one of the two edited), and
``python -m bench.quality_near`` prints that margin, and the weakest true duplicate's, with
every run. Copies across a large change
of scale re-find fewer points: a query carries a dense set (more points at a larger size),
and a candidate's dense set is asked when the query shows a part of it enlarged.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

import cv2
import faiss
import numpy as np
import numpy.typing as npt
from PIL import Image

from vident.index.features import one_thread
from vident.media.types import DecodedImage
from vident.signals.keypoints import (
    MAX_UPSCALE,
    STORED_POINTS,
    LocalFeatures,
    dense,
    detect_grey,
    panel_sets,
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
#: Similarity or affine inliers needed for a duplicate.
MIN_DUPLICATE_INLIERS: Final = 15
#: Homography inliers needed for the same scene.
MIN_SCENE_INLIERS: Final = 20
#: Inliers over ratio-test matches: below this the agreement is likely chance.
MIN_INLIER_RATIO: Final = 0.2
#: One picture must lie mostly inside the other for a duplicate: the query inside the
#: candidate (a crop, however heavy) or the candidate inside the query (a screenshot, a
#: collage tile, a picture pasted into another). A turned crop with a caption band added
#: leaves 0.73 of the query on the candidate; two views of one place with a part each
#: cannot both be contained.
MIN_CONTAINED: Final = 0.65
#: ...and the smaller must still be this share of the larger: a crop keeping a quarter of the
#: picture is 0.25, one tile of a 3 x 3 collage about 0.09; below it the agreement of a few
#: points is too easily chance.
MIN_DUPLICATE_PART: Final = 0.06
#: Fraction of the keypoints in the overlap that must be similarity inliers for a duplicate.
MIN_DUPLICATE_REPEAT: Final = 0.1
#: Share of the area spanned by the candidate's keypoints that the inliers must span.
MIN_DUPLICATE_SPREAD: Final = 0.25
#: A repeat ratio that is enough on its own, however the inliers are spread (a picture whose
#: keypoints crowd on one textured part agrees only there).
STRONG_REPEAT: Final = 0.2
#: The agreement (:func:`agreement`) a duplicate needs. The strongest duplicate-shaped fit
#: between different corpus pictures reaches 0.58 over every ordered pair of the corpus, but
#: 0.88 once edited (a caption band on one of two aligned portraits of one person, against
#: the other): 0.8 let three such edited queries through, so it stays at 1.0
#: (``bench.quality_near`` prints both ends of this margin).
DUPLICATE_AGREEMENT: Final = 1.0
#: The same two tests for the same scene: another view re-finds fewer keypoints (turned,
#: warped), and a false same_scene misleads rather than mislinks, so they are looser. On the
#: corpus they leave 2 links between different photos of one person in the same pose
#: (of 276 other-angle queries against 146 pictures), and lose no top-1 rank.
MIN_SCENE_REPEAT: Final = 0.05
MIN_SCENE_SPREAD: Final = 0.2
#: Share of the homography's inliers one affine map must explain (:func:`_affine_share`) for
#: a duplicate: another viewpoint bends straight lines the way only a homography follows.
MIN_AFFINE_SHARE: Final = 0.85
#: Most stretch of an affine duplicate (ratio of its two scales): a picture squeezed to 78% of
#: its height is 1.28; beyond 1.6 a fit is more likely a turned plane (another viewpoint).
MAX_STRETCH: Final = 1.6
#: How closely one affine map must explain a homography inlier (units, as :data:`REPROJ`).
#: At the RANSAC tolerance every corpus edit scores 1.0 (5th percentile), and so does a mild
#: perspective (the scene benchmark's views, corners moved up to 12%: median 0.96): a photo
#: of a printed or displayed picture is the same picture. Half of it separated neither
#: (edits down to 0.57, views up to 0.89 at the 5th/95th percentiles).
AFFINE_TOLERANCE: Final = 8.0
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
    ``coverage_candidate`` the fraction of the candidate covered by the query. ``region`` is
    the box (x, y, w, h, candidate pixels) of the candidate that the query shows, and
    ``query_region`` the box of the query where the candidate lies: the tile of a collage,
    the picture in a screenshot. ``model`` is the map that explained it (``similarity``:
    turn, scale, shift; ``affine``: also a stretch; ``homography``: another viewpoint).
    """

    relation: Relation
    inliers: int
    inlier_ratio: float
    coverage_query: float
    coverage_candidate: float
    transform: list[list[float]]
    score: float
    mirrored: bool = False
    model: str = "similarity"
    region: tuple[int, int, int, int] = (0, 0, 0, 0)
    query_region: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def contains(self) -> bool:
        """The candidate lies inside the query (a screenshot, collage or pasted copy of it),
        rather than the query being a part of the candidate (a crop)."""
        return self.coverage_candidate >= MIN_CONTAINED and self.coverage_query < MIN_CONTAINED

    @property
    def angle(self) -> float:
        """Degrees the query is turned by to lie on the candidate (counter-clockwise)."""
        m = self.transform
        return round(math.degrees(math.atan2(m[1][0], m[0][0])), 1)

    @property
    def scale(self) -> float:
        """Candidate pixels per query pixel (the mean of the two axes' scales)."""
        m = np.array(self.transform)[:2, :2]
        return round(math.sqrt(abs(float(np.linalg.det(m)))), 3)

    def detail(self) -> dict[str, Any]:
        """What an analyst reads in a reason: how the two pictures relate and where."""
        return {
            "relation": self.relation,
            "inliers": self.inliers,
            "mirrored": self.mirrored,
            "model": self.model,
            "angle": self.angle,
            "scale": self.scale,
            "coverage_query": self.coverage_query,
            "coverage_candidate": self.coverage_candidate,
            "region": list(self.region),
            "query_region": list(self.query_region),
            "contains": self.contains,
        }


def query_features(
    image: DecodedImage, region: tuple[int, int, int, int] | None = None
) -> list[LocalFeatures]:
    """Features of the query picture (or of ``region``, x, y, w, h in full-picture pixels),
    of its mirror image, the dense set (:func:`vident.signals.keypoints.dense`) and the panel
    sets (:func:`vident.signals.keypoints.panel_sets`): ORB is not mirror-invariant, so a
    flipped copy is found only by matching the flipped query, and a picture shown small inside
    the query (a collage tile, a screenshot) by the dense set or, set apart by flat bands, by
    its panel's set. A small query gets the first two again at a larger scale. Empty results
    are left out; a ``region`` outside the picture raises ValueError."""
    pixels, width, height = image.pixels, image.width, image.height
    if region is not None:
        pixels, width, height = _crop(image, region)
    grey, factor = working_grey(pixels)
    first = detect_grey(grey, width, height, QUERY_POINTS)
    mirror = np.ascontiguousarray(grey[:, ::-1])
    out = [first, detect_grey(mirror, width, height, QUERY_POINTS, mirrored=True)]
    if len(first):
        out.append(dense(pixels, width, height))
        out.extend(panel_sets(pixels, width, height, grey))
    if factor >= MAX_UPSCALE:
        # A small query may be a reduced copy of a small stored picture, which was enlarged
        # up to the limit too: the same content then sits at a scale the stored features
        # barely cover. Features at up to QUERY_UPSCALE x as well meet it at its own scale.
        larger, more = working_grey(pixels, QUERY_UPSCALE)
        if more > factor * 1.2:
            out.append(detect_grey(larger, width, height, QUERY_POINTS))
            mirror = np.ascontiguousarray(larger[:, ::-1])
            out.append(detect_grey(mirror, width, height, QUERY_POINTS, mirrored=True))
    return [f for f in out if len(f)]


def stored_query_features(
    value: bytes, variants: Sequence[bytes] | bytes = ()
) -> list[LocalFeatures]:
    """The query features of a picture already stored: its value, mirrored variant, dense
    set and panel sets (concatenated variants as the store keeps them are split). The same as
    :func:`query_features` on its pixels but for the enlarged sets of small pictures, so
    triage of stored material needs no pixels. Values stored before the dense set have none."""
    extra = split(variants) if isinstance(variants, bytes) else list(variants)
    out = [unpack(value)]
    if extra:
        out.append(unpack(extra[0], mirrored=True))
    out.extend(unpack(v) for v in extra[1:])
    return [f for f in out if len(f)]


def stored_candidate(value: bytes, variants: bytes | None) -> Candidate:
    """A stored picture as a candidate: its value and, when stored, its dense set."""
    extra = split(variants or b"")
    more = unpack(extra[1]) if len(extra) > 1 else None
    return Candidate(unpack(value), more if more is not None and len(more) else None)


@dataclass(frozen=True, slots=True)
class Candidate:
    """What verification reads of a stored picture: its features and, when stored, its dense
    set, asked only to confirm a fit at a scale the first set holds few points for."""

    features: LocalFeatures
    dense: LocalFeatures | None = None

    def __len__(self) -> int:
        return len(self.features)


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
class Fit:
    """One model fitted by RANSAC: its inliers, pixel matrix (query to candidate, in the
    frame of the features given: a mirrored query's own), the overlap it implies, and the
    agreement measures (``spread``, :meth:`repeat`)."""

    inliers: int = 0
    matrix: _F64 | None = None
    overlap: Overlap = field(default_factory=lambda: Overlap())
    spread: float = 0.0
    #: Candidate pixels per query pixel (geometric mean of the two axes).
    scale: float = 0.0
    #: Ratio of the larger axis scale to the smaller (1 for a similarity).
    stretch: float = 1.0
    #: For a homography: whether a camera can produce it (orientation kept, convex frame).
    sane: bool = True

    @property
    def repeat(self) -> float:
        return self.overlap.repeat(self.inliers)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the three RANSAC fits found, before any threshold is applied (kept apart so the
    thresholds can be tuned on recorded evidence, see ``bench.quality_near``)."""

    matches: int
    similarity: Fit
    affine: Fit
    homography: Fit
    #: The candidate's frame (width, height): where ``region`` boxes lie.
    candidate_size: tuple[int, int] = (0, 0)
    #: Share of the homography's inliers that one affine map (least squares over them)
    #: also explains: near 1 for any edit of one picture, lower for another viewpoint.
    affine_share: float = 1.0


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
    """Ratio-test matches, then a similarity, an affine map and a homography fitted by RANSAC.

    None when too few matches pass the ratio test for either relation to be possible.
    """
    if min(len(query), len(candidate)) < MIN_MATCHES:
        return None
    src, dst = _ratio_matches(query, candidate)
    if len(src) < MIN_MATCHES:
        return None
    qs, cs = _unit(query), _unit(candidate)
    src_u, dst_u = src * np.float32(qs), dst * np.float32(cs)

    def fit(mask: _Mask, matrix: _F64 | None, scale: float, stretch: float, sane: bool) -> Fit:
        overlap = _overlap(matrix, query, candidate) if sane else Overlap()
        spread = _spread(dst[mask], overlap)
        return Fit(int(mask.sum()), matrix, overlap, spread, scale, stretch, sane)

    hom_fit = _fit_homography(src_u, dst_u, qs, cs)
    return Evidence(
        matches=len(src),
        similarity=fit(*_fit_similarity(src_u, dst_u, qs, cs)),
        affine=fit(*_fit_affine(src_u, dst_u, qs, cs)),
        homography=fit(*hom_fit),
        candidate_size=(candidate.width, candidate.height),
        affine_share=_affine_share(src_u[hom_fit[0]], dst_u[hom_fit[0]]),
    )


def _affine_share(src_u: npt.NDArray[np.float32], dst_u: npt.NDArray[np.float32]) -> float:
    """The share of these point pairs (the homography's inliers, in units) that one affine
    map explains within :data:`REPROJ`: least squares, then twice again over the pairs it
    explains. RANSAC inlier counts of two models are too noisy to compare (a squeezed copy
    gave the homography 215 inliers and the affine map 178); this asks one set of points."""
    if len(src_u) < 6:
        return 1.0
    design = np.hstack([src_u.astype(np.float64), np.ones((len(src_u), 1))])
    target = dst_u.astype(np.float64)
    keep = np.ones(len(src_u), bool)
    explained = keep
    for _ in range(3):
        solution = np.linalg.lstsq(design[keep], target[keep], rcond=None)[0]
        explained = np.linalg.norm(design @ solution - target, axis=1) <= AFFINE_TOLERANCE
        if explained.sum() < 3 or np.array_equal(explained, keep):
            break
        keep = explained
    return float(explained.mean())


def duplicate_fit(evidence: Evidence) -> tuple[str, Fit] | None:
    """The similarity or affine fit that has the shape of a duplicate, agreement aside.

    The shape: inliers that are not chance, a bounded scale and stretch, nearly all that the
    homography explains (another viewpoint needs the homography's perspective), and one
    picture (almost) wholly inside the other, the smaller at least :data:`MIN_DUPLICATE_PART`
    of the larger. The similarity is preferred: four parameters extrapolate better.
    """
    e = evidence
    if _other_view(e):
        return None
    for name, f in (("similarity", e.similarity), ("affine", e.affine)):
        if name == "similarity" and f.inliers < MIN_AFFINE_SHARE * e.affine.inliers:
            continue  # a stretch: the similarity fits only a band of it
        if (
            f.matrix is not None
            and f.inliers >= MIN_DUPLICATE_INLIERS
            and f.inliers >= MIN_INLIER_RATIO * e.matches
            and 1 / MAX_SCALE_CHANGE <= f.scale <= MAX_SCALE_CHANGE
            and f.stretch <= MAX_STRETCH
            and max(f.overlap.candidate, f.overlap.query) >= MIN_CONTAINED
            and min(f.overlap.candidate, f.overlap.query) >= MIN_DUPLICATE_PART
        ):
            return name, f
    return None


def agreement(fit: Fit, min_repeat: float, min_spread: float) -> float:
    """How far a fit passes the agreement tests: 1.0 and up passes, below fails.

    A repeat of :data:`STRONG_REPEAT` alone, or ``min_repeat`` with ``min_spread`` (see the
    module docstring); the benchmark prints the margin this leaves on either side.
    """
    both = min(fit.repeat / min_repeat, fit.spread / min_spread)
    return max(fit.repeat / STRONG_REPEAT, both)


def classify(evidence: Evidence, query: LocalFeatures) -> GeometricMatch | None:
    """Apply the thresholds: a duplicate, the same scene, or nothing.

    Both relations need inliers that are not chance (:data:`MIN_DUPLICATE_INLIERS`,
    :data:`MIN_SCENE_INLIERS`, :data:`MIN_INLIER_RATIO`), that re-find a share of the
    keypoints in the overlap (``repeat``) and that span the overlap (``spread``): two
    different photos of one face in the same pose pass the first test, not the others.
    """
    e = evidence
    shaped = duplicate_fit(e)
    if shaped is not None:
        name, f = shaped
        if agreement(f, MIN_DUPLICATE_REPEAT, MIN_DUPLICATE_SPREAD) >= DUPLICATE_AGREEMENT:
            assert f.matrix is not None
            return _result("duplicate", name, f, e, query)
    sim, hom = e.similarity, e.homography
    sim_ok = (
        sim.matrix is not None
        and sim.inliers >= MIN_DUPLICATE_INLIERS
        and sim.inliers >= MIN_INLIER_RATIO * e.matches
        and 1 / MAX_SCALE_CHANGE <= sim.scale <= MAX_SCALE_CHANGE
    )
    sim_scene = sim_ok and agreement(sim, MIN_SCENE_REPEAT, MIN_SCENE_SPREAD) >= 1.0
    hom_scene = (
        hom.matrix is not None
        and hom.sane
        and hom.inliers >= MIN_SCENE_INLIERS
        and hom.inliers >= MIN_INLIER_RATIO * e.matches
        and min(hom.overlap.candidate, hom.overlap.query) > 0.0
        and agreement(hom, MIN_SCENE_REPEAT, MIN_SCENE_SPREAD) >= 1.0
    )
    if not (sim_scene or hom_scene):
        return None
    # Report the similarity when it explains nearly as much: 4 parameters extrapolate to the
    # frame's corners far better than the homography's 8 fitted on a part of the picture.
    usable_hom = hom_scene or (hom.sane and hom.inliers >= MIN_SCENE_INLIERS)
    if sim_ok and (not usable_hom or sim.inliers >= SIMPLER_MODEL * hom.inliers):
        return _result("same_scene", "similarity", sim, e, query)
    if hom.matrix is not None and usable_hom:
        return _result("same_scene", "homography", hom, e, query)
    return None


#: A first fit mapping the query to the candidate at this scale or less (the query shows a
#: part of the candidate enlarged: a heavy crop) is confirmed on the candidate's dense set.
DENSE_BELOW_SCALE: Final = 0.75


def best_match(
    query_feats: Sequence[LocalFeatures], candidate: LocalFeatures | Candidate
) -> GeometricMatch | None:
    """The strongest verification of ``candidate`` by any of the query's feature sets.

    When no set finds a duplicate but a fit shows the query enlarged against the candidate
    (a heavy crop), the candidate's dense set, at that scale, is asked too. A duplicate one
    set finds is overruled by another set's stronger evidence of another viewpoint (more
    homography inliers than the duplicate has, which no affine map explains): the sets see
    the picture at different scales, and the one with more agreeing points is trusted.
    """
    return weigh(query_feats, candidate)[0]


def weigh(
    query_feats: Sequence[LocalFeatures], candidate: LocalFeatures | Candidate
) -> tuple[GeometricMatch | None, list[tuple[LocalFeatures, Evidence]]]:
    """:func:`best_match`, and the evidence of each query set against the candidate's
    features (the quality benchmark studies it without measuring twice)."""
    if isinstance(candidate, LocalFeatures):
        candidate = Candidate(candidate)
    found: list[GeometricMatch] = []
    evidences: list[tuple[LocalFeatures, Evidence]] = []
    viewpoint: GeometricMatch | None = None
    enlarged = False
    for feats in query_feats:
        evidence = measure(feats, candidate.features)
        if evidence is None:
            continue
        evidences.append((feats, evidence))
        sim = evidence.similarity
        enlarged |= sim.inliers >= MIN_MATCHES and 0 < sim.scale <= DENSE_BELOW_SCALE
        match = classify(evidence, feats)
        if match is not None:
            found.append(match)
            other_view = match.relation == "same_scene" and _other_view(evidence)
            if other_view and (viewpoint is None or match.inliers > viewpoint.inliers):
                viewpoint = match
    if candidate.dense is not None and enlarged and all(m.relation != "duplicate" for m in found):
        for feats in query_feats[:2]:
            match = verify(feats, candidate.dense)
            if match is not None:
                found.append(match)
    if viewpoint is not None:
        found = [m for m in found if m.relation != "duplicate" or m.inliers > viewpoint.inliers]
    return max(found, key=_rank, default=None), evidences


def _other_view(evidence: Evidence) -> bool:
    """One affine map explains clearly fewer of the homography's inliers: another viewpoint."""
    hom = evidence.homography
    return (
        hom.sane and hom.inliers >= MIN_SCENE_INLIERS and evidence.affine_share < MIN_AFFINE_SHARE
    )


def rerank(
    query_feats: Sequence[LocalFeatures],
    candidates: Sequence[tuple[Key, LocalFeatures | Candidate, float]],
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


def _ratio_matches(
    query: LocalFeatures, candidate: LocalFeatures
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Query and candidate points of the matches that pass the ratio test.

    faiss's brute-force Hamming k-NN is used rather than ``cv2.BFMatcher``: same result,
    about three times faster here, and no Python object per match.
    """
    if len(candidate) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    with one_thread():
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
) -> tuple[_Mask, _F64 | None, float, float, bool]:
    """(inlier mask, pixel matrix, scale, stretch 1, sane) of a turn, scale and shift."""
    return _fit_linear(cv2.estimateAffinePartial2D, src_u, dst_u, qs, cs)


def _fit_affine(
    src_u: npt.NDArray[np.float32], dst_u: npt.NDArray[np.float32], qs: float, cs: float
) -> tuple[_Mask, _F64 | None, float, float, bool]:
    """(inlier mask, pixel matrix, scale, stretch, sane) of a full affine map: a picture
    squeezed or sheared as well as turned and cropped."""
    return _fit_linear(cv2.estimateAffine2D, src_u, dst_u, qs, cs)


def _fit_linear(
    estimate: Any,
    src_u: npt.NDArray[np.float32],
    dst_u: npt.NDArray[np.float32],
    qs: float,
    cs: float,
) -> tuple[_Mask, _F64 | None, float, float, bool]:
    """One of OpenCV's 2 x 3 estimators by RANSAC, as :func:`_affine_result` reads it."""
    if len(src_u) < 3:
        return np.zeros(len(src_u), bool), None, 0.0, 1.0, True
    # The stubs say arrays; OpenCV returns None where no model is found.
    found: tuple[Any, Any] = estimate(
        src_u,
        dst_u,
        method=cv2.RANSAC,
        ransacReprojThreshold=REPROJ,
        maxIters=2000,
        confidence=0.995,
    )
    return _affine_result(found, len(src_u), qs, cs)


def _affine_result(
    found: tuple[Any, Any], count: int, qs: float, cs: float
) -> tuple[_Mask, _F64 | None, float, float, bool]:
    if found[0] is None or found[1] is None:
        return np.zeros(count, bool), None, 0.0, 1.0, True
    model = np.asarray(found[0], np.float64)
    inlier = np.asarray(found[1]).ravel().astype(bool)
    singular = np.linalg.svd(model[:, :2], compute_uv=False)
    if float(np.linalg.det(model[:, :2])) <= 0 or singular[1] <= 1e-9:
        # A mirror (matched separately, with the mirrored query) or a collapsed map.
        return np.zeros(count, bool), None, 0.0, 1.0, True
    scale = float(math.sqrt(singular[0] * singular[1]))
    stretch = float(singular[0] / singular[1])
    matrix = _to_pixels(np.vstack([model, [0.0, 0.0, 1.0]]), qs, cs)
    return inlier, matrix, scale, stretch, True


def _fit_homography(
    src_u: npt.NDArray[np.float32], dst_u: npt.NDArray[np.float32], qs: float, cs: float
) -> tuple[_Mask, _F64 | None, float, float, bool]:
    """(inlier mask, pixel matrix, scale, stretch 1, whether a camera can produce it)."""
    none = np.zeros(len(src_u), bool)
    if len(src_u) < 4:
        return none, None, 0.0, 1.0, False
    found: tuple[Any, Any] = cv2.findHomography(
        src_u, dst_u, cv2.USAC_MAGSAC, REPROJ, maxIters=2000, confidence=0.995
    )
    if found[0] is None or found[1] is None:
        return none, None, 0.0, 1.0, False
    h_unit = np.asarray(found[0], np.float64)
    inlier = np.asarray(found[1]).ravel().astype(bool)
    return inlier, _to_pixels(h_unit, qs, cs), 0.0, 1.0, _sane(h_unit)


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
    inverse = _inverse(matrix)
    if inverse is None:
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
    relation: Relation, model: str, fit: Fit, evidence: Evidence, query: LocalFeatures
) -> GeometricMatch:
    assert fit.matrix is not None
    matrix = fit.matrix
    if query.mirrored:
        # The points were those of the mirror image: compose with the flip x -> W - x.
        flip = np.array([[-1.0, 0.0, query.width], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        matrix = matrix @ flip
    matrix = matrix / matrix[2, 2]
    candidate = evidence.candidate_size
    return GeometricMatch(
        relation=relation,
        inliers=fit.inliers,
        inlier_ratio=round(fit.inliers / evidence.matches, 4),
        coverage_query=round(fit.overlap.query, 4),
        coverage_candidate=round(fit.overlap.candidate, 4),
        transform=[[float(v) for v in row] for row in matrix],
        score=fit.inliers / (fit.inliers + SCORE_HALF),
        mirrored=query.mirrored,
        model=model,
        region=_box(matrix, (query.width, query.height), candidate),
        query_region=_box(_inverse(matrix), candidate, (query.width, query.height)),
    )


def _inverse(matrix: _F64) -> _F64 | None:
    """The inverse map, or None for a singular one."""
    try:
        found: _F64 = np.linalg.inv(matrix).astype(np.float64)
    except np.linalg.LinAlgError:
        return None
    return found


def _box(
    matrix: _F64 | None, source: tuple[int, int], target: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The bounding box (x, y, w, h) of the ``source`` frame mapped into the ``target`` frame,
    clipped to it; zeros where it does not map."""
    if matrix is None:
        return (0, 0, 0, 0)
    mapped = _apply(matrix, _frame(*source))
    if mapped is None:
        return (0, 0, 0, 0)
    x0, y0 = np.clip(mapped.min(axis=0), 0, target)
    x1, y1 = np.clip(mapped.max(axis=0), 0, target)
    return (round(x0), round(y0), round(x1 - x0), round(y1 - y0))


def describe(detail: Mapping[str, object] | None) -> str | None:
    """A verified relation in words, from a link's or reason's evidence (:meth:`detail`):
    which part of the known picture the query shows, or where in the query the known
    picture lies, and how it was turned. None for evidence of another kind."""
    if not detail or detail.get("relation") not in ("duplicate", "same_scene"):
        return None
    region, inside = detail.get("region"), detail.get("query_region")
    share_c, share_q = detail.get("coverage_candidate"), detail.get("coverage_query")
    if detail.get("relation") == "same_scene":
        text = f"same scene, overlapping the known picture at {_box_text(region)}"
    elif detail.get("contains"):
        text = f"the known picture lies inside it at {_box_text(inside)}"
        if isinstance(share_q, float):
            text += f" ({share_q:.0%} of this picture)"
    elif isinstance(share_c, float) and share_c < 0.95:
        text = f"a crop of the known picture: {_box_text(region)} ({share_c:.0%} of it)"
    else:
        text = "the whole known picture"
    angle = detail.get("angle")
    if isinstance(angle, int | float) and abs((angle + 45) % 90 - 45) >= 1:
        text += f", turned {abs(angle):.0f} degrees"
    if detail.get("model") == "affine":
        text += ", stretched"
    if detail.get("mirrored"):
        text += ", mirrored"
    return text


def _box_text(box: object) -> str:
    if isinstance(box, list | tuple) and len(box) == 4:
        x, y, w, h = box
        return f"x {x}, y {y}, {w} x {h} px"
    return "?"
