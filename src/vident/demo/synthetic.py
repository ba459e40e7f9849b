"""Generated photo-like pictures for demos, tests and benchmarks.

The project must never depend on real seized material, and the benign corpus is not in every
clone, so demos, tests and the ingest benchmark need pictures that behave like photographs
without being any: a smooth sky over a textured ground, objects at several scales with soft
far edges and sharp near ones, and mild sensor noise. That gives PDQ hashes of high quality
(flat pictures would never match) that are far apart for different seeds (unrelated pictures
must not look like near duplicates), and JPEG files of realistic size and decode cost.

Speed matters for 12-megapixel benchmark files: the scene is painted on a small canvas with
numpy and Pillow, upscaled once in C, and the full-resolution detail (thin sharp strokes and a
tiled, seeded noise patch) costs a few passes over the pixels.
"""

from __future__ import annotations

import colorsys
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageChops, ImageDraw, ImageFilter
from PIL.ExifTags import IFD, Base

#: Longer side of the canvas the scene is painted on before upscaling.
CANVAS_SIDE = 384

#: Size of the seeded noise patch tiled over the full picture (odd sizes hide the period).
_NOISE_TILE = (251, 257)

#: (make, model, has a body serial in its EXIF): a mix of cameras and phones.
CAMERAS: tuple[tuple[str, str, bool], ...] = (
    ("Canon", "Canon EOS 80D", True),
    ("NIKON CORPORATION", "NIKON D750", True),
    ("Apple", "iPhone 12", False),
    ("SONY", "ILCE-7M3", True),
    ("samsung", "SM-G991B", False),
    ("FUJIFILM", "X-T30", False),
)

_ASPECTS = (4 / 3, 3 / 2, 16 / 9, 1.0, 3 / 4, 2 / 3)

Float = NDArray[np.float32]


def _fractal(rng: np.random.Generator, width: int, height: int, octaves: int, cells: int) -> Float:
    """Value noise in [0, 1]: random grids at doubling resolutions, upscaled smoothly."""
    out = np.zeros((height, width), np.float32)
    amplitude, total = 1.0, 0.0
    for _ in range(octaves):
        grid_h = max(2, round(cells * height / width))
        grid = rng.integers(0, 256, size=(grid_h, cells), dtype=np.uint8)
        smooth = Image.fromarray(grid, "L").resize((width, height), Image.Resampling.BICUBIC)
        out += amplitude * np.asarray(smooth, np.float32) / 255.0
        total += amplitude
        amplitude *= 0.5
        cells *= 2
    return out / total


def _colour(
    rng: np.random.Generator,
    saturation: tuple[float, float] = (0.15, 0.55),
    value: tuple[float, float] = (0.25, 0.9),
) -> Float:
    """A muted, mostly natural colour (earth, foliage, water) as float RGB in 0..255."""
    hues = (rng.uniform(0.05, 0.16), rng.uniform(0.2, 0.4), rng.uniform(0.52, 0.65), rng.random())
    hue = float(hues[int(rng.integers(0, len(hues)))])
    rgb = colorsys.hsv_to_rgb(hue, float(rng.uniform(*saturation)), float(rng.uniform(*value)))
    return np.array(rgb, np.float32) * 255.0


