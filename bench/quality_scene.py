"""Scene embedding quality: find "the same place from another angle" among the corpus pictures.

    .venv/bin/python -m bench.quality_scene                  # EfficientNet-Lite0, ONNX Runtime
    .venv/bin/python -m bench.quality_scene --compare        # also centre-crop preprocessing
    .venv/bin/python -m bench.quality_scene --json figures.json

Every picture of the shared corpus (``exif/invalid`` left out), decoded as ingest decodes it,
is one stored picture. For each, two queries are made that show the same place differently:
``rotate_crop`` rotates it by 10-25 degrees and keeps an off-centre part of 50-60% of its
area; ``perspective`` does the same and also moves each corner of that part by up to 12% of
its size (a camera that stands elsewhere). Borders that the rotation brings in are filled
by reflection, not black, so a query has no artificial frame to match on. Seeds derive from
the file's relative path, so a query never changes when files are added.

A query counts as found when a picture of its source's group ranks first (top-1) or among
the first five (top-5) by cosine. Groups are the corpus's near duplicates (PDQ distance at
most 31 over the eight rotations and flips: the EXIF orientation samples, one text page in
five formats) joined with the sets in :data:`SAME_SCENE` that PDQ cannot see (a letterboxed
copy, a crop, an HDR shot), because ranking another picture of the same scene first is
correct. The similarity figures that set ``Scene.min_similarity`` come from the same run:
query against its source and stored pictures of one scene (should link), every pair of
stored pictures from different groups (should not).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image

from vident.config import Limits
from vident.media.image import decode_image
from vident.media.types import DecodedImage
from vident.signals.scene import Scene

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("VIDENT_CORPUS", ROOT.parent / "shared" / "corpora"))
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".tiff", ".tif", ".webp", ".bmp"})
PDQ_GROUP_DISTANCE = 31
#: Pictures of one scene that are not PDQ near duplicates (checked by eye; see the corpus
#: README): Obama's portrait letterboxed at four resolutions, plain, and cropped to part of
#: his face; the same room shot twice seconds apart with HDR off and on.
SAME_SCENE: tuple[tuple[str, ...], ...] = (
    (
        "faces/obama/obama.jpg",
        "faces/obama/obama_partial_face.jpg",
        "faces/obama/obama-240p.jpg",
        "faces/obama/obama-480p.jpg",
        "faces/obama/obama-720p.jpg",
        "faces/obama/obama-1080p.jpg",
    ),
    ("exif/same_camera/canon_hdr_NO.jpg", "exif/same_camera/canon_hdr_YES.jpg"),
)
VARIANTS = ("rotate_crop", "perspective")

EmbedFn = Callable[[Image.Image], npt.NDArray[np.float32]]
Float = npt.NDArray[np.float32]


def make_other_angle(img: Image.Image, seed: int, *, perspective: bool = False) -> Image.Image:
    """The picture as if taken again from a slightly different place.

    Rotated by 10-25 degrees (either way), an off-centre part of 50-60% of the picture's
    area (aspect ratio within 15% of the original's) kept; with ``perspective`` each corner
    of that part is also moved by up to 12% of its width and height. Deterministic for a
    given ``seed``.
    """
    rng = np.random.default_rng(seed)
    rgb = np.asarray(img.convert("RGB"))
    height, width = rgb.shape[:2]
    angle = float(rng.uniform(10.0, 25.0) * rng.choice([-1.0, 1.0]))
    area = float(rng.uniform(0.5, 0.6)) * width * height
    aspect = width / height * float(rng.uniform(0.87, 1.15))
    crop_w = min(width, round((area * aspect) ** 0.5))
    crop_h = min(height, round(area / max(crop_w, 1)))
    # Off-centre: the crop's centre moves 40-100% of the way towards a random corner.
    shift = rng.uniform(0.4, 1.0, size=2) * rng.choice([-1.0, 1.0], size=2)
    cx = width / 2 + shift[0] * (width - crop_w) / 2
    cy = height / 2 + shift[1] * (height - crop_h) / 2
    # Corners of the kept part in the source, rotated about its centre.
    half = np.array([[-crop_w, -crop_h], [crop_w, -crop_h], [crop_w, crop_h], [-crop_w, crop_h]])
    corners = half / 2.0
    if perspective:
        corners = corners + rng.uniform(-0.12, 0.12, size=(4, 2)) * [crop_w, crop_h]
    theta = np.deg2rad(angle)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    source = corners @ rotation.T + [cx, cy]
    target = np.array([[0, 0], [crop_w, 0], [crop_w, crop_h], [0, crop_h]], np.float32)
    matrix = cv2.getPerspectiveTransform(source.astype(np.float32), target)
    warped = cv2.warpPerspective(
        rgb, matrix, (crop_w, crop_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    return Image.fromarray(warped, "RGB")


def corpus_images(root: Path = CORPUS) -> list[Path]:
    """Every picture of the corpus except the deliberately broken ones, in a stable order."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and "invalid" not in p.parts
    )


