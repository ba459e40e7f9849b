"""What is known about one query: a file from outside, or a media already in the store.

``vident similar FILE`` and ``vident related SHA256`` ask the same questions of different
inputs. A :class:`Probe` holds the answers to "what does it look like" in one shape (PDQ
values with their rotations, scene vectors, local features, faces, text, camera facts),
per frame for a video, so that every finder in :mod:`vident.match.links` serves both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.config import Limits
from vident.media.detect import claimed_type, sniff
from vident.media.errors import MediaError
from vident.media.exif import read_exif
from vident.media.image import crop_region, decode_image
from vident.media.types import DecodedImage, ExifFacts, MediaType
from vident.signals.base import ImageSignal, SignalValue, VectorSignal, split_variants
from vident.signals.compute import compute_image_signals
from vident.signals.keypoints import LocalFeatures
from vident.signals.registry import digest_kinds, get, image_kinds
from vident.store.models import Exif, Face, Media, Signal

Vector = npt.NDArray[np.float32]
Region = tuple[int, int, int, int]


@dataclass(slots=True)
class ProbeFace:
    """One face of the query; ``face_id`` and ``person_id`` are set for stored media."""

    frame: int
    vector: Vector
    box: list[float]
    face_id: int | None = None
    person_id: int | None = None
    quality: int | None = None


@dataclass(slots=True)
class Probe:
    """The query's signals, each tagged with its frame (0 for a picture)."""

    sha256: bytes | None = None
    #: Every exact hash of the file (md5, sha1, sha256), for lookups in hash sets and media.
    digests: dict[str, bytes] = field(default_factory=dict)
    #: Why the file's content could not be read (its digests may still match known material).
    error: str | None = None
    media_id: int | None = None
    media_type: str = MediaType.IMAGE.value
    mime: str | None = None
    pdq: list[tuple[int, list[bytes]]] = field(default_factory=list)
    scene: list[tuple[int, Vector]] = field(default_factory=list)
    features: list[tuple[int, list[LocalFeatures]]] = field(default_factory=list)
    faces: list[ProbeFace] = field(default_factory=list)
    text: list[tuple[int, str]] = field(default_factory=list)
    exif: ExifFacts | None = None

    @property
    def is_video(self) -> bool:
        return self.media_type == MediaType.VIDEO.value


def absorb(probe: Probe, signals: Sequence[SignalValue], min_pdq_quality: int) -> None:
    """Sort computed or stored signal values into the probe's fields."""
    for value in signals:
        if value.kind == "pdq":
            if value.quality is None or value.quality >= min_pdq_quality:
                variants = b"".join(value.variants) if value.variants else None
                probe.pdq.append((value.frame, split_variants(value.value, variants)))
        elif value.kind == "keypoints":
            from vident.match.geometry import stored_query_features

            # The stored value and its mirrored variant: a flipped crop is found too.
            features = stored_query_features(value.value, b"".join(value.variants))
            if features:
                probe.features.append((value.frame, features))
        elif value.kind == "text":
            text = value.value.decode("utf-8", "replace").strip()
            if text:
                probe.text.append((value.frame, text))
        elif value.kind == "face":
            kind = get("face")
            assert isinstance(kind, VectorSignal)
            faces = (value.detail or {}).get("faces", [])
            for vector, face in zip(kind.vectors(value.value), faces, strict=False):
                probe.faces.append(
                    ProbeFace(
                        value.frame,
                        np.asarray(vector),
                        list(face["box"]),
                        quality=face.get("quality"),
                    )
                )
        else:
            kind = get(value.kind)
            if isinstance(kind, VectorSignal):
                vectors = kind.vectors(value.value)
                if len(vectors):
                    probe.scene.append((value.frame, np.asarray(vectors[0])))


def probe_file(
    path: Path,
    limits: Limits,
    *,
    kinds: Sequence[ImageSignal] | None = None,
    region: Region | None = None,
    min_pdq_quality: int = 50,
) -> Probe:
    """Compute the query's signals from a file that need not be in the store.

    Raises :class:`MediaError` when the file is not a readable picture or video; see
    :func:`read_probe` for a query that keeps the file's hashes whatever its content.
    """
    probe = read_probe(path, limits, kinds=kinds, region=region, min_pdq_quality=min_pdq_quality)
    if probe.error is not None:
        raise MediaError(probe.error)
    if probe.media_type == MediaType.OTHER.value:
        found = probe.mime or "data"
        raise MediaError(f"{path.name} is neither a picture nor a video ({found})")
    return probe


