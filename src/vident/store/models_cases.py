"""The store's investigation tables: who owns a case, series, victims and offenders, places,
clues, annotations and categorisation votes.

Field names follow ICSE and VICS where they have one (series, victim/offender identified,
category and its scheme). Personal details of a victim or offender are one encrypted value
(:mod:`vident.security.crypto`), bound to its row's code, so a copy of the database alone
names nobody.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
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
from sqlalchemy.orm import Mapped, mapped_column

from vident.store.base import Base, utcnow


class CaseOwner(Base):
    """The agency owning a case and how widely it is shared.

    A table beside ``case_file`` rather than new columns in it: cases made before agencies
    existed simply have no row (no owner, shared within the agency).
    """

    __tablename__ = "case_owner"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    #: agency, national or international.
    sharing: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(200))


class Series(Base):
    """Material showing the same victim(s) in the same abuse; the unit ICSE identifies."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: unidentified, victim_identified, offender_identified or closed.
    status: Mapped[str] = mapped_column(String(24))
    sharing: Mapped[str] = mapped_column(String(16))
    #: The owning agency; None for a series made by the local operator without one (seen by
    #: every user of the instance).
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SeriesMedia(Base):
    """A media that belongs to a series, who put it there and how (manual or suggestion)."""

    __tablename__ = "series_media"
    __table_args__ = (UniqueConstraint("series_id", "media_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"), index=True)
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    how: Mapped[str] = mapped_column(String(16))


class Subject(Base):
    """A victim or an offender (``kind``), known by a pseudonymous code such as V-2026-0001."""

    __tablename__ = "subject"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    identified: Mapped[bool] = mapped_column(Boolean, default=False)
    identified_by_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    #: ISO 3166-1 alpha-2 code of the country where the person was identified.
    identified_country: Mapped[str | None] = mapped_column(String(2))
    identified_on: Mapped[date | None] = mapped_column(Date)
    #: Name, birth year and notes as encrypted JSON (see vident.security.crypto); None: none.
    personal: Mapped[bytes | None] = mapped_column(LargeBinary)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    #: The agency that recorded the person; None for the local operator without one.
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SubjectSeries(Base):
    """A victim or offender seen in a series."""

    __tablename__ = "subject_series"

    subject_id: Mapped[int] = mapped_column(
        ForeignKey("subject.id", ondelete="CASCADE"), primary_key=True
    )
    series_id: Mapped[int] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SubjectMedia(Base):
    """A victim or offender seen in a media."""

    __tablename__ = "subject_media"

    subject_id: Mapped[int] = mapped_column(
        ForeignKey("subject.id", ondelete="CASCADE"), primary_key=True
    )
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"), primary_key=True, index=True)


class Location(Base):
    """A place material was made or that a clue points to."""

    __tablename__ = "location"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Clue(Base):
    """Something in a media that may lead to a place or a person (a logo, a text, a landmark),
    boxed in pixels, worked on by an agency until resolved."""

    __tablename__ = "clue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"), index=True)
    x: Mapped[int | None] = mapped_column(Integer)
    y: Mapped[int | None] = mapped_column(Integer)
    w: Mapped[int | None] = mapped_column(Integer)
    h: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Annotation(Base):
    """A note an analyst left on anything (a kind of target, the row's id, the text)."""

    __tablename__ = "annotation"
    __table_args__ = (Index("ix_annotation_target", "target_kind", "target_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CategoryVote(Base):
    """One analyst's category for a media under one scheme; a new vote replaces theirs."""

    __tablename__ = "category_vote"
    __table_args__ = (UniqueConstraint("media_id", "scheme", "voter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"), index=True)
    scheme: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(64))
    voter: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReviewMark(Base):
    """An analyst looked at a media: their agency's colleagues see that it was reviewed.

    One row per media and reviewer, with the agency the reviewer acted for (None for the
    local operator or a system administrator without one); a mark is shown to that agency
    only, so another agency's progress on shared material stays its own.
    """

    __tablename__ = "review_mark"
    __table_args__ = (UniqueConstraint("media_id", "reviewer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    agency_id: Mapped[int | None] = mapped_column(
        ForeignKey("agency.id", ondelete="CASCADE"), index=True
    )
    reviewer: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CategoryScheme(Base):
    """The category scheme an agency's analysts vote in from the triage grid's number keys.

    One row per agency that chose its own; an agency without one votes in vident's default
    (UK-CAID). ``categories`` is a list of ``[key, code, label]``: the number key ("0" to
    "9"), the category recorded with each vote, and what the grid's legend says.
    """

    __tablename__ = "category_scheme"

    agency_id: Mapped[int] = mapped_column(
        ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    name: Mapped[str] = mapped_column(String(32))
    categories: Mapped[list[Any]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
