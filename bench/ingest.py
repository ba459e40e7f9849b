"""Ingest throughput: the whole ``vident ingest`` command against the floor of its own work.

The floor is the least work any ingest must do per file, in a plain loop with nothing around
it: read the file, MD5 + SHA-1 + SHA-256, a draft-mode Pillow decode (``draft`` to 512, EXIF
orientation, RGB: the decode vident does) and PDQ with its eight rotations and flips. It is
measured in one process and in two (the files split in two halves). The command is measured
from start to exit, store committed, as a user runs it: ``python -m vident --data TMP ingest
DIR --source bench --workers N --quiet`` on a freshly initialised data directory. The ratio
command/floor says what the whole command costs beyond that work; the target is at least 0.8.

The pictures are generated photo-like JPEGs of 1 to 12 megapixels with camera EXIF (see
:mod:`bench.photos`). The machine is shared and noisy, so every figure is the median of a few
repeats (fresh data directory each time) and the spread (min-max) is printed next to it.
Run with ``python -m bench.ingest [--files N] [--repeats R] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image, ImageOps

from bench.photos import bench_photos

WORKER_COUNTS = (1, 2)


class CommandUnavailable(Exception):
    """The vident command could not be run; the message is one line saying why."""


def floor_work(path: Path) -> None:
    """The unavoidable work for one picture, in its plainest form.

    Exactly the decode vident uses: JPEG draft mode to the smallest DCT scale whose sides are
    at least 512 px (no further shrinking: a 512 px thumbnail would be cheaper but moves PDQ
    hashes of rotated and mirrored copies by up to 24 bits), EXIF orientation, RGB, then PDQ
    of all eight rotations and flips.
    """
    data = path.read_bytes()
    hashlib.md5(data).digest()
    hashlib.sha1(data).digest()
    hashlib.sha256(data).digest()
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (512, 512))
        upright = ImageOps.exif_transpose(image).convert("RGB")
    pdqhash.compute_dihedral(np.asarray(upright))


FLOORS: dict[str, Callable[[Path], None]] = {"floor": floor_work}


def _floor_loop(work: Callable[[Path], None], paths: list[Path]) -> None:
    for path in paths:
        work(path)


def floor_seconds(paths: list[Path], processes: int, work: Callable[[Path], None]) -> float:
    """Wall time of ``work`` over all files, in ``processes`` plain processes."""
    if processes == 1:
        start = time.perf_counter()
        _floor_loop(work, paths)
        return time.perf_counter() - start
    shares = [paths[i::processes] for i in range(processes)]
    context = multiprocessing.get_context("fork")
    start = time.perf_counter()
    procs = [context.Process(target=_floor_loop, args=(work, share)) for share in shares]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"a floor process failed with exit status {proc.exitcode}")
    return time.perf_counter() - start


def _vident(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "vident", "--data", str(data), *args]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def command_seconds(folder: Path, workers: int, signals: str = "pdq") -> float:
    """Wall time of ``vident ingest`` from start to exit on a fresh data directory.

    ``signals`` defaults to PDQ alone: the floor measures hashes, decode and PDQ, and the
    costlier signals have their own benchmark (``bench.signal_speed``).
    """
    data = Path(tempfile.mkdtemp(prefix="vident-bench-"))
    try:
        init = subprocess.run(_vident(data, "init"), capture_output=True, text=True, check=False)
        if init.returncode != 0:
            raise CommandUnavailable(f"vident init failed: {_last_line(init.stderr)}")
        command = _vident(
            data,
            "ingest",
            str(folder),
            "--source",
            "bench",
            "--workers",
            str(workers),
            "--quiet",
            "--signals",
            signals,
        )
        start = time.perf_counter()
        ingest = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if ingest.returncode != 0:
            raise CommandUnavailable(f"vident ingest failed: {_last_line(ingest.stderr)}")
        return seconds
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _summary(label: str, count: int, seconds: list[float]) -> str:
    rates = sorted(count / s for s in seconds)
    return (
        f"  {label:<28} {statistics.median(rates):7.1f} files/s"
        f"   (spread {rates[0]:.1f}-{rates[-1]:.1f}, {len(rates)} runs)"
    )


def run(files: int, repeats: int) -> dict[str, float]:
    """Measure the floor and the command; returns medians, spreads and ratios (files/s)."""
    folder = bench_photos(files)
    paths = sorted(folder.iterdir())
    total_bytes = sum(p.stat().st_size for p in paths)
    megapixels = []
    for path in paths:
        with Image.open(path) as image:
            megapixels.append(image.width * image.height / 1e6)
    for path in paths:  # warm the page cache: every measurement reads from memory
        path.read_bytes()
    print(
        f"ingest benchmark: {len(paths)} JPEGs, {min(megapixels):.1f}-{max(megapixels):.1f} MP "
        f"(mean {statistics.mean(megapixels):.1f}), {total_bytes / 1e6:.0f} MB, "
        f"median of {repeats} runs"
    )

    seconds: dict[str, list[float]] = {
        f"{name}_{n}": [] for name in (*FLOORS, "command") for n in WORKER_COUNTS
    }
    unavailable: str | None = None
    for _ in range(repeats):  # interleaved, so drift in machine load hits every figure alike
        for n in WORKER_COUNTS:
            for name, work in FLOORS.items():
                seconds[f"{name}_{n}"].append(floor_seconds(paths, n, work))
            if unavailable is None:
                try:
                    seconds[f"command_{n}"].append(command_seconds(folder, n))
                except CommandUnavailable as exc:
                    unavailable = str(exc)

    figures: dict[str, float] = {
        "files": float(len(paths)),
        "megabytes": total_bytes / 1e6,
        "mean_megapixels": statistics.mean(megapixels),
        "repeats": float(repeats),
    }
    sections = [
        ("floor", "floor: read + md5/sha1/sha256 + draft decode + PDQ x8, plain loop"),
        ("command", "whole command: vident ingest, start to exit, store committed"),
    ]
    for name, title in sections:
        if name == "command" and unavailable is not None:
            print(f"command: not measured: {unavailable}")
            return figures
        print(f"{title}:")
        for n in WORKER_COUNTS:
            label = f"--workers {n}" if name == "command" else f"{n} process{'es' * (n > 1)}"
            print(_summary(label, len(paths), seconds[f"{name}_{n}"]))
            _record(figures, f"{name}_{n}", len(paths), seconds[f"{name}_{n}"])
    print("command / floor (target >= 0.8):")
    for n in WORKER_COUNTS:
        command = figures[f"command_{n}_files_per_s"]
        figures[f"ratio_{n}"] = command / figures[f"floor_{n}_files_per_s"]
        print(f"  {n} worker{'s' * (n > 1)}: {figures[f'ratio_{n}']:.2f}")
    return figures


def _record(figures: dict[str, float], name: str, count: int, seconds: list[float]) -> None:
    rates = [count / s for s in seconds]
    figures[f"{name}_files_per_s"] = statistics.median(rates)
    figures[f"{name}_min"] = min(rates)
    figures[f"{name}_max"] = max(rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--files", type=int, default=300, help="generated JPEGs (default 300)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.files < 2 or args.repeats < 1:
        parser.error("need --files >= 2 and --repeats >= 1")
    figures = run(args.files, args.repeats)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
