"""The one place where signal kinds are registered.

Names are keys in the store and in exchanged files, so they are checked for uniqueness when
this module is imported.
"""

from __future__ import annotations

from collections.abc import Collection

from vident.signals.base import DigestSignal, ImageSignal, MatchRule, SignalKind, VectorSignal
from vident.signals.digests import Md5, Sha1, Sha256
from vident.signals.face import Face
from vident.signals.keypoints import Keypoints
from vident.signals.pdq import Pdq
from vident.signals.scene import Scene
from vident.signals.text import Text

SIGNAL_KINDS: tuple[SignalKind, ...] = (
    Md5(),
    Sha1(),
    Sha256(),
    Pdq(),
    Keypoints(),
    Scene(),
    Face(),
    Text(),
)


def _check_unique(kinds: tuple[SignalKind, ...]) -> dict[str, SignalKind]:
    by_name: dict[str, SignalKind] = {}
    for kind in kinds:
        if kind.name in by_name:
            raise RuntimeError(f"signal kind {kind.name!r} is registered twice")
        by_name[kind.name] = kind
    return by_name


_BY_NAME = _check_unique(SIGNAL_KINDS)


def get(name: str) -> SignalKind:
    """The kind called ``name``; KeyError names the known kinds."""
    try:
        return _BY_NAME[name.lower()]
    except KeyError:
        raise KeyError(f"unknown signal kind {name!r}; known: {', '.join(_BY_NAME)}") from None


def digest_kinds() -> tuple[DigestSignal, ...]:
    return tuple(k for k in SIGNAL_KINDS if isinstance(k, DigestSignal))


def image_kinds(names: Collection[str] | None = None) -> tuple[ImageSignal, ...]:
    """Picture kinds, in registry order; only those in ``names`` when given."""
    return tuple(
        k for k in SIGNAL_KINDS if isinstance(k, ImageSignal) and (names is None or k.name in names)
    )


def vector_kinds() -> tuple[VectorSignal, ...]:
    return tuple(k for k in SIGNAL_KINDS if isinstance(k, VectorSignal))


def parse_signal_names(text: str) -> tuple[str, ...]:
    """``"pdq,face"`` as registered picture kinds; ValueError names the valid ones.

    Digests are not listed: they are always computed, in the one read of each file.
    """
    valid = [k.name for k in image_kinds()]
    names = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise ValueError(
            f"unknown signal {', '.join(unknown)}; choose from {', '.join(valid)} "
            "(hashes are always computed)"
        )
    return names


def exact_kinds() -> tuple[SignalKind, ...]:
    return tuple(k for k in SIGNAL_KINDS if k.match is MatchRule.EXACT)


def near_kinds() -> tuple[SignalKind, ...]:
    return tuple(k for k in SIGNAL_KINDS if k.match is MatchRule.NEAR)
