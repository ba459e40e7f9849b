"""The signal registry: unique names, careful parsing, and every kind keeps the interface."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import jpeg_bytes
from vident.config import Limits
from vident.media.image import decode_image
from vident.signals import registry
from vident.signals.base import (
    DigestSignal,
    ImageSignal,
    MatchRule,
    SignalKind,
    SignalValue,
    VectorSignal,
)
from vident.signals.digests import Md5
from vident.signals.pdq import Pdq


def test_names_are_unique_lower_case_and_found_in_any_case() -> None:
    names = [kind.name for kind in registry.SIGNAL_KINDS]
    assert len(names) == len(set(names))
    assert all(name == name.lower() and name.isidentifier() for name in names)
    for kind in registry.SIGNAL_KINDS:
        assert registry.get(kind.name) is kind
        assert registry.get(kind.name.upper()) is kind


def test_a_name_registered_twice_is_refused() -> None:
    with pytest.raises(RuntimeError, match="'md5' is registered twice"):
        registry._check_unique((Md5(), Pdq(), Md5()))


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="unknown signal kind 'crc32'; known: md5, sha1"):
        registry.get("crc32")


def test_parse_signal_names_cleans_orders_and_dedupes() -> None:
    assert registry.parse_signal_names(" PDQ , face,pdq,,") == ("pdq", "face")
    assert registry.parse_signal_names("") == ()
    every = ",".join(kind.name for kind in registry.image_kinds())
    assert registry.parse_signal_names(every) == tuple(k.name for k in registry.image_kinds())


@pytest.mark.parametrize(
    ("text", "unknown"),
    [("md5", "md5"), ("pdq,bogus", "bogus"), ("sha256, colour", "sha256, colour")],
)
def test_parse_signal_names_errors_say_what_is_valid(text: str, unknown: str) -> None:
    with pytest.raises(ValueError) as raised:
        registry.parse_signal_names(text)
    message = str(raised.value)
    assert message.startswith(f"unknown signal {unknown};")
    assert "choose from pdq, keypoints, scene, face, text" in message
    assert "hashes are always computed" in message
    assert "\n" not in message and "--" not in message


def test_kind_groups_follow_the_match_rule() -> None:
    assert [k.name for k in registry.digest_kinds()] == ["md5", "sha1", "sha256"]
    assert [k.name for k in registry.exact_kinds()] == ["md5", "sha1", "sha256"]
    assert [k.name for k in registry.near_kinds()] == ["pdq"]
    assert [k.name for k in registry.vector_kinds()] == ["scene", "face"]
    assert [k.name for k in registry.image_kinds(["text", "pdq"])] == ["pdq", "text"]
    assert registry.image_kinds([]) == ()


@pytest.mark.parametrize("kind", registry.SIGNAL_KINDS, ids=lambda kind: kind.name)
def test_every_kind_declares_the_interface(kind: SignalKind) -> None:
    assert isinstance(kind.version, int) and kind.version >= 1
    assert isinstance(kind.match, MatchRule)
    assert isinstance(kind, DigestSignal | ImageSignal)
    assert isinstance(kind.model, str)
    if kind.match is MatchRule.NEAR:
        assert kind.threshold > 0 and kind.value_bytes > 0
    if kind.match is MatchRule.EXACT:
        assert isinstance(kind, DigestSignal) and kind.threshold == 0


@pytest.mark.parametrize("kind", registry.digest_kinds(), ids=lambda kind: kind.name)
def test_every_digest_kind_hashes_like_hashlib(kind: DigestSignal) -> None:
    data = b"vident registry test"
    hasher = kind.new_hasher()
    hasher.update(data)
    digest = hasher.digest()
    assert digest == hashlib.new(kind.name, data).digest()
    assert len(digest) == kind.value_bytes
    assert kind.parse_hex(digest.hex().upper()) == digest


@pytest.mark.parametrize("kind", registry.image_kinds(), ids=lambda kind: kind.name)
def test_every_picture_kind_computes_a_value_of_its_own(kind: ImageSignal) -> None:
    image = decode_image(jpeg_bytes(11), Limits())
    value = kind.compute(image)
    assert isinstance(value, SignalValue)
    assert (value.kind, value.version, value.frame) == (kind.name, kind.version, 0)
    assert value.model == kind.model
    if kind.value_bytes:
        assert len(value.value) == kind.value_bytes
        assert all(len(variant) == kind.value_bytes for variant in value.variants)
    if isinstance(kind, VectorSignal):
        vectors = kind.vectors(value.value)
        assert vectors.ndim == 2 and vectors.shape[1] == kind.dim
    # The same picture gives the same value: stored values can be compared with queries.
    again = kind.compute(decode_image(jpeg_bytes(11), Limits()))
    assert again is not None and again.value == value.value
