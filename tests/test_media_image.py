"""decode_image: draft decoding, orientation, every colour mode, and clean failures."""

from __future__ import annotations

import contextlib
import csv
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from tests.helpers_media import CORPUS, encode, photo_like
from vident.config import Limits
from vident.media.errors import MediaError
from vident.media.image import decode_image
from vident.signals.pdq import Pdq

LIMITS = Limits()
PDQ = Pdq()

# Pillow transposes that undo each EXIF orientation when applied to the stored pixels; the
# inverse is what a camera stores for an upright scene.
STORED_FOR_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def pdq_distance(a: Image.Image, b: Image.Image) -> int:
    from vident.media.types import DecodedImage

    ha = PDQ.compute(DecodedImage(a, a.width, a.height, "x"))
    hb = PDQ.compute(DecodedImage(b, b.width, b.height, "x"))
    assert ha is not None and hb is not None
    return PDQ.distance(ha.value, hb.value)


def stored_with_orientation(upright: Image.Image, orientation: int, fmt: str) -> bytes:
    method = STORED_FOR_ORIENTATION[orientation]
    stored = upright if method is None else upright.transpose(method)
    exif = Image.Exif()
    exif[0x0112] = orientation
    params: dict[str, object] = {"exif": exif}
    if fmt == "JPEG":
        params["quality"] = 92
    return encode(stored, fmt, **params)


# --- draft decoding -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_jpeg() -> tuple[Image.Image, bytes]:
    img = photo_like(2048, 1536, seed=3)
    return img, encode(img, "JPEG", quality=90)


def test_jpeg_is_draft_decoded_to_between_target_and_twice_target(
    big_jpeg: tuple[Image.Image, bytes],
) -> None:
    _, data = big_jpeg
    decoded = decode_image(data, LIMITS)
    assert (decoded.width, decoded.height) == (2048, 1536)
    assert decoded.pixels.size == (1024, 768)  # DCT scaling by 1/2: shorter side in [512, 1024)
    assert decoded.pixels.mode == "RGB"
    assert decoded.format == "JPEG"
    assert decoded.exif is None  # read_exif reads it from the same bytes


def test_target_none_decodes_full_size(big_jpeg: tuple[Image.Image, bytes]) -> None:
    _, data = big_jpeg
    decoded = decode_image(data, LIMITS, target=None)
    assert decoded.pixels.size == (2048, 1536)


def test_smaller_target_scales_further(big_jpeg: tuple[Image.Image, bytes]) -> None:
    _, data = big_jpeg
    assert decode_image(data, LIMITS, target=256).pixels.size == (512, 384)
    assert decode_image(data, LIMITS, target=128).pixels.size == (256, 192)


def test_draft_hash_stays_close_to_full_size_hash(big_jpeg: tuple[Image.Image, bytes]) -> None:
    # Measured: mean 2, max 14 bits over 58 real photos; generated pictures sit well inside.
    _, data = big_jpeg
    draft = decode_image(data, LIMITS).pixels
    full = decode_image(data, LIMITS, target=None).pixels
    assert pdq_distance(draft, full) <= 14


def test_other_formats_are_box_reduced_by_the_same_rule() -> None:
    blocks = np.random.default_rng(4).integers(0, 255, (103, 110, 3), dtype=np.uint8)
    img = Image.fromarray(blocks).resize((1100, 1030), Image.Resampling.NEAREST)
    decoded = decode_image(encode(img, "PNG", compress_level=1), LIMITS)
    assert (decoded.width, decoded.height) == (1100, 1030)
    assert decoded.pixels.size == (550, 515)  # factor 2: shorter side 515 stays >= 512
    assert decoded.format == "PNG"
    small = img.crop((0, 0, 900, 700))
    assert decode_image(encode(small, "PNG", compress_level=1), LIMITS).pixels.size == (900, 700)


