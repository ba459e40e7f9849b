"""Candidates found by the stored ORB descriptors themselves, by voting.

Why: the linker's candidates come from the scene embedding's nearest neighbours, and a
collage, a screenshot or a picture pasted into another has an embedding far from each of its
parts. Its local features still contain theirs. Each query descriptor here looks up its
nearest stored descriptors and votes for the picture that holds one close enough; pictures
with enough votes become candidates for :mod:`vident.match.geometry` to verify.

The index is a cache of the ``keypoints`` signal rows, kept in step like
:mod:`vident.index.vectors`: it reads the rows past a watermark (the highest row id read), adds
a sample of each value's descriptors with the row id as ref, and keeps codes, refs and
watermark in one snapshot (:mod:`vident.index.persist`: SHA-256 checked, replaced atomically)
under ``<index_dir>/keypoints-votes-v<version>-<model>/``. A damaged snapshot, or one taken
with another sample size, is rebuilt from the store. Only the value is indexed, not the
mirrored variant: queries carry their own mirrored feature set, which meets the value.

Measured on the shared corpus (146 pictures; collage 2x2, collage 3x3, screenshot and picture
in picture of every 4th picture, 36 queries each; queries from
``vident.match.geometry.query_features``, 500 points a set, plain and mirrored). ``rank`` counts
unrelated pictures with at least the source's votes (ties count against the source);
"unrelated max" is the most votes any unrelated picture got:

==================  =======  =======  ========  =============  ===================
edit                rank 1   rank<=5  rank<=20  source votes   unrelated max (p90)
==================  =======  =======  ========  =============  ===================
collage 2x2         0.47     0.67     0.78      median 14      median 14 (19)
collage 3x3         0.06     0.19     0.50      median 2       median 20 (28)
screenshot          0.89     1.00     1.00      median 60      median 22 (32)
picture in picture  0.83     0.86     0.94      median 26      median 6 (14)
==================  =======  =======  ========  =============  ===================

How the constants were chosen (same measurement):

* **Sample spread over ORB's pyramid** (:data:`PER_PICTURE` evenly spaced entries of the
  stored order, which OpenCV groups by pyramid level). The first 256 (all fine-level points)
  ranked the source first for 6% of 2x2 collages and 11% of pictures in pictures; a 4x4
  spatial grid 14% and 64%; the evenly spaced sample 47% and 81%: a reduced copy meets the
  stored picture's coarse levels, which the first points never include.
* **256 per picture**: 128 ranked the source first for 39% of 2x2 collages, 192 44%, 256
  47%, all 500 53%, at twice the memory.
* **A ratio test against the store** (:data:`RATIO`: the nearest stored descriptor must be
  clearly nearer than the second, unless both are of the same picture). Without it, textured
  pictures collect votes from every query (unrelated max p90 37 on 2x2 collages against 19
  with it) and screenshots ranked first in 69% instead of 89%.
* **Distance at most 48 bits** (:data:`MAX_DISTANCE`): 64 found the same ranks with slightly
  more unrelated votes.
* **At least 4 votes** (:data:`MIN_VOTES`): the source had them for every screenshot, 86% of
  pictures in pictures and 67% of 2x2 collages; a 3x3 collage's tiles (133 px of 1,200) are
  too small for 640-px query features (median 2 votes), and need a denser query set.
  It is a floor against noise, not a decision: unrelated pictures collect votes too (the
  most voted unrelated picture had a median of 6 to 22 votes, per edit), so the ranking and
  the geometric verification of the candidates decide.

Memory: codes stay in one NumPy array: 32 bytes of code and 8 of ref per descriptor, at
most 10 KB per picture (10 GB for a million pictures), twice that while the array grows.
Below :data:`APPROXIMATE_FROM` descriptors search is exact (``faiss.knn_hamming``); past it an
inverted file (``faiss.IndexBinaryIVF``, :data:`LISTS_PER_ROOT` x sqrt(n) lists trained on a
sample of the stored codes, :data:`NPROBE` lists searched) holds a second copy of the codes
(40 bytes per descriptor) and is trained again when the store has grown
:data:`RETRAIN_GROWTH` times. Training and adding are slow (below), so the file is saved
beside the codes as its own checked snapshot (``ivf/``, faiss' serialized index) and an open
only adds the rows it lacks. Measured on one busy core per query, 2,500 query descriptors
(a corpus picture's real query set) against synthetic stores of 256 real corpus descriptors
per picture with 5-10% of the bits flipped, a corpus picture planted unchanged; "vote
recall" is the share of the exact votes the inverted file keeps:

===========  ==========  ======================  ==========  ===========  =====  ========
pictures     exact       lists                   nprobe      query        vote   planted
                                                                          recall top 1
===========  ==========  ======================  ==========  ===========  =====  ========
1,000        1.65 s      2,023 (4 sqrt n)        8           42 ms        0.965  40/40
1,000                    2,023                   16          70 ms        0.982  40/40
1,000                    505 (sqrt n)            8           55 ms        0.975  40/40
10,000       19.2 s      1,600 (sqrt n)          4           142 ms       0.977  20/20
10,000                   1,600                   8           258 ms       0.988  20/20
===========  ==========  ======================  ==========  ===========  =====  ========

(exact top 1 was 40/40 and 10/10.) Training on 64 codes per list took 44 s for 2,023 lists;
adding 2.56 million codes to 1,600 lists took 62 s (the flat quantizer's assignment), which
is why the file is persisted rather than rebuilt on open. 4 sqrt(n) lists at 10,000 pictures
and stores of 100,000 pictures were not measured in the time given: with flat quantizers
the quantizer's scan (lists x query descriptors) and the add grow with sqrt(n), so query
time there should be expected well above 50 ms; an HNSW quantizer is the next step.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Final

import faiss
import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.index.buffer import GrowingArray
from vident.index.persist import CorruptSnapshot, Snapshot, read_snapshot, write_snapshot
from vident.index.vectors import _slug
from vident.signals.keypoints import DESCRIPTOR_BYTES, Keypoints, LocalFeatures, unpack
from vident.store.models import Signal

#: Descriptors kept per stored picture, evenly spaced over ORB's output order.
PER_PICTURE: Final = 256
#: Largest Hamming distance (of 256 bits) at which a stored descriptor earns a vote.
MAX_DISTANCE: Final = 48
#: The nearest stored descriptor votes only if nearer than this share of the second's distance.
RATIO: Final = 0.8
#: Default number of votes a picture needs to be a candidate.
MIN_VOTES: Final = 4
#: Bits of one descriptor.
BITS: Final = DESCRIPTOR_BYTES * 8
#: Query descriptors up to this are searched on one thread (see :func:`one_thread`).
ONE_THREAD_MAX: Final = 4096
#: The name of the snapshot's folder, before version and model.
NAME: Final = "keypoints-votes"
#: Stored descriptors from which search goes through an inverted file (about 400 pictures).
APPROXIMATE_FROM: Final = 100_000
#: Inverted lists per square root of the descriptors when the inverted file is trained.
LISTS_PER_ROOT: Final = 4
#: Lists searched per query descriptor.
NPROBE: Final = 8
#: Training codes per list (a sample of the stored codes).
TRAIN_PER_LIST: Final = 64
#: The inverted file is trained again once the store holds this many times the descriptors
#: it was trained on (its lists then hold 4 times their intended share).
RETRAIN_GROWTH: Final = 16
#: The inverted file's snapshot, inside the index's folder.
IVF_FOLDER: Final = "ivf"

_FETCH = 2_000

Codes = npt.NDArray[np.uint8]


def sample(count: int, per_picture: int = PER_PICTURE) -> npt.NDArray[np.int64]:
    """Indices of the descriptors kept from ``count``: evenly spaced, so every pyramid level
    of ORB's output (grouped by level) keeps its share, and the same value always gives the
    same sample."""
    if count <= per_picture:
        return np.arange(count, dtype=np.int64)
    return np.unique(np.linspace(0, count - 1, per_picture).round().astype(np.int64))


@contextmanager
def one_thread() -> Iterator[None]:
    """Run faiss on the calling thread only (here and in :mod:`vident.match.geometry`): for a
    query's few thousand descriptors OpenMP's start-up and, on a busy machine, its spinning
    threads cost more than the work (1,000 queries against 256,000 codes: 0.8 s on one
    thread, 2.4 s on two)."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


