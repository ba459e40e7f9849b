"""Every index of a data directory in one place: the PDQ, vector and keypoint-vote indexes.

All are caches of the store; :func:`open_indexes` catches each one up, :func:`rebuild_all`
throws them away and reads the store again. A long-running process (the API server) keeps
them open in a :class:`SharedIndexes` instead of opening them for every request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from vident.config import Settings
from vident.index import features, near, vectors
from vident.index.features import FeatureIndex
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
    #: Stored ORB descriptors, voting for candidates the scene embedding misses (collages).
    features: FeatureIndex | None = None

    def all(self) -> list[StoreCache]:
        found: list[StoreCache] = list(self.near.values())
        found.extend(i for i in (self.scene, self.face) if i is not None)
        if self.features is not None:
            found.append(self.features)
        return found

    def save(self) -> None:
        for index in self.all():
            index.save()

    def sync(self, session: Session) -> int:
        """Add what the store gained since the last catch-up; returns how many entries.

        With nothing new this is a few queries that find no row past the watermarks (row ids,
        so the primary keys answer them): milliseconds, cheap enough for every use.
        """
        return sum(index.sync(session) for index in self.all())


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
        features=FeatureIndex.open(session, root),
    )


#: What tells two sets of indexes apart: the store, the index folder and what each index holds.
_Key = tuple[str, str, int, tuple[str, ...]]


def _key(settings: Settings) -> _Key:
    kinds = [f"{kind.name}-v{kind.version}" for kind in near_kinds()]
    kinds += [f"{name}-{source.kind.model}" for name, source in vector_sources().items()]
    kinds.append(FeatureIndex.directory_for(Path()).name)
    return (
        settings.database_url,
        str(settings.index_dir.resolve()),
        settings.pdq_min_quality,
        tuple(kinds),
    )


class SharedIndexes:
    """The indexes of a data directory kept open for a whole process and caught up at each use.

    Opening them reads every snapshot from disk and rebuilds the hash tables: about a second
    for a million PDQ codes, half a second for 50,000 scene vectors, which a server opening
    them per request would add to every search. The store is the truth and only ever gains
    index rows (signals, faces and hash-set entries are never deleted nor change their
    vectors), so an index kept in memory and caught up with the store before each use answers
    what a fresh one would; the snapshots that ingest writes on disk are not read again.
    Catch-ups run one at a time under a lock (two at once would add the same rows twice);
    searches need no lock here, each index locks its own searches and additions. One instance
    serves any settings: a process serving two data directories keeps one set for each.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[_Key, Indexes] = {}

    def get(self, session: Session, settings: Settings) -> Indexes:
        """The indexes of ``settings``, opened on first use, caught up through ``session``.

        What ``session`` cannot see yet (a transaction that started before a commit) is added
        by a later use; rows the indexes hold but ``session`` cannot see are skipped by the
        finders, which look every hit up in the store.
        """
        key = _key(settings)
        with self._lock:
            found = self._open.get(key)
            if found is None:
                found = open_indexes(session, settings)
                self._open[key] = found
            else:
                found.sync(session)
            return found


def rebuild_all(session: Session, settings: Settings) -> dict[str, int]:
    """Rebuild every index from the store; returns the entries of each."""
    root = settings.index_dir
    sizes = {
        kind.name: len(near.rebuild(session, root, kind, settings.pdq_min_quality))
        for kind in near_kinds()
    }
    for name, source in vector_sources().items():
        sizes[name] = len(vectors.rebuild(session, root, source))
    sizes[features.NAME] = len(features.rebuild(session, root))
    return sizes
