"""The signal interface: one class per hash or embedding kind.

A signal kind says what it applies to, how it is computed, how two values compare and which
threshold makes a match. The store keeps values under the kind's ``name`` and ``version``;
the matcher and the index read only this interface, so adding a kind is one class here plus
one line in :mod:`vident.signals.registry`.
"""

from __future__ import annotations

import enum
import hashlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from vident.media.types import DecodedImage, MediaType

_HEX_DIGITS = re.compile(r"[0-9a-f]+")


class MatchRule(enum.StrEnum):
    """How values of a kind are compared: equality, or a distance under a threshold."""

    EXACT = "exact"
    NEAR = "near"
    #: Float vectors compared by cosine similarity (faces, scenes): a vector index finds them.
    VECTOR = "vector"
    #: Stored to verify or explain candidates found by other kinds, never indexed on its own
    #: (local features, recognised text).
    STORED = "stored"


@dataclass(frozen=True, slots=True)
class SignalValue:
    """One computed value of one kind for one media.

    ``variants`` holds further values used only when querying (for PDQ: the hashes of the
    seven other rotations and flips, so a rotated copy still finds its original).
    ``frame`` is 0 for the media itself and n for keyframe n of a video. ``model`` names the
    model that produced the value (empty for hashes): values of different models are never
    compared. ``detail`` is JSON the kind needs besides the value (face boxes, text lines).
    """

    kind: str
    version: int
    value: bytes
    quality: int | None = None
    variants: tuple[bytes, ...] = ()
    frame: int = 0
    model: str = ""
    detail: dict[str, Any] | None = None


class InvalidSignalValue(ValueError):
    """A textual hash that is not a valid value of its kind."""


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class SignalKind(ABC):
    """What every kind declares. Subclass :class:`DigestSignal` or :class:`ImageSignal`."""

    name: ClassVar[str]
    version: ClassVar[int]
    applies_to: ClassVar[frozenset[MediaType]]
    match: ClassVar[MatchRule]
    value_bytes: ClassVar[int]
    threshold: ClassVar[int] = 0
    min_quality: ClassVar[int] = 0

    @property
    def model(self) -> str:
        """The model behind the values ("" for hashes); stored with each value."""
        return ""

    def parse_hex(self, text: str) -> bytes:
        """Parse a hex string (any case, surrounding space ignored) into a stored value."""
        cleaned = text.strip().lower()
        if len(cleaned) != self.value_bytes * 2:
            raise InvalidSignalValue(
                f"{self.name} needs {self.value_bytes * 2} hex digits, got {len(cleaned)}"
            )
        # bytes.fromhex skips inner spaces, which would store a shorter value that never
        # matches; only hex digits are accepted.
        if not _HEX_DIGITS.fullmatch(cleaned):
            raise InvalidSignalValue(f"{self.name} value is not hexadecimal: {text[:80]!r}")
        return bytes.fromhex(cleaned)

    def to_hex(self, value: bytes) -> str:
        return value.hex()

    def distance(self, a: bytes, b: bytes) -> int:
        """Bits that differ between two values (0 means identical)."""
        return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()

    def matches(self, a: bytes, b: bytes, threshold: int | None = None) -> bool:
        limit = self.threshold if threshold is None else threshold
        if self.match is MatchRule.EXACT:
            return a == b
        return self.distance(a, b) <= limit


class DigestSignal(SignalKind):
    """A cryptographic digest of the file's bytes, computed in the single read of the file."""

    match = MatchRule.EXACT
    applies_to = frozenset(MediaType)
    algorithm: ClassVar[str]

    def new_hasher(self) -> Hasher:
        return hashlib.new(self.algorithm)


class ImageSignal(SignalKind):
    """A value computed from the decoded picture."""

    applies_to = frozenset({MediaType.IMAGE})

    @abstractmethod
    def compute(self, image: DecodedImage) -> SignalValue | None:
        """The value for this picture, or None where the kind cannot say anything."""


class VectorSignal(ImageSignal):
    """A learned embedding: float vectors compared by cosine similarity.

    A value holds zero or more vectors (a picture has one scene vector, any number of faces);
    :meth:`vectors` unpacks them, L2-normalised, as ``float32`` rows.
    """

    match = MatchRule.VECTOR
    value_bytes = 0
    #: Cosine similarity at or above which two vectors are a link worth an analyst's look.
    min_similarity: ClassVar[float] = 0.9

    @property
    @abstractmethod
    def model(self) -> str:
        """The identity of the model in use (name and version, or a file digest)."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of one vector."""

    def vectors(self, value: bytes) -> npt.NDArray[np.float32]:
        """The value's vectors, shape (n, dim)."""
        return np.frombuffer(value, dtype=np.float32).reshape(-1, self.dim)

    def similarity(self, a: bytes, b: bytes) -> float:
        """Best cosine similarity between any vector of ``a`` and any of ``b``."""
        va, vb = self.vectors(a), self.vectors(b)
        if not len(va) or not len(vb):
            return 0.0
        return float((va @ vb.T).max())


def split_variants(value: bytes, variants: bytes | None) -> list[bytes]:
    """A stored value and its query variants (rotations, flips), which are kept concatenated."""
    size = len(value)
    extra = bytes(variants or b"")
    return [value] + [extra[i : i + size] for i in range(0, len(extra), size)]
