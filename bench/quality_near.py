"""Near-duplicate recall and same-place re-ranking on the shared corpus.

    .venv/bin/python -m bench.quality_near    # the table: about 40 minutes, 2 workers (*)
    .venv/bin/python -m bench.quality_near --json near.json --limit 50   # 17 minutes (*)
    .venv/bin/python -m bench.quality_near --edits "screenshot" "collage 3x3" --limit 40

Every decodable corpus picture (but the two featureless ones, :attr:`Picture.featureless`)
is edited by each edit class and looked up among all corpus pictures. The classes are the
12 plain :data:`TRANSFORMS` and the 13 :data:`bench.redistribution.EDITS` (what reposting
does: uneven and heavy crops, screenshots, a picture pasted into another, collages with
other corpus pictures, captions, stretches, thumbnails, colour grading, combinations).

A query is *found* when a signal links it to a picture of its source's photograph
(:data:`SAME_PHOTO`); it is *false* when the signal links it to a picture outside the truth:
the source's photograph, the pictures it is a part of or holds (:data:`CONTAINS`), and the
same for every other corpus picture the edit shows (the other tiles of a collage, the
picture a copy is pasted into: a collage of corpus pictures is truly a copy of each).
Columns:

* ``pdq``: the 8 rotations and flips of the query, distance <= 31, quality >= 50 both sides;
* ``phash``: imagehash pHash, 64 bits, distance <= 10, no rotation or flip variants;
* ``geometry``: a geometric "duplicate", as triage decides it
  (:func:`vident.match.geometry.best_match` of the query's feature sets against each
  candidate's stored features and dense set);
* ``vident``: pdq OR geometry, every corpus picture a candidate (brute force, 146);
* ``vident, PDQ cands``: pdq OR geometry, but geometry only on the 10 candidates nearest by
  PDQ distance (no threshold): what a cheap candidate list gives;
* ``vident, votes``: pdq OR geometry on the 10 candidates the keypoint votes bring
  (:class:`vident.index.features.FeatureIndex`, as triage asks beside the scene embedding's
  30 nearest, which ``bench.quality_scene`` measures).

Every ordered pair of distinct corpus pictures is verified too: a "duplicate" outside the
truth, or a "same_scene" outside it and :data:`SAME_SCENE`, is listed. The margin
(:func:`margins`) sets the weakest true duplicate's
:func:`~vident.match.geometry.agreement` (a duplicate needs
:data:`~vident.match.geometry.DUPLICATE_AGREEMENT`) against the strongest agreement of a
duplicate-shaped fit (:func:`~vident.match.geometry.duplicate_fit`) between unrelated
pictures, from the corpus pairs and from the edited queries' other candidates.

The other-angle test (:func:`other_angle_rerank`) takes the scene benchmark's views
(:func:`bench.quality_scene.make_other_angle`: turned 10-25 degrees, an off-centre part of
50-60% of the area, and with ``perspective`` each corner moved by up to 12%) and asks whether
geometric re-ranking puts the source's photograph first among all corpus pictures.

The work runs in ``--workers`` processes (each loads the corpus once); every query is seeded
from its source's name and edit, so the figures do not depend on the number of workers.
(*) Times on a 2-core machine shared with other work: ``--limit 50`` took 1,000 s (828 s of
CPU); the full run, about 8.6 times the query-candidate pairs, is estimated from it and from
single queries on the idle machine (1 CPU-second per query against all 146 pictures), not
measured end to end.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import resource
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import cv2
import imagehash
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bench.quality_scene import VARIANTS, make_other_angle, seed_for
from bench.redistribution import EDITS, Edit, Edited, Others, seed
from vident.config import Limits
from vident.index.features import FeatureIndex
from vident.match.geometry import (
    DUPLICATE_AGREEMENT,
    MIN_DUPLICATE_REPEAT,
    MIN_DUPLICATE_SPREAD,
    Candidate,
    Evidence,
    GeometricMatch,
    agreement,
    best_match,
    classify,
    duplicate_fit,
    query_features,
    rerank,
    stored_candidate,
    weigh,
)
from vident.match.links import VOTED_CANDIDATES
from vident.media.errors import MediaError
from vident.media.image import decode_image
from vident.media.types import DecodedImage
from vident.signals.keypoints import Keypoints, LocalFeatures, unpack
from vident.signals.pdq import Pdq

CORPUS: Final = Path(
    os.environ.get("VIDENT_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpora")
)
PDQ_THRESHOLD: Final = 31
PDQ_MIN_QUALITY: Final = 50
PHASH_THRESHOLD: Final = 10
#: Candidates per query when candidates come from PDQ ranking.
PDQ_CANDIDATES: Final = 10
#: Candidates triage verifies per query picture (``vident.match.links.SCENE_CANDIDATES``).
TRIAGE_CANDIDATES: Final = 30

#: Groups of corpus pictures that are genuinely the same photograph (or the same scene shot
#: seconds apart): links inside a group are true, whatever the direction. Found by verifying
#: every corpus pair and looking at each hit; the reasons are printed with the table.
SAME_PHOTO: Final[dict[str, tuple[str, ...]]] = {
    "one photo at four resolutions, and crops of it (obama.jpg, partial face, small)": (
        "faces/obama/obama-240p.jpg",
        "faces/obama/obama-480p.jpg",
        "faces/obama/obama-720p.jpg",
        "faces/obama/obama-1080p.jpg",
        "faces/obama/obama.jpg",
        "faces/obama/obama_partial_face.jpg",
        "faces/obama/obama_small.jpg",
    ),
    "one picture stored with each EXIF orientation (landscape)": tuple(
        f"exif/orientation/landscape_{i}.jpg" for i in range(1, 9)
    ),
    "one picture stored with each EXIF orientation (portrait)": tuple(
        f"exif/orientation/portrait_{i}.jpg" for i in range(1, 9)
    ),
    "two shots of one scene seconds apart (HDR off/on)": (
        "exif/same_camera/canon_hdr_NO.jpg",
        "exif/same_camera/canon_hdr_YES.jpg",
    ),
    "one text page in five formats": tuple(
        f"text/pytesseract/test.{ext}" for ext in ("gif", "jpg", "png", "tiff", "webp")
    ),
    "a picture and its mirror image (the file name says so)": (
        "faces/deepface_id01/img11.jpg",
        "faces/deepface_id01/img11_reflection.jpg",
    ),
}

#: Pictures made of other corpus pictures: (the containers, the pictures they hold). A
#: duplicate is the query inside the candidate (a crop) or the candidate inside the query (a
#: screenshot, a collage tile), so a link either way, of any relation, is true. Until the
#: geometry reported containment these were listed in :data:`SAME_SCENE` instead, where a
#: duplicate link between them counted as false.
CONTAINS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "a picture of two people made of two corpus photos side by side": (
        ("faces/_group/two_people.jpg",),
        ("faces/biden/biden.jpg", "faces/obama/obama3.jpg"),
    ),
}

#: Pictures that show the same scene without being the same picture (checked by eye): a
#: "same_scene" link between them is true, a "duplicate" link false.
SAME_SCENE: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "two photos of one waterfall (the landscape and the portrait orientation samples)": (
        SAME_PHOTO["one picture stored with each EXIF orientation (landscape)"],
        SAME_PHOTO["one picture stored with each EXIF orientation (portrait)"],
    ),
}


# --- the edits ------------------------------------------------------------------------------


def _crop(fraction: float) -> Callable[[Image.Image], Image.Image]:
    def crop(img: Image.Image) -> Image.Image:
        dx, dy = round(img.width * fraction), round(img.height * fraction)
        return img.crop((dx, dy, img.width - dx, img.height - dy))

    return crop


def _resize(img: Image.Image, factor: float = 0.5) -> Image.Image:
    size = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
    return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _recompress(img: Image.Image, quality: int = 30) -> Image.Image:
    buffer = io.BytesIO()
    img.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _rotate(degrees: float) -> Callable[[Image.Image], Image.Image]:
    def rotate(img: Image.Image) -> Image.Image:
        return img.rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=(0, 0, 0))

    return rotate


def _overlay(img: Image.Image) -> Image.Image:
    """A caption banner over the bottom sixth and a logo in the top-left corner."""
    out = img.convert("RGB")
    draw = ImageDraw.Draw(out, "RGBA")
    w, h = out.size
    band = max(2, h // 6)
    draw.rectangle((0, h - band, w, h), fill=(20, 20, 20, 190))
    size = max(6, band // 2)
    font = ImageFont.load_default(size=size)
    draw.text(
        (w // 20, h - band + band // 4),
        "vident 2026 - sample caption",
        fill=(255, 255, 0),
        font=font,
    )
    side = max(4, min(w, h) // 6)
    draw.ellipse(
        (side // 4, side // 4, side // 4 + side, side // 4 + side), fill=(220, 30, 30, 230)
    )
    draw.rectangle(
        (side // 2, side // 2, side // 4 + side * 3 // 4, side // 4 + side * 3 // 4),
        fill=(255, 255, 255, 230),
    )
    return out


#: Edits that leave a near-duplicate: each takes and returns an RGB picture.
TRANSFORMS: Final[dict[str, Callable[[Image.Image], Image.Image]]] = {
    "resize 50%": _resize,
    "jpeg q30": _recompress,
    "crop 3%": _crop(0.03),
    "crop 6%": _crop(0.06),
    "crop 10%": _crop(0.10),
    "crop 6% + resize 50%": lambda img: _resize(_crop(0.06)(img)),
    "crop 6% + jpeg q30": lambda img: _recompress(_crop(0.06)(img)),
    "flip": lambda img: img.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "rotate 90": lambda img: img.transpose(Image.Transpose.ROTATE_90),
    "rotate 5": _rotate(5.0),
    "greyscale": lambda img: img.convert("L").convert("RGB"),
    "overlay": _overlay,
}


def _plain(transform: Callable[[Image.Image], Image.Image]) -> Edit:
    def edit(img: Image.Image, _rng: np.random.Generator, _others: Others) -> Edited:
        return Edited(transform(img))

    return edit


#: Every edit class: the plain transforms, then the redistribution edits.
EDIT_CLASSES: Final[dict[str, Edit]] = {
    **{name: _plain(t) for name, t in TRANSFORMS.items()},
    **EDITS,
}
#: The table's two groups of edit classes.
GROUPS: Final[dict[str, tuple[str, ...]]] = {
    f"plain ({len(TRANSFORMS)} classes)": tuple(TRANSFORMS),
    f"redistribution ({len(EDITS)})": tuple(EDITS),
}


# --- the corpus -----------------------------------------------------------------------------


@dataclass
class Picture:
    """A corpus picture as stored: decoded, hashed, its keypoint value unpacked."""

    name: str
    stored: DecodedImage
    full: Image.Image
    pdq: tuple[bytes, ...]
    pdq_quality: int
    phash: imagehash.ImageHash
    features: LocalFeatures
    stored_bytes: int
    #: What triage verifies against: the features and the dense set, as stored.
    candidate: Candidate
    #: Indices of the corpus pictures of the same photograph (itself included).
    same_photo: frozenset[int] = frozenset()
    #: Those and the pictures it holds or is a part of (:data:`CONTAINS`): a link of any
    #: kind to them is true.
    linked: frozenset[int] = frozenset()
    #: Those and the pictures of the same scene: a "same_scene" link to them is true.
    same_scene: frozenset[int] = frozenset()

    @property
    def featureless(self) -> bool:
        """No keypoint and a PDQ quality under 50: no content signal can say anything (the
        corpus has two: ``test_la.png``, whose text is in the alpha channel that decoding
        drops, and ``image01713.jpg``, a 49x500 strip of almost flat dark grey)."""
        return len(self.features) == 0 and self.pdq_quality < PDQ_MIN_QUALITY


@dataclass
class Query:
    decoded: DecodedImage
    pdq: tuple[bytes, ...]
    pdq_quality: int
    phash: imagehash.ImageHash
    features: list[LocalFeatures]


def _pdq(image: DecodedImage) -> tuple[tuple[bytes, ...], int]:
    value = Pdq().compute(image)
    assert value is not None
    return (value.value, *value.variants), int(value.quality or 0)


def _decoded(img: Image.Image) -> DecodedImage:
    """The picture as ingest would see it (lossless BMP bytes through ``decode_image``)."""
    buffer = io.BytesIO()
    img.convert("RGB").save(buffer, "BMP")
    return decode_image(buffer.getvalue(), Limits())


def load_corpus(root: Path = CORPUS, limit: int | None = None) -> list[Picture]:
    """Every decodable picture of the corpus (videos and undecodable files left out)."""
    kind = Keypoints()
    out: list[Picture] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix.lower() in {".csv", ".md", ".mp4", ".txt"}:
            continue
        data = path.read_bytes()
        try:
            stored = decode_image(data, Limits())
            full = decode_image(data, Limits(), target=None).pixels
        except MediaError:
            continue
        pdq, quality = _pdq(stored)
        computed = kind.compute(stored)
        value = computed.value
        out.append(
            Picture(
                name=path.relative_to(root).as_posix(),
                stored=stored,
                full=full,
                pdq=pdq,
                pdq_quality=quality,
                phash=imagehash.phash(stored.pixels),
                features=unpack(value),
                stored_bytes=len(value) + sum(len(v) for v in computed.variants),
                candidate=stored_candidate(value, b"".join(computed.variants)),
            )
        )
        if limit is not None and len(out) >= limit:
            break
    _relate(out)
    return out


def _pairs_of(
    groups: Iterable[tuple[tuple[str, ...], tuple[str, ...]]], name: str
) -> Iterator[str]:
    """The names paired with ``name`` by groups of (left, right), either way."""
    for left, right in groups:
        for mine, theirs in ((left, right), (right, left)):
            if name in mine:
                yield from theirs


def _relate(corpus: list[Picture]) -> None:
    group = {name: label for label, names in SAME_PHOTO.items() for name in names}
    index = {p.name: i for i, p in enumerate(corpus)}
    photo: list[set[int]] = []
    for i, picture in enumerate(corpus):
        label = group.get(picture.name, picture.name)
        photo.append({j for j, p in enumerate(corpus) if group.get(p.name, p.name) == label} | {i})

    def expand(names: Iterable[str]) -> set[int]:
        return {k for n in names if n in index for k in photo[index[n]]}

    for i, picture in enumerate(corpus):
        linked = photo[i] | expand(_pairs_of(CONTAINS.values(), picture.name))
        scene = linked | expand(_pairs_of(SAME_SCENE.values(), picture.name))
        picture.same_photo = frozenset(photo[i])
        picture.linked, picture.same_scene = frozenset(linked), frozenset(scene)


def make_query(img: Image.Image) -> Query:
    decoded = _decoded(img)
    pdq, quality = _pdq(decoded)
    return Query(decoded, pdq, quality, imagehash.phash(decoded.pixels), query_features(decoded))


def _hamming(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def pdq_distance(query: Query | Picture, picture: Picture) -> int:
    return min(_hamming(v, picture.pdq[0]) for v in query.pdq)


def pdq_match(query: Query | Picture, picture: Picture) -> bool:
    if min(query.pdq_quality, picture.pdq_quality) < PDQ_MIN_QUALITY:
        return False
    return pdq_distance(query, picture) <= PDQ_THRESHOLD


def queries(corpus: list[Picture]) -> list[int]:
    """Corpus pictures used as sources of edited queries: all but the featureless ones."""
    return [i for i, p in enumerate(corpus) if not p.featureless]


# --- evidence, recorded once per query so thresholds can be studied without recomputing -----


@dataclass
class Record:
    """One query against every candidate: PDQ and pHash distances, geometric evidence.

    ``evidence`` keeps, per candidate, each query feature set's frame (points dropped) and
    what :func:`~vident.match.geometry.measure` found; ``also_shows`` the other corpus
    pictures the edit put in the query.
    """

    edit: str
    source: int
    pdq: list[int]
    phash: list[int]
    pdq_ok: list[bool]
    also_shows: tuple[int, ...] = ()
    evidence: dict[int, list[tuple[LocalFeatures, Evidence]]] = field(default_factory=dict)
    #: The product's decision per candidate with evidence (:func:`best_match` of every query
    #: set against the stored features and dense set).
    verified: dict[int, GeometricMatch] = field(default_factory=dict)
    #: The candidates the keypoint votes bring (:data:`VOTED_CANDIDATES`, as triage asks).
    voted: set[int] = field(default_factory=set)

    def truth(self, corpus: list[Picture]) -> frozenset[int]:
        """The candidates a link to is true: what the source and every shown picture is
        linked to (:attr:`Picture.linked`)."""
        out = set(corpus[self.source].linked)
        for j in self.also_shows:
            out |= corpus[j].linked
        return frozenset(out)


def record(query: Query, source: int, corpus: list[Picture], edit: str = "") -> Record:
    rec = Record(
        edit=edit,
        source=source,
        pdq=[pdq_distance(query, p) for p in corpus],
        phash=[int(query.phash - p.phash) for p in corpus],
        pdq_ok=[pdq_match(query, p) for p in corpus],
    )
    for j, picture in enumerate(corpus):
        match, found = weigh(query.features, picture.candidate)
        if found:
            # Frames only: the points are not needed again and would fill the records.
            rec.evidence[j] = [(_frame_of(f), e) for f, e in found]
        if match is not None:
            rec.verified[j] = match
    return rec


def _frame_of(features: LocalFeatures) -> LocalFeatures:
    return LocalFeatures.empty(features.width, features.height, mirrored=features.mirrored)


def edited(corpus: list[Picture], source: int, edit: str) -> Edited:
    """The query of one edit class for one source: seeded from the names, so the same
    every run and in every worker."""
    others = [(j, p.full) for j, p in enumerate(corpus) if j != source and not p.featureless]
    rng = np.random.default_rng(seed(corpus[source].name, edit))
    return EDIT_CLASSES[edit](corpus[source].full, rng, others)


def geometric(rec: Record, j: int) -> GeometricMatch | None:
    """What triage decides of candidate ``j``: :func:`best_match` over the query's sets and
    the stored picture's features and dense set."""
    return rec.verified.get(j)


