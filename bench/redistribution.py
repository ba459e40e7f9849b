"""Edits that redistribution makes to a picture, built from the corpus for ``bench.quality_near``.

Each edit takes the source picture, a random generator seeded from the source's name (the
same query every run) and the other corpus pictures, and returns the edited picture with the
corpus pictures it also shows (the other tiles of a collage, the picture a copy is pasted
into): a link to those is true as well. No picture here comes from outside the corpus or is
anything but drawn shapes and corpus photos.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps


@dataclass(frozen=True)
class Edited:
    """An edited picture and the indices of the other corpus pictures it shows."""

    picture: Image.Image
    also_shows: tuple[int, ...] = ()


#: The corpus as an edit sees it: (index, full picture) of every picture it may borrow.
Others = Sequence[tuple[int, Image.Image]]
Edit = Callable[[Image.Image, np.random.Generator, Others], Edited]


def seed(name: str, edit: str) -> int:
    """A stable seed for one source picture and one edit."""
    return zlib.crc32(f"{name}|{edit}".encode())


def _rgb(img: Image.Image) -> Image.Image:
    return img.convert("RGB")


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    _rgb(img).save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _scaled(img: Image.Image, factor: float) -> Image.Image:
    size = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
    return img.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0 if factor < 0.5 else None)


def _fit(img: Image.Image, box: tuple[int, int]) -> Image.Image:
    """``img`` scaled (either way) to fit inside ``box``, aspect kept."""
    factor = min(box[0] / img.width, box[1] / img.height)
    return _scaled(img, factor)


def uneven_crop(img: Image.Image, rng: np.random.Generator, _: Others) -> Edited:
    """15-25% cut from two sides, 0-10% from the others (a watermark, a date, a face cut out):
    about half of the picture is left."""
    heavy = rng.choice(4, size=2, replace=False)
    sides = rng.uniform(0.0, 0.10, size=4)
    sides[heavy] = rng.uniform(0.15, 0.25, size=2)
    left, top, right, bottom = sides
    w, h = img.size
    box = (round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom)))
    return Edited(_rgb(img).crop(box))


def quarter_crop(img: Image.Image, rng: np.random.Generator, _: Others) -> Edited:
    """Half the width and half the height, anywhere in the picture: a quarter of it is left."""
    w, h = img.size
    cw, ch = max(1, w // 2), max(1, h // 2)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return Edited(_rgb(img).crop((x, y, x + cw, y + ch)))


def rotated_crop(img: Image.Image, rng: np.random.Generator, _: Others) -> Edited:
    """Turned 5-15 degrees either way, 12% cut from each side (the corners the turn left
    black go with it), then 70% size."""
    angle = float(rng.uniform(5.0, 15.0) * rng.choice([-1.0, 1.0]))
    turned = _rgb(img).rotate(angle, Image.Resampling.BICUBIC, expand=False)
    w, h = turned.size
    dx, dy = round(w * 0.12), round(h * 0.12)
    return Edited(_scaled(turned.crop((dx, dy, w - dx, h - dy)), 0.7))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(6, size))


def screenshot(img: Image.Image, rng: np.random.Generator, _: Others) -> Edited:
    """The picture shown in an image viewer: a window with a title bar, a toolbar, a list of
    files on the left and a status line, the picture fitted in the dark view area."""
    width, height = 1280, 800
    shot = Image.new("RGB", (width, height), (236, 236, 236))
    draw = ImageDraw.Draw(shot)
    draw.rectangle((0, 0, width, 34), fill=(52, 56, 64))
    draw.text(
        (14, 8),
        f"Viewer - IMG_{int(rng.integers(1000, 9999)):04d}.jpg",
        fill="white",
        font=_font(16),
    )
    for i in range(3):
        draw.ellipse((width - 30 - 26 * i, 10, width - 16 - 26 * i, 24), fill=(200, 90, 80))
    draw.rectangle((0, 34, width, 74), fill=(222, 224, 228))
    for i in range(9):
        draw.rounded_rectangle((12 + 44 * i, 42, 44 + 44 * i, 68), 5, fill=(180, 186, 196))
    draw.rectangle((0, 74, 220, height - 28), fill=(246, 246, 248))
    for i in range(22):
        draw.text(
            (14, 86 + 28 * i), f"folder/IMG_{1000 + 7 * i}.jpg", fill=(40, 40, 40), font=_font(13)
        )
    view = (220, 74, width, height - 28)
    draw.rectangle(view, fill=(24, 24, 26))
    margin = int(rng.integers(10, 60))
    inner = (view[2] - view[0] - 2 * margin, view[3] - view[1] - 2 * margin)
    shown = _fit(_rgb(img), inner)
    x = view[0] + (view[2] - view[0] - shown.width) // 2
    y = view[1] + (view[3] - view[1] - shown.height) // 2
    shot.paste(shown, (x, y))
    draw.rectangle((0, height - 28, width, height), fill=(222, 224, 228))
    draw.text(
        (12, height - 22),
        f"{img.width} x {img.height}   {int(rng.integers(20, 99))}%",
        fill=(40, 40, 40),
        font=_font(13),
    )
    return Edited(_jpeg(shot, 85))


def _borrow(rng: np.random.Generator, others: Others, count: int) -> list[tuple[int, Image.Image]]:
    picks = rng.choice(len(others), size=min(count, len(others)), replace=False)
    return [others[int(i)] for i in picks]


def picture_in_picture(img: Image.Image, rng: np.random.Generator, others: Others) -> Edited:
    """The picture at half its size pasted into another corpus picture (scaled to the same
    size), somewhere inside it."""
    [(index, host)] = _borrow(rng, others, 1)
    canvas = _rgb(host).resize(img.size, Image.Resampling.BICUBIC)
    small = _scaled(_rgb(img), 0.5)
    x = int(rng.integers(0, canvas.width - small.width + 1))
    y = int(rng.integers(0, canvas.height - small.height + 1))
    canvas.paste(small, (x, y))
    return Edited(canvas, (index,))


def _collage(side: int) -> Edit:
    def collage(img: Image.Image, rng: np.random.Generator, others: Others) -> Edited:
        """A grid of ``side`` x ``side`` square tiles, 1,200 pixels wide: the picture in one
        tile, other corpus pictures in the rest, each fitted in its tile on white."""
        tile = 1200 // side
        borrowed = _borrow(rng, others, side * side - 1)
        pictures = [_rgb(p) for _, p in borrowed]
        pictures.insert(int(rng.integers(0, len(pictures) + 1)), _rgb(img))
        sheet = Image.new("RGB", (tile * side, tile * side), "white")
        for n, picture in enumerate(pictures):
            shown = _fit(picture, (tile - 8, tile - 8))
            x = (n % side) * tile + (tile - shown.width) // 2
            y = (n // side) * tile + (tile - shown.height) // 2
            sheet.paste(shown, (x, y))
        return Edited(_jpeg(sheet, 85), tuple(i for i, _ in borrowed))

    return collage


def caption(img: Image.Image, rng: np.random.Generator, _: Others) -> Edited:
    """A white band with two lines of text added above or below (the canvas grows)."""
    pic = _rgb(img)
    band = max(24, pic.height // 5)
    out = Image.new("RGB", (pic.width, pic.height + band), "white")
    above = bool(rng.integers(0, 2))
    out.paste(pic, (0, band if above else 0))
    draw = ImageDraw.Draw(out)
    top = 0 if above else pic.height
    size = max(8, band // 3)
    draw.text(
        (size, top + band // 8), "shared again - look at this", fill="black", font=_font(size)
    )
    draw.text(
        (size, top + band // 8 + size + 2),
        "2026-12-07 #repost",
        fill=(90, 90, 90),
        font=_font(size),
    )
    return Edited(out)


def stretch(img: Image.Image, _rng: np.random.Generator, _: Others) -> Edited:
    """Squeezed to 78% of its height, width kept."""
    pic = _rgb(img)
    return Edited(
        pic.resize((pic.width, max(1, round(pic.height * 0.78))), Image.Resampling.BICUBIC)
    )


def thumbnail(img: Image.Image, _rng: np.random.Generator, _: Others) -> Edited:
    """Reduced to 160 pixels on the longer side."""
    pic = _rgb(img)
    pic.thumbnail((160, 160), Image.Resampling.BICUBIC)
    return Edited(pic)


def colour_grade(img: Image.Image, rng: np.random.Generator, _: Others) -> Edited:
    """A warm or cold tint, more contrast, less or more saturation, a lifted black."""
    pic = _rgb(img)
    pic = ImageEnhance.Contrast(pic).enhance(float(rng.uniform(1.2, 1.5)))
    pic = ImageEnhance.Color(pic).enhance(float(rng.choice([0.5, 1.6])))
    warm = bool(rng.integers(0, 2))
    tint = (255, 200, 150) if warm else (150, 190, 255)
    pic = Image.blend(pic, Image.new("RGB", pic.size, tint), 0.18)
    return Edited(ImageOps.autocontrast(pic, cutoff=1))


def mirror_crop_jpeg(img: Image.Image, rng: np.random.Generator, _: Others) -> Edited:
    """Mirrored, 8-12% cut from each side, saved as JPEG at quality 40."""
    pic = ImageOps.mirror(_rgb(img))
    w, h = pic.size
    left, top, right, bottom = rng.uniform(0.08, 0.12, size=4)
    box = (round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom)))
    cut = pic.crop(box)
    return Edited(_jpeg(cut, 40))


def rotated_crop_caption_jpeg(img: Image.Image, rng: np.random.Generator, o: Others) -> Edited:
    """A turned crop, then a caption band, then JPEG at quality 50."""
    turned = rotated_crop(img, rng, o).picture
    return Edited(_jpeg(caption(turned, rng, o).picture, 50))


#: The redistribution edits, by the name the table prints.
EDITS: Final[dict[str, Edit]] = {
    "crop 15-25% uneven": uneven_crop,
    "crop to a quarter": quarter_crop,
    "rotate 5-15 + crop": rotated_crop,
    "screenshot": screenshot,
    "picture in picture": picture_in_picture,
    "collage 2x2": _collage(2),
    "collage 3x3": _collage(3),
    "caption band": caption,
    "stretch 78% height": stretch,
    "thumbnail 160 px": thumbnail,
    "colour grading": colour_grade,
    "mirror + crop + jpeg 40": mirror_crop_jpeg,
    "turn + crop + caption + jpeg": rotated_crop_caption_jpeg,
}
