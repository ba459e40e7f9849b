"""The near-duplicate index of a data directory, kept in step with the store.

One binary index per near-match signal kind (PDQ today) lives under ``<data>/index/``. It is a
cache: it records how far into the store it has read (the highest ``signal`` and
``hashset_hash`` row ids, its watermarks), and on every open it adds what the store gained
since, so a crash between a commit and a save costs a short catch-up, never a wrong answer.
Refs are ``+signal.id`` for stored media and ``-hashset_hash.id`` for hash-set entries.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.index.binary import FaissBinaryIndex, Hit, load_index, save_index
from vident.signals.base import SignalKind
from vident.signals.registry import near_kinds
from vident.store.models import HashSetHash, Signal

_FETCH = 50_000


class NearIndex:
    """The binary index of one near-match kind, with its watermarks."""

    def __init__(self, directory: Path, kind: SignalKind, min_quality: int) -> None:
        self.directory = directory
        self.kind = kind
        self.min_quality = min_quality
        self.bits = kind.value_bytes * 8
        self.index = FaissBinaryIndex(self.bits)
        self.watermarks = {"signal": 0, "hashset": 0, "min_quality": min_quality}
        self._dirty = False
        self._saved_at = time.monotonic()

    @classmethod
    def directory_for(cls, index_root: Path, kind: SignalKind) -> Path:
        return index_root / f"{kind.name}-v{kind.version}"

    @classmethod
    def open(
        cls, session: Session, index_root: Path, kind: SignalKind, min_quality: int
    ) -> NearIndex:
        """Load the saved index (or start empty) and catch up with the store."""
        near = cls(cls.directory_for(index_root, kind), kind, min_quality)
        loaded = load_index(near.directory, near.bits)
        if loaded is not None:
            index, meta = loaded
            if meta.get("min_quality") == min_quality:
                near.index = index
                near.watermarks = {**near.watermarks, **meta}
        near.sync(session)
        return near

    def sync(self, session: Session) -> int:
        """Add every store row past the watermarks; returns how many codes were added."""
        added = 0
        while True:
            rows = session.execute(
                select(Signal.id, Signal.value, Signal.quality)
                .where(
                    Signal.id > self.watermarks["signal"],
                    Signal.kind == self.kind.name,
                    Signal.version == self.kind.version,
                )
                .order_by(Signal.id)
                .limit(_FETCH)
            ).all()
            if not rows:
                break
            usable = [r for r in rows if r.quality is None or r.quality >= self.min_quality]
            added += self._add([bytes(r.value) for r in usable], [r.id for r in usable])
            self.watermarks["signal"] = rows[-1].id
            self._dirty = True
        while True:
            hrows = session.execute(
                select(HashSetHash.id, HashSetHash.value)
                .where(
                    HashSetHash.id > self.watermarks["hashset"], HashSetHash.kind == self.kind.name
                )
                .order_by(HashSetHash.id)
                .limit(_FETCH)
            ).all()
            if not hrows:
                break
            added += self._add([bytes(r.value) for r in hrows], [-r.id for r in hrows])
            self.watermarks["hashset"] = hrows[-1].id
            self._dirty = True
        return added

    def _add(self, values: list[bytes], refs: list[int]) -> int:
        good = [(v, r) for v, r in zip(values, refs, strict=True) if len(v) == self.bits // 8]
        if not good:
            return 0
        codes = np.frombuffer(b"".join(v for v, _ in good), dtype=np.uint8).reshape(len(good), -1)
        self.index.add(codes, np.array([r for _, r in good], dtype=np.int64))
        return len(good)

    def search(self, queries: list[bytes], radius: int) -> list[Hit]:
        if not queries or len(self.index) == 0:
            return []
        codes = np.frombuffer(b"".join(queries), dtype=np.uint8).reshape(len(queries), -1)
        return self.index.search_radius(codes, radius)

    def save(self, *, force: bool = True, every_seconds: float = 30.0) -> None:
        """Persist if changed; without ``force`` only when ``every_seconds`` have passed."""
        if not self._dirty:
            return
        if not force and time.monotonic() - self._saved_at < every_seconds:
            return
        save_index(self.index, self.directory, dict(self.watermarks))
        self._dirty = False
        self._saved_at = time.monotonic()

    def __len__(self) -> int:
        return len(self.index)


def open_all(session: Session, index_root: Path, min_quality: int) -> dict[str, NearIndex]:
    """The index of every registered near-match kind, by kind name, caught up with the store."""
    return {
        kind.name: NearIndex.open(session, index_root, kind, min_quality) for kind in near_kinds()
    }


def rebuild(session: Session, index_root: Path, kind: SignalKind, min_quality: int) -> NearIndex:
    """Throw the cached index away and build it again from the store."""
    directory = NearIndex.directory_for(index_root, kind)
    if directory.exists():
        shutil.rmtree(directory)
    near = NearIndex(directory, kind, min_quality)
    near.sync(session)
    near._dirty = True
    near.save()
    return near