def _rank(match: GeometricMatch) -> tuple[bool, float]:
    return match.relation == "duplicate", match.score


def _agreement(evidence: Evidence) -> float | None:
    """The duplicate agreement of the duplicate-shaped fit, None when there is none."""
    shaped = duplicate_fit(evidence)
    if shaped is None:
        return None
    return agreement(shaped[1], MIN_DUPLICATE_REPEAT, MIN_DUPLICATE_SPREAD)


def hits(rec: Record, corpus: list[Picture]) -> dict[str, set[int]]:
    """The candidates each signal links the query to."""
    pdq_hits = {j for j, ok in enumerate(rec.pdq_ok) if ok}
    duplicates = set()
    for j in rec.evidence:
        found = geometric(rec, j)
        if found is not None and found.relation == "duplicate":
            duplicates.add(j)
    nearest = set(sorted(range(len(corpus)), key=lambda j: rec.pdq[j])[:PDQ_CANDIDATES])
    return {
        "pdq": pdq_hits,
        "phash": {j for j, d in enumerate(rec.phash) if d <= PHASH_THRESHOLD},
        "geometry": duplicates,
        "vident": pdq_hits | duplicates,
        "vident, PDQ cands": pdq_hits | (duplicates & nearest),
        "vident, votes": pdq_hits | (duplicates & rec.voted),
    }


