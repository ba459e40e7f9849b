"""The store's table of ingest jobs: a seizure uploaded to the API and read in the background.

A job row is written before the upload's evidence file is final and updated as the ingest
advances, so ``vident serve`` can show progress and, after a restart, resume every job that was
queued or running (ingest itself is idempotent and resumes per file).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vident.store.base import Base, utcnow


class IngestJob(Base):
    """One uploaded seizure and the ingest that reads it into a source."""

    __tablename__ = "ingest_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    #: The file name the client gave (shown, never used as a path).
    filename: Mapped[str] = mapped_column(String(255))
    #: The encrypted evidence file, relative to the data directory.
    evidence: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(BigInteger)
    #: SHA-256 (hex) of the upload as received, before encryption.
    sha256: Mapped[str] = mapped_column(String(64))
    #: queued, running, done or failed.
    status: Mapped[str] = mapped_column(String(16), index=True)
    files_total: Mapped[int] = mapped_column(Integer, default=0)
    files_done: Mapped[int] = mapped_column(Integer, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
