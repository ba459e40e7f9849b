"""Every thread from one query to stored media: duplicates, faces, scenes, cameras, text.

Each finder answers one question ("which stored media show this face?") as :class:`Link`
records with a strength in 0..1 and the evidence in ``detail``. ``vident similar`` ranks the
links of one kind; ``vident related`` and triage's ``related`` verdict gather strong links of
every kind. Finders use the store-synced indexes, so their cost follows the query, not the
size of the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vident.config import Settings
from vident.index.catalog import Indexes
from vident.match.geometry import Candidate, stored_candidate
from vident.match.probe import Probe
from vident.signals.keypoints import Keypoints, LocalFeatures
from vident.signals.registry import get
from vident.store.models import Face, Frame, Media, Occurrence, Signal, Source
from vident.store.upsert import chunked

#: Scene candidates checked with local features for each query frame.
SCENE_CANDIDATES = 30
#: Pictures voted for by the query's keypoints, verified beside the scene candidates.
VOTED_CANDIDATES = 10
#: Faces returned by the face index for each query face.
FACE_CANDIDATES = 50


@dataclass(frozen=True, slots=True)
class Link:
    """One stored media linked to the query, how, and how strongly (0..1)."""

    media_id: int
    by: str
    score: float
    detail: dict[str, Any] = field(default_factory=dict)
    frame: int = 0


@dataclass(frozen=True, slots=True)
class MediaRef:
    """Where a linked media was seen: its first occurrence (oldest source)."""

    media_id: int
    sha256: bytes
    media_type: str
    path: str
    source: str
    source_id: int


def describe_media(session: Session, media_ids: Iterable[int]) -> dict[int, MediaRef]:
    """Hash, type and first occurrence of each media (media never seen in a source are left out)."""
    found: dict[int, MediaRef] = {}
    for part in chunked(sorted(set(media_ids))):
        first = (
            select(Occurrence.media_id, func.min(Occurrence.id).label("occurrence_id"))
            .where(Occurrence.media_id.in_(part))
            .group_by(Occurrence.media_id)
            .subquery()
        )
        rows = session.execute(
            select(
                Media.id, Media.sha256, Media.media_type, Occurrence.path, Source.name, Source.id
            )
            .join(first, first.c.media_id == Media.id)
            .join(Occurrence, Occurrence.id == first.c.occurrence_id)
            .join(Source, Source.id == Occurrence.source_id)
        )
        for media_id, sha256, media_type, path, source, source_id in rows:
            found[media_id] = MediaRef(media_id, bytes(sha256), media_type, path, source, source_id)
    return found


def first_sources(session: Session, media_ids: Iterable[int]) -> dict[int, int]:
    """The oldest source id each media was seen in."""
    found: dict[int, int] = {}
    for part in chunked(sorted(set(media_ids))):
        rows = session.execute(
            select(Occurrence.media_id, func.min(Occurrence.source_id))
            .where(Occurrence.media_id.in_(part))
            .group_by(Occurrence.media_id)
        )
        found.update({media_id: source_id for media_id, source_id in rows if media_id is not None})
    return found


def frame_times(session: Session, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], float]:
    """Seconds into the video of each (media_id, frame)."""
    wanted = {key for key in keys if key[1] > 0}
    found: dict[tuple[int, int], float] = {}
    for part in chunked(sorted({media_id for media_id, _ in wanted})):
        rows = session.execute(
            select(Frame.media_id, Frame.seq, Frame.ts).where(Frame.media_id.in_(part))
        )
        found.update({(m, s): ts for m, s, ts in rows if (m, s) in wanted})
    return found


def _signal_owners(session: Session, signal_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    owners: dict[int, tuple[int, int]] = {}
    for part in chunked(sorted(set(signal_ids))):
        rows = session.execute(
            select(Signal.id, Signal.media_id, Signal.frame).where(Signal.id.in_(part))
        )
        owners.update({sid: (media_id, frame) for sid, media_id, frame in rows})
    return owners


def best_per_media(links: Iterable[Link]) -> list[Link]:
    """The strongest link per (media, kind of link), strongest first."""
    best: dict[tuple[int, str], Link] = {}
    for link in links:
        key = (link.media_id, link.by)
        if key not in best or link.score > best[key].score:
            best[key] = link
    return sorted(best.values(), key=lambda link: -link.score)


class Linker:
    """The finders, bound to a session, the indexes and the settings."""

    def __init__(self, session: Session, indexes: Indexes, settings: Settings) -> None:
        self.session = session
        self.indexes = indexes
        self.settings = settings

    def _not_self(self, probe: Probe, links: Iterable[Link]) -> list[Link]:
        return [link for link in links if link.media_id != probe.media_id]

    # -- near duplicates ---------------------------------------------------------------------

    def pdq(self, probe: Probe) -> list[Link]:
        """PDQ within the threshold, any rotation or flip, pictures and video frames alike."""
        index = self.indexes.near.get("pdq")
        if index is None or not probe.pdq or len(index) == 0:
            return []
        threshold = self.settings.pdq_threshold
        flat: list[bytes] = []
        owner: list[int] = []
        for number, (_, values) in enumerate(probe.pdq):
            flat.extend(values)
            owner.extend([number] * len(values))
        hits = [h for h in index.search(flat, threshold) if h.ref > 0]
        owners = _signal_owners(self.session, {h.ref for h in hits})
        links = []
        for hit in hits:
            if hit.ref not in owners:
                continue
            media_id, frame = owners[hit.ref]
            query_frame = probe.pdq[owner[hit.query]][0]
            detail: dict[str, Any] = {"distance": hit.distance}
            if query_frame:
                detail["query_frame"] = query_frame
            links.append(Link(media_id, "pdq", 1.0 - hit.distance / 256.0, detail, frame))
        return best_per_media(self._not_self(probe, links))

    def _scene_candidates(
        self, probe: Probe, count: int
    ) -> list[tuple[int, list[tuple[int, float]]]]:
        """Per query frame: (signal id, cosine) of the nearest stored scene vectors."""
        index = self.indexes.scene
        if index is None or not probe.scene or len(index) == 0:
            return []
        queries = np.stack([vector for _, vector in probe.scene]).astype(np.float32)
        found = index.search(queries, count)
        return [
            (frame, [(hit.id, hit.score) for hit in hits])
            for (frame, _), hits in zip(probe.scene, found, strict=True)
        ]

    def _stored_features(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Candidate]:
        """The stored keypoints (and dense set) of each (media, frame) asked."""
        kind = get("keypoints")
        assert isinstance(kind, Keypoints)
        wanted = set(keys)
        found: dict[tuple[int, int], Candidate] = {}
        for part in chunked(sorted({media_id for media_id, _ in wanted})):
            rows = self.session.execute(
                select(Signal.media_id, Signal.frame, Signal.value, Signal.variants).where(
                    Signal.media_id.in_(part),
                    Signal.kind == kind.name,
                    Signal.version == kind.version,
                    Signal.model == kind.model,
                )
            )
            for media_id, frame, value, variants in rows:
                if (media_id, frame) in wanted:
                    found[(media_id, frame)] = stored_candidate(
                        bytes(value), bytes(variants) if variants else None
                    )
        return found

    def _voted_candidates(self, probe: Probe) -> dict[int, list[tuple[int, int]]]:
        """Per query frame: (keypoints signal id, votes) of the stored pictures whose own
        descriptors the query's hold (:class:`vident.index.features.FeatureIndex`)."""
        index = self.indexes.features
        if index is None or len(index) == 0:
            return {}
        return {
            frame: index.candidates(sets, VOTED_CANDIDATES)
            for frame, sets in probe.features
            if sets
        }

    def scene(self, probe: Probe, top: int = SCENE_CANDIDATES) -> list[Link]:
        """Scene-embedding neighbours and pictures voted for by their own keypoints, re-ranked
        by geometrically verified local features.

        A candidate whose features map onto the query with a consistent transform is the same
        picture cropped, turned, inside the query or holding it ("duplicate"), or the same
        place or object from another angle ("same_scene"); those rank above candidates that
        only look alike. The votes bring what the embedding cannot: a collage's or a
        screenshot's embedding is far from each picture it shows; a voted candidate that does
        not verify is left out (votes alone are no likeness).
        """
        from vident.match.geometry import rerank

        per_frame: dict[int, dict[int, float | None]] = {}
        for frame, near in self._scene_candidates(probe, max(top, SCENE_CANDIDATES)):
            per_frame.setdefault(frame, {}).update(near)
        for frame, voted in self._voted_candidates(probe).items():
            known = per_frame.setdefault(frame, {})
            for sid, _ in voted:
                known.setdefault(sid, None)
        if not per_frame:
            return []
        owners = _signal_owners(self.session, {sid for hits in per_frame.values() for sid in hits})
        stored = self._stored_features(owners.values())
        query_features = dict(probe.features)
        links: list[Link] = []
        for frame, hits in per_frame.items():
            priors: dict[tuple[int, int], float | None] = {}
            for sid, cosine in hits.items():
                if sid in owners:
                    key = owners[sid]
                    # A picture both voted for and near by embedding keeps its cosine.
                    if priors.get(key) is None:
                        priors[key] = cosine
            candidates = [
                (key, stored.get(key) or Candidate(LocalFeatures.empty()), prior or 0.0)
                for key, prior in priors.items()
            ]
            feats = query_features.get(frame, [])
            for (media_id, cand_frame), score, match in rerank(feats, candidates):
                cosine = priors[(media_id, cand_frame)]
                if cosine is None and match is None:
                    continue
                detail: dict[str, Any] = {}
                if cosine is not None:
                    detail["cosine"] = round(float(cosine), 4)
                else:
                    detail["found_by"] = "keypoint votes"
                if match is not None:
                    detail.update(match.detail())
                if frame:
                    detail["query_frame"] = frame
                links.append(Link(media_id, "scene", float(score), detail, cand_frame))
        return best_per_media(self._not_self(probe, links))

    def crops(self, probe: Probe) -> list[Link]:
        """Near duplicates PDQ misses (crops, small rotations): verified local features."""
        links = []
        for link in self.scene(probe):
            if link.detail.get("relation") == "duplicate":
                links.append(Link(link.media_id, "keypoints", link.score, link.detail, link.frame))
        return links

    # -- faces -------------------------------------------------------------------------------

    def faces(self, probe: Probe, top: int = FACE_CANDIDATES) -> list[Link]:
        """Stored faces closest to each face of the query (cosine of the face embeddings)."""
        index = self.indexes.face
        if index is None or not probe.faces or len(index) == 0:
            return []
        own = {face.face_id for face in probe.faces if face.face_id is not None}
        queries = np.stack([face.vector for face in probe.faces]).astype(np.float32)
        found = index.search(queries, top + len(own))
        face_ids = {hit.id for hits in found for hit in hits if hit.id not in own}
        rows = self._face_rows(face_ids)
        links = []
        for face, hits in zip(probe.faces, found, strict=True):
            for hit in hits:
                row = rows.get(hit.id)
                if row is None:
                    continue
                media_id, frame, box, person_id, quality = row
                detail: dict[str, Any] = {
                    "face_id": hit.id,
                    "box": box,
                    "quality": quality,
                    "query_box": [round(v) for v in face.box],
                    "query_quality": face.quality,
                    "person_id": person_id,
                }
                if face.frame:
                    detail["query_frame"] = face.frame
                links.append(Link(media_id, "face", float(hit.score), detail, frame))
        return best_per_media(self._not_self(probe, links))

    def _face_rows(
        self, face_ids: Iterable[int]
    ) -> dict[int, tuple[int, int, list[int], int | None, int | None]]:
        rows: dict[int, tuple[int, int, list[int], int | None, int | None]] = {}
        for part in chunked(sorted(set(face_ids))):
            for face_id, media_id, frame, x, y, w, h, person_id, quality in self.session.execute(
                select(
                    Face.id,
                    Face.media_id,
                    Face.frame,
                    Face.box_x,
                    Face.box_y,
                    Face.box_w,
                    Face.box_h,
                    Face.person_id,
                    Face.quality,
                ).where(Face.id.in_(part))
            ):
                rows[face_id] = (media_id, frame, [x, y, w, h], person_id, quality)
        return rows

    def person(self, probe: Probe) -> list[Link]:
        """Media with faces of the same person candidate (stored queries only)."""
        people = {face.person_id for face in probe.faces if face.person_id is not None}
        if not people:
            return []
        rows = self.session.execute(
            select(Face.media_id, Face.frame, Face.person_id, Face.assigned_by_analyst).where(
                Face.person_id.in_(sorted(people))
            )
        ).all()
        links = [
            Link(
                media_id,
                "person",
                1.0 if by_analyst else 0.9,
                {"person_id": person_id, "by_analyst": bool(by_analyst)},
                frame,
            )
            for media_id, frame, person_id, by_analyst in rows
        ]
        return best_per_media(self._not_self(probe, links))

    # -- video -------------------------------------------------------------------------------

    def video(self, probe: Probe) -> list[Link]:
        """Videos whose keyframes match the query's (vPDQ-style: share of frames matched)."""
        from vident.match.vpdq import compare

        if not probe.is_video:
            return []
        candidates = {
            link.media_id
            for link in self.pdq(probe)
            if link.frame > 0 or link.detail.get("query_frame")
        }
        query = [values[0] for frame, values in probe.pdq if frame > 0]
        stored = self._frame_hashes(candidates)
        links = []
        for media_id, hashes in stored.items():
            if media_id == probe.media_id:
                continue
            match = compare(query, hashes, distance=self.settings.pdq_threshold)
            detail = {
                "query_matched": round(match.query_matched, 3),
                "candidate_matched": round(match.candidate_matched, 3),
                "matched": match.matched,
            }
            score = max(match.query_matched, match.candidate_matched)
            links.append(Link(media_id, "vpdq", score, detail))
        return sorted(links, key=lambda link: -link.score)

    def _frame_hashes(self, media_ids: Sequence[int] | set[int]) -> dict[int, list[bytes]]:
        found: dict[int, list[bytes]] = {}
        for part in chunked(sorted(media_ids)):
            rows = self.session.execute(
                select(Signal.media_id, Signal.value, Signal.quality)
                .where(Signal.media_id.in_(part), Signal.kind == "pdq", Signal.frame > 0)
                .order_by(Signal.media_id, Signal.frame)
            )
            for media_id, value, quality in rows:
                if quality is None or quality >= self.settings.pdq_min_quality:
                    found.setdefault(media_id, []).append(bytes(value))
        return found