SIGNALS: Final = ("pdq", "phash", "geometry", "vident", "vident, PDQ cands", "vident, votes")


# --- the work, in worker processes that each load the corpus once ---------------------------

_CORPUS: list[Picture] = []
#: The corpus's keypoint votes (refs: corpus indices), built once per worker.
_VOTES: FeatureIndex | None = None
T = TypeVar("T")
R = TypeVar("R")


def _load_worker(root: Path, limit: int | None) -> None:
    global _CORPUS, _VOTES
    cv2.setNumThreads(1)
    _CORPUS = load_corpus(root, limit)
    _VOTES = votes_over(_CORPUS)


def votes_over(corpus: list[Picture]) -> FeatureIndex:
    """The product's keypoint-vote index over the corpus pictures' stored features."""
    index = FeatureIndex(Path("unused"))
    index.add([(j, p.features) for j, p in enumerate(corpus)])
    return index


def _edit_task(task: tuple[str, int]) -> Record:
    edit, source = task
    shown = edited(_CORPUS, source, edit)
    query = make_query(shown.picture)
    rec = record(query, source, _CORPUS, edit)
    rec.also_shows = shown.also_shows
    if _VOTES is not None:
        rec.voted = {ref for ref, _ in _VOTES.candidates(query.features, VOTED_CANDIDATES)}
    return rec


