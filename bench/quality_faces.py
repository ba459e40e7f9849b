"""Face model figures on the shared corpus: verification, degraded search, speed.

``.venv/bin/python -m bench.quality_faces`` prints a table for both backends. Each function
takes any :class:`~vident.media.faces.base.FaceModel` and returns plain numbers, so the
lead's ``bench/quality.py`` and a user's own ONNX model are measured the same way.

Protocol (fixed before measuring, not tuned to the results):

* A picture is read exactly as ingest reads it (:func:`vident.media.image.decode_image`).
  The face of a single-identity picture is its largest detected face.
* **verification**: ``faces/pairs.csv``; the score of a pair is the cosine of the two
  pictures' faces; a picture without a face makes its pair a reject (score -1, counted in
  ``no_face``). TAR is taken at the threshold that lets at most 1% of different-identity
  pairs through (the ``floor(0.01 * negatives) + 1``-th highest negative score is the first
  one rejected); ROC AUC is the Mann-Whitney statistic (ties count half).
* **degraded_search**: every picture of a ``faces/<identity>/`` folder is a query (every
  identity there has two pictures or more), degraded in two ways: ``quarter`` (a quarter of
  the width and height, bicubic, saved as JPEG quality 90) and ``blur_q20`` (Gaussian blur
  of radius ``shorter side / 400`` px, at least 1, saved as JPEG quality 20). The gallery is
  every face found in every other corpus picture (group photos and non-face pictures as
  distractors). A gallery face is labelled with its folder's identity only if it is its
  picture's largest face; group photos are labelled by position (:data:`GROUP_LABELS`);
  any other face is an unknown distractor. Success: the best gallery face (cosine) has the
  query's identity. A query without a detected face fails.
* **speed**: milliseconds per picture of :meth:`FaceModel.detect_and_embed` on decoded
  pictures (decoding not included), the median over repeats of the mean over a fixed set.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

from vident.config import Limits
from vident.media.errors import MediaError
from vident.media.faces.base import FaceModel, FaceResult
from vident.media.image import decode_image
from vident.media.types import DecodedImage

IMAGE_SUFFIXES: Final = {".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff", ".webp", ".bmp"}
#: Who is where in the group photos: (identity, lowest and highest x of the face centre as a
#: fraction of the picture's width). Read off the pictures; a face elsewhere is unknown.
GROUP_LABELS: Final = {
    "faces/_group/obama_and_biden.jpg": (("biden", 0.35, 0.50), ("obama", 0.55, 0.72)),
    "faces/_group/two_people.jpg": (("obama", 0.1, 0.45), ("biden", 0.55, 0.95)),
    "faces/_group/kit_with_rose.jpg": (("rose_leslie", 0.1, 0.45), ("kit_harington", 0.5, 0.9)),
}
#: The pictures timed by :func:`speed` (portraits of several sizes and a group photo).
SPEED_SET: Final = (
    "faces/obama/obama.jpg",
    "faces/biden/biden.jpg",
    "faces/deepface_id01/img4.jpg",
    "faces/deepface_id03/img49.jpg",
    "faces/kit_harington/john2.jpeg",
    "faces/obama/obama_small.jpg",
    "faces/_group/obama_and_biden.jpg",
    "faces/_group/kit_with_rose.jpg",
    "scenes/GreenMeadow.jpg",
    "scenes/coffee.png",
)
FAR: Final = 0.01


def corpus_root() -> Path:
    """The shared corpus: ``$VIDENT_CORPUS`` or /work/shared/corpora."""
    return Path(os.environ.get("VIDENT_CORPUS", "/work/shared/corpora"))


def decode(data: bytes) -> DecodedImage:
    return decode_image(data, Limits())


def degrade_quarter(data: bytes) -> bytes:
    """A quarter of the width and height (bicubic), saved as JPEG quality 90."""
    with Image.open(io.BytesIO(data)) as img:
        rgb = img.convert("RGB")
    small = rgb.resize((max(1, rgb.width // 4), max(1, rgb.height // 4)), Image.Resampling.BICUBIC)
    return _jpeg(small, 90)


def degrade_blur_q20(data: bytes) -> bytes:
    """Gaussian blur of radius shorter side / 400 (at least 1 px), JPEG quality 20."""
    with Image.open(io.BytesIO(data)) as img:
        rgb = img.convert("RGB")
    radius = max(1.0, min(rgb.size) / 400)
    return _jpeg(rgb.filter(ImageFilter.GaussianBlur(radius)), 20)


def _jpeg(img: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


DEGRADATIONS: Final[dict[str, Callable[[bytes], bytes]]] = {
    "quarter": degrade_quarter,
    "blur_q20": degrade_blur_q20,
}


@dataclass(frozen=True, slots=True)
class GalleryFace:
    path: str  # relative to the corpus
    identity: str | None
    vector: npt.NDArray[np.float32]


class Faces:
    """detect_and_embed results per model and file, so the three measurements share work."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[tuple[str, str, str], FaceResult] = {}

    def of(self, model: FaceModel, rel: str, degradation: str = "") -> FaceResult:
        key = (model.name, rel, degradation)
        if key not in self._cache:
            data = (self.root / rel).read_bytes()
            if degradation:
                data = DEGRADATIONS[degradation](data)
            try:
                self._cache[key] = model.detect_and_embed(decode(data))
            except MediaError:
                self._cache[key] = []
        return self._cache[key]


