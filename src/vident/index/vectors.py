"""Vector indexes of a data directory, kept in step with the store like the PDQ index.

Two kinds of rows carry vectors: ``face`` rows (one face each, found by the face index) and
``signal`` rows of a one-vector kind (the scene embedding of a picture or keyframe). Each
index covers one kind, version and model (values of different models are never compared),
lives under ``<data>/index/<kind>-v<version>-<model>/`` and records the highest row id it has
read (saved in the same file as the vectors); opening it adds what the store gained since,
and a damaged snapshot is rebuilt from the store.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from vident.index.persist import CorruptSnapshot
from vident.index.vector import VectorHit, VectorIndex
from vident.signals.base import VectorSignal
from vident.store.models import Face, Signal

_FETCH = 20_000
INDEX_FILE = "vectors.npz"


@dataclass(frozen=True, slots=True)
class RowSource:
    """Which store rows feed an index: ``face`` rows or ``signal`` rows of one kind."""

    table: str  # "face" | "signal"
    kind: VectorSignal

    def query(self, after: int) -> Select[int, bytes]:
        if self.table == "face":
            return (
                select(Face.id, Face.embedding)
                .where(Face.id > after, Face.model == self.kind.model)
                .order_by(Face.id)
                .limit(_FETCH)
            )
        return (
            select(Signal.id, Signal.value)
            .where(
                Signal.id > after,
                Signal.kind == self.kind.name,
                Signal.version == self.kind.version,
                Signal.model == self.kind.model,
            )
            .order_by(Signal.id)
            .limit(_FETCH)
        )


def _one_vector(kind: VectorSignal, value: bytes) -> np.ndarray[Any, np.dtype[np.float32]] | None:
    """The single vector of a row, or None for an empty or malformed value."""
    try:
        vectors = kind.vectors(value)
    except ValueError:
        return None
    if vectors.shape != (1, kind.dim):
        return None
    return np.asarray(vectors[0], dtype=np.float32)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80] or "default"


class VectorStoreIndex:
    """One vector index and its watermark; hits are ids of the source rows."""

    def __init__(self, directory: Path, source: RowSource) -> None:
        self.directory = directory
        self.source = source
        self.index = VectorIndex(source.kind.dim)
        self.watermark = 0
        self._dirty = False
        self._saved_at = time.monotonic()

    @classmethod
    def directory_for(cls, index_root: Path, source: RowSource) -> Path:
        kind = source.kind
        return index_root / f"{kind.name}-v{kind.version}-{_slug(kind.model)}"

    @classmethod
    def open(cls, session: Session, index_root: Path, source: RowSource) -> VectorStoreIndex:
        """Load the saved index (or start empty) and catch up with the store."""
        found = cls(cls.directory_for(index_root, source), source)
        found._load()
        found.sync(session)
        return found

    def _load(self) -> None:
        try:
            index = VectorIndex.load(self.directory / INDEX_FILE)
        except (FileNotFoundError, CorruptSnapshot):  # a damaged cache is rebuilt, not trusted
            return
        if index.dim != self.source.kind.dim or "watermark" not in index.meta:
            return
        self.index = index
        self.watermark = index.meta["watermark"]

    def sync(self, session: Session) -> int:
        """Add every store row past the watermark; returns how many vectors were added."""
        added = 0
        kind = self.source.kind
        while True:
            rows = session.execute(self.source.query(self.watermark)).all()
            if not rows:
                break
            ids: list[int] = []
            vectors = []
            for row_id, value in rows:
                unpacked = _one_vector(kind, bytes(value))
                if unpacked is not None:
                    ids.append(row_id)
                    vectors.append(unpacked)
            if ids:
                self.index.add(np.array(ids, dtype=np.int64), np.stack(vectors))
                added += len(ids)
            self.watermark = rows[-1][0]
            self._dirty = True
        return added

    def search(
        self, queries: np.ndarray[Any, np.dtype[np.float32]], k: int
    ) -> list[list[VectorHit]]:
        if len(self.index) == 0 or not len(queries):
            return [[] for _ in range(len(queries))]
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def save(self, *, force: bool = True, every_seconds: float = 300.0) -> None:
        """Persist if changed; without ``force`` only when ``every_seconds`` have passed.

        Vector snapshots are large, so ingest saves them rarely: an open catches up anyway.
        """
        if not self._dirty:
            return
        if not force and time.monotonic() - self._saved_at < every_seconds:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        # The watermark travels in the same file as the vectors: they can never disagree.
        self.index.meta = {"watermark": self.watermark}
        self.index.save(self.directory / INDEX_FILE)
        self._dirty = False
        self._saved_at = time.monotonic()

    def __len__(self) -> int:
        return len(self.index)


def rebuild(session: Session, index_root: Path, source: RowSource) -> VectorStoreIndex:
    """Throw the cached index away and build it again from the store."""
    directory = VectorStoreIndex.directory_for(index_root, source)
    if directory.exists():
        shutil.rmtree(directory)
    found = VectorStoreIndex(directory, source)
    found.sync(session)
    found._dirty = True
    found.save()
    return found