#: Per candidate of one corpus picture: (candidate, relation or None, inliers, inlier
#: ratio, agreement of the duplicate-shaped fit or None).
PairRow = tuple[int, str | None, int, float, float | None]


def _pair_task(i: int) -> list[PairRow]:
    a = _CORPUS[i]
    feats = query_features(a.stored) if len(a.features) else []
    rows: list[PairRow] = []
    for j, b in enumerate(_CORPUS):
        if i == j:
            continue
        # What triage decides: every set, the stored dense set, a viewpoint overruling.
        best, found = weigh(feats, b.candidate)
        levels = [level for _, e in found if (level := _agreement(e)) is not None]
        strongest = max(levels, default=None)
        if best is not None or strongest is not None:
            rows.append(
                (
                    j,
                    None if best is None else best.relation,
                    0 if best is None else best.inliers,
                    0.0 if best is None else best.inlier_ratio,
                    strongest,
                )
            )
    return rows


#: One other-angle view: (top candidate is the source's photograph, verified links to
#: unrelated pictures, how the source itself was seen, shorter side >= 300 px).
AngleRow = tuple[bool, int, str, bool]


def _angle_task(task: tuple[str, int]) -> AngleRow:
    variant, i = task
    picture = _CORPUS[i]
    view = make_other_angle(
        picture.stored.pixels, seed_for(picture.name, variant), perspective=variant != "rotate_crop"
    )
    query = make_query(view)
    order = rerank(query.features, [(j, p.features, 0.0) for j, p in enumerate(_CORPUS)])
    top, _, top_match = order[0]
    first = top_match is not None and top in picture.same_photo
    false = sum(m is not None and j not in picture.same_scene for j, _, m in order)
    own = next(m for j, _, m in order if j == i)
    label = own.relation if own is not None else "none"
    return first, false, label, min(picture.stored.width, picture.stored.height) >= 300


