"""Per-signal throughput, and the cost of ingest with every signal against PDQ alone.

Each picture signal is timed on the same decoded pictures (decoding is excluded: it is
shared by all signals and measured by ``bench.ingest``), one process, medians of repeats.
Then ``vident ingest`` runs on the same folder twice per repeat, with ``--signals pdq`` and
with every signal, and the ratio of their wall times is printed. Pictures are the shared
corpus when present (faces, scenes, text: what the expensive signals are for), otherwise
generated photo-like JPEGs.

    .venv/bin/python -m bench.signal_speed [--repeats 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.ingest import command_seconds
from vident.config import Limits
from vident.demo.scenario import default_corpus
from vident.media.image import decode_image
from vident.media.types import DecodedImage
from vident.signals.registry import image_kinds

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def sample_folder(limit: int = 60) -> Path:
    """A folder of benchmark pictures: corpus pictures (faces, scenes, text) or generated."""
    target = Path(tempfile.mkdtemp(prefix="vident-signal-bench-"))
    corpus = default_corpus()
    chosen: list[Path] = []
    if corpus is not None:
        for folder in ("faces", "scenes", "text", "exif/gps"):
            chosen += sorted(
                p for p in (corpus / folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
            )
    if not chosen:
        from vident.demo.synthetic import write_photo_jpegs

        write_photo_jpegs(target, limit)
        return target
    for number, path in enumerate(chosen[:limit]):
        shutil.copyfile(path, target / f"{number:03d}{path.suffix.lower()}")
    return target


def _decoded(folder: Path) -> list[DecodedImage]:
    limits = Limits()
    pictures = []
    for path in sorted(folder.iterdir()):
        try:
            pictures.append(decode_image(path.read_bytes(), limits))
        except Exception:  # the benchmark times signals, not error handling
            continue
    return pictures


def per_signal(folder: Path, repeats: int) -> dict[str, dict[str, float]]:
    """Pictures per second of each registered picture signal (after one warm-up picture)."""
    pictures = _decoded(folder)
    figures: dict[str, dict[str, float]] = {}
    for kind in image_kinds():
        kind.compute(pictures[0])  # loads the model: a once-per-process cost
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            for picture in pictures:
                kind.compute(picture)
            rates.append(len(pictures) / (time.perf_counter() - start))
        figures[kind.name] = {
            "images_per_s": statistics.median(rates),
            "ms_per_image": 1000.0 / statistics.median(rates),
        }
    return figures


def ingest_cost(folder: Path, repeats: int, workers: int) -> dict[str, float]:
    """Wall time of ingest with every signal against PDQ alone, same folder, same run."""
    every = ",".join(kind.name for kind in image_kinds())
    pdq, full = [], []
    for _ in range(repeats):
        pdq.append(command_seconds(folder, workers, "pdq"))
        full.append(command_seconds(folder, workers, every))
    files = sum(1 for _ in folder.iterdir())
    return {
        "files": files,
        "pdq_only_s": statistics.median(pdq),
        "all_signals_s": statistics.median(full),
        "pdq_only_files_per_s": files / statistics.median(pdq),
        "all_signals_files_per_s": files / statistics.median(full),
        "cost_ratio": statistics.median(full) / statistics.median(pdq),
    }


def run(repeats: int = 3, workers: int = 2, limit: int = 60) -> dict[str, Any]:
    folder = sample_folder(limit)
    try:
        return {
            "signals": per_signal(folder, repeats),
            "ingest": ingest_cost(folder, repeats, workers),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def table(figures: dict[str, Any]) -> Table:
    result = Table(title="picture signals: throughput (1 process) and ingest cost")
    for column in ("signal", "images/s", "ms/image"):
        result.add_column(column)
    for name, row in figures["signals"].items():
        result.add_row(name, f"{row['images_per_s']:.1f}", f"{row['ms_per_image']:.1f}")
    ingest = figures["ingest"]
    result.add_row(
        "ingest, all signals vs PDQ only",
        f"{ingest['all_signals_files_per_s']:.1f} vs {ingest['pdq_only_files_per_s']:.1f}",
        f"x{ingest['cost_ratio']:.1f} the time",
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.signal_speed", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=60, help="pictures in the sample")
    args = parser.parse_args(argv)
    Console().print(table(run(args.repeats, args.workers, args.limit)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