def test_small_pictures_are_not_enlarged() -> None:
    decoded = decode_image(encode(photo_like(40, 30), "JPEG"), LIMITS)
    assert decoded.pixels.size == (40, 30)


def test_target_must_be_positive() -> None:
    with pytest.raises(ValueError):
        decode_image(encode(photo_like(40, 30), "PNG"), LIMITS, target=0)


# --- orientation ------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_is_applied_exactly_on_lossless_pictures(orientation: int) -> None:
    upright = photo_like(120, 80, seed=5)
    decoded = decode_image(stored_with_orientation(upright, orientation, "PNG"), LIMITS)
    assert (decoded.width, decoded.height) == (120, 80)
    assert np.array_equal(np.asarray(decoded.pixels), np.asarray(upright))


def test_orientation_gives_near_identical_pdq_on_jpeg() -> None:
    upright = photo_like(640, 480, seed=6)
    decoded = [
        decode_image(stored_with_orientation(upright, o, "JPEG"), LIMITS).pixels
        for o in range(1, 9)
    ]
    for orientation, pixels in enumerate(decoded, start=1):
        assert pixels.size == (640, 480), orientation
        assert pdq_distance(decoded[0], pixels) <= 8, orientation


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow's own warning on open
def test_invalid_or_corrupt_orientation_is_ignored() -> None:
    img = photo_like(60, 40)
    exif = Image.Exif()
    exif[0x0112] = 9
    decoded = decode_image(encode(img, "PNG", exif=exif), LIMITS)
    assert np.array_equal(np.asarray(decoded.pixels), np.asarray(img))
    jpeg = encode(img, "JPEG", exif=b"Exif\x00\x00II*\x00\xff\xff\xff\xff")
    assert decode_image(jpeg, LIMITS).pixels.size == (60, 40)


# --- colour modes and formats ---------------------------------------------------------------


def _mode_cases() -> list[tuple[str, str, bytes]]:
    base = photo_like(48, 32, seed=8)
    gray = base.convert("L")
    palette_alpha = base.convert("P")
    palette_alpha.info["transparency"] = 0
    sixteen = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)
    frames = [Image.new("RGB", (48, 32), c) for c in ("red", "green", "blue")]
    return [
        ("L", "JPEG", encode(gray, "JPEG")),
        ("CMYK", "JPEG", encode(base.convert("CMYK"), "JPEG")),
        ("RGB progressive", "JPEG", encode(base, "JPEG", progressive=True)),
        ("P", "GIF", encode(base.convert("P"), "GIF")),
        ("P+transparency", "PNG", encode(palette_alpha, "PNG")),
        ("RGBA", "PNG", encode(base.convert("RGBA"), "PNG")),
        ("LA", "PNG", encode(base.convert("LA"), "PNG")),
        ("I;16", "PNG", encode(sixteen, "PNG")),
        ("1", "PNG", encode(base.convert("1"), "PNG")),
        ("RGBA", "WEBP", encode(base.convert("RGBA"), "WEBP", lossless=True)),
        ("I", "TIFF", encode(gray.convert("I"), "TIFF")),
        ("F", "TIFF", encode(gray.convert("F"), "TIFF")),
        ("CMYK", "TIFF", encode(base.convert("CMYK"), "TIFF")),
        ("LAB", "TIFF", encode(base.convert("LAB"), "TIFF")),
        ("RGB", "BMP", encode(base, "BMP")),
        ("RGB", "PPM", encode(base, "PPM")),
        ("RGB", "ICO", encode(base, "ICO", sizes=[(48, 32)])),
        ("animated", "GIF", encode(frames[0], "GIF", save_all=True, append_images=frames[1:])),
        ("animated", "WEBP", encode(frames[0], "WEBP", save_all=True, append_images=frames[1:])),
    ]