class Workers:
    """A pool of ``count`` processes, each holding the corpus (``root``, ``limit``): the
    results come back in task order, so they do not depend on ``count``."""

    def __init__(self, count: int, root: Path = CORPUS, limit: int | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._pool = context.Pool(max(1, count), _load_worker, (root, limit))

    def map(self, run: Callable[[T], R], tasks: list[T]) -> Iterator[R]:
        return self._pool.imap(run, tasks, chunksize=2)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *_: object) -> None:
        self._pool.close()
        self._pool.join()


# --- the benchmarks -------------------------------------------------------------------------


def record_all(
    corpus: list[Picture], workers: Workers, edits: Iterable[str] = EDIT_CLASSES, log: bool = True
) -> dict[str, list[Record]]:
    """Every edit of every (not featureless) corpus picture, looked up among all corpus
    pictures."""
    names = list(edits)
    sources = queries(corpus)
    tasks = [(name, i) for name in names for i in sources]
    out: dict[str, list[Record]] = {name: [] for name in names}
    started = time.perf_counter()
    for rec in workers.map(_edit_task, tasks):
        out[rec.edit].append(rec)
        if log and len(out[rec.edit]) == len(sources):
            elapsed = time.perf_counter() - started
            print(f"  {rec.edit}: {len(sources)} queries, {elapsed:.0f} s so far", flush=True)
    return out


def _recall_task(task: tuple[str, int]) -> tuple[str, dict[str, bool]]:
    """One query verified against the pictures it truly shows only (``--recall-only``)."""
    edit, source = task
    shown = edited(_CORPUS, source, edit)
    query = make_query(shown.picture)
    truth = set(_CORPUS[source].same_photo)
    linked = set(_CORPUS[source].linked)
    for j in shown.also_shows:
        linked |= _CORPUS[j].linked
    pdq = any(pdq_match(query, _CORPUS[j]) for j in truth)
    duplicates = set()
    for j in sorted(linked):
        match = best_match(query.features, _CORPUS[j].candidate)
        if match is not None and match.relation == "duplicate":
            duplicates.add(j)
    voted = set()
    if _VOTES is not None:
        voted = {ref for ref, _ in _VOTES.candidates(query.features, VOTED_CANDIDATES)}
    found = {
        "pdq": pdq,
        "geometry": bool(duplicates & truth),
        "vident": pdq or bool(duplicates & truth),
        "vident, votes": pdq or bool(duplicates & truth & voted),
    }
    return edit, found


def recall_only(
    corpus: list[Picture], workers: Workers, edits: Iterable[str] = EDIT_CLASSES
) -> dict[str, dict[str, float]]:
    """Recall per edit class, each query verified against its true pictures alone: minutes
    instead of the full run's hour, and no false matches measured (the full run's corpus
    pairs and margin say those)."""
    names = list(edits)
    tasks = [(name, i) for name in names for i in queries(corpus)]
    counts: dict[str, dict[str, list[bool]]] = {name: {} for name in names}
    for edit, found in workers.map(_recall_task, tasks):
        for signal, hit in found.items():
            counts[edit].setdefault(signal, []).append(hit)
    table = {
        edit: {signal: sum(v) / len(v) for signal, v in row.items()} for edit, row in counts.items()
    }
    for label, group in (*GROUPS.items(), ("ALL", names)):
        members = [counts[e] for e in group if e in counts]
        if members:
            table[label] = {
                signal: sum(sum(m[signal]) for m in members) / sum(len(m[signal]) for m in members)
                for signal in members[0]
            }
    return table