_FACES: dict[Path, Faces] = {}


def _faces(root: Path | None) -> Faces:
    root = root or corpus_root()
    return _FACES.setdefault(root, Faces(root))


def identity_pictures(root: Path) -> dict[str, str]:
    """Every picture of a ``faces/<identity>/`` folder, relative path -> identity."""
    out: dict[str, str] = {}
    for folder in sorted((root / "faces").iterdir()):
        if folder.is_dir() and not folder.name.startswith("_"):
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    out[path.relative_to(root).as_posix()] = folder.name
    return out


def corpus_pictures(root: Path) -> list[str]:
    """Every still picture in the corpus (broken ones are skipped when they fail to decode)."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def _group_label(rel: str, box: tuple[float, float, float, float], width: int) -> str | None:
    centre = (box[0] + box[2] / 2) / width
    for identity, low, high in GROUP_LABELS.get(rel, ()):
        if low <= centre <= high:
            return identity
    return None


def gallery(model: FaceModel, root: Path | None = None) -> list[GalleryFace]:
    """Every face of every corpus picture, labelled as the module docstring says."""
    cache = _faces(root)
    labels = identity_pictures(cache.root)
    out: list[GalleryFace] = []
    for rel in corpus_pictures(cache.root):
        found = cache.of(model, rel)
        width = 0
        if rel in GROUP_LABELS:
            with Image.open(cache.root / rel) as img:
                width = img.width
        for index, (face, vector) in enumerate(found):
            if rel in GROUP_LABELS:
                identity = _group_label(rel, face.box, width)
            else:
                identity = labels.get(rel) if index == 0 else None
            out.append(GalleryFace(rel, identity, vector))
    return out


def _primary(result: FaceResult) -> npt.NDArray[np.float32] | None:
    return result[0][1] if result else None


def roc_auc(positives: Iterable[float], negatives: Iterable[float]) -> float:
    """Probability that a same-identity pair scores above a different one (ties: half)."""
    pos = np.asarray(list(positives), dtype=np.float64)
    neg = np.asarray(list(negatives), dtype=np.float64)
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def at_far(
    positives: Iterable[float], negatives: Iterable[float], far: float = FAR
) -> tuple[float, float]:
    """(TAR, threshold): a pair is accepted when its score is above the threshold, which is
    the highest negative score that must be rejected for FAR <= ``far``."""
    pos = np.asarray(list(positives), dtype=np.float64)
    neg = np.sort(np.asarray(list(negatives), dtype=np.float64))[::-1]
    allowed = int(np.floor(far * len(neg)))
    threshold = float(neg[allowed]) if allowed < len(neg) else float("-inf")
    return float((pos > threshold).mean()), threshold


def pair_scores(model: FaceModel, root: Path | None = None) -> list[tuple[bool, float, bool]]:
    """(same identity, cosine, both pictures had a face) for each row of pairs.csv."""
    cache = _faces(root)
    out = []
    with (cache.root / "faces" / "pairs.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            a = _primary(cache.of(model, row["path_a"]))
            b = _primary(cache.of(model, row["path_b"]))
            same = row["same_identity"] == "1"
            if a is None or b is None:
                out.append((same, -1.0, False))
            else:
                out.append((same, float(a @ b), True))
    return out


def verification(model: FaceModel, root: Path | None = None) -> dict[str, Any]:
    """TAR at FAR=1%, ROC AUC and the threshold on faces/pairs.csv; TAR and FAR at the
    model's own ``min_similarity``."""
    scores = pair_scores(model, root)
    pos = [s for same, s, _ in scores if same]
    neg = [s for same, s, _ in scores if not same]
    tar, threshold = at_far(pos, neg)
    return {
        "pairs": len(scores),
        "same": len(pos),
        "different": len(neg),
        "no_face": sum(1 for *_, ok in scores if not ok),
        "tar_at_far_1pct": tar,
        "roc_auc": roc_auc(pos, neg),
        "threshold_at_far_1pct": threshold,
        "min_similarity": model.min_similarity,
        "tar_at_min_similarity": _rate(pos, model.min_similarity),
        "far_at_min_similarity": _rate(neg, model.min_similarity),
    }


