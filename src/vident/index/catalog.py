"""Every index of a data directory in one place: the PDQ index and the vector indexes.

All are caches of the store; :func:`open_indexes` catches each one up, :func:`rebuild_all`
throws them away and reads the store again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from vident.config import Settings
from vident.index import near, vectors
from vident.index.near import NearIndex, open_all
from vident.index.vectors import RowSource, VectorStoreIndex
from vident.signals.base import VectorSignal
from vident.signals.registry import get, near_kinds


class StoreCache(Protocol):
    """What ingest needs of an index: catch up after a commit, save now and then."""

    def sync(self, session: Session) -> int: ...

    def save(self, *, force: bool = True, every_seconds: float = ...) -> None: ...


@dataclass
class Indexes:
    """Every index a finder may use, caught up with the store."""

    near: dict[str, NearIndex]
    scene: VectorStoreIndex | None
    face: VectorStoreIndex | None

    def all(self) -> list[StoreCache]:
        found: list[StoreCache] = list(self.near.values())
        found.extend(i for i in (self.scene, self.face) if i is not None)
        return found

    def save(self) -> None:
        for index in self.all():
            index.save()


def vector_sources() -> dict[str, RowSource]:
    """The store rows behind each vector index: scene signals and face rows."""
    scene, face = get("scene"), get("face")
    assert isinstance(scene, VectorSignal) and isinstance(face, VectorSignal)
    return {"scene": RowSource("signal", scene), "face": RowSource("face", face)}


def open_indexes(session: Session, settings: Settings) -> Indexes:
    """Every index, caught up with the store."""
    root: Path = settings.index_dir
    sources = vector_sources()
    return Indexes(
        near=open_all(session, root, settings.pdq_min_quality),
        scene=VectorStoreIndex.open(session, root, sources["scene"]),
        face=VectorStoreIndex.open(session, root, sources["face"]),
    )


def rebuild_all(session: Session, settings: Settings) -> dict[str, int]:
    """Rebuild every index from the store; returns the entries of each."""
    root = settings.index_dir
    sizes = {
        kind.name: len(near.rebuild(session, root, kind, settings.pdq_min_quality))
        for kind in near_kinds()
    }
    for name, source in vector_sources().items():
        sizes[name] = len(vectors.rebuild(session, root, source))
    return sizes
