"""OCR quality and speed on the shared corpus: ``.venv/bin/python -m bench.quality_text``.

Character accuracy is 1 - CER (Levenshtein distance over the length of the known text, with
whitespace runs collapsed, case kept) on the corpus pictures whose text is known (README
"Ground truth for OCR"). Where only part of a picture's text is known (``test-european.jpg``:
"La volpe marrone"), the known part is aligned to the best-matching stretch of what was read.
Pictures go through the same decode as ingest (:func:`vident.media.image.decode_image`).

Speed is CPU milliseconds per picture in this process (one ONNX Runtime thread, so CPU time
is what a worker spends, and it is steadier than wall time on a shared machine), for the
corpus text pictures and for the corpus photos (everything outside ``text/``, without the
100-px camera thumbnails, the orientation copies and the broken files). ``--compare`` adds
the same options without the probe, and RapidOCR with its own defaults (shorter side scaled
up to 736 px, angle classifier on, no probe), on the same pictures.

``--signs`` measures what the probe costs in recall: sign-like phrases drawn with Pillow's own
font (sizes 11-24 px) on 26 corpus photos, in three styles (dark on a light plate, light on
a dark plate, no plate), 312 pictures; the figure is the share of the phrases' words found
in what was read, for the default options, a 320 px probe and no probe at all.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from vident.config import Limits
from vident.media import ocr
from vident.media.image import decode_image
from vident.media.types import DecodedImage

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora"

_TESSERACT = (
    "This is a lot of 12 point text to test the ocr code and see if it works on all types of "
    "file format. The quick brown dog jumped over the lazy fox. The quick brown dog jumped over "
    "the lazy fox. The quick brown dog jumped over the lazy fox. The quick brown dog jumped "
    "over the lazy fox."
)
#: (path under the corpus, known text, whether the known text is only part of the picture's).
GROUND_TRUTH: tuple[tuple[str, str, bool], ...] = (
    *(
        (f"text/pytesseract/{name}", _TESSERACT, False)
        for name in ("test.jpg", "test.png", "test.tiff", "test.webp", "test.gif", "test_la.png")
    ),
    ("text/pytesseract/test-european.jpg", "La volpe marrone", True),
)
PHOTO_SKIP = ("text/", "exif/invalid/", "exif/cameras/", "exif/orientation/")
PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".tiff", ".webp")


def normalise(text: str) -> str:
    return " ".join(text.split())


def edit_distance(truth: str, read: str, *, partial: bool = False) -> int:
    """Levenshtein distance; with ``partial``, to the best-matching stretch of ``read``."""
    previous = list(range(len(read) + 1)) if not partial else [0] * (len(read) + 1)
    for i, t in enumerate(truth, 1):
        current = [i] + [0] * len(read)
        for j, r in enumerate(read, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (t != r))
        previous = current
    return min(previous) if partial else previous[-1]


def char_accuracy(truth: str, read: str, *, partial: bool = False) -> float:
    """1 - CER, floored at 0."""
    truth, read = normalise(truth), normalise(read)
    if not truth:
        return 1.0
    return max(0.0, 1.0 - edit_distance(truth, read, partial=partial) / len(truth))


def _decode(path: Path) -> DecodedImage:
    return decode_image(path.read_bytes(), Limits())


def _cpu_ms(run: Callable[[DecodedImage], object], image: DecodedImage, repeats: int) -> float:
    """Median CPU milliseconds of ``run(image)`` after one warm-up call."""
    run(image)  # warm: models load, buffers grow
    times = []
    for _ in range(repeats):
        start = time.process_time()
        run(image)
        times.append(time.process_time() - start)
    return 1000 * statistics.median(times)


def _read(image: DecodedImage, options: ocr.OcrOptions) -> str:
    return " ".join(line.text for line in ocr.read_text(image.pixels, options=options))


def text_pictures(corpus: Path) -> list[Path]:
    return sorted(p for p in (corpus / "text").rglob("*") if p.suffix.lower() in PICTURE_SUFFIXES)


def photos(corpus: Path) -> list[Path]:
    found = []
    for path in sorted(corpus.rglob("*")):
        relative = path.relative_to(corpus).as_posix()
        if path.suffix.lower() in PICTURE_SUFFIXES and not relative.startswith(PHOTO_SKIP):
            found.append(path)
    return found


def ocr_accuracy(
    corpus: Path = CORPUS,
    options: ocr.OcrOptions = ocr.DEFAULT_OPTIONS,
    repeats: int = 3,
    compare: bool = False,
) -> dict[str, Any]:
    """Character accuracy on the known texts and CPU ms per picture with and without text."""
    files: list[dict[str, Any]] = []
    for relative, truth, partial in GROUND_TRUTH:
        read = _read(_decode(corpus / relative), options)
        files.append(
            {
                "file": relative,
                "partial": partial,
                "accuracy": round(char_accuracy(truth, read, partial=partial), 4),
                "read": read,
            }
        )
    full = [float(f["accuracy"]) for f in files if not f["partial"]]
    figures: dict[str, Any] = {
        "options": {k: getattr(options, k) for k in options.__dataclass_fields__},
        "model": ocr.DET_MODEL + " + " + ocr.REC_MODEL,
        "files": files,
        "mean_accuracy_full_texts": round(statistics.mean(full), 4),
        "speed": _speed(corpus, options, repeats),
    }
    if compare:
        figures["speed_no_probe"] = _speed(corpus, ocr.OcrOptions(probe_side=0), repeats)
        figures["speed_rapidocr_defaults"] = _speed(corpus, None, repeats)
    return figures


def _speed(corpus: Path, options: ocr.OcrOptions | None, repeats: int) -> dict[str, Any]:
    """CPU ms per picture: text pictures (median of ``repeats``), photos (one run each)."""
    engine = _default_engine() if options is None else None

    def run(image: DecodedImage) -> object:
        if engine is not None:
            return engine(image.pixels)
        assert options is not None
        return ocr.read_text(image.pixels, options=options)

    with_text = [_cpu_ms(run, _decode(p), repeats) for p in text_pictures(corpus)]
    pictures = [_decode(p) for p in photos(corpus)]
    photo_ms = [_cpu_ms(run, image, 1) for image in pictures]
    result: dict[str, Any] = {
        "text_pictures": len(with_text),
        "text_ms_median": round(statistics.median(with_text), 1),
        "text_ms_mean": round(statistics.mean(with_text), 1),
        "photos": len(photo_ms),
        "photo_ms_median": round(statistics.median(photo_ms), 1),
        "photo_ms_mean": round(statistics.mean(photo_ms), 1),
    }
    if options is not None and options.probe_side:
        probe_options = options

        def probe(image: DecodedImage) -> bool:
            return ocr.has_text(image.pixels, probe_options)

        result["photos_stopped_by_probe"] = sum(not probe(image) for image in pictures)
        probe_ms = [_cpu_ms(probe, image, 1) for image in pictures]
        result["probe_ms_median"] = round(statistics.median(probe_ms), 1)
    return result


SIGN_PHRASES = (
    "SPRINGFIELD ELEMENTARY",
    "Hotel Bellevue",
    "PHARMACY 24h",
    "Main Street 42",
    "Bakery Rossi",
    "Kindergarten Sonnenschein",
    "Police Station",
    "Gare du Nord",
    "Lincoln High School",
    "Exit 12 Airport",
)
SIGN_SIZES = (11, 14, 18, 24)


def _sign_backgrounds(corpus: Path) -> list[Path]:
    faces = sorted(
        p for n in (1, 2, 3) for p in (corpus / "faces" / f"deepface_id0{n}").glob("*.jpg")
    )
    return [
        *sorted((corpus / "scenes").glob("*.jpg")),
        *sorted((corpus / "exif" / "gps").glob("*.jpg")),
        *sorted((corpus / "exif" / "exif-org").glob("*.jpg"))[:4],
        *faces[::3],
    ]


def signs(corpus: Path) -> list[tuple[int, str, Image.Image]]:
    """(font size, phrase, picture): phrases pasted on corpus photos, the same every run."""
    rng = random.Random(1)
    cases = []
    backgrounds = [_decode(p).pixels for p in _sign_backgrounds(corpus)]
    for size in SIGN_SIZES:
        font = ImageFont.load_default(size=size)
        for background in backgrounds:
            for style in range(3):
                picture = background.copy()
                draw = ImageDraw.Draw(picture)
                phrase = SIGN_PHRASES[rng.randrange(len(SIGN_PHRASES))]
                left, top, right, bottom = (
                    int(v) for v in draw.textbbox((0, 0), phrase, font=font)
                )
                x = rng.randint(5, max(5, picture.width - (right - left) - 10))
                y = rng.randint(5, max(5, picture.height - (bottom - top) - 10))
                plate = (x - 4, y - 4, x + right - left + 4, y + bottom - top + 6)
                if style == 0:
                    draw.rectangle(plate, fill=(235, 235, 225))
                    ink = (20, 20, 30)
                elif style == 1:
                    draw.rectangle(plate, fill=(30, 60, 140))
                    ink = (250, 250, 250)
                else:
                    dark = sum(picture.getpixel((x, y))) < 380  # type: ignore[arg-type]
                    ink = (255, 255, 255) if dark else (0, 0, 0)
                draw.text((x - left, y - top), phrase, font=font, fill=ink)
                cases.append((size, phrase, picture))
    return cases


def sign_recall(corpus: Path = CORPUS) -> dict[str, dict[str, float]]:
    """Share of sign words read, per font size, for the default options and two others."""
    cases = signs(corpus)
    variants = {
        "default": ocr.DEFAULT_OPTIONS,
        "probe 320 px": ocr.OcrOptions(probe_side=320),
        "no probe": ocr.OcrOptions(probe_side=0),
    }
    figures: dict[str, dict[str, float]] = {}
    for name, options in variants.items():
        found: dict[int, list[float]] = {}
        for size, phrase, picture in cases:
            read = " ".join(line.text for line in ocr.read_text(picture, options=options)).lower()
            words = phrase.lower().split()
            found.setdefault(size, []).append(sum(w in read for w in words) / len(words))
        figures[name] = {f"{size}px": round(statistics.mean(v), 3) for size, v in found.items()}
    return figures


def _default_engine() -> Any:
    """RapidOCR as shipped (models from the wheel, one thread), for comparison."""
    from rapidocr import RapidOCR

    folder = ocr.model_dir()
    return RapidOCR(
        params={
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "Det.model_path": str(folder / ocr.DET_MODEL),
            "Rec.model_path": str(folder / ocr.REC_MODEL),
            "Cls.model_path": str(folder / ocr.CLS_MODEL),
        }
    )


def table(figures: dict[str, Any]) -> Any:
    from rich.table import Table

    out = Table(title=f"OCR on the shared corpus ({figures['model']})")
    out.add_column("measure")
    out.add_column("value", justify="right")
    for f in figures["files"]:
        label = f["file"] + (" (known part)" if f["partial"] else "")
        out.add_row(f"char accuracy {label}", f"{f['accuracy']:.3f}")
    out.add_row(
        "mean char accuracy, full known texts", f"{figures['mean_accuracy_full_texts']:.3f}"
    )
    for key, name in (
        ("speed", "vident"),
        ("speed_no_probe", "vident without probe"),
        ("speed_rapidocr_defaults", "rapidocr defaults"),
    ):
        if key not in figures:
            continue
        speed = figures[key]
        out.add_row(
            f"{name}: CPU ms/picture, {speed['text_pictures']} text pictures (median / mean)",
            f"{speed['text_ms_median']:.0f} / {speed['text_ms_mean']:.0f}",
        )
        out.add_row(
            f"{name}: CPU ms/picture, {speed['photos']} photos (median / mean)",
            f"{speed['photo_ms_median']:.0f} / {speed['photo_ms_mean']:.0f}",
        )
        if "photos_stopped_by_probe" in speed:
            out.add_row(
                f"{name}: photos stopped by the probe",
                f"{speed['photos_stopped_by_probe']} of {speed['photos']}",
            )
            out.add_row(f"{name}: probe CPU ms (median)", f"{speed['probe_ms_median']:.0f}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality_text", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", action="store_true", help="also time RapidOCR's defaults")
    parser.add_argument("--signs", action="store_true", help="also measure sign recall")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    from rich.console import Console

    figures = ocr_accuracy(args.corpus, repeats=args.repeats, compare=args.compare)
    Console().print(table(figures))
    if args.signs:
        figures["sign_recall"] = sign_recall(args.corpus)
        for name, by_size in figures["sign_recall"].items():
            print(
                f"sign words read, {name}: " + ", ".join(f"{k} {v:.1%}" for k, v in by_size.items())
            )
    for f in figures["files"]:
        if f["accuracy"] < 1.0:
            print(f"{f['file']}: read {f['read']!r}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