def _rate(found: int, false: int, count: int) -> dict[str, Any]:
    return {"recall": found / max(1, count), "false": false, "queries": count}


def near_duplicate_recall(
    corpus: list[Picture], records: dict[str, list[Record]], pairs: dict[str, Any]
) -> dict[str, Any]:
    """Per-edit recall and false matches of PDQ, pHash and vident, overall figures (all
    classes, and each of :data:`GROUPS`), and the agreement margin.

    A query is found when a signal links it to a picture of its source's photograph; it
    counts once as false when the signal also links it to a picture outside its truth
    (:meth:`Record.truth`).
    """
    per_edit: dict[str, dict[str, Any]] = {}
    counts: dict[str, dict[str, list[int]]] = {}
    for name, recs in records.items():
        c = {s: [0, 0, 0] for s in SIGNALS}
        for rec in recs:
            photo, truth = corpus[rec.source].same_photo, rec.truth(corpus)
            for signal, linked in hits(rec, corpus).items():
                c[signal][0] += bool(linked & photo)
                c[signal][1] += bool(linked - truth)
                c[signal][2] += 1
        counts[name] = c
        per_edit[name] = {s: _rate(*v) for s, v in c.items()}

    def overall(names: Iterable[str]) -> dict[str, Any]:
        chosen = [counts[n] for n in names if n in counts]
        return {s: _rate(*(sum(c[s][k] for c in chosen) for k in range(3))) for s in SIGNALS}

    groups = {label: overall(names) for label, names in GROUPS.items() if set(names) & set(counts)}
    return {
        "pictures": len(corpus),
        "featureless_not_queried": [p.name for p in corpus if p.featureless],
        "per_edit": per_edit,
        "groups": groups,
        "overall": overall(counts),
        "margin": margins(corpus, records, pairs),
    }


#: (agreement, edit or "corpus pair", source, candidate)
MarginRow = tuple[float, str, str, str]


def margins(
    corpus: list[Picture], records: dict[str, list[Record]], pairs: dict[str, Any]
) -> dict[str, Any]:
    """How near the agreement tests come to failing a true duplicate or passing a false one.

    ``weakest_true``: the true duplicates (a "duplicate" classification of a candidate in the
    query's truth) with the lowest :func:`~vident.match.geometry.agreement` of the fit the
    link rests on (the best of the query's feature sets that classify it a duplicate).
    ``strongest_unrelated``: the duplicate-shaped fits (:func:`duplicate_fit`) between
    pictures outside each other's truth with the highest agreement, from the edited queries'
    other candidates and the corpus pairs. Every unrelated one must stay under 1.0.
    """
    true: list[MarginRow] = []
    unrelated: list[MarginRow] = list(pairs.get("unrelated_shaped", []))
    for edit, recs in records.items():
        for rec in recs:
            truth, source = rec.truth(corpus), corpus[rec.source].name
            for j, found in rec.evidence.items():
                if j in truth:
                    passed = [
                        level
                        for frame, e in found
                        if (m := classify(e, frame)) is not None
                        and m.relation == "duplicate"
                        and (level := _agreement(e)) is not None
                    ]
                    if passed:
                        true.append((round(max(passed), 3), edit, source, corpus[j].name))
                else:
                    shaped = [level for _, e in found if (level := _agreement(e)) is not None]
                    if shaped:
                        unrelated.append((round(max(shaped), 3), edit, source, corpus[j].name))
    true.sort()
    unrelated.sort(reverse=True)
    return {
        "weakest_true": true[:5],
        "strongest_unrelated": unrelated[:5],
        "true_duplicates": len(true),
        "unrelated_shaped": len(unrelated),
    }


def corpus_pairs(corpus: list[Picture], workers: Workers) -> dict[str, Any]:
    """Every ordered pair of distinct corpus pictures: links that are not true, and the
    duplicate-shaped fits between unrelated pictures (for :func:`margins`)."""
    pdq_false: list[tuple[str, str, int]] = []
    false_duplicate: list[tuple[str, str, int, float]] = []
    false_scene: list[tuple[str, str, int, float]] = []
    shaped: list[MarginRow] = []
    true_links = 0
    for i, rows in enumerate(workers.map(_pair_task, list(range(len(corpus))))):
        a = corpus[i]
        for j, b in enumerate(corpus):
            if j > i and j not in a.linked and pdq_match(a, b):
                pdq_false.append((a.name, b.name, pdq_distance(a, b)))
        for j, relation, inliers, ratio, level in rows:
            name = corpus[j].name
            if level is not None and j not in a.linked:
                shaped.append((round(level, 3), "corpus pair", a.name, name))
            if relation is None:
                continue
            entry = (a.name, name, inliers, ratio)
            if relation == "duplicate" and j not in a.linked:
                false_duplicate.append(entry)
            elif relation == "same_scene" and j not in a.same_scene:
                false_scene.append(entry)
            else:
                true_links += 1
    shaped.sort(reverse=True)
    return {
        "pairs": len(corpus) * (len(corpus) - 1),
        "pdq_false": pdq_false,
        "geometry_false_duplicate": false_duplicate,
        "geometry_false_same_scene": false_scene,
        "true_links": true_links,
        "unrelated_shaped": shaped,
    }