@pytest.mark.parametrize(("mode", "fmt", "data"), _mode_cases(), ids=lambda v: str(v)[:20])
def test_every_mode_decodes_to_rgb(mode: str, fmt: str, data: bytes) -> None:
    decoded = decode_image(data, LIMITS)
    assert decoded.pixels.mode == "RGB"
    assert decoded.pixels.size[0] > 0
    assert decoded.format in {fmt, "MPO"}
    if mode == "animated":
        red = np.asarray(decoded.pixels).reshape(-1, 3).mean(axis=0)
        assert red[0] > 200 and red[1] < 60 and red[2] < 60  # the first frame, not the last


def test_alpha_is_dropped_like_the_pdq_references() -> None:
    # python-threatexchange hashes Image.open(...).convert("RGB"); so does vident.
    rgba = photo_like(64, 48, seed=9).convert("RGBA")
    alpha = np.zeros((48, 64), np.uint8)
    alpha[:, 32:] = 255
    rgba.putalpha(Image.fromarray(alpha))
    decoded = decode_image(encode(rgba, "PNG"), LIMITS)
    assert np.array_equal(np.asarray(decoded.pixels), np.asarray(rgba.convert("RGB")))


def test_sixteen_bit_matches_pillow_conversion() -> None:
    gray = np.linspace(0, 65535, 64 * 48, dtype=np.uint16).reshape(48, 64)
    img = Image.fromarray(gray)
    decoded = decode_image(encode(img, "PNG"), LIMITS)
    assert np.array_equal(np.asarray(decoded.pixels), np.asarray(img.convert("RGB")))


# --- failures ---------------------------------------------------------------------------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_claiming(width: int, height: int) -> bytes:
    """A 200-byte PNG whose header claims ``width`` x ``height`` pixels (a classic bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_header_claiming_huge_size_is_refused_before_decoding() -> None:
    limits = Limits(max_pixels=100_000_000)
    with pytest.raises(MediaError) as caught:
        decode_image(_png_header_claiming(12_000, 12_000), limits)  # 1.44x the limit
    assert "12000x12000" in str(caught.value)
    assert "100000000" in str(caught.value)
    with pytest.raises(MediaError, match="decompression bomb"):
        decode_image(_png_header_claiming(100_000, 100_000), limits)  # 100x the limit


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_limit_applies_to_ordinary_pictures_too() -> None:
    data = encode(photo_like(200, 100), "JPEG")
    with pytest.raises(MediaError, match="200x100 pixels, over the limit of 10000"):
        decode_image(data, Limits(max_pixels=10_000))
    assert decode_image(data, Limits(max_pixels=20_000)).width == 200


PILLOW_DEFAULT_MAX_PIXELS = 89_478_485  # Pillow refuses twice this as a decompression bomb


def _flat_jpeg(width: int, height: int) -> bytes:
    """A one-colour greyscale JPEG of real, large dimensions: a few MB, built in under a second."""
    return encode(Image.new("L", (width, height), 128), "JPEG", quality=50)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_large_limit_is_honoured_beyond_pillows_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real 192 MP picture, which Pillow's own default would refuse, is decoded.

    Pillow's limit is a process-wide global that earlier tests may have raised: it is put
    back to Pillow's default first, so only vident's own configured limit can let it through.
    """
    data = _flat_jpeg(16_000, 12_000)  # 192 MP: over 2 x Pillow's default, under vident's 200 MP
    assert 2 * PILLOW_DEFAULT_MAX_PIXELS < 16_000 * 12_000
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", PILLOW_DEFAULT_MAX_PIXELS)
    decoded = decode_image(data, Limits())
    assert (decoded.width, decoded.height) == (16_000, 12_000)
    assert max(decoded.pixels.size) <= 2_000  # drafted, never the full 192 MP in memory
    assert (np.asarray(decoded.pixels) == 128).all()

    over = _flat_jpeg(16_000, 13_000)  # 208 MP: over vident's default limit of 200 MP
    with pytest.raises(MediaError, match="16000x13000 pixels, over the limit of 200000000"):
        decode_image(over, Limits())