class FeatureIndex:
    """Sampled descriptors of every stored ``keypoints`` value; votes name signal row ids."""

    def __init__(
        self,
        directory: Path,
        per_picture: int = PER_PICTURE,
        approximate_from: int = APPROXIMATE_FROM,
    ) -> None:
        self.directory = directory
        self.per_picture = per_picture
        self.approximate_from = approximate_from
        # Inverted file over the codes (ids: positions in ``_codes``), past the threshold.
        self._ivf: faiss.IndexBinaryIVF | None = None
        self._trained_on = 0
        self._codes = GrowingArray((DESCRIPTOR_BYTES,), np.uint8)
        self._refs = GrowingArray((), np.int64)
        self.watermark = 0
        self._dirty = False
        self._saved_at = time.monotonic()
        # Codes and refs grow in two steps: a search must see both before or both after.
        self._lock = threading.Lock()

    @staticmethod
    def directory_for(index_root: Path) -> Path:
        return index_root / f"{NAME}-v{Keypoints.version}-{_slug(Keypoints.model)}"

    @classmethod
    def open(
        cls, session: Session, index_root: Path, approximate_from: int = APPROXIMATE_FROM
    ) -> FeatureIndex:
        """Load the saved snapshot (or start empty) and catch up with the store."""
        found = cls(cls.directory_for(index_root), approximate_from=approximate_from)
        found._load()
        found._load_ivf()
        found.sync(session)
        return found

    def _load(self) -> None:
        try:
            snapshot = read_snapshot(self.directory)
        except CorruptSnapshot:  # a damaged cache is rebuilt, not trusted
            return
        if snapshot is None or snapshot.bits != BITS:
            return
        if "watermark" not in snapshot.meta:
            return
        if snapshot.meta.get("per_picture") != self.per_picture:  # another sample: rebuild
            return
        self._codes.extend(snapshot.codes)
        self._refs.extend(snapshot.refs)
        self.watermark = snapshot.meta["watermark"]

    def _load_ivf(self) -> None:
        """The saved inverted file, if it belongs to these codes; the codes past it are added,
        anything else is left to :meth:`_update_ivf` to train again."""
        try:
            snapshot = read_snapshot(self.directory / IVF_FOLDER)
        except CorruptSnapshot:
            return
        if snapshot is None or snapshot.codes.shape[0] != 1:
            return
        covered, trained_on = snapshot.meta.get("descriptors"), snapshot.meta.get("trained_on")
        if covered is None or trained_on is None or covered > len(self._codes):
            return
        if snapshot.meta.get("per_picture") != self.per_picture:
            return
        if len(self._codes) < self.approximate_from:  # exact below the threshold
            return
        try:
            index = faiss.deserialize_index_binary(np.ascontiguousarray(snapshot.codes[0]))
        except RuntimeError:
            return
        if not isinstance(index, faiss.IndexBinaryIVF) or index.ntotal != covered:
            return
        index.nprobe = NPROBE
        self._ivf, self._trained_on = index, trained_on
        self._update_ivf()

    def _update_ivf(self) -> None:
        """Train the inverted file once the store passes the threshold (again when it has grown
        :data:`RETRAIN_GROWTH` times) and add the codes it lacks."""
        with self._lock:
            codes = self._codes.view
        count = len(codes)
        if count < self.approximate_from:
            return
        index = self._ivf
        if index is None or count >= RETRAIN_GROWTH * self._trained_on:
            nlist = max(1, int(LISTS_PER_ROOT * np.sqrt(count)))
            rng = np.random.default_rng(count)
            chosen = rng.choice(count, min(count, TRAIN_PER_LIST * nlist), replace=False)
            index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(BITS), BITS, nlist)
            index.train(np.ascontiguousarray(codes[np.sort(chosen)]))
            index.nprobe = NPROBE
            self._trained_on = count
        start = int(index.ntotal)
        if start < count:
            ids = np.arange(start, count, dtype=np.int64)
            index.add_with_ids(np.ascontiguousarray(codes[start:count]), ids)
        with self._lock:
            self._ivf = index

    def sync(self, session: Session) -> int:
        """Add the keypoint rows past the watermark; returns how many pictures were added."""
        kind = Keypoints
        added = 0
        while True:
            rows = session.execute(
                select(Signal.id, Signal.value)
                .where(
                    Signal.id > self.watermark,
                    Signal.kind == kind.name,
                    Signal.version == kind.version,
                    Signal.model == kind.model,
                )
                .order_by(Signal.id)
                .limit(_FETCH)
            ).all()
            if not rows:
                break
            batch: list[tuple[int, LocalFeatures]] = []
            for row_id, value in rows:
                try:
                    batch.append((row_id, unpack(bytes(value))))
                except ValueError:  # a malformed value says nothing; skip it
                    continue
            added += self._extend(batch)
            self.watermark = int(rows[-1][0])
            self._dirty = True
        self._update_ivf()
        return added

    def add(self, pictures: Sequence[tuple[int, LocalFeatures]]) -> int:
        """Index features under refs of the caller's choosing, outside any store (the quality
        benchmark votes among corpus pictures so); returns how many had points."""
        added = self._extend(pictures)
        self._update_ivf()
        return added

    def _extend(self, pictures: Sequence[tuple[int, LocalFeatures]]) -> int:
        codes: list[Codes] = []
        refs: list[npt.NDArray[np.int64]] = []
        for ref, features in pictures:
            if not len(features):
                continue
            chosen = features.descriptors[sample(len(features), self.per_picture)]
            codes.append(chosen)
            refs.append(np.full(len(chosen), ref, dtype=np.int64))
        if codes:
            with self._lock:
                self._codes.extend(np.concatenate(codes))
                self._refs.extend(np.concatenate(refs))
        return len(codes)

    def votes(self, descriptors: Codes) -> dict[int, int]:
        """Votes of one feature set: each descriptor whose nearest stored descriptor is within
        :data:`MAX_DISTANCE` and passes the ratio test votes once, for that picture."""
        with self._lock:
            stored, refs, ivf = self._codes.view, self._refs.view, self._ivf
        if not len(stored) or not len(descriptors):
            return {}
        query = np.ascontiguousarray(descriptors, dtype=np.uint8)
        k = min(2, len(stored))
        with one_thread() if len(query) <= ONE_THREAD_MAX else nullcontext():
            if ivf is not None:
                distances, nearest = ivf.search(query, k)
            else:
                distances, nearest = faiss.knn_hamming(query, stored, k)
        # The inverted file may find fewer than k (-1): no neighbour, or no second to compare.
        found = nearest[:, 0] >= 0
        first = refs[np.where(found, nearest[:, 0], 0)]
        passed = found & (distances[:, 0] <= MAX_DISTANCE)
        if k == 2:
            alone = nearest[:, 1] < 0  # no second: nothing to compare, the first stands
            distances[alone, 1] = BITS + 1
            nearest[alone, 1] = nearest[alone, 0]
            # A descriptor as near to two pictures says nothing about either; two of one picture
            # (repeated texture in it) still point at that picture.
            second = refs[nearest[:, 1]]
            passed &= (distances[:, 0] < RATIO * distances[:, 1]) | (first == second)
        ids, counts = np.unique(first[passed], return_counts=True)
        return {int(i): int(c) for i, c in zip(ids, counts, strict=True)}

    def candidates(
        self, features: Sequence[LocalFeatures], top: int = 20, min_votes: int = MIN_VOTES
    ) -> list[tuple[int, int]]:
        """(signal id, votes) of the pictures with at least ``min_votes`` over every feature set
        of the query (plain, mirrored, other scales), most votes first, at most ``top``.

        Each query descriptor votes for one picture at most, so the sets add up: a mirrored copy
        collects its votes from the mirrored set, a straight one from the plain set.
        """
        total: dict[int, int] = {}
        for found in features:
            for ref, count in self.votes(found.descriptors).items():
                total[ref] = total.get(ref, 0) + count
        ranked = sorted(
            ((ref, count) for ref, count in total.items() if count >= min_votes),
            key=lambda item: (-item[1], item[0]),
        )
        return ranked[:top]

    def save(self, *, force: bool = True, every_seconds: float = 300.0) -> None:
        """Persist if changed; without ``force`` only when ``every_seconds`` have passed.

        A snapshot holds up to 10 KB per picture (a gigabyte per 100,000), so ingest saves it
        rarely, as it does the vector snapshots: an open catches up with the store anyway.
        """
        if not self._dirty:
            return
        if not force and time.monotonic() - self._saved_at < every_seconds:
            return
        with self._lock:
            codes, refs = self._codes.view, self._refs.view
        write_snapshot(
            self.directory,
            Snapshot(
                bits=BITS,
                codes=np.ascontiguousarray(codes),
                refs=np.ascontiguousarray(refs),
                meta={"watermark": self.watermark, "per_picture": self.per_picture},
            ),
        )
        with self._lock:
            ivf = self._ivf
        ivf_directory = self.directory / IVF_FOLDER
        if ivf is None:
            shutil.rmtree(ivf_directory, ignore_errors=True)
        else:
            # Written after the codes: a crash between leaves it covering fewer, added on open.
            blob = np.ascontiguousarray(faiss.serialize_index_binary(ivf), dtype=np.uint8)
            write_snapshot(
                ivf_directory,
                Snapshot(
                    bits=8 * len(blob),
                    codes=blob[None, :],
                    refs=np.zeros(1, np.int64),
                    meta={
                        "descriptors": int(ivf.ntotal),
                        "trained_on": self._trained_on,
                        "per_picture": self.per_picture,
                    },
                ),
            )
        self._dirty = False
        self._saved_at = time.monotonic()

    @property
    def descriptors(self) -> int:
        return len(self._codes)

    def __len__(self) -> int:
        """Pictures indexed (a picture's descriptors are stored one after the other)."""
        refs = self._refs.view
        return int(np.count_nonzero(np.diff(refs))) + 1 if len(refs) else 0


def rebuild(session: Session, index_root: Path) -> FeatureIndex:
    """Throw the cached index away and build it again from the store."""
    directory = FeatureIndex.directory_for(index_root)
    if directory.exists():
        shutil.rmtree(directory)
    found = FeatureIndex(directory)
    found.sync(session)
    found._dirty = True
    found.save()
    return found