def other_angle_rerank(corpus: list[Picture], workers: Workers) -> dict[str, Any]:
    """Top-1 rate of geometric re-ranking for views of each picture from another angle.

    Views come from the scene benchmark (:func:`bench.quality_scene.make_other_angle`, seeds
    from :func:`bench.quality_scene.seed_for`), of every picture outside
    ``exif/invalid`` as in that benchmark. All corpus pictures are candidates with the same
    prior (no scene embedding here), so the order is the geometric verification's alone; a
    query whose top candidate is not verified counts as a miss.
    """
    sources = [
        i
        for i, p in enumerate(corpus)
        if not p.featureless and not p.name.startswith("exif/invalid/")
    ]
    out: dict[str, Any] = {}
    for variant in VARIANTS:
        ranks: dict[str, list[bool]] = {"all": [], "shorter side >= 300 px": []}
        relations: dict[str, int] = {}
        false = 0
        for first, wrong, label, large in workers.map(_angle_task, [(variant, i) for i in sources]):
            false += wrong
            relations[label] = relations.get(label, 0) + 1
            ranks["all"].append(first)
            if large:
                ranks["shorter side >= 300 px"].append(first)
        out[variant] = {
            "top1": {k: sum(v) / max(1, len(v)) for k, v in ranks.items()},
            "queries": {k: len(v) for k, v in ranks.items()},
            "source_seen_as": relations,
            "unrelated_verified": false,
        }
    return out


# --- costs ----------------------------------------------------------------------------------