def read_probe(
    path: Path,
    limits: Limits,
    *,
    kinds: Sequence[ImageSignal] | None = None,
    region: Region | None = None,
    min_pdq_quality: int = 50,
) -> Probe:
    """The query of one file: its exact hashes always, its picture or video signals if it has any.

    This is the one way a file from outside becomes a query, for ``similar`` and ``search``
    alike, so both find what triage finds for the same file once ingested. A picture's local
    features are computed query-side (with its mirror image, so flipped copies are found too);
    ``region`` restricts every signal of a picture to the box. Content that cannot be read
    leaves ``error`` set and the digests in place: a damaged copy of known material is known.
    A file that is neither picture nor video has its digests alone, and no error (as ingest).
    """
    from vident.match.geometry import query_features

    chosen = tuple(kinds) if kinds is not None else image_kinds()
    if path.stat().st_size > limits.max_file_bytes:
        return Probe(
            media_type=MediaType.OTHER.value,
            error=f"{path.name} is larger than the limit of {limits.max_file_bytes} bytes",
        )
    data = path.read_bytes()
    if not data:
        return Probe(media_type=MediaType.OTHER.value, error=f"{path.name} is empty (0 bytes)")
    hashers = {kind.name: kind.new_hasher() for kind in digest_kinds()}
    for hasher in hashers.values():
        hasher.update(data)
    digests = {name: hasher.digest() for name, hasher in hashers.items()}
    sniffed = sniff(data[:8192])
    probe = Probe(
        sha256=digests.get("sha256"),
        digests=digests,
        media_type=sniffed.media_type.value,
        mime=sniffed.mime,
    )
    claimed = claimed_type(path.name)
    if claimed is not None and claimed is not sniffed.media_type:
        # As ingest says it: a picture name on other content is a finding of its own.
        content = sniffed.mime or "unrecognised data"
        probe.error = f"named as {claimed.value} ({path.suffix}) but the content is {content}"
        return probe
    try:
        if sniffed.media_type is MediaType.IMAGE:
            probe.exif = read_exif(data)
            decoded: DecodedImage = decode_image(data, limits)
            if region is not None:
                decoded = crop_region(decoded, region)
            plain = [k for k in chosen if k.name != "keypoints"]
            absorb(probe, compute_image_signals(decoded, plain), min_pdq_quality)
            if any(k.name == "keypoints" for k in chosen):
                probe.features.append((0, query_features(decoded)))
        elif sniffed.media_type is MediaType.VIDEO:
            if region is not None:
                raise MediaError("a region applies to pictures, not to videos")
            from vident.signals.video import video_signals

            found = video_signals(data, limits, chosen)
            absorb(probe, found.signals, min_pdq_quality)
    except MediaError as exc:
        probe.error = str(exc)
    return probe


def probe_media(session: Session, sha256: bytes, min_pdq_quality: int = 50) -> Probe:
    """The stored signals of one media, found by its SHA-256."""
    media = session.execute(
        select(Media.id, Media.media_type).where(Media.sha256 == sha256)
    ).one_or_none()
    if media is None:
        raise LookupError(f"no media with SHA-256 {sha256.hex()} in the store")
    media_id, media_type = media
    probe = Probe(sha256=sha256, media_id=media_id, media_type=media_type)
    rows = session.execute(
        select(
            Signal.kind,
            Signal.version,
            Signal.model,
            Signal.value,
            Signal.quality,
            Signal.variants,
            Signal.frame,
            Signal.detail,
        ).where(Signal.media_id == media_id, Signal.kind.not_in(["md5", "sha1", "sha256", "face"]))
    ).all()
    values: list[SignalValue] = []
    for kind, version, model, value, quality, variants, frame, detail in rows:
        if not _current(kind, version, model):
            continue
        size = len(value)
        extra = bytes(variants or b"")
        values.append(
            SignalValue(
                kind=kind,
                version=version,
                value=bytes(value),
                quality=quality,
                variants=tuple(extra[i : i + size] for i in range(0, len(extra), size or 1)),
                frame=frame,
                model=model,
                detail=detail,
            )
        )
    absorb(probe, values, min_pdq_quality)
    probe.faces.extend(_stored_faces(session, media_id))
    exif = session.get(Exif, media_id)
    if exif is not None:
        probe.exif = ExifFacts(
            make=exif.make,
            model=exif.model,
            body_serial=exif.body_serial,
            other_serials=dict(exif.other_serials or {}),
            lens=exif.lens,
            software=exif.software,
            taken_at=exif.taken_at,
            gps_lat=exif.gps_lat,
            gps_lon=exif.gps_lon,
        )
    return probe


def _current(kind: str, version: int, model: str) -> bool:
    """Only values of the kind's present version and model are compared."""
    try:
        registered = get(kind)
    except KeyError:
        return False
    return registered.version == version and registered.model == model


def _stored_faces(session: Session, media_id: int) -> list[ProbeFace]:
    kind = get("face")
    rows = session.execute(
        select(Face.id, Face.frame, Face.embedding, Face.box_x, Face.box_y, Face.box_w, Face.box_h)
        .add_columns(Face.person_id, Face.quality)
        .where(Face.media_id == media_id, Face.model == kind.model)
        .order_by(Face.id)
    ).all()
    faces: list[ProbeFace] = []
    for face_id, frame, embedding, x, y, w, h, person_id, quality in rows:
        vector = np.frombuffer(bytes(embedding), dtype=np.float32)
        faces.append(ProbeFace(frame, vector, [x, y, w, h], face_id, person_id, quality))
    return faces


def describe_probe(probe: Probe) -> dict[str, Any]:
    """A short account of the query for JSON output."""
    return {
        "sha256": probe.sha256.hex() if probe.sha256 else None,
        "type": probe.media_type,
        "faces": len(probe.faces),
        "frames": len({frame for frame, _ in probe.pdq}) if probe.is_video else None,
        "text": " / ".join(text for _, text in probe.text)[:200] or None,
    }
