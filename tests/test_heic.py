"""HEIC/HEIF and AVIF photos are read as pictures: typed, decoded upright, hashed, matched.

iPhones have written HEIC since 2017; a seizure's phone photos that vident could not decode
would get no PDQ, no faces, no scene, and never match known material. The test pictures are
generated (pillow-heif and Pillow write both formats).
"""

from __future__ import annotations

import io
import json
import multiprocessing
import struct
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from PIL import Image
from pillow_heif import register_heif_opener
from typer.testing import CliRunner

from tests.conftest import jpeg_bytes, write_jpeg
from vident.cli import app
from vident.config import Limits
from vident.ingest.records import ItemResult, WorkItem
from vident.ingest.worker import process_item
from vident.media.detect import sniff
from vident.media.errors import MediaError
from vident.media.image import decode_image
from vident.media.types import MediaType
from vident.signals.pdq import Pdq

runner = CliRunner()
_ORIENTATION, _MAKE, _MODEL = 0x0112, 0x010F, 0x0110


def encoded(fmt: str, seed: int, *, orientation: int | None = None) -> bytes:
    """A generated photo (640x480 as stored) in ``fmt``, with camera EXIF."""
    register_heif_opener()  # only to write; vident registers its own opener to read
    exif = Image.Exif()
    exif[_MAKE], exif[_MODEL] = "Apple", "iPhone 12"
    if orientation is not None:
        exif[_ORIENTATION] = orientation
    buffer = io.BytesIO()
    picture = Image.open(io.BytesIO(jpeg_bytes(seed, (640, 480))))
    picture.save(buffer, fmt, quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def pdq_distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + bytes(4) + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00\x00\x00\x08free"


@pytest.mark.parametrize(
    ("header", "mime"),
    [
        (ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (ftyp(b"heix", b"mif1", b"heix"), "image/heic"),
        (ftyp(b"mif1", b"mif1", b"heix"), "image/heic"),
        (ftyp(b"hevc", b"msf1", b"hevc"), "image/heic-sequence"),
        (ftyp(b"mif1", b"mif1"), "image/heif"),
        (ftyp(b"avif", b"avif", b"mif1"), "image/avif"),
        (ftyp(b"mif1", b"avif", b"mif1"), "image/avif"),
        (ftyp(b"miaf", b"miaf", b"avif"), "image/avif"),
        (ftyp(b"avis", b"avis", b"msf1"), "image/avif"),
    ],
)
def test_heif_brands_are_typed_as_pictures(header: bytes, mime: str) -> None:
    found = sniff(header)
    assert (found.media_type, found.mime) == (MediaType.IMAGE, mime)


def test_mp4_is_still_a_video() -> None:
    assert sniff(ftyp(b"isom", b"isom", b"mp42")).media_type is MediaType.VIDEO


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_decodes_like_the_jpeg_it_was_made_from(fmt: str) -> None:
    data = encoded(fmt, 3)
    decoded = decode_image(data, Limits())
    assert (decoded.width, decoded.height) == (640, 480)
    reference = Pdq().compute(decode_image(jpeg_bytes(3, (640, 480)), Limits()))
    value = Pdq().compute(decoded)
    assert value is not None and reference is not None
    assert pdq_distance(value.value, reference.value) <= 16


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_orientation_is_applied_once(fmt: str) -> None:
    # Stored sideways with Orientation 6 (as a phone held upright writes it).
    decoded = decode_image(encoded(fmt, 4, orientation=6), Limits())
    assert (decoded.width, decoded.height) == (480, 640)
    upright = Image.open(io.BytesIO(jpeg_bytes(4, (640, 480)))).transpose(
        Image.Transpose.ROTATE_270
    )
    buffer = io.BytesIO()
    upright.save(buffer, "JPEG", quality=95)
    reference = Pdq().compute(decode_image(buffer.getvalue(), Limits()))
    value = Pdq().compute(decoded)
    assert value is not None and reference is not None
    assert pdq_distance(value.value, reference.value) <= 16


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_pixel_limit_holds(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = encoded(fmt, 5)
    # decode_image sets Pillow's process-wide limit; put it back for the other tests.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    with pytest.raises(MediaError, match="decompression bomb"):
        decode_image(data, Limits(max_pixels=100_000))


def test_truncated_heic_is_a_one_line_error() -> None:
    data = encoded("HEIF", 6)
    with pytest.raises(MediaError) as caught:
        decode_image(data[: len(data) // 2], Limits())
    assert "\n" not in str(caught.value)


def test_ingest_worker_gets_pdq_and_camera_facts() -> None:
    data = encoded("HEIF", 7)
    result = process_item(WorkItem("IMG_0001.HEIC", size=len(data), data=data), Limits(), ["pdq"])
    assert result.error is None
    assert (result.media_type, result.mime) == (MediaType.IMAGE, "image/heic")
    assert (result.width, result.height) == (640, 480)
    assert "pdq" in {s.kind for s in result.signals}
    assert result.exif is not None
    assert (result.exif.make, result.exif.model) == ("Apple", "iPhone 12")


def _decode_in_fresh_process(data: bytes) -> ItemResult:
    return process_item(WorkItem("a.heic", size=len(data), data=data), Limits(), ["pdq"])


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_a_fresh_worker_process_reads_heic(method: str) -> None:
    # A forkserver or spawned worker imports vident afresh: the opener must come with it.
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        result = pool.submit(_decode_in_fresh_process, encoded("HEIF", 8)).result()
    assert result.error is None and "pdq" in {s.kind for s in result.signals}


def test_search_and_similar_find_the_jpeg_of_a_heic(tmp_path: Path) -> None:
    write_jpeg(tmp_path / "earlier" / "a.jpg", 9)
    data = tmp_path / "data"

    def vident(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["--data", str(data), *args])
        return result.exit_code, result.stdout, result.stderr

    assert vident("init")[0] == 0
    ingest = ("ingest", str(tmp_path / "earlier"), "--source", "E", "--signals", "pdq", "-q")
    assert vident(*ingest)[0] == 0
    photo = tmp_path / "IMG_0002.HEIC"
    photo.write_bytes(encoded("HEIF", 9))

    code, out, err = vident("search", str(photo), "--format", "json")
    assert code == 0, err
    found = json.loads(out)
    assert found["type"] == "image" and found["error"] is None
    assert found["verdict"] == "near"

    code, out, err = vident("similar", str(photo), "--by", "pdq", "--format", "json")
    assert code == 0, err
    results = json.loads(out)["results"]
    assert results and results[0]["path"] == "a.jpg"