def _sample(corpus: list[Picture]) -> list[Picture]:
    return [p for p in corpus if not p.featureless][:: max(1, len(corpus) // 30)]


def costs(corpus: list[Picture], repeats: int = 3) -> dict[str, float]:
    """Median ms to compute a stored value and a query's features, and to verify one
    candidate (both query feature sets), on a spread sample of corpus pictures; and what
    triage pays per query picture (:func:`triage_cost`)."""
    kind = Keypoints()
    sample = _sample(corpus)
    decoded = [p.stored for p in sample]
    compute = _median_ms(lambda: [kind.compute(d) for d in decoded], repeats) / len(decoded)
    query = _median_ms(lambda: [query_features(d) for d in decoded], repeats) / len(decoded)
    feats = [query_features(d) for d in decoded]
    pairs = [(f, p.features) for f in feats for p in sample]
    verify = _median_ms(lambda: [best_match(f, c) for f, c in pairs], repeats) / len(pairs)
    sizes = [p.stored_bytes for p in corpus]
    return {
        "compute_ms": compute,
        "query_features_ms": query,
        "verify_ms_per_candidate": verify,
        "triage_ms_per_picture": triage_cost(corpus, repeats),
        "stored_bytes_mean": statistics.mean(sizes),
        "stored_bytes_max": max(sizes),
    }


def triage_cost(corpus: list[Picture], repeats: int = 3) -> float:
    """Median ms per query picture of the verification as triage pays it: the query's
    features (every set: mirror, and the enlarged ones of small pictures) and their
    verification against :data:`TRIAGE_CANDIDATES` candidates (the nearest other corpus
    pictures by PDQ distance, standing in for the scene embedding's list)."""
    sample = _sample(corpus)
    work = []
    for p in sample:
        others = sorted(
            (j for j, c in enumerate(corpus) if c is not p),
            key=lambda j: pdq_distance(p, corpus[j]),
        )
        work.append((p.stored, [corpus[j].features for j in others[:TRIAGE_CANDIDATES]]))

    def run() -> None:
        for decoded, candidates in work:
            feats = query_features(decoded)
            for c in candidates:
                best_match(feats, c)

    return _median_ms(run, repeats) / len(work)


def _median_ms(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


# --- the table ------------------------------------------------------------------------------


def table(near: dict[str, Any], other: dict[str, Any], cost: dict[str, float]) -> Iterator[str]:
    width = max(30, *(len(n) + 2 for n in near["per_edit"]))
    head = f"{'edit':<{width}}" + "".join(f"{s:>19}" for s in SIGNALS)
    yield "recall (false: queries also linked to a corpus picture outside their truth)"
    yield head
    yield "-" * len(head)
    rows: list[tuple[str, dict[str, Any]]] = [
        *near["per_edit"].items(),
        *near["groups"].items(),
        ("ALL", near["overall"]),
    ]
    for name, row in rows:
        if name in near["groups"] or name == "ALL":
            yield "-" * len(head)
        cells = "".join(
            f"{row[s]['recall'] * 100:>11.1f}% {row[s]['false']:>3} f." for s in SIGNALS
        )
        yield f"{name:<{width}}{cells}"
    first = next(iter(near["per_edit"].values()), None)
    queried = first["pdq"]["queries"] if first else 0
    yield f"queries per edit: {queried} (featureless, not queried: "
    yield f"  {', '.join(near['featureless_not_queried']) or 'none'})"
    pairs = near["corpus_pairs"]
    yield ""
    yield (
        f"corpus pairs ({pairs['pairs']} ordered) between unrelated pictures: PDQ "
        f"{len(pairs['pdq_false'])}, geometric duplicate "
        f"{len(pairs['geometry_false_duplicate'])}, geometric same_scene "
        f"{len(pairs['geometry_false_same_scene'])} (true links: {pairs['true_links']})"
    )
    for entry in [
        *pairs["pdq_false"],
        *pairs["geometry_false_duplicate"],
        *pairs["geometry_false_same_scene"],
    ]:
        yield "  " + " ~ ".join(str(e) for e in entry)
    m = near["margin"]
    yield (
        f"margin (agreement, a duplicate needs {DUPLICATE_AGREEMENT}; "
        f"{m['true_duplicates']} true duplicates, "
        f"{m['unrelated_shaped']} duplicate-shaped fits between unrelated pictures):"
    )
    for label, key in (
        ("weakest true", "weakest_true"),
        ("strongest unrelated", "strongest_unrelated"),
    ):
        best = m[key][0] if m[key] else None
        shown = "none" if best is None else f"{best[0]:.3f} ({best[1]}: {best[2]} ~ {best[3]})"
        yield f"  {label}: {shown}"
    yield ""
    for variant, row in other.items():
        rates = ", ".join(
            f"{k}: {v * 100:.1f}% of {row['queries'][k]}" for k, v in row["top1"].items()
        )
        yield (
            f"other angle, {variant}: top-1 {rates}; source seen as {row['source_seen_as']}; "
            f"verified links to unrelated pictures: {row['unrelated_verified']}"
        )
    yield ""
    yield (
        f"cost: stored value {cost['compute_ms']:.1f} ms, query features "
        f"{cost['query_features_ms']:.1f} ms, verify {cost['verify_ms_per_candidate']:.2f} ms "
        f"per candidate; stored {cost['stored_bytes_mean']:.0f} B mean, "
        f"{cost['stored_bytes_max']} B max"
    )
    yield (
        f"triage: {cost['triage_ms_per_picture']:.0f} ms per query picture (its features and "
        f"{TRIAGE_CANDIDATES} candidates verified)"
    )
    yield "the same photograph (any link between them is true):"
    for label, names in SAME_PHOTO.items():
        yield f"  {label}: {', '.join(names)}"
    yield "pictures made of others (any link either way is true):"
    for label, (left, right) in CONTAINS.items():
        yield f"  {label}: {', '.join(left)} ~ {', '.join(right)}"
    yield "the same scene (a same_scene link is true, a duplicate link false):"
    for label, (left, right) in SAME_SCENE.items():
        yield f"  {label}: {', '.join(left)} ~ {', '.join(right)}"


def run(
    corpus: list[Picture], workers: Workers, edits: Iterable[str] = EDIT_CLASSES, log: bool = True
) -> dict[str, Any]:
    """Every figure: the edited queries, the corpus pairs, the other-angle views, costs."""
    records = record_all(corpus, workers, edits, log)
    pairs = corpus_pairs(corpus, workers)
    near = near_duplicate_recall(corpus, records, pairs)
    near["corpus_pairs"] = pairs
    other = other_angle_rerank(corpus, workers)
    return {"near": near, "other_angle": other, "cost": costs(corpus)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality_near", description=__doc__)
    parser.add_argument("--json", type=Path, help="write all figures to this file")
    parser.add_argument("--limit", type=int, help="only the first N corpus pictures (smoke)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--recall-only",
        action="store_true",
        help="recall per edit only, each query against its true pictures (minutes, no false "
        "matches measured)",
    )
    parser.add_argument(
        "--edits", nargs="+", metavar="NAME", help=f"only these edit classes: {list(EDIT_CLASSES)}"
    )
    args = parser.parse_args(argv)
    edits = args.edits or list(EDIT_CLASSES)
    unknown = [e for e in edits if e not in EDIT_CLASSES]
    if unknown:
        parser.error(f"unknown edit classes: {unknown}")
    started = time.perf_counter()
    corpus = load_corpus(limit=args.limit)
    if args.recall_only:
        print(f"{len(corpus)} corpus pictures; {len(edits)} edits, true pictures only...")
        with Workers(args.workers, CORPUS, args.limit) as workers:
            recalls = recall_only(corpus, workers, edits)
        signals = list(next(iter(recalls.values())))
        print(f"{'edit':<32}" + "".join(f"{s:>16}" for s in signals))
        for edit, row in recalls.items():
            print(f"{edit:<32}" + "".join(f"{row[s] * 100:>15.1f}%" for s in signals))
        print(f"ran in {time.perf_counter() - started:.0f} s; false matches: see the full run")
        if args.json:
            args.json.write_text(json.dumps(recalls, indent=2) + "\n")
        return 0
    print(f"{len(corpus)} corpus pictures; {len(edits)} edits of each, all candidates...")
    with Workers(args.workers, CORPUS, args.limit) as workers:
        figures = run(corpus, workers, edits)
    figures["seconds"] = time.perf_counter() - started
    figures["cpu_seconds"] = sum(
        u.ru_utime + u.ru_stime
        for u in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )
    figures["workers"] = args.workers
    print()
    for line in table(figures["near"], figures["other_angle"], figures["cost"]):
        print(line)
    print(
        f"ran in {figures['seconds']:.0f} s with {args.workers} workers, "
        f"{figures['cpu_seconds']:.0f} s of CPU time"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
