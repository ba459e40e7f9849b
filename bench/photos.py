"""A cache of generated photo-like JPEGs for the benchmarks, under ``.bench-cache/``.

Generating a few hundred pictures of up to 12 megapixels takes minutes, so they are made once
and kept (the folder is git-ignored). Picture ``i`` of a set never depends on how many are
asked for, so one pool serves every ``--files N``; each run gets a folder holding exactly its
``N`` files as hard links (copies where links are impossible), because ``vident ingest``
takes a whole folder.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path

from vident.demo.synthetic import write_photo_jpeg

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench-cache"
#: Bump when the generator changes, so stale pictures are not measured.
GENERATOR_VERSION = 1
MIN_MP, MAX_MP, SEED, QUALITY = 1.0, 12.0, 0, 90


def _pool_dir() -> Path:
    return CACHE / f"photos-v{GENERATOR_VERSION}-{MIN_MP:g}-{MAX_MP:g}mp-s{SEED}-q{QUALITY}"


def _make(index: int) -> None:
    path = _pool_dir() / f"IMG_{index + 1:05d}.jpg"
    partial = path.with_suffix(".part")
    write_photo_jpeg(partial, index, min_mp=MIN_MP, max_mp=MAX_MP, seed=SEED, quality=QUALITY)
    partial.replace(path)  # an interrupted run never leaves a half-written picture behind


def bench_photos(count: int, *, processes: int | None = None, log: bool = True) -> Path:
    """A folder with exactly ``count`` generated JPEGs (1 to 12 MP), generating what is missing."""
    pool = _pool_dir()
    pool.mkdir(parents=True, exist_ok=True)
    missing = [i for i in range(count) if not (pool / f"IMG_{i + 1:05d}.jpg").exists()]
    if missing:
        if log:
            print(f"generating {len(missing)} photo-like JPEGs into {pool} (once; cached)...")
        workers = processes or os.cpu_count() or 1
        if workers > 1 and len(missing) > 1:
            with multiprocessing.get_context("fork").Pool(workers) as procs:
                procs.map(_make, missing, chunksize=1)
        else:
            for index in missing:
                _make(index)
    folder = CACHE / f"set-{count}-{pool.name}"
    names = [f"IMG_{i + 1:05d}.jpg" for i in range(count)]
    if folder.exists() and sorted(p.name for p in folder.iterdir()) == names:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in names:
        try:
            os.link(pool / name, folder / name)
        except OSError:
            shutil.copy2(pool / name, folder / name)
    return folder