def test_truncated_jpeg_is_an_error_and_the_global_flag_untouched() -> None:
    data = encode(photo_like(400, 300), "JPEG")
    for cut in (len(data) // 2, len(data) - 2):
        with pytest.raises(MediaError, match=r"^truncated image: "):
            decode_image(data[:cut], LIMITS)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_truncated_png_is_an_error() -> None:
    data = encode(photo_like(300, 200), "PNG")
    with pytest.raises(MediaError, match="truncated"):
        decode_image(data[: len(data) // 2], LIMITS)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"Dear diary, today I renamed a text file to holiday.jpg\n" * 4, "text/plain"),
        (b"\x00\x01\x02\x03\xfe" * 50, "not a recognised image format"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 200, "unsupported or corrupt image (image/jpeg)"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 200, "image/heic"),
        (b"PK\x03\x04" + b"\x00" * 200, "not an image: content is application/zip"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "application/postscript"),
    ],
)
def test_unreadable_input_gives_one_line_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MediaError) as caught:
        decode_image(data, LIMITS)
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message
    assert "0x" not in message  # no object reprs from Pillow


def _samples() -> list[bytes]:
    img = photo_like(64, 48, seed=11)
    return [
        encode(img, "JPEG"),
        encode(img, "PNG"),
        encode(img.convert("P"), "GIF"),
        encode(img, "WEBP"),
        encode(img, "TIFF"),
        encode(img, "BMP"),
    ]


SAMPLES = _samples()


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about damaged TIFF tags
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(SAMPLES),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    cut=st.one_of(st.none(), st.integers(0, 10_000)),
)
def test_damaged_files_raise_only_media_error(
    sample: bytes, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(sample)
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    try:
        decoded = decode_image(bytes(data), LIMITS)
    except MediaError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert decoded.pixels.mode == "RGB"


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_raise_only_media_error(data: bytes) -> None:
    with contextlib.suppress(MediaError):
        decode_image(data, LIMITS)


# --- the shared corpus ------------------------------------------------------------------------


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not present")
@pytest.mark.parametrize("kind", ["landscape", "portrait"])
def test_corpus_orientation_pictures_hash_alike(kind: str) -> None:
    # The eight files show one scene with the orientation number painted in its middle, so
    # they differ by that digit: 10-24 bits upright, 100-150 bits if orientation were ignored.
    folder = CORPUS / "exif" / "orientation"
    decoded = [decode_image((folder / f"{kind}_{o}.jpg").read_bytes(), LIMITS) for o in range(1, 9)]
    sizes = {(d.width, d.height) for d in decoded}
    assert len(sizes) == 1
    for orientation, item in enumerate(decoded[1:], start=2):
        assert pdq_distance(decoded[0].pixels, item.pixels) <= 31, orientation


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not present")
def test_corpus_pictures_decode_with_manifest_sizes() -> None:
    with (CORPUS / "manifest.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if not r["path"].endswith(".mp4")]
    assert len(rows) > 100
    for row in rows:
        decoded = decode_image((CORPUS / row["path"]).read_bytes(), LIMITS)
        stored = (int(row["width"]), int(row["height"]))
        assert (decoded.width, decoded.height) in {stored, stored[::-1]}, row["path"]
        if "orientation/landscape" in row["path"]:
            assert (decoded.width, decoded.height) == (600, 450), row["path"]
        if "orientation/portrait" in row["path"]:
            assert (decoded.width, decoded.height) == (450, 600), row["path"]


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not present")
def test_corpus_broken_files_never_escape_as_other_errors() -> None:
    for path in sorted((CORPUS / "exif" / "invalid").iterdir()):
        data = path.read_bytes()
        for candidate in (data, data[: len(data) // 3]):
            with contextlib.suppress(MediaError):
                decode_image(candidate, LIMITS)
