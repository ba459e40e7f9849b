"""The store's tables: the single source of truth (indexes are caches rebuilt from it).

Media are content-addressed by SHA-256: the same picture found in ten seizures is one ``Media``
and ten ``Occurrence`` rows. Every signal value lives in ``Signal`` under its kind's name and
version, so a new kind needs no new table. Hash sets imported from elsewhere keep their hashes
in ``HashSetHash`` the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vident.store.base import Base, utcnow

#: Longest signal value that exact lookups index (SHA-256 is 32 bytes, PDQ 32).
LOOKUP_BYTES = 64


class Case(Base):
    __tablename__ = "case_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Source(Base):
    """A seizure or exhibit: where a set of files came from."""

    __tablename__ = "source"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    origin: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="running")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    case: Mapped[Case | None] = relationship()


class Media(Base):
    """One distinct content. The picture itself is never stored: evidence stays where it is."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(8))
    mime: Mapped[str | None] = mapped_column(String(100))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)
    decode_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Occurrence(Base):
    """A file found in a source. Rows are also the ingest's record of finished work items.

    ``media_id`` is empty when the bytes could not be read at all; ``error`` then (or when the
    content could not be decoded) says why in one line.
    """

    __tablename__ = "occurrence"
    __table_args__ = (
        UniqueConstraint("source_id", "path_key"),
        Index("ix_occurrence_media_id", "media_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"))
    # A digest of ``path``: unique keys on long paths would break PostgreSQL's index row limit.
    path_key: Mapped[bytes] = mapped_column(LargeBinary(16))
    path: Mapped[str] = mapped_column(Text)
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"))
    error: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime: Mapped[float | None] = mapped_column(Float)
    ctime: Mapped[float | None] = mapped_column(Float)
    atime: Mapped[float | None] = mapped_column(Float)
    #: Found through a file system's record of a deleted file (inside a disk image): an
    #: analyst weighs such a file differently, and VICS exports say so.
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Signal(Base):
    """One value of one signal kind for one media or one keyframe (see :mod:`vident.signals`).

    ``frame`` is 0 for the media itself and n for keyframe n of a video (see :class:`Frame`),
    so a frame's PDQ or scene vector is found by the same lookups as a picture's, and leads
    back to its video. ``model`` names the model behind a learned value: values of different
    models are never compared, and a changed model adds rows beside the old ones.
    """

    __tablename__ = "signal"
    __table_args__ = (
        UniqueConstraint("media_id", "kind", "version", "model", "frame"),
        Index("ix_signal_kind_lookup", "kind", "lookup"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    quality: Mapped[int | None] = mapped_column(Integer)
    # Extra query values, concatenated (PDQ: the seven other rotations and flips).
    variants: Mapped[bytes | None] = mapped_column(LargeBinary)
    frame: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    model: Mapped[str] = mapped_column(String(96), default="", server_default="")
    # What the kind keeps besides the value (face boxes and landmarks, text lines).
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    #: The value again when it is short enough to look up (hashes), else NULL: the index on
    #: it stays small, where one on ``value`` would carry every embedding and keypoint set
    #: (and break PostgreSQL's limit on index rows).
    lookup: Mapped[bytes | None] = mapped_column(LargeBinary(LOOKUP_BYTES))


class Frame(Base):
    """A sampled frame of a video: where in the video a frame's signals were taken.

    Frames are sampled about once a second and each has a PDQ row (together they are the
    video's vPDQ-style hash list); keyframes, one per scene and capped per minute, also get
    every other picture signal.
    """

    __tablename__ = "frame"
    __table_args__ = (UniqueConstraint("media_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    #: 1-based, the ``frame`` of the keyframe's signal rows.
    seq: Mapped[int] = mapped_column(Integer)
    #: Seconds from the start of the video.
    ts: Mapped[float] = mapped_column(Float)
    keyframe: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Person(Base):
    """A person candidate: faces that clustering (or an analyst) says are one person.

    Nobody is named by the machine: ``label`` is the analyst's (a victim or offender code, or a
    name once identified). ``confirmed`` marks a cluster an analyst has checked.
    """

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(96))
    label: Mapped[str | None] = mapped_column(String(200))
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Face(Base):
    """One face found in a picture or keyframe, with its embedding from one face model.

    Rows are derived from the ``face`` signal of the same media and frame (its ``detail`` holds
    the boxes, its value the vectors) so that faces can be indexed, clustered and assigned.
    """

    __tablename__ = "face"
    __table_args__ = (
        UniqueConstraint("signal_id", "idx"),
        Index("ix_face_media_id", "media_id"),
        Index("ix_face_person_id", "person_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signal.id", ondelete="CASCADE"))
    #: Position of the face within its signal's value.
    idx: Mapped[int] = mapped_column(Integer)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    frame: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    model: Mapped[str] = mapped_column(String(96))
    box_x: Mapped[int] = mapped_column(Integer)
    box_y: Mapped[int] = mapped_column(Integer)
    box_w: Mapped[int] = mapped_column(Integer)
    box_h: Mapped[int] = mapped_column(Integer)
    landmarks: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    score: Mapped[float | None] = mapped_column(Float)
    quality: Mapped[int | None] = mapped_column(Integer)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    #: An analyst set this face's person (confirm, split, merge): clustering keeps it.
    assigned_by_analyst: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: An analyst said this is not a usable face: it joins no person.
    rejected: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class FaceLink(Base):
    """An analyst's constraint between two faces, kept when clustering runs again.

    ``same`` True is "must link", False is "cannot link". Two faces of one picture are never
    one person without any row here.
    """

    __tablename__ = "face_link"
    __table_args__ = (UniqueConstraint("face_a", "face_b"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The smaller face id first, so a pair has one row.
    face_a: Mapped[int] = mapped_column(ForeignKey("face.id", ondelete="CASCADE"))
    face_b: Mapped[int] = mapped_column(ForeignKey("face.id", ondelete="CASCADE"))
    same: Mapped[bool] = mapped_column(Boolean)
    actor: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MediaText(Base):
    """Text read from a picture or keyframe, searchable in full text.

    SQLite indexes it in the FTS5 table ``media_text_fts`` (kept in step by triggers);
    PostgreSQL in a GIN index on ``to_tsvector('simple', text)``. Both are made by the
    migration, outside these models.
    """

    __tablename__ = "media_text"
    __table_args__ = (Index("ix_media_text_media_id", "media_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signal.id", ondelete="CASCADE"), unique=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    frame: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    text: Mapped[str] = mapped_column(Text)


class Exif(Base):
    """Camera facts of a picture, as columns so they can be searched and linked."""

    __tablename__ = "exif"
    # Camera and place links query by model, by a GPS bounding box and by a time window.
    __table_args__ = (
        Index("ix_exif_make_model", "make", "model"),
        Index("ix_exif_gps", "gps_lat", "gps_lon"),
        Index("ix_exif_taken_at", "taken_at"),
    )

    media_id: Mapped[int] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), primary_key=True
    )
    make: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    body_serial: Mapped[str | None] = mapped_column(String(200), index=True)
    other_serials: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    lens: Mapped[str | None] = mapped_column(String(200))
    software: Mapped[str | None] = mapped_column(String(200))
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    gps_lat: Mapped[float | None] = mapped_column(Float)
    gps_lon: Mapped[float | None] = mapped_column(Float)


class HashSet(Base):
    """Known hashes imported from elsewhere (a national list, a VICS export, a CSV).

    ``status`` is the state of its last import: ``importing`` from the start until the whole
    file has been read (so a killed or failed import stays visible), ``incomplete`` when the
    file could not be read to its end, ``complete`` otherwise.
    """

    __tablename__ = "hashset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    origin: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="importing", server_default="complete")


class HashSetEntry(Base):
    """One known item of a hash set with what the set says about it."""

    __tablename__ = "hashset_entry"
    __table_args__ = (UniqueConstraint("hashset_id", "entry_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hashset_id: Mapped[int] = mapped_column(ForeignKey("hashset.id", ondelete="CASCADE"))
    # Digest of the entry's hashes: importing the same file twice adds nothing.
    entry_key: Mapped[bytes] = mapped_column(LargeBinary(16))
    category: Mapped[str | None] = mapped_column(String(64))
    category_scheme: Mapped[str | None] = mapped_column(String(32))
    series: Mapped[str | None] = mapped_column(String(200))
    victim_identified: Mapped[bool | None] = mapped_column(Boolean)
    offender_identified: Mapped[bool | None] = mapped_column(Boolean)
    #: Who identified the victim, where and when, as the record's owner says (peers send it).
    identified_by: Mapped[str | None] = mapped_column(String(200))
    is_distributed: Mapped[bool | None] = mapped_column(Boolean)
    tags: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    comment: Mapped[str | None] = mapped_column(Text)
    media_size: Mapped[int | None] = mapped_column(BigInteger)
    mime_type: Mapped[str | None] = mapped_column(String(100))
    files: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class HashSetHash(Base):
    """One hash of a hash-set entry, under a signal kind's name."""

    __tablename__ = "hashset_hash"
    __table_args__ = (
        Index("ix_hashset_hash_kind_value", "kind", "value"),
        Index("ix_hashset_hash_entry_id", "entry_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("hashset_entry.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[bytes] = mapped_column(LargeBinary)


class WellbeingSetting(Base):
    """How previews are veiled for one user, or an agency's default for its users.

    Exactly one of ``user_id`` and ``agency_id`` is set. A user without a row of their own
    gets their agency's row, and without that vident's default (greyscale, strong blur).
    """

    __tablename__ = "wellbeing_setting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), unique=True
    )
    agency_id: Mapped[int | None] = mapped_column(
        ForeignKey("agency.id", ondelete="CASCADE"), unique=True
    )
    #: Gaussian blur radius of a veiled preview at 320 px.
    blur: Mapped[int] = mapped_column(Integer)
    greyscale: Mapped[bool] = mapped_column(Boolean)
    #: Minutes of a session after which a break is suggested; 0: never.
    break_minutes: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