def _backdrop(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Sky above a slightly tilted, uneven horizon; textured ground below."""
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :]
    horizon = (
        rng.uniform(0.25, 0.7)
        + rng.uniform(-0.15, 0.15) * xs
        + 0.08 * (_fractal(rng, width, 1, 3, 2) - 0.5)
    )
    sky_top = _colour(rng, (0.1, 0.5), (0.6, 1.0))
    sky_low = _colour(rng, (0.05, 0.3), (0.7, 1.0))
    t = np.clip(ys / np.maximum(horizon, 1e-3), 0.0, 1.0)[..., None]
    sky = sky_top * (1 - t) + sky_low * t
    sky += 25.0 * (_fractal(rng, width, height, 3, 2)[..., None] - 0.5)
    mix = _fractal(rng, width, height, 5, 3)[..., None]
    ground = _colour(rng) * mix + _colour(rng) * (1 - mix)
    pixels = np.where((ys > horizon)[..., None], ground, sky)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    return image.filter(ImageFilter.GaussianBlur(1.5))


def _draw_shape(draw: ImageDraw.ImageDraw, rng: np.random.Generator, r: float) -> None:
    """One filled shape centred in a (4r x 4r) box: ellipse, polygon, block or stroke."""
    c = 2 * r
    kind = int(rng.integers(0, 4))
    if kind == 0:
        draw.ellipse((c - r, c - r * rng.uniform(0.4, 1.0), c + r, c + r), fill=255)
    elif kind == 1:
        corners = int(rng.integers(3, 8))
        angles = np.sort(rng.uniform(0, 2 * math.pi, corners))
        radii = r * rng.uniform(0.5, 1.0, corners)
        points = [
            (float(c + a * math.cos(b)), float(c + a * math.sin(b)))
            for a, b in zip(radii, angles, strict=True)
        ]
        draw.polygon(points, fill=255)
    elif kind == 2:
        half_w, half_h = r * rng.uniform(0.3, 1.0), r * rng.uniform(0.3, 1.2)
        draw.rectangle((c - half_w, c - half_h, c + half_w, c + half_h), fill=255)
    else:
        end = (float(c + rng.uniform(-1.9, 1.9) * r), float(c + rng.uniform(-1.9, 1.9) * r))
        draw.line([(c, c), end], fill=255, width=max(1, int(r / 6)))


def _objects(rng: np.random.Generator, canvas: Image.Image) -> None:
    """Paint objects far to near: large soft ones first, then sharp ones and small clutter."""
    width, height = canvas.size
    shade = _fractal(rng, width, height, 5, 4)
    longest = max(width, height)
    for count, size, blur in ((5, 0.25, 2.5), (8, 0.12, 1.2), (4, 0.3, 0.0), (20, 0.03, 0.0)):
        for _ in range(count):
            r = max(2.0, size * longest * float(rng.uniform(0.5, 1.0)))
            box = math.ceil(4 * r)
            left = int(rng.uniform(0, width)) - box // 2
            top = int(rng.uniform(0.15 * height, height)) - box // 2
            mask = Image.new("L", (box, box), 0)
            _draw_shape(ImageDraw.Draw(mask), rng, r)
            if blur:
                mask = mask.filter(ImageFilter.GaussianBlur(blur))
            # Light falls across the object and its surface is mottled, like a real one.
            x0, y0 = max(0, left), max(0, top)
            x1, y1 = min(width, left + box), min(height, top + box)
            if x0 >= x1 or y0 >= y1:
                continue
            ys = np.linspace(y0 / height, y1 / height, y1 - y0, dtype=np.float32)[:, None]
            xs = np.linspace(x0 / width, x1 / width, x1 - x0, dtype=np.float32)[None, :]
            light = rng.uniform(-0.25, 0.25, 2)
            lit = 0.75 + 0.5 * rng.uniform(0.5, 1.0) * shade[y0:y1, x0:x1]
            lit = lit + light[0] * xs + light[1] * ys
            layer = np.clip(_colour(rng) * lit[..., None], 0, 255).astype(np.uint8)
            part = mask.crop((x0 - left, y0 - top, x1 - left, y1 - top))
            canvas.paste(Image.fromarray(layer, "RGB"), (x0, y0), part)


def _fine_detail(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    """Full-resolution detail: a few thin sharp strokes (twigs, wires) and sensor noise."""
    width, height = image.size
    draw = ImageDraw.Draw(image)
    stroke = max(1, round(max(width, height) / 1500))
    for _ in range(int(rng.integers(6, 14))):
        x, y = float(rng.uniform(0, width)), float(rng.uniform(0, height))
        points = [(x, y)]
        for _ in range(int(rng.integers(2, 5))):
            x += float(rng.normal(0, width / 20))
            y += float(rng.normal(0, height / 20))
            points.append((x, y))
        tone = int(rng.integers(10, 90))
        draw.line(points, fill=(tone, tone, tone), width=stroke)
    tile_h, tile_w = _NOISE_TILE
    tile = rng.normal(16.0, 5.0, size=(tile_h, tile_w, 3)).clip(0, 32).astype(np.uint8)
    reps = (-(-height // tile_h), -(-width // tile_w), 1)
    noise = np.tile(tile, reps)[:height, :width]
    return ImageChops.add(image, Image.fromarray(noise, "RGB"), scale=1.0, offset=-16)


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """A deterministic photo-like RGB picture of the given size; each seed a different scene."""
    if width < 1 or height < 1:
        raise ValueError(f"picture size must be positive, got {width}x{height}")
    rng = np.random.default_rng(seed)
    scale = CANVAS_SIDE / max(width, height)
    canvas_w = max(16, round(width * scale))
    canvas_h = max(16, round(height * scale))
    canvas = _backdrop(rng, canvas_w, canvas_h)
    _objects(rng, canvas)
    picture = canvas.resize((width, height), Image.Resampling.BICUBIC)
    return _fine_detail(rng, picture)


def camera_exif(index: int, seed: int) -> Image.Exif:
    """A realistic EXIF block: make, model, capture time and, for some bodies, a serial."""
    body = (seed + index) % len(CAMERAS)
    make, model, has_serial = CAMERAS[body]
    taken = datetime(2021, 5, 1, 9, 0, 0) + timedelta(minutes=37 * index + 1009 * seed)
    stamp = taken.strftime("%Y:%m:%d %H:%M:%S")
    exif = Image.Exif()
    exif[Base.Make] = make
    exif[Base.Model] = model
    exif[Base.DateTime] = stamp
    exif[Base.Orientation] = 1
    details = exif.get_ifd(IFD.Exif)
    details[Base.DateTimeOriginal] = stamp
    details[Base.DateTimeDigitized] = stamp
    if has_serial:
        # One body per make and seed: a set of files shares cameras, as a real seizure does.
        details[Base.BodySerialNumber] = f"{(body + 1) * 104_729 + seed * 7_919:09d}"
    return exif


#: The golden ratio's fractional part: index * this (mod 1) spreads any prefix evenly over 0..1.
_GOLDEN = (math.sqrt(5) - 1) / 2


def photo_size(index: int, min_mp: float, max_mp: float, seed: int) -> tuple[int, int]:
    """The size of picture ``index`` of a set, in megapixels between ``min_mp`` and ``max_mp``.

    Sizes follow a low-discrepancy sequence, so the first ``n`` pictures of a set cover the
    whole range evenly for every ``n``: a small set is a prefix of a large one, and a cache of
    the large one serves both.
    """
    if not 0 < min_mp <= max_mp:
        raise ValueError(f"need 0 < min_mp <= max_mp, got {min_mp} and {max_mp}")
    fraction = (0.5 + index * _GOLDEN + seed * 0.1234) % 1.0
    megapixels = min_mp + (max_mp - min_mp) * fraction
    rng = np.random.default_rng([seed, index, 1])
    aspect = _ASPECTS[int(rng.integers(0, len(_ASPECTS)))]
    pixels = megapixels * 1_000_000
    width = max(16, round(math.sqrt(pixels * aspect)))
    height = max(16, round(pixels / width))
    return width, height


def write_photo_jpeg(
    path: Path,
    index: int,
    *,
    min_mp: float = 1.0,
    max_mp: float = 12.0,
    seed: int = 0,
    quality: int = 90,
) -> Path:
    """Write picture ``index`` of the set ``seed`` as a JPEG with camera EXIF to ``path``."""
    width, height = photo_size(index, min_mp, max_mp, seed)
    picture = photo_like(width, height, seed * 1_000_003 + index)
    picture.save(path, "JPEG", quality=quality, exif=camera_exif(index, seed))
    return path


def write_photo_jpegs(
    directory: Path,
    count: int,
    *,
    min_mp: float = 1.0,
    max_mp: float = 12.0,
    seed: int = 0,
    quality: int = 90,
) -> list[Path]:
    """Write ``count`` deterministic photo-like JPEGs (``IMG_0001.jpg`` ...) with camera EXIF.

    The same arguments always give the same bytes, and the first ``n`` files of a set do not
    depend on ``count``, so a cache of them stays valid.
    """
    directory.mkdir(parents=True, exist_ok=True)
    return [
        write_photo_jpeg(
            directory / f"IMG_{index + 1:04d}.jpg",
            index,
            min_mp=min_mp,
            max_mp=max_mp,
            seed=seed,
            quality=quality,
        )
        for index in range(count)
    ]
