"""What one vident instance tells another about a media: hashes and facts, never pictures.

A :class:`PeerRecord` is the unit of exchange online (push, pull, match answers) and in
bundle files. It names the instance whose material it is (``origin``), the media's SHA-256
there (``key``), the origin's revision of it, the sharing level it travels at, and either its
hashes and facts or ``deleted``. Everything a peer sends is hostile until checked: the models
below bound every string and list, accept only hex of the right length for each hash kind and
forbid unknown fields, so a record that passes can be stored as it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

#: The sharing levels that leave an instance, narrowest first (``agency`` never leaves).
LEVELS = ("national", "international")
#: Hash kinds that travel, with their length in bytes. Embeddings, faces, keypoints and text
#: never leave the instance.
HASH_BYTES = {"md5": 16, "sha1": 20, "sha256": 32, "pdq": 32}
#: Records in one message or bundle chunk; a push of a million is many messages.
BATCH = 1000
#: Alerts one record carries at most.
MAX_ALERTS = 64
#: Frame hashes (PDQ of the sampled frames, vPDQ) one video record carries at most.
MAX_FRAMES = 1024

InstanceName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Level = Literal["national", "international"]
ShortText = Annotated[str, StringConstraints(max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


AlertRef = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}:[0-9]{1,18}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class AlertFacts(_Strict):
    """An alert watching the record's hashes: whose, and whom to call."""

    ref: AlertRef
    label: ShortText
    agency: ShortText | None = None
    country: Country | None = None
    contact: ShortText | None = None


class HitFacts(_Strict):
    """An alert of instance ``to`` was hit by ``agency``: sent back to the alert's owner."""

    alert: AlertRef
    label: ShortText
    to: InstanceName
    agency: ShortText
    country: Country | None = None
    contact: ShortText | None = None
    kind: Literal["md5", "sha1", "sha256", "pdq"]
    value: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32,64}$")]
    at: datetime


class Facts(_Strict):
    """What the origin says of the media: its series, category and identification."""

    series: ShortText | None = None
    category: Annotated[str, StringConstraints(max_length=64)] | None = None
    category_scheme: Annotated[str, StringConstraints(max_length=32)] | None = None
    victim_identified: bool = False
    offender_identified: bool = False
    #: "victim identified by <agency>, <country>, <date>" as the origin recorded it.
    identified_by: ShortText | None = None
    #: The owning agency and its country: whom to contact about the material.
    agency: ShortText | None = None
    country: Country | None = None
    #: The owning case's name, only when the case itself is shared at the record's level.
    case: ShortText | None = None
    media_type: Annotated[str, StringConstraints(max_length=8)] | None = None
    size: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = None
    #: Alerts watching these hashes (the first :data:`MAX_ALERTS` set).
    alerts: list[AlertFacts] = Field(default_factory=list, max_length=MAX_ALERTS)


class PeerRecord(_Strict):
    """One media of ``origin`` as shared with peers, or its withdrawal (``deleted``)."""

    origin: InstanceName
    key: Hex64
    revision: Annotated[int, Field(ge=1, le=2**63 - 1)]
    level: Level
    deleted: bool = False
    hashes: dict[str, str] = Field(default_factory=dict, max_length=len(HASH_BYTES))
    facts: Facts = Field(default_factory=Facts)
    #: A video's frame hashes (PDQ, hex): compared as a bag, vPDQ-style.
    frames: list[Hex64] = Field(default_factory=list, max_length=MAX_FRAMES)
    #: Set on the record of an alert hit (then ``hashes`` and ``facts`` are empty).
    hit: HitFacts | None = None

    @field_validator("hashes")
    @classmethod
    def _known_hashes(cls, hashes: dict[str, str]) -> dict[str, str]:
        for kind, value in hashes.items():
            size = HASH_BYTES.get(kind)
            if size is None:
                raise ValueError(f"hash kind {kind[:20]!r} does not travel between instances")
            if len(value) != 2 * size or value.strip("0123456789abcdef"):
                raise ValueError(f"{kind} must be {2 * size} lowercase hex digits")
        return hashes

    def hash_bytes(self) -> dict[str, bytes]:
        return {kind: bytes.fromhex(value) for kind, value in self.hashes.items()}


class RecordBatch(_Strict):
    """A message of records: pushed to a peer, answered to a pull, or one bundle chunk."""

    records: list[PeerRecord] = Field(max_length=BATCH)
    #: The sender's last ``seq`` in this batch (a pull's next cursor).
    upto: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    #: Whether the sender holds more records past ``upto`` for this peer.
    more: bool = False


def reaches(level: str, reach: str) -> bool:
    """Whether material shared at ``level`` may go to a peer of ``reach``."""
    if level not in LEVELS or reach not in LEVELS:
        return False
    return LEVELS.index(level) >= LEVELS.index(reach)


def widest(a: str, b: str) -> str:
    """The wider of two sharing levels."""
    return a if LEVELS.index(a) >= LEVELS.index(b) else b
