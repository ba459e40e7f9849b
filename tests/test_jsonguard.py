"""The byte filter before the JSON parser: sound input passes untouched, bad tokens become markers.

Whatever the piece size, a document whose strings and numbers are within the limits must come
out byte for byte as it went in (the VICS reader depends on it); each over-long, undecodable or
lone-surrogate token must come out as a marker that names the problem, with the rest intact.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vident.exchange.jsonguard import MAX_NUMBER_CHARS, JsonGuard, marker_reason


def guarded(data: bytes, max_string: int, piece: int, read: int = 7) -> bytes:
    guard = JsonGuard(io.BytesIO(data), max_string, piece=piece)
    out = bytearray()
    while chunk := guard.read(read):
        out += chunk
    return bytes(out)


_text = st.text(
    st.sampled_from(["a", "b", '"', "\\", "é", "\n", "\u2028", "😀", " ", "\x00", "/"]),
    max_size=20,
)
_json: Any = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json, st.booleans(), st.sampled_from([None, 1]), st.sampled_from([1, 2, 3, 5, 64, 4096]))
def test_sound_documents_pass_byte_for_byte(
    value: Any, ascii_only: bool, indent: int | None, piece: int
) -> None:
    data = json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode()
    assert guarded(data, 1000, piece) == data


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 100, 4096, 65536])
def test_each_bad_token_becomes_a_marker_whatever_the_piece_size(piece: int) -> None:
    data = (
        b'{"long": "'
        + b'x\\"' * 400
        + b'", "ok": "fine\\\\", "num": '
        + b"9" * (MAX_NUMBER_CHARS + 1)
        + b', "n2": -1.5e10, "utf8": "\xff\xfe", "lone": "\\ud800", "pair": "\\ud83d\\ude00"'
        + b', "'
        + b"k" * 1200
        + b'": '
        + b"1" * MAX_NUMBER_CHARS
        + b"}"
    )
    value = json.loads(guarded(data, 1000, piece))
    reasons = {
        key[:4]: marker_reason(item, 1000) if isinstance(item, str) else item
        for key, item in value.items()
    }
    assert reasons == {
        "long": "a text value longer than 1000 bytes",
        "ok": None,
        "num": f"a number longer than {MAX_NUMBER_CHARS} characters",
        "n2": -1.5e10,
        "utf8": "text that is not valid UTF-8",
        "lone": "text with an escaped lone surrogate (\\ud800 to \\udfff), which is not Unicode",
        "pair": None,
        "ssss": int("1" * MAX_NUMBER_CHARS),  # the over-long key became a marker
    }
    assert value["pair"] == "😀" and value["ok"] == "fine\\"
    long_key = next(key for key in value if key.startswith("s"))
    assert marker_reason(long_key, 1000) == "a text value longer than 1000 bytes"


def test_a_huge_string_is_never_held(tmp_path: Any) -> None:
    """A 20 MB string passes as a marker of max_string + 1 characters, read piece by piece."""
    data = b'["' + b"z" * (20 * 1024 * 1024) + b'", 1]'
    guard = JsonGuard(io.BytesIO(data), 100)
    sizes = []
    while chunk := guard.read(1 << 20):
        sizes.append(len(chunk))
    assert max(sizes) <= 64 * 1024 + 200
    assert json.loads(guarded(data, 100, 65536)) == ["s" * 101, 1]


def test_truncated_input_stays_truncated() -> None:
    for data in (b'{"a": "abc', b'{"a": 123', b'{"a": "ab\\', b'{"a": "' + b"x" * 5000):
        out = guarded(data, 1000, 3)
        with pytest.raises(json.JSONDecodeError):
            json.loads(out)
