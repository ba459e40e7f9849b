"""The one place where signal kinds are registered.

Names are keys in the store and in exchanged files, so they are checked for uniqueness when
this module is imported.
"""

from __future__ import annotations

from vident.signals.base import DigestSignal, ImageSignal, MatchRule, SignalKind
from vident.signals.digests import Md5, Sha1, Sha256
from vident.signals.pdq import Pdq

SIGNAL_KINDS: tuple[SignalKind, ...] = (
    Md5(),
    Sha1(),
    Sha256(),
    Pdq(),
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


def image_kinds() -> tuple[ImageSignal, ...]:
    return tuple(k for k in SIGNAL_KINDS if isinstance(k, ImageSignal))


def exact_kinds() -> tuple[SignalKind, ...]:
    return tuple(k for k in SIGNAL_KINDS if k.match is MatchRule.EXACT)


def near_kinds() -> tuple[SignalKind, ...]:
    return tuple(k for k in SIGNAL_KINDS if k.match is MatchRule.NEAR)
