"""Near-duplicate recall and same-place re-ranking on the shared corpus.

    .venv/bin/python -m bench.quality_near            # the table (about 20 minutes, 1 core)
    .venv/bin/python -m bench.quality_near --json near.json --limit 40   # a quick look

Every decodable corpus picture (but the two featureless ones, :attr:`Picture.featureless`)
is edited by each of :data:`TRANSFORMS` and looked up among all corpus pictures. A query is
*found* when a signal links it to its source or to another picture of the same photograph
(:data:`SAME_PHOTO`); it is *false* when the signal also links it to any other picture.
Columns:

* ``pdq``: the 8 rotations and flips of the query, distance <= 31, quality >= 50 both sides;
* ``phash``: imagehash pHash, 64 bits, distance <= 10, no rotation or flip variants;
* ``geometry``: a geometric "duplicate" (:func:`vident.match.geometry.verify` of the query's
  ORB features and those of its mirror image against each candidate's stored features);
* ``vident``: pdq OR geometry, every corpus picture a candidate (brute force, 146);
* ``vident, PDQ cands``: pdq OR geometry, but geometry only on the 10 candidates nearest by
  PDQ distance (no threshold): what a cheap candidate list gives before the scene embedding.

Every ordered pair of distinct corpus pictures is verified too: a "duplicate" between two
photographs, or a "same_scene" outside :data:`SAME_SCENE`, is listed. The agreement margins
(:func:`margins`) show how near the weakest true and the strongest false fits come to the
thresholds.

The other-angle test (:func:`other_angle_rerank`) takes the scene benchmark's views
(:func:`bench.quality_scene.make_other_angle`: turned 10-25 degrees, an off-centre part of
50-60% of the area, and with ``perspective`` each corner moved by up to 12%) and asks whether
geometric re-ranking puts the source's photograph first among all corpus pictures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import imagehash
from PIL import Image, ImageDraw, ImageFont

from bench.quality_scene import VARIANTS, make_other_angle, seed_for
from vident.config import Limits
from vident.match import geometry
from vident.match.geometry import (
    Evidence,
    GeometricMatch,
    best_match,
    classify,
    measure,
    query_features,
    rerank,
)
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

#: Pictures that show the same scene without being the same picture (checked by eye): a
#: "same_scene" link between them is true, a "duplicate" link false.
SAME_SCENE: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "a picture of two people made of two corpus photos side by side": (
        ("faces/_group/two_people.jpg",),
        ("faces/biden/biden.jpg", "faces/obama/obama3.jpg"),
    ),
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
    #: Indices of the corpus pictures of the same photograph (itself included): a link of
    #: any kind to them is true.
    same_photo: frozenset[int] = frozenset()
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
        value = kind.compute(stored).value
        out.append(
            Picture(
                name=path.relative_to(root).as_posix(),
                stored=stored,
                full=full,
                pdq=pdq,
                pdq_quality=quality,
                phash=imagehash.phash(stored.pixels),
                features=unpack(value),
                stored_bytes=len(value),
            )
        )
        if limit is not None and len(out) >= limit:
            break
    _relate(out)
    return out


def _relate(corpus: list[Picture]) -> None:
    group = {name: label for label, names in SAME_PHOTO.items() for name in names}
    index = {p.name: i for i, p in enumerate(corpus)}
    for i, picture in enumerate(corpus):
        label = group.get(picture.name, picture.name)
        photo = {j for j, p in enumerate(corpus) if group.get(p.name, p.name) == label} | {i}
        scene = set(photo)
        for left, right in SAME_SCENE.values():
            for mine, theirs in ((left, right), (right, left)):
                if picture.name in mine:
                    scene |= {index[n] for n in theirs if n in index}
        picture.same_photo, picture.same_scene = frozenset(photo), frozenset(scene)


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


# --- evidence, recorded once per query so thresholds can be studied without recomputing -----


@dataclass
class Record:
    """One query against every candidate: PDQ and pHash distances, geometric evidence.

    ``evidence`` keeps, per candidate, each query feature set's frame (points dropped) and
    what :func:`~vident.match.geometry.measure` found.
    """

    source: int
    pdq: list[int]
    phash: list[int]
    pdq_ok: list[bool]
    evidence: dict[int, list[tuple[LocalFeatures, Evidence]]] = field(default_factory=dict)


def record(query: Query, source: int, corpus: list[Picture]) -> Record:
    rec = Record(
        source=source,
        pdq=[pdq_distance(query, p) for p in corpus],
        phash=[int(query.phash - p.phash) for p in corpus],
        pdq_ok=[pdq_match(query, p) for p in corpus],
    )
    frames = [LocalFeatures.empty(f.width, f.height, mirrored=f.mirrored) for f in query.features]
    for j, picture in enumerate(corpus):
        found = [
            (frame, e)
            for frame, feats in zip(frames, query.features, strict=True)
            if (e := measure(feats, picture.features)) is not None
        ]
        if found:
            rec.evidence[j] = found
    return rec


def geometric(rec: Record, j: int) -> GeometricMatch | None:
    """The best classified match of candidate ``j`` (duplicates first, then by score)."""
    best: GeometricMatch | None = None
    for frame, evidence in rec.evidence.get(j, []):
        found = classify(evidence, frame)
        if found is not None and (best is None or _rank(found) > _rank(best)):
            best = found
    return best


def _rank(match: GeometricMatch) -> tuple[bool, float]:
    return match.relation == "duplicate", match.score


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
    }


SIGNALS: Final = ("pdq", "phash", "geometry", "vident", "vident, PDQ cands")


# --- the two benchmarks ---------------------------------------------------------------------


def queries(corpus: list[Picture]) -> list[int]:
    """Corpus pictures used as sources of edited queries: all but the featureless ones."""
    return [i for i, p in enumerate(corpus) if not p.featureless]


def record_all(corpus: list[Picture], log: bool = True) -> dict[str, list[Record]]:
    """Every edit of every (not featureless) corpus picture, looked up among all corpus pictures."""
    out: dict[str, list[Record]] = {}
    for name, edit in TRANSFORMS.items():
        started = time.perf_counter()
        out[name] = [record(make_query(edit(corpus[i].full)), i, corpus) for i in queries(corpus)]
        if log:
            print(f"  {name}: {len(out[name])} queries in {time.perf_counter() - started:.0f} s")
    return out


def near_duplicate_recall(
    corpus: list[Picture] | None = None, records: dict[str, list[Record]] | None = None
) -> dict[str, Any]:
    """Per-edit recall and false matches of PDQ, pHash and vident, and corpus-pair checks.

    A query is found when a signal links it to a picture of its source's photograph; it
    counts once as false when the signal also links it to any other picture (every signal
    here claims a near duplicate).
    """
    corpus = corpus if corpus is not None else load_corpus()
    records = records if records is not None else record_all(corpus)
    per_edit: dict[str, dict[str, Any]] = {}
    totals = {s: [0, 0, 0] for s in SIGNALS}
    for name, recs in records.items():
        counts = {s: [0, 0] for s in SIGNALS}
        for rec in recs:
            related = corpus[rec.source].same_photo
            for signal, linked in hits(rec, corpus).items():
                counts[signal][0] += bool(linked & related)
                counts[signal][1] += bool(linked - related)
        per_edit[name] = {
            s: {"recall": c[0] / len(recs), "false": c[1], "queries": len(recs)}
            for s, c in counts.items()
        }
        for s, c in counts.items():
            totals[s] = [totals[s][0] + c[0], totals[s][1] + c[1], totals[s][2] + len(recs)]
    return {
        "pictures": len(corpus),
        "featureless_not_queried": [p.name for p in corpus if p.featureless],
        "per_edit": per_edit,
        "overall": {
            s: {"recall": t[0] / t[2], "false": t[1], "queries": t[2]} for s, t in totals.items()
        },
        "margins": margins(corpus, records),
        "corpus_pairs": corpus_pairs(corpus),
    }


def margins(corpus: list[Picture], records: dict[str, list[Record]]) -> dict[str, Any]:
    """How close the agreement tests come to failing a true duplicate or passing a false one.

    Over every recorded (query, candidate) pair whose similarity fit has the shape of a
    duplicate (enough inliers, scale, tilt, coverage: :func:`duplicate_shape`), the best of
    the query's feature sets: (repeat ratio, spread, inliers, edit, source, candidate).
    ``unrelated_*`` are candidates of another photograph: every one must fail
    :func:`vident.match.geometry.classify` (a repeat under STRONG_REPEAT, and a repeat under
    MIN_DUPLICATE_REPEAT or a spread under MIN_DUPLICATE_SPREAD).
    """
    true_dup: list[tuple[float, float, int, str, str, str]] = []
    unrelated: list[tuple[float, float, int, str, str, str]] = []
    for edit, recs in records.items():
        for rec in recs:
            related = corpus[rec.source].same_photo
            for j, found in rec.evidence.items():
                shaped = [e for _, e in found if duplicate_shape(e)]
                if not shaped:
                    continue
                e = max(shaped, key=lambda e: (e.sim_repeat, e.sim_spread))
                entry = (
                    round(e.sim_repeat, 3),
                    round(e.sim_spread, 3),
                    e.sim_inliers,
                    edit,
                    corpus[rec.source].name,
                    corpus[j].name,
                )
                if j not in related:
                    unrelated.append(entry)
                elif any(
                    (m := classify(e, frame)) is not None and m.relation == "duplicate"
                    for frame, e in found
                ):
                    true_dup.append(entry)
    return {
        "weakest_true_duplicates_by_repeat": sorted(true_dup)[:5],
        "weakest_true_duplicates_by_spread": sorted(true_dup, key=lambda t: t[1])[:5],
        "unrelated_by_repeat": sorted(unrelated, reverse=True)[:5],
        "unrelated_by_spread": sorted(unrelated, key=lambda t: -t[1])[:5],
        "unrelated_shaped_pairs": len(unrelated),
    }


def duplicate_shape(e: Evidence) -> bool:
    """The similarity fit passes every duplicate test but the agreement ones."""
    return (
        e.sim_matrix is not None
        and e.sim_inliers >= geometry.MIN_DUPLICATE_INLIERS
        and e.sim_inliers >= geometry.MIN_INLIER_RATIO * e.matches
        and 1 / geometry.MAX_SCALE_CHANGE <= e.sim_scale <= geometry.MAX_SCALE_CHANGE
        and e.sim_tilt <= geometry.MAX_DUPLICATE_TILT
        and min(e.sim_overlap.candidate, e.sim_overlap.query) >= geometry.MIN_DUPLICATE_COVERAGE
    )


def corpus_pairs(corpus: list[Picture]) -> dict[str, Any]:
    """Every ordered pair of distinct corpus pictures: links that are not true."""
    pdq_false: list[tuple[str, str, int]] = []
    false_duplicate: list[tuple[str, str, int, float]] = []
    false_scene: list[tuple[str, str, int, float]] = []
    true_links = 0
    for i, a in enumerate(corpus):
        feats = query_features(a.stored) if len(a.features) else []
        for j, b in enumerate(corpus):
            if i == j:
                continue
            if j > i and j not in a.same_photo and pdq_match(a, b):
                pdq_false.append((a.name, b.name, pdq_distance(a, b)))
            found = best_match(feats, b.features)
            if found is None:
                continue
            entry = (a.name, b.name, found.inliers, found.inlier_ratio)
            if found.relation == "duplicate" and j not in a.same_photo:
                false_duplicate.append(entry)
            elif found.relation == "same_scene" and j not in a.same_scene:
                false_scene.append(entry)
            else:
                true_links += 1
    return {
        "pdq_false": pdq_false,
        "geometry_false_duplicate": false_duplicate,
        "geometry_false_same_scene": false_scene,
        "true_links": true_links,
    }


def other_angle_rerank(corpus: list[Picture] | None = None) -> dict[str, Any]:
    """Top-1 rate of geometric re-ranking for views of each picture from another angle.

    Views come from the scene benchmark (:func:`bench.quality_scene.make_other_angle`, seeds
    from :func:`bench.quality_scene.seed_for`), of every picture outside
    ``exif/invalid`` as in that benchmark. All corpus pictures are candidates with the same
    prior (no scene embedding here), so the order is the geometric verification's alone; a
    query whose top candidate is not verified counts as a miss.
    """
    corpus = corpus if corpus is not None else load_corpus()
    out: dict[str, Any] = {}
    for variant in VARIANTS:
        ranks: dict[str, list[bool]] = {"all": [], "shorter side >= 300 px": []}
        relations: dict[str, int] = {}
        false = 0
        for i, picture in enumerate(corpus):
            if picture.featureless or picture.name.startswith("exif/invalid/"):
                continue
            seed = seed_for(picture.name, variant)
            view = make_other_angle(
                picture.stored.pixels, seed, perspective=variant != "rotate_crop"
            )
            query = make_query(view)
            order = rerank(query.features, [(j, p.features, 0.0) for j, p in enumerate(corpus)])
            top, _, top_match = order[0]
            first = top_match is not None and top in picture.same_photo
            false += sum(m is not None and j not in picture.same_scene for j, _, m in order)
            own = next(m for j, _, m in order if j == i)
            label = own.relation if own is not None else "none"
            relations[label] = relations.get(label, 0) + 1
            ranks["all"].append(first)
            if min(picture.stored.width, picture.stored.height) >= 300:
                ranks["shorter side >= 300 px"].append(first)
        out[variant] = {
            "top1": {k: sum(v) / max(1, len(v)) for k, v in ranks.items()},
            "queries": {k: len(v) for k, v in ranks.items()},
            "source_seen_as": relations,
            "unrelated_verified": false,
        }
    return out


# --- costs ----------------------------------------------------------------------------------


def costs(corpus: list[Picture], repeats: int = 3) -> dict[str, float]:
    """Median ms to compute a stored value and a query's features, and to verify one
    candidate (both query feature sets), on a spread sample of corpus pictures."""
    kind = Keypoints()
    sample = [p for p in corpus if not p.featureless][:: max(1, len(corpus) // 30)]
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
        "stored_bytes_mean": statistics.mean(sizes),
        "stored_bytes_max": max(sizes),
    }


def _median_ms(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


# --- the table ------------------------------------------------------------------------------


def table(near: dict[str, Any], other: dict[str, Any], cost: dict[str, float]) -> Iterator[str]:
    head = f"{'edit':<22}" + "".join(f"{s:>19}" for s in SIGNALS)
    yield "recall (false: queries also linked to an unrelated corpus picture)"
    yield head
    yield "-" * len(head)
    rows: list[tuple[str, dict[str, Any]]] = [*near["per_edit"].items(), ("ALL", near["overall"])]
    for name, row in rows:
        cells = "".join(
            f"{row[s]['recall'] * 100:>10.1f}% {row[s]['false']:>3} f." for s in SIGNALS
        )
        yield f"{name:<22}{cells}"
    yield f"queries per edit: {rows[0][1]['pdq']['queries']} (featureless, not queried: "
    yield f"  {', '.join(near['featureless_not_queried']) or 'none'})"
    pairs = near["corpus_pairs"]
    yield ""
    yield (
        f"corpus pairs between unrelated pictures: PDQ {len(pairs['pdq_false'])}, geometric "
        f"duplicate {len(pairs['geometry_false_duplicate'])}, geometric same_scene "
        f"{len(pairs['geometry_false_same_scene'])} (true links: {pairs['true_links']})"
    )
    for entry in [
        *pairs["pdq_false"],
        *pairs["geometry_false_duplicate"],
        *pairs["geometry_false_same_scene"],
    ]:
        yield "  " + " ~ ".join(str(e) for e in entry)
    m = near["margins"]
    yield (
        f"agreement tests (repeat >= {geometry.STRONG_REPEAT}, or repeat >= "
        f"{geometry.MIN_DUPLICATE_REPEAT} and spread >= {geometry.MIN_DUPLICATE_SPREAD}) on "
        f"{m['unrelated_shaped_pairs']} duplicate-shaped fits to another photograph;"
    )
    yield "(repeat, spread, inliers, edit, source, candidate):"
    yield f"  unrelated, highest repeat: {m['unrelated_by_repeat'][:2]}"
    yield f"  unrelated, highest spread: {m['unrelated_by_spread'][:2]}"
    yield f"  true, lowest repeat: {m['weakest_true_duplicates_by_repeat'][:2]}"
    yield f"  true, lowest spread: {m['weakest_true_duplicates_by_spread'][:2]}"
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
    yield "the same photograph (any link between them is true):"
    for label, names in SAME_PHOTO.items():
        yield f"  {label}: {', '.join(names)}"
    yield "the same scene (a same_scene link is true, a duplicate link false):"
    for label, (left, right) in SAME_SCENE.items():
        yield f"  {label}: {', '.join(left)} ~ {', '.join(right)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality_near", description=__doc__)
    parser.add_argument("--json", type=Path, help="write all figures to this file")
    parser.add_argument("--limit", type=int, help="only the first N corpus pictures (smoke)")
    args = parser.parse_args(argv)
    corpus = load_corpus(limit=args.limit)
    print(f"{len(corpus)} corpus pictures; {len(TRANSFORMS)} edits of each, all candidates...")
    near = near_duplicate_recall(corpus)
    other = other_angle_rerank(corpus)
    cost = costs(corpus)
    print()
    for line in table(near, other, cost):
        print(line)
    if args.json:
        figures = {"near": near, "other_angle": other, "cost": cost}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
