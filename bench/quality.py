"""The quality table of compare-and-connect, measured on the shared corpus.

    .venv/bin/python -m bench.quality [--json quality.json] [--skip faces,near,scene,text]

One command prints every figure the README quotes, each beside its target:

- faces: verification on ``faces/pairs.csv`` (TAR at FAR 1%, ROC AUC) and search by a degraded
  face (a quarter of the size; blurred and recompressed at JPEG quality 20) against every
  other face of the corpus, for both bundled face models (:mod:`bench.quality_faces`);
- near duplicates: recall under resize, recompression, crops of 3/6/10% per side, crop plus
  resize or recompression, flips, rotations, greyscale and overlay, for PDQ alone, pHash
  (imagehash, the baseline) and vident (PDQ or verified local features), with false matches
  over every pair of distinct corpus photographs (:mod:`bench.quality_near`);
- scenes: "the same place from another angle" (a rotated, off-centre crop, and a
  perspective view) found first, by the scene embedding alone and after re-ranking its 30
  nearest candidates with local features, as ``vident similar --by scene`` does;
- text: OCR character accuracy on the pictures whose text is known (:mod:`bench.quality_text`).

Figures are never asserted in tests; the corpus is ``../shared/corpora`` or ``$VIDENT_CORPUS``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

#: Candidates the scene embedding hands to the local-feature re-ranking (as the CLI does).
SCENE_CANDIDATES = 30


def faces() -> dict[str, Any]:
    from bench import quality_faces
    from vident.media.faces.select import load_face_model

    return {spec: quality_faces.measure(load_face_model(spec)) for spec in ("facenet", "dlib")}


def near() -> dict[str, Any]:
    from bench import quality_near

    corpus = quality_near.load_corpus()
    with quality_near.Workers(2, quality_near.CORPUS, None) as workers:
        figures = quality_near.run(corpus, workers, log=False)
    return {
        "recall": figures["near"],
        "geometry_only_other_angle": figures["other_angle"],
        "cost": figures["cost"],
    }


def scene() -> dict[str, Any]:
    """Other-angle retrieval: embedding alone, then embedding + geometric re-ranking."""
    from bench.quality_scene import (
        CORPUS,
        VARIANTS,
        corpus_images,
        load,
        make_other_angle,
        scene_groups,
        seed_for,
    )
    from vident.match.geometry import query_features, rerank
    from vident.media.types import DecodedImage
    from vident.signals.keypoints import Keypoints
    from vident.signals.scene import Scene

    kind, keypoints = Scene(), Keypoints()
    paths = corpus_images()
    names = [p.relative_to(CORPUS).as_posix() for p in paths]
    pictures = [load(p) for p in paths]
    groups = np.asarray(scene_groups(pictures, names))

    def decoded(picture: Any) -> DecodedImage:
        return DecodedImage(picture, picture.width, picture.height, "bench")

    def vector(picture: Any) -> np.ndarray[Any, np.dtype[np.float32]]:
        value = kind.compute(decoded(picture))
        assert value is not None
        found: np.ndarray[Any, np.dtype[np.float32]] = kind.vectors(value.value)[0]
        return found

    stored = np.stack([vector(p) for p in pictures])
    features = [keypoints.unpack(keypoints.compute(decoded(p)).value) for p in pictures]
    figures: dict[str, Any] = {"pictures": len(pictures)}
    for variant in VARIANTS:
        embed_hits, rerank_hits, seconds = [], [], []
        for i, (picture, name) in enumerate(zip(pictures, names, strict=True)):
            view = make_other_angle(
                picture, seed_for(name, variant), perspective=variant == "perspective"
            )
            started = time.perf_counter()
            cosines = stored @ vector(view)
            top = np.argsort(-cosines)[:SCENE_CANDIDATES]
            order = rerank(
                query_features(decoded(view)),
                [(int(j), features[j], float(cosines[j])) for j in top],
            )
            seconds.append(time.perf_counter() - started)
            embed_hits.append(groups[top[0]] == groups[i])
            rerank_hits.append(groups[order[0][0]] == groups[i])
        figures[variant] = {
            "queries": len(pictures),
            "top1_embedding": float(np.mean(embed_hits)),
            "top1_reranked": float(np.mean(rerank_hits)),
            "ms_per_query": 1000 * statistics.median(seconds),
        }
    return figures


def text() -> dict[str, Any]:
    from bench import quality_text

    return quality_text.ocr_accuracy()


SECTIONS = {"faces": faces, "near": near, "scene": scene, "text": text}


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def table(figures: dict[str, Any]) -> Table:
    result = Table(title="compare and connect: quality on the shared corpus")
    for column in ("figure", "value", "target"):
        result.add_column(column, overflow="fold")
    for spec, row in figures.get("faces", {}).items():
        label = f"faces, {row['model']}"
        result.add_row(
            f"{label}: TAR at FAR 1% / ROC AUC",
            f"{row['tar_at_far_1pct']:.3f} / {row['roc_auc']:.3f}",
            "",
        )
        result.add_row(
            f"{label}: degraded face finds the person first (quarter size / blur + JPEG 20)",
            f"{_pct(row['top1_quarter'])} / {_pct(row['top1_blur_q20'])}",
            ">= 90%" if spec == "facenet" else "",
        )
        result.add_row(f"{label}: ms per picture", f"{row['ms_per_image']:.0f}", "")
    if "near" in figures:
        recall = figures["near"]["recall"]
        for signal, total in recall.get("overall", {}).items():
            result.add_row(
                f"near duplicates, {signal}: recall over every edit / false matches",
                f"{_pct(total['recall'])} / {total['false']}",
                ">= 98% / 0" if signal == "vident" else "",
            )
        for edit, row in recall.get("per_edit", {}).items():
            cells = ", ".join(f"{s} {_pct(v['recall'])}" for s, v in row.items())
            result.add_row(f"  {edit}", cells, "")
    if "scene" in figures:
        for variant in ("rotate_crop", "perspective"):
            row = figures["scene"].get(variant)
            if row:
                result.add_row(
                    f"same place, other angle ({variant}): first, embedding alone / re-ranked",
                    f"{_pct(row['top1_embedding'])} / {_pct(row['top1_reranked'])}",
                    ">= 90% re-ranked",
                )
    if "text" in figures:
        result.add_row(
            "OCR character accuracy (texts known in full)",
            _pct(figures["text"]["mean_accuracy_full_texts"]),
            "",
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--skip", default="", help="sections to leave out, e.g. faces,near")
    args = parser.parse_args(argv)
    skipped = {s.strip() for s in args.skip.split(",") if s.strip()}
    figures: dict[str, Any] = {}
    for name, measure in SECTIONS.items():
        if name in skipped:
            continue
        started = time.perf_counter()
        print(f"{name}...", flush=True)
        figures[name] = measure()
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
    Console().print(table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