def _rate(scores: list[float], threshold: float) -> float:
    """Share of ``scores`` at or above ``threshold`` (the signal's match rule)."""
    return sum(1 for s in scores if s >= threshold) / len(scores) if scores else float("nan")


def degraded_search(model: FaceModel, root: Path | None = None) -> dict[str, Any]:
    """Top-1 identity rate of degraded queries against every other face of the corpus."""
    cache = _faces(root)
    faces = gallery(model, cache.root)
    matrix = np.stack([f.vector for f in faces]) if faces else np.empty((0, model.dim))
    queries = identity_pictures(cache.root)
    figures: dict[str, Any] = {"queries": len(queries), "gallery_faces": len(faces)}
    for name in DEGRADATIONS:
        hits = missed = 0
        for rel, identity in queries.items():
            query = _primary(cache.of(model, rel, name))
            if query is None:
                missed += 1
                continue
            sims = matrix @ query
            sims[[f.path == rel for f in faces]] = -np.inf
            hits += faces[int(np.argmax(sims))].identity == identity
        figures[f"top1_{name}"] = hits / len(queries)
        figures[f"no_face_{name}"] = missed
    return figures


def speed(model: FaceModel, root: Path | None = None, repeats: int = 3) -> float:
    """Median over ``repeats`` of the mean ms per picture of SPEED_SET (decoding excluded)."""
    folder = root or corpus_root()
    images = [decode((folder / rel).read_bytes()) for rel in SPEED_SET]
    model.detect_and_embed(images[0])  # load the weights outside the timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for image in images:
            model.detect_and_embed(image)
        times.append((time.perf_counter() - start) * 1000 / len(images))
    return statistics.median(times)


def measure(model: FaceModel, root: Path | None = None) -> dict[str, Any]:
    return {
        "model": model.name,
        "dim": model.dim,
        **verification(model, root),
        **degraded_search(model, root),
        "ms_per_image": speed(model, root),
    }


def main(argv: list[str] | None = None) -> int:
    from vident.media.faces.select import load_face_model

    parser = argparse.ArgumentParser(prog="python -m bench.quality_faces", description=__doc__)
    parser.add_argument("models", nargs="*", default=["dlib", "facenet"], help="model specs")
    args = parser.parse_args(argv)
    rows = []
    for spec in args.models:
        rows.append(measure(load_face_model(spec)))
        print(rows[-1], flush=True)
    keys = list(rows[0])
    width = max(len(k) for k in keys)
    for key in keys:
        cells = [_cell(row[key]) for row in rows]
        print(f"{key:<{width}}  " + "  ".join(f"{c:>22}" for c in cells))
    return 0


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


if __name__ == "__main__":
    raise SystemExit(main())
