"""The one query path for a file (match/probe.py): what ``search`` and ``similar`` compute."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import jpeg_bytes, write_jpeg
from vident.config import Limits
from vident.match.probe import Probe, absorb, describe_probe, probe_file, read_probe
from vident.media.errors import MediaError
from vident.media.image import decode_image
from vident.media.types import DecodedImage
from vident.signals.base import SignalValue
from vident.signals.keypoints import Keypoints
from vident.signals.registry import image_kinds

LIMITS = Limits()


def test_a_picture_gets_every_signal_and_its_digests(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "a.jpg", 5)
    data = path.read_bytes()
    probe = probe_file(path, LIMITS)
    assert probe.digests == {
        "md5": hashlib.md5(data).digest(),
        "sha1": hashlib.sha1(data).digest(),
        "sha256": hashlib.sha256(data).digest(),
    }
    assert probe.sha256 == probe.digests["sha256"] and probe.error is None
    assert probe.media_type == "image" and probe.mime == "image/jpeg"
    ((frame, values),) = probe.pdq
    assert frame == 0 and len(values) == 8 and len(set(values)) == 8
    ((_, vector),) = probe.scene
    assert vector.shape == (1280,) and float(np.linalg.norm(vector)) == pytest.approx(1, abs=1e-3)
    ((_, features),) = probe.features
    assert [f.mirrored for f in features][:2] == [False, True] and len(features[0]) >= 100
    assert probe.faces == [] and probe.exif is None  # a generated picture has no EXIF
    assert describe_probe(probe)["sha256"] == hashlib.sha256(data).hexdigest()


def test_kinds_limit_what_is_computed(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "a.jpg", 6)
    probe = probe_file(path, LIMITS, kinds=image_kinds(["pdq"]))
    assert probe.pdq and not probe.scene and not probe.features and not probe.text


def test_a_region_queries_that_part_only(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "a.jpg", 7)
    whole = probe_file(path, LIMITS, kinds=image_kinds(["pdq", "keypoints"]))
    part = probe_file(
        path, LIMITS, kinds=image_kinds(["pdq", "keypoints"]), region=(0, 0, 320, 240)
    )
    assert part.pdq[0][1][0] != whole.pdq[0][1][0]
    assert (part.features[0][1][0].width, part.features[0][1][0].height) == (320, 240)
    assert part.sha256 == whole.sha256  # the digests stay those of the file
    with pytest.raises(MediaError, match="lies outside the 640x480 picture"):
        probe_file(path, LIMITS, region=(700, 10, 5, 5))


def test_other_content_has_digests_and_no_error_but_is_no_query(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("a text, not a picture")
    probe = read_probe(path, LIMITS)
    assert probe.media_type == "other" and probe.error is None
    assert probe.digests["sha256"] == hashlib.sha256(path.read_bytes()).digest()
    assert not probe.pdq and not probe.scene
    with pytest.raises(MediaError, match=r"notes.txt is neither a picture nor a video \(text"):
        probe_file(path, LIMITS)


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("empty.jpg", b"", "empty.jpg is empty (0 bytes)"),
        ("notes.jpg", b"plain words", "named as image (.jpg) but the content is text/plain"),
        ("cut.jpg", jpeg_bytes(3)[:300], None),
    ],
)
def test_unreadable_content_is_an_error_with_the_digests_kept(
    tmp_path: Path, name: str, content: bytes, error: str | None
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    probe = read_probe(path, LIMITS)
    assert probe.error is not None and "\n" not in probe.error
    if error is not None:
        assert error in probe.error
    if content:
        assert probe.digests["md5"] == hashlib.md5(content).digest()
    assert not probe.pdq
    with pytest.raises(MediaError):
        probe_file(path, LIMITS)


def test_files_over_the_size_limit_are_not_read(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "a.jpg", 8)
    probe = read_probe(path, Limits(max_file_bytes=100))
    assert probe.error == "a.jpg is larger than the limit of 100 bytes" and not probe.digests


def test_absorb_skips_poor_pdq_and_reads_stored_features() -> None:
    image_value = Keypoints().compute(_decoded(9))
    poor = SignalValue("pdq", 1, bytes(32), quality=10, variants=(bytes([1] * 32),))
    good = SignalValue("pdq", 1, bytes([2] * 32), quality=90, variants=(bytes([3] * 32),))
    probe = Probe()
    absorb(probe, [poor, good, image_value], min_pdq_quality=50)
    assert probe.pdq == [(0, [bytes([2] * 32), bytes([3] * 32)])]
    ((frame, features),) = probe.features
    assert frame == 0 and [f.mirrored for f in features] == [False, True, False]


def _decoded(seed: int) -> DecodedImage:
    return decode_image(jpeg_bytes(seed), LIMITS)