def load(path: Path) -> Image.Image:
    """The picture as ingest hands it to the signals (upright, reduced by draft mode)."""
    return decode_image(path.read_bytes(), Limits()).pixels


def seed_for(relative: str, variant: str) -> int:
    return zlib.crc32(f"{variant}:{relative}".encode())


def scene_groups(pictures: Sequence[Image.Image], names: Sequence[str]) -> list[int]:
    """A group number per picture: PDQ near duplicates joined with :data:`SAME_SCENE`."""
    groups = near_duplicate_groups(pictures)
    for scene in SAME_SCENE:
        members = {groups[names.index(n)] for n in scene if n in names}
        if members:
            target = min(members)
            groups = [target if g in members else g for g in groups]
    return groups


def near_duplicate_groups(pictures: Sequence[Image.Image]) -> list[int]:
    """A group number per picture: connected components of PDQ distance <= 31 (any of 8 D4)."""
    codes = []
    for picture in pictures:
        hashes, _ = pdqhash.compute_dihedral(np.asarray(picture.convert("RGB")))
        codes.append(np.packbits(np.asarray(hashes, dtype=np.uint8), axis=1))
    parent = list(range(len(pictures)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(codes)):
        for j in range(i + 1, len(codes)):
            xor = np.bitwise_xor(codes[i][0], codes[j])
            if int(np.unpackbits(xor, axis=1).sum(axis=1).min()) <= PDQ_GROUP_DISTANCE:
                parent[find(i)] = find(j)
    return [find(i) for i in range(len(codes))]


@dataclass(frozen=True, slots=True)
class _Timed:
    vectors: Float
    wall: list[float]
    cpu: list[float]


def _embed_all(embed_fn: EmbedFn, pictures: Sequence[Image.Image]) -> _Timed:
    """Embeddings and, per picture, wall time and this thread's CPU time.

    CPU time is what a one-thread ingest worker pays per picture; on a shared machine it is
    far steadier than wall time, which also counts waiting for a core.
    """
    rows, wall, cpu = [], [], []
    for picture in pictures:
        start, start_cpu = time.perf_counter(), time.thread_time()
        vector = embed_fn(picture)
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
        rows.append(np.asarray(vector, dtype=np.float32).ravel())
    matrix = np.stack(rows)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return _Timed(matrix, wall, cpu)


def _quantiles(values: Sequence[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    points = {"min": 0.0, "p01": 0.01, "p05": 0.05, "p50": 0.5, "p95": 0.95, "p99": 0.99}
    out = {name: round(float(np.quantile(array, q)), 4) for name, q in points.items()}
    out["max"] = round(float(array.max()), 4)
    return out


def retrieval(
    embed_fn: EmbedFn, root: Path = CORPUS, *, thresholds: Sequence[float] = ()
) -> dict[str, Any]:
    """Top-1/top-5 "same place, other angle" rates, similarity spreads and embed time.

    ``embed_fn`` maps one picture to one vector (normalised here if it is not already).
    ``thresholds``: cosines at which to count linked queries and false links.
    """
    paths = corpus_images(root)
    names = [p.relative_to(root).as_posix() for p in paths]
    pictures = [load(p) for p in paths]
    groups = np.asarray(scene_groups(pictures, names))
    stored = _embed_all(embed_fn, pictures)
    wall, cpu = list(stored.wall), list(stored.cpu)
    result: dict[str, Any] = {"pictures": len(paths), "groups": len(set(groups.tolist()))}
    sims = stored.vectors @ stored.vectors.T
    different = groups[:, None] != groups[None, :]
    upper = np.triu(np.ones_like(different), k=1)
    negatives = sims[different & upper.astype(bool)]
    same_scene = sims[~different & upper.astype(bool)]
    result["different_pairs"] = {"count": int(negatives.size), **_quantiles(negatives.tolist())}
    result["same_scene_pairs"] = {"count": int(same_scene.size), **_quantiles(same_scene.tolist())}
    worst = np.argsort(np.where(different & upper.astype(bool), sims, -2.0), axis=None)[::-1][:12]
    result["closest_different"] = [
        [names[i], names[j], round(float(sims[i, j]), 4)]
        for i, j in zip(*np.unravel_index(worst, sims.shape), strict=True)
    ]
    positives_all: list[float] = []
    for variant in VARIANTS:
        queries = [
            make_other_angle(pic, seed_for(name, variant), perspective=variant == "perspective")
            for pic, name in zip(pictures, names, strict=True)
        ]
        asked = _embed_all(embed_fn, queries)
        wall += asked.wall
        cpu += asked.cpu
        scores = asked.vectors @ stored.vectors.T
        order = np.argsort(-scores, axis=1)
        hit = groups[order] == groups[:, None]
        positives = scores[np.arange(len(paths)), np.arange(len(paths))]
        positives_all += positives.tolist()
        misses = [names[i] for i in np.flatnonzero(~hit[:, 0])]
        result[variant] = {
            "top1": round(float(hit[:, 0].mean()), 4),
            "top5": round(float(hit[:, :5].any(axis=1).mean()), 4),
            "query_vs_source": _quantiles(positives.tolist()),
            "top1_misses": misses,
        }
    result["embed_ms_median"] = {
        "wall": round(statistics.median(wall) * 1000, 2),
        "cpu": round(statistics.median(cpu) * 1000, 2),
    }
    links = {}
    for t in thresholds:
        linked = float(np.mean(np.asarray(positives_all) >= t))
        links[f"{t:.2f}"] = {
            "queries_linked": round(linked, 4),
            "same_scene_pairs_linked": round(float(np.mean(same_scene >= t)), 4),
            "false_links": int((negatives >= t).sum()),
        }
    result["at_threshold"] = links
    return result


def _stored_embed(kind: Scene) -> EmbedFn:
    """The vector exactly as the store keeps it: computed, packed, unpacked."""

    def embed(picture: Image.Image) -> Float:
        image = DecodedImage(picture, picture.width, picture.height, "bench")
        value = kind.compute(image)
        if value is None:
            raise RuntimeError("scene signal returned no value")
        vector: Float = kind.vectors(value.value)[0]
        return vector

    return embed


def _centre_crop_embed() -> EmbedFn:
    """torchvision-style Resize(224) + CenterCrop(224), for comparison with the whole frame."""
    from vident.media import effnet

    def embed(picture: Image.Image) -> Float:
        rgb = picture.convert("RGB")
        scale = effnet.INPUT_SIZE / min(rgb.size)
        size = (
            max(effnet.INPUT_SIZE, round(rgb.width * scale)),
            max(effnet.INPUT_SIZE, round(rgb.height * scale)),
        )
        resized = rgb.resize(size, Image.Resampling.BILINEAR)
        left = (resized.width - effnet.INPUT_SIZE) // 2
        top = (resized.height - effnet.INPUT_SIZE) // 2
        box = (left, top, left + effnet.INPUT_SIZE, top + effnet.INPUT_SIZE)
        pixels = np.asarray(resized.crop(box), dtype=np.uint8)[None]
        vector: Float = effnet.normalise(effnet.features(pixels))[0]
        return vector

    return embed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--compare", action="store_true", help="also centre-crop preprocessing")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()

    from vident.media import effnet

    thresholds = sorted({0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, Scene.min_similarity})
    runs: dict[str, EmbedFn] = {"whole_frame": _stored_embed(Scene())}
    if args.compare:
        runs["centre_crop"] = _centre_crop_embed()
    effnet.embed(Image.new("RGB", (64, 64)))  # build or load the graph outside the timings
    figures: dict[str, Any] = {"model": effnet.MODEL_NAME}
    for label, fn in runs.items():
        figures[label] = retrieval(fn, args.corpus, thresholds=thresholds)
        print(f"== {label}")
        print(json.dumps(figures[label], indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
