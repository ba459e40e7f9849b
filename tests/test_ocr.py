"""OCR: RapidOCR's wheel models on corpus pages and generated signs, and the text signal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.conftest import CORPUS
from vident.config import Limits
from vident.demo.synthetic import photo_like
from vident.media import ocr
from vident.media.errors import MediaError
from vident.media.image import decode_image
from vident.media.types import DecodedImage
from vident.signals import text as text_signal
from vident.signals.base import MatchRule
from vident.signals.text import Text

needs_corpus = pytest.mark.skipif(
    CORPUS is None or not CORPUS.is_dir(), reason="shared corpus not available"
)


def decoded(path: Path) -> DecodedImage:
    return decode_image(path.read_bytes(), Limits())


def sign(words: str, size: int = 36, background: int = 7) -> Image.Image:
    """A photo-like picture with a light plate of dark text on it, like a street sign."""
    picture = photo_like(640, 480, background)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = draw.textbbox((0, 0), words, font=font)
    x, y = 60, 200
    draw.rectangle((x - 10, y - 10, x + right - left + 10, y + bottom - top + 12), fill=(240,) * 3)
    draw.text((x - left, y - top), words, font=font, fill=(15, 15, 25))
    return picture


def test_models_come_from_the_wheel() -> None:
    folder = ocr.model_dir()
    for name in (ocr.DET_MODEL, ocr.REC_MODEL, ocr.CLS_MODEL):
        assert (folder / name).is_file()


def test_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh engine loads every model from the wheel: any download attempt would fail here."""
    from rapidocr.utils import download_file

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("rapidocr tried to download a model")

    monkeypatch.setattr(download_file.DownloadFile, "run", classmethod(refuse))
    engine = ocr._engine.__wrapped__(640, "max")
    result = engine(sign("HOTEL BELLEVUE"))
    assert "BELLEVUE" in " ".join(result.txts)


@needs_corpus
def test_reads_a_printed_page() -> None:
    assert CORPUS is not None
    image = decoded(CORPUS / "text" / "pytesseract" / "test.png")
    lines = ocr.read_text(image.pixels, (image.width, image.height))
    joined = " ".join(line.text for line in lines)
    assert "The quick brown dog jumped over the" in joined
    assert joined.startswith("This is a lot of 12 point text")
    for line in lines:
        assert 0.0 < line.score <= 1.0
        assert all(0 <= x <= image.width and 0 <= y <= image.height for x, y in line.box)
    # Reading order: top to bottom.
    tops = [min(y for _, y in line.box) for line in lines]
    assert tops == sorted(tops)


@needs_corpus
def test_accented_latin_text() -> None:
    assert CORPUS is not None
    image = decoded(CORPUS / "text" / "pytesseract" / "test-european.jpg")
    joined = " ".join(line.text for line in ocr.read_text(image.pixels))
    assert "La volpe marrone" in joined
    assert "über den faulen Hund" in joined


def test_generated_sign_and_full_size_boxes() -> None:
    picture = sign("SPRINGFIELD ELEMENTARY")
    lines = ocr.read_text(picture)
    assert [line.text for line in lines] == ["SPRINGFIELD ELEMENTARY"]
    box = lines[0].box
    assert 40 <= box[0][0] <= 70 and 180 <= box[0][1] <= 210
    doubled = ocr.read_text(picture, full_size=(1280, 960))
    assert doubled[0].box[0][0] == pytest.approx(2 * box[0][0], abs=1)
    assert doubled[0].box[2][1] == pytest.approx(2 * box[2][1], abs=1)


@pytest.mark.parametrize("seed", [1, 2])
def test_pictures_without_text_give_nothing(seed: int) -> None:
    """Generated shapes and flat colours make the detector fire; the recogniser finds nothing."""
    assert ocr.read_text(photo_like(800, 600, seed)) == []
    assert ocr.read_text(Image.new("RGB", (640, 480), (30, 90, 160))) == []


def test_tiny_and_odd_pictures() -> None:
    assert ocr.read_text(Image.new("RGB", (3, 3))) == []
    assert ocr.read_text(Image.new("RGB", (1, 400), (255, 255, 255))) == []
    assert ocr.read_text(Image.new("L", (50, 20), 255)) == []


@needs_corpus
def test_probe_stops_at_photos_without_text() -> None:
    assert CORPUS is not None
    for name in ("Dune.jpg", "Blinds.jpg", "GreenMeadow.jpg"):
        assert not ocr.has_text(decoded(CORPUS / "scenes" / name).pixels)
    assert ocr.has_text(sign("PHARMACY"))


def test_text_signal_value_and_detail() -> None:
    kind = Text()
    assert kind.match is MatchRule.STORED
    assert kind.model.startswith("rapidocr-")
    picture = sign("Lincoln High School")
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    value = kind.compute(decode_image(buffer.getvalue(), Limits()))
    assert value is not None
    assert (value.kind, value.version, value.model) == ("text", 1, kind.model)
    assert value.value.decode() == "Lincoln High School"
    assert value.quality is not None and 70 <= value.quality <= 100
    assert value.detail is not None
    (line,) = value.detail["lines"]
    assert line["text"] == "Lincoln High School"
    assert len(line["box"]) == 4


def test_text_signal_records_an_empty_result() -> None:
    blank = DecodedImage(photo_like(640, 480, 4), 640, 480, "PNG")
    value = Text().compute(blank)
    assert value is not None
    assert (value.value, value.quality, value.detail) == (b"", None, {"lines": []})


def test_text_signal_leaves_a_failure_uncomputed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> list[ocr.TextLine]:
        raise MediaError("OCR failed: boom")

    monkeypatch.setattr(text_signal, "read_text", broken)
    assert Text().compute(DecodedImage(Image.new("RGB", (64, 64)), 64, 64, "PNG")) is None


def test_lone_characters_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    box = ((0.0, 0.0), (9.0, 0.0), (9.0, 9.0), (0.0, 9.0))
    lines = [ocr.TextLine("E", box, 0.99), ocr.TextLine("42", box, 0.9)]
    monkeypatch.setattr(text_signal, "read_text", lambda *a, **k: lines)
    value = Text().compute(DecodedImage(Image.new("RGB", (64, 64)), 64, 64, "PNG"))
    assert value is not None
    assert value.value == b"42"
