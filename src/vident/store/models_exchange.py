"""The store's interconnect tables: peers, the messages seen from them, and what is shared.

Between vident instances travel hashes and facts, never pictures. ``shared_record`` is the
one list of what this instance offers its peers: records of its own material that a case or
series shares beyond the agency (published from the store), and records received from peers
(relayed on, never back to where they came from). Each change takes the next ``seq``, so a
peer's cursor is one number and exchange is incremental, idempotent and resumable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
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


class Peer(Base):
    """Another vident instance: where it answers, its public keys, and both cursors.

    ``role`` is ``hub`` (this instance pushes to it and pulls from it) or ``national`` (it
    pushes and pulls here). ``reach`` is the narrowest sharing level it may receive:
    ``international`` peers get only international material, ``national`` peers national and
    international. ``push_cursor`` is the last of our ``seq`` the peer acknowledged,
    ``pull_cursor`` the last of its ``seq`` applied here.
    """

    __tablename__ = "peer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(Text)
    signing_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealing_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    role: Mapped[str] = mapped_column(String(16))
    reach: Mapped[str] = mapped_column(String(16))
    #: Whether the peer may pull, push and query here (the allow-list).
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    push_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    pull_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The last of our ``seq`` written into a bundle file for the peer.
    bundle_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    added_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_contact: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class PeerMessage(Base):
    """A message (request or bundle) taken from a peer, by its nonce: seen twice is a replay."""

    __tablename__ = "peer_message"
    __table_args__ = (UniqueConstraint("peer_id", "nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peer.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class SharedRecord(Base):
    """One media as this instance shares it: its hashes and facts, at a sharing level.

    ``origin`` is the instance whose material it is, ``key`` its SHA-256 there. ``revision``
    is the origin's ``seq`` when the record last changed there: a copy arriving late (an old
    bundle, a resent batch) never overwrites a newer one. ``widest`` is the widest level the
    record ever had, so a peer that could have received it learns of its withdrawal.
    """

    __tablename__ = "shared_record"
    __table_args__ = (UniqueConstraint("origin", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    origin: Mapped[str] = mapped_column(String(64))
    key: Mapped[bytes] = mapped_column(LargeBinary(32))
    level: Mapped[str] = mapped_column(String(16))
    widest: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Whether an alert watches this record's hashes (so alert scans read only these).
    alerted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The peer it came from; None for this instance's own material.
    received_from: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @classmethod
    def live(
        cls,
        seq: int,
        origin: str,
        key: bytes,
        level: str,
        revision: int,
        payload: dict[str, Any],
        received_from: str | None,
        now: datetime,
    ) -> SharedRecord:
        """A live row first seen at ``level`` (published here, received, or an alert hit)."""
        return cls(
            seq=seq,
            origin=origin,
            key=key,
            level=level,
            widest=level,
            revision=revision,
            deleted=False,
            alerted=cls.watched(payload),
            payload=payload,
            received_from=received_from,
            updated_at=now,
        )

    @staticmethod
    def watched(payload: dict[str, Any]) -> bool:
        """Whether a payload carries alerts (the ``alerted`` column)."""
        return bool(payload.get("facts", {}).get("alerts"))


class SharedHash(Base):
    """One hash of a live shared record: what remote matching looks up."""

    __tablename__ = "shared_hash"
    __table_args__ = (Index("ix_shared_hash_kind_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("shared_record.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[bytes] = mapped_column(LargeBinary)


class ExchangeState(Base):
    """Small named values of the exchange (the store generation last published)."""

    __tablename__ = "exchange_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Alert(Base):
    """An agency asks to be told when material turns up elsewhere: a series' media or hashes.

    The alert is itself a sharing decision: its hashes travel to peers at ``sharing`` (without
    the series' name unless the series is shared too), so a seizure on any connected instance
    can hit it.
    """

    __tablename__ = "alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(200))
    sharing: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertHash(Base):
    """A hash an alert watches for (besides its series' media)."""

    __tablename__ = "alert_hash"
    __table_args__ = (Index("ix_alert_hash_kind_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[bytes] = mapped_column(LargeBinary)


class AlertHit(Base):
    """An alert was hit: which alert (``origin:id``), by whom, on which hash; never a picture.

    Kept at both ends: the owner's instance is told (``owner`` is this instance), the hitting
    instance keeps what it sent. ``seen_at`` is when the owner's analysts acknowledged it.
    """

    __tablename__ = "alert_hit"
    __table_args__ = (UniqueConstraint("alert_ref", "hit_instance", "hit_agency", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_ref: Mapped[str] = mapped_column(String(100))
    #: The alert's row here when this instance owns it.
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert.id", ondelete="SET NULL"), index=True
    )
    label: Mapped[str] = mapped_column(String(200))
    owner_instance: Mapped[str] = mapped_column(String(64))
    owner_agency: Mapped[str | None] = mapped_column(String(200))
    hit_instance: Mapped[str] = mapped_column(String(64))
    hit_agency: Mapped[str] = mapped_column(String(200))
    hit_country: Mapped[str | None] = mapped_column(String(2))
    hit_contact: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[bytes] = mapped_column(LargeBinary)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
