"""The demo scenario: a reference hash set and a seizure whose verdicts are known in advance.

The demo must show every triage verdict on benign pictures and prove itself: each file of the
seizure is made for one verdict (exact copies of known pictures are *known*, transformed
copies are *near*, unrelated pictures are *new*, broken files are *error*), and
``expected.json`` records that verdict outside the seizure folder, where no file name in the
seizure gives it away. Pictures come from the benign corpus when it is there, else they are
generated, so the demo works on any clone.

Pictures are chosen so that the scenario is honest: every one has a high PDQ quality and is far
(under all eight rotations and flips) from every other, so a *new* picture can never be a near
duplicate of a known one by accident (the corpus holds such families, e.g. one portrait at four
resolutions). Hashes are computed with vident's own decoder and PDQ signal.

An *earlier case*, ingested as another source before the seizure, shows what vident connects
beyond duplicates. The seizure holds other pictures of a person of the earlier case
(*related*: face), its place seen from another angle (*related*: scene, verified with local
features), a picture taken with the same camera body (*related*: serial), a 10% crop of one
of its pictures (*near*: keypoints, PDQ misses it) and its video re-encoded (*near*: vPDQ).
Each made item is checked with vident's own signals when it is built (a crop that the local
features would not recognise is not used), and each item's ``signals`` say which reason the
triage must give, so the demo proves *why* a file got its verdict, not only the verdict.
Without the corpus there are no faces and no videos to use: the other-angle, crop and
same-camera items are then made from generated pictures, the person and video items are left
out. The pictures the earlier case's people appear in (the person's folder, the group photos,
Biden's folder) are never *new* or *known* items: a face would link them to it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import random
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps
from PIL.ExifTags import IFD, Base

import vident
from vident.config import Limits
from vident.demo.synthetic import CAMERAS, camera_exif, photo_like
from vident.match.geometry import (
    MIN_DUPLICATE_INLIERS,
    MIN_SCENE_INLIERS,
    best_match,
    stored_query_features,
)
from vident.media.errors import MediaError
from vident.media.image import decode_image, register_heif
from vident.signals.keypoints import Keypoints
from vident.signals.pdq import Pdq
from vident.signals.registry import get as get_kind

SOURCE_NAME = "demo-seizure"
HASHSET_NAME = "demo-reference"
#: The earlier case: another source, ingested before the seizure, in this folder of the data
#: directory.
EARLIER_NAME = "demo-earlier-case"
EARLIER_FOLDER = "earlier-case"
HASHSET_HEADER = (
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "category",
    "series",
    "victim_identified",
    "comment",
)

KNOWN, NEAR, RELATED, NEW, ERROR = "known", "near", "related", "new", "error"

#: Smallest PDQ quality of a chosen picture (vident never matches below 50).
MIN_QUALITY = 80
#: Smallest PDQ distance between two chosen pictures under all rotations and flips; far above
#: the matching threshold (31) so no chosen picture can near-match another.
MIN_DISTANCE = 70
#: Pictures smaller than this on their shorter side are thumbnails, not demo material.
MIN_SIDE = 300
#: Corpus folders with photographs (the ``exif`` samples are tiny or broken on purpose).
CORPUS_FOLDERS = ("scenes", "faces")
_PICTURE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})

#: Sizes of generated demo pictures, cycled: moderate, so the demo and its tests stay quick.
_GENERATED_SIZES = ((1024, 768), (800, 1066), (1280, 720), (960, 960), (1200, 800), (720, 960))
_GENERATED_SEED = 7000

# The earlier case from the corpus (paths relative to it).
#: The person: one picture in the earlier case, the others in the seizure. Not Obama:
#: faces/obama/obama3.jpg is the same-camera item and would then be related by face as well,
#: and the Obama folder holds one portrait five times (four resolutions and a small copy).
PERSON_EARLIER = "faces/kit_harington/john1.jpeg"
PERSON_SEIZURE = ("faces/kit_harington/john2.jpeg", "faces/kit_harington/johnsnow_test1.jpg")
#: Two pictures of one camera body: a Canon EOS 5D Mark II (corpus README).
SERIAL_PAIR = ("faces/biden/biden.jpg", "faces/obama/obama3.jpg")
SERIAL = "720305332"
VIDEO_PAIR = ("video/carphone_pristine.mp4", "video/carphone_distorted.mp4")
#: Pictures for the other-angle and the crop items, tried in turn (textured enough for local
#: features; the first that passes the build-time check is used).
SCENE_CHOICES = ("scenes/astronaut.png", "scenes/coins.png", "scenes/chelsea.png")
CROP_CHOICES = ("scenes/coffee.png", "scenes/rocket.jpg", "scenes/camera.png")
#: Never *known* or *new* items: they show the earlier case's people (the group photos show
#: Kit Harington and Biden), so a face would relate them to it; obama3.jpg is an item itself.
NOT_IN_POOL = ("faces/kit_harington", "faces/_group", "faces/biden", "faces/obama/obama3.jpg")

#: The other-angle item: the picture turned this many degrees about a point off its centre
#: (fractions of width and height), then the largest window of its shape, at most this
#: fraction of its size, that stays inside the picture, then seen from the side: the
#: window's corners (fractions of it) pulled to the frame's. A turned crop alone is the same
#: picture (a duplicate); only a view no affine map follows is another angle.
ANGLE_DEGREES = 15.0
ANGLE_CENTRE = (0.62, 0.58)
ANGLE_MAX_SCALE = 0.7
ANGLE_CORNERS = ((0.18, 0.15), (0.85, 0.0), (1.0, 1.0), (0.0, 0.85))
#: The crop item: this fraction of the width and of the height cut from every side.
CROP_SIDE = 0.10
#: A made item is used only if local features find it with this many times the inliers the
#: triage needs: it must be found with room to spare, not by luck.
GEOMETRY_MARGIN = 1.5
#: Candidates tried for a made item before the build gives up: the first few pass when the
#: parameters above suit the matcher; a long search (each try costs a second) means they no
#: longer do, and the build says so instead of slowing every demo down.
MAX_LINK_TRIES = 12
#: A printed sign in a generated photo of the earlier case, for ``vident text``.
SIGN_LINES = ("LAKESIDE HOLIDAY PARK", "Reception open 8am - 6pm")
TEXT_QUERY = "lakeside"


@dataclass(frozen=True, slots=True)
class ScenarioItem:
    """One file of the seizure: where it is, the verdict it must get, and how it was made.

    ``path`` is the path inside the seizure, ``/``-separated, with archive members under their
    archive (``backup.zip/IMG_0101.jpg``). ``origin`` is the known picture it copies or
    transforms, for *known* and *near* items.
    """

    path: str
    verdict: str
    how: str
    origin: Path | None = None
    #: Reason signals the triage must give at least one of: what the item demonstrates
    #: (``("face", "person")`` for a person, ``("keypoints",)`` for a crop). Empty for new
    #: and error items.
    signals: tuple[str, ...] = ()
    #: The hash set or the earlier source that reason must point to.
    linked_to: str | None = None


@dataclass(frozen=True, slots=True)
class EarlierFile:
    """One file of the earlier case and what it is."""

    path: Path
    how: str


@dataclass(frozen=True, slots=True)
class Scenario:
    data_dir: Path
    hashset_csv: Path
    seizure_dir: Path
    expected_json: Path
    items: tuple[ScenarioItem, ...]
    #: Archives in the seizure (``path`` form): containers, not media, so they get no verdict.
    containers: tuple[str, ...]
    #: The pictures whose hashes are in the hash set.
    reference: tuple[Path, ...]
    #: Where the pictures come from: the corpus folder, or None for generated pictures.
    corpus: Path | None
    #: The earlier case's folder and files, ingested as ``earlier_name`` before the seizure.
    earlier_dir: Path
    earlier: tuple[EarlierFile, ...]
    source_name: str = SOURCE_NAME
    hashset_name: str = HASHSET_NAME
    earlier_name: str = EARLIER_NAME
    #: A word of the text printed in the earlier case, for ``vident text``.
    text_query: str = TEXT_QUERY

    @property
    def expected(self) -> dict[str, str]:
        return {item.path: item.verdict for item in self.items}


@dataclass(frozen=True, slots=True)
class _Picture:
    """A candidate picture: its file bytes, its oriented pixels' PDQ and where it came from."""

    data: bytes
    suffix: str
    label: str
    pdq: int
    variants: tuple[int, ...]
    file: Path | None


#: The default limits, not the environment's: the demo's own generated pictures are decoded.
_LIMITS = Limits.model_construct()


def default_corpus(configured: Path | None = None) -> Path | None:
    """The benign sample corpus: ``configured`` (the demo's ``--corpus``), else
    ``../shared/corpora`` of the clone; None when that folder does not exist.

    Given by the caller, never read from the environment here (settings are injected).
    """
    if configured is not None:
        return configured if configured.is_dir() else None
    repo = Path(vident.__file__).resolve().parents[2]
    path = repo.parent / "shared" / "corpora"
    return path if path.is_dir() else None


def full_pixels(data: bytes) -> Image.Image:
    """The whole picture, EXIF orientation applied, RGB: what a person would edit and resave."""
    with Image.open(io.BytesIO(data)) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def pdq_of(data: bytes) -> tuple[int, int, tuple[int, ...]]:
    """PDQ hash, quality and the seven other dihedral hashes, exactly as vident computes them."""
    value = Pdq().compute(decode_image(data, _LIMITS))
    if value is None:
        raise ValueError("no PDQ hash for this picture")
    variants = tuple(int.from_bytes(v, "big") for v in value.variants)
    return int.from_bytes(value.value, "big"), value.quality or 0, variants


def dihedral_distance(a: tuple[int, tuple[int, ...]], b: int) -> int:
    """Smallest PDQ distance from ``b`` to picture ``a`` under any rotation or flip of ``a``."""
    return min((h ^ b).bit_count() for h in (a[0], *a[1]))


def _corpus_files(corpus: Path) -> list[Path]:
    """Photographs of the corpus, scenes and faces interleaved, in a stable order."""
    folders = []
    for name in CORPUS_FOLDERS:
        files = sorted(
            p for p in (corpus / name).rglob("*") if p.suffix.lower() in _PICTURE_SUFFIXES
        )
        folders.append(files)
    mixed: list[Path] = []
    for index in range(max((len(f) for f in folders), default=0)):
        mixed.extend(f[index] for f in folders if index < len(f))
    return mixed


def _in_pool(corpus: Path, path: Path) -> bool:
    """Whether a corpus picture may be a known or new item (see :data:`NOT_IN_POOL`)."""
    label = path.relative_to(corpus).as_posix()
    return not any(label == held or label.startswith(f"{held}/") for held in NOT_IN_POOL)


def _corpus_picture(
    corpus: Path, path: Path, min_side: int = MIN_SIDE, min_quality: int = MIN_QUALITY
) -> _Picture | None:
    """A corpus picture with its PDQ, or None if vident cannot read it, it is too small or its
    PDQ is of too low a quality."""
    try:
        with Image.open(path) as probe:
            if min(probe.size) < min_side:
                return None
        data = path.read_bytes()
        pdq, quality, variants = pdq_of(data)
    except (OSError, ValueError, MediaError):  # a corpus picture vident cannot read
        return None
    if quality < min_quality:
        return None
    label = path.relative_to(corpus).as_posix()
    return _Picture(data, path.suffix.lower(), f"corpus {label}", pdq, variants, path)


def _from_corpus(corpus: Path) -> Iterator[_Picture]:
    for path in _corpus_files(corpus):
        if _in_pool(corpus, path) and (picture := _corpus_picture(corpus, path)) is not None:
            yield picture


def generated_jpeg(index: int, seed: int, quality: int = 90) -> bytes:
    """A generated demo picture as JPEG bytes with camera EXIF."""
    width, height = _GENERATED_SIZES[index % len(_GENERATED_SIZES)]
    buffer = io.BytesIO()
    picture = photo_like(width, height, seed)
    picture.save(buffer, "JPEG", quality=quality, exif=camera_exif(index, seed))
    return buffer.getvalue()


def _generated(start: int) -> Iterator[_Picture]:
    index = 0
    while True:
        seed = _GENERATED_SEED + start + index
        data = generated_jpeg(index, seed)
        pdq, quality, variants = pdq_of(data)
        if quality >= MIN_QUALITY:
            yield _Picture(data, ".jpg", f"generated picture, seed {seed}", pdq, variants, None)
        index += 1


class _Picker:
    """Hands out pictures that are far from every picture handed out before."""

    def __init__(self) -> None:
        self.chosen: list[_Picture] = []

    def fits(self, picture: _Picture) -> bool:
        return all(
            dihedral_distance((picture.pdq, picture.variants), other.pdq) > MIN_DISTANCE
            for other in self.chosen
        )

    def take(self, candidates: Iterator[_Picture]) -> _Picture:
        for picture in candidates:
            if self.fits(picture):
                self.chosen.append(picture)
                return picture
        raise RuntimeError("ran out of distinct pictures for the demo")


# Transformations that keep a picture a near duplicate (PDQ distance <= 31, up to rotation).
def _save(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _half(image: Image.Image) -> bytes:
    size = (max(1, image.width // 2), max(1, image.height // 2))
    return _save(image.resize(size, Image.Resampling.LANCZOS))


def _heic(image: Image.Image) -> bytes:
    """The picture as a phone saves it since 2017: HEIC, which vident must read too."""
    register_heif()  # pillow-heif writes HEIC as well as reading it
    buffer = io.BytesIO()
    image.save(buffer, "HEIF", quality=80)
    return buffer.getvalue()


_AS_HEIC = "saved as HEIC (iPhone format)"

TRANSFORMS: tuple[tuple[str, Callable[[Image.Image], bytes]], ...] = (
    ("resized to 50%", _half),
    ("recompressed at JPEG quality 40", lambda image: _save(image, quality=40)),
    ("flipped left-right", lambda image: _save(ImageOps.mirror(image))),
    ("rotated 90 degrees", lambda image: _save(image.transpose(Image.Transpose.ROTATE_90))),
    ("greyscale", lambda image: _save(ImageOps.grayscale(image))),
    (_AS_HEIC, _heic),
    ("flipped top-bottom", lambda image: _save(ImageOps.flip(image))),
)

#: A transformed copy is used only if it lands this close to its original: PDQ of some
#: pictures (repetitive textures) moves a lot under flips, and the demo must not depend on luck.
NEAR_MARGIN = 24

_SHOPPING_LIST = b"shopping list\n- bread\n- milk\n- batteries (AA)\n"

# Where a planned file goes: loose in the seizure folder, in the zip, directly in the tar.gz,
# or in the zip inside the tar.gz.
LOOSE, ZIPPED, TARRED, NESTED = "loose", "zip", "tar", "nested"
_BACKUP_ZIP = "DCIM_backup.zip"
_PHONE_TAR = "old_phone.tar.gz"
_PHONE_CAMERA = "phone/DCIM"
_PHONE_ZIP = "phone/whatsapp_images.zip"
_WHERE = {
    LOOSE: "",
    ZIPPED: ", in a zip",
    TARRED: ", in a tar.gz",
    NESTED: ", in a zip in a tar.gz",
}


@dataclass(frozen=True, slots=True)
class _Earlier:
    """A file of the earlier case: its name in the earlier case's folder, bytes, and story."""

    name: str
    data: bytes
    how: str


@dataclass(frozen=True, slots=True)
class _Planned:
    place: str
    data: bytes
    suffix: str
    verdict: str
    how: str
    origin: _Picture | None = None
    signals: tuple[str, ...] = ()
    linked_to: str | None = None
    #: The earlier case's file this item is linked to (instead of a known ``origin``).
    earlier: _Earlier | None = None


# --- the earlier case, and the seizure's files linked to it ----------------------------------


def crop_sides(image: Image.Image, fraction: float = CROP_SIDE) -> bytes:
    """The picture with ``fraction`` of its width and height cut from every side."""
    dx, dy = round(image.width * fraction), round(image.height * fraction)
    return _save(image.crop((dx, dy, image.width - dx, image.height - dy)))


def other_angle(image: Image.Image, degrees: float = ANGLE_DEGREES) -> bytes:
    """The place seen from another angle: the picture turned about a point off its centre, cut
    to the largest window (of its shape) around that point that stays inside the picture."""
    width, height = image.size
    cx, cy = width * ANGLE_CENTRE[0], height * ANGLE_CENTRE[1]
    cos, sin = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    # A window k*width x k*height turned by the angle spans these half-extents (for k = 1).
    half_x, half_y = (width * cos + height * sin) / 2, (width * sin + height * cos) / 2
    scale = min(
        ANGLE_MAX_SCALE,
        min(cx, width - cx) / half_x,
        min(cy, height - cy) / half_y,
    )
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC, center=(cx, cy))
    a, b = width * scale / 2, height * scale / 2
    window = turned.crop((round(cx - a), round(cy - b), round(cx + a), round(cy + b)))
    return _save(_from_the_side(window))


def _from_the_side(image: Image.Image) -> Image.Image:
    """The picture as a camera beside it sees it: :data:`ANGLE_CORNERS` of it fill the frame
    (Pillow's perspective transform, coefficients solved for the four corners)."""
    w, h = image.size
    frame = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]
    corners = [(fx * w, fy * h) for fx, fy in ANGLE_CORNERS]
    rows: list[list[float]] = []
    values: list[float] = []
    for (x, y), (u, v) in zip(frame, corners, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values += [u, v]
    coefficients = np.linalg.solve(np.array(rows), np.array(values))
    return image.transform(
        (w, h),
        Image.Transform.PERSPECTIVE,
        tuple(float(c) for c in coefficients),
        Image.Resampling.BICUBIC,
    )


def local_match(original: bytes, copy: bytes) -> tuple[str, int] | None:
    """How vident's local features relate ``copy`` to ``original``: ("duplicate" or
    "same_scene", inliers), exactly as the triage verifies a stored candidate."""
    kind = Keypoints()
    stored = kind.compute(decode_image(original, _LIMITS))
    query = kind.compute(decode_image(copy, _LIMITS))
    found = best_match(
        stored_query_features(query.value, query.variants), kind.unpack(stored.value)
    )
    return None if found is None else (found.relation, found.inliers)


def _as_picture(data: bytes, suffix: str, label: str, file: Path | None = None) -> _Picture:
    pdq, _, variants = pdq_of(data)
    return _Picture(data, suffix, label, pdq, variants, file)


def _linked_copy(
    candidates: Iterator[_Picture],
    picker: _Picker,
    make: Callable[[Image.Image], bytes],
    relation: str,
) -> tuple[_Picture, bytes]:
    """The first candidate whose ``make`` copy local features relate to it as ``relation``
    with room to spare while PDQ cannot match the two (the item must show the local features
    at work), both far from every picture chosen before; both join the chosen."""
    needed = MIN_DUPLICATE_INLIERS if relation == "duplicate" else MIN_SCENE_INLIERS
    for picture in itertools.islice(candidates, MAX_LINK_TRIES):
        if not picker.fits(picture):
            continue
        data = make(full_pixels(picture.data))
        copy = _as_picture(data, ".jpg", f"{picture.label}, made")
        if dihedral_distance((copy.pdq, copy.variants), picture.pdq) <= MIN_DISTANCE:
            continue
        found = local_match(picture.data, data)
        if found is None or found[0] != relation or found[1] < GEOMETRY_MARGIN * needed:
            continue
        picker.chosen.append(picture)
        if picker.fits(copy):
            picker.chosen.append(copy)
            return picture, data
        picker.chosen.pop()
    raise RuntimeError(
        f"none of {MAX_LINK_TRIES} pictures gives a {relation} copy for the demo: the demo's"
        " made items no longer suit the matcher (see ANGLE_CORNERS and CROP_SIDE)"
    )


def _choices(corpus: Path | None, paths: tuple[str, ...], start: int) -> Iterator[_Picture]:
    """The corpus pictures named (those present and readable), then generated ones."""
    if corpus is not None:
        for path in paths:
            if (corpus / path).is_file():
                picture = _corpus_picture(corpus, corpus / path, min_side=0)
                if picture is not None:
                    yield picture
    yield from _generated(start)


def sign_jpeg(seed: int) -> bytes:
    """A generated photo with a printed sign in it: text for ``vident text`` to find."""
    image = photo_like(1024, 768, seed)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=44)
    boxes = [[round(v) for v in draw.textbbox((0, 0), line, font=font)] for line in SIGN_LINES]
    left, top = 200, 250
    width = max(box[2] - box[0] for box in boxes)
    height = sum(box[3] - box[1] + 20 for box in boxes)
    draw.rectangle(
        (left - 30, top - 30, left + width + 30, top + height + 10), fill=(240, 238, 226)
    )
    for line, box in zip(SIGN_LINES, boxes, strict=True):
        draw.text((left - box[0], top - box[1]), line, font=font, fill=(25, 25, 35))
        top += box[3] - box[1] + 20
    return _save(image)


def _camera_jpeg(image: Image.Image, exif: Image.Exif) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def _serial_pair(picker: _Picker) -> tuple[_Picture, _Picture, str]:
    """Two generated photos, unrelated by their pixels, whose EXIF names one camera body."""
    body = next(number for number, camera in enumerate(CAMERAS) if camera[2])
    for number in itertools.count():
        seed = _GENERATED_SEED + 3000 + number
        index = (body - seed) % len(CAMERAS)  # camera_exif's body is (seed + index) % count
        exif = camera_exif(index, seed)
        later = camera_exif(index + len(CAMERAS), seed)  # same body, 3 h 42 min later
        serial = str(exif.get_ifd(IFD.Exif)[Base.BodySerialNumber])
        first = _as_picture(
            _camera_jpeg(photo_like(1024, 768, seed), exif), ".jpg", f"generated, seed {seed}"
        )
        other_seed = seed + 500
        second = _as_picture(
            _camera_jpeg(photo_like(768, 1024, other_seed), later),
            ".jpg",
            f"generated, seed {other_seed}",
        )
        if picker.fits(first) and picker.fits(second):
            far = dihedral_distance((second.pdq, second.variants), first.pdq) > MIN_DISTANCE
            if far:
                picker.chosen += [first, second]
                return first, second, serial
    raise AssertionError("unreachable")


def _fixed(corpus: Path, path: str, picker: _Picker) -> _Picture | None:
    """A corpus picture the scenario needs by name (None if absent); it joins the chosen."""
    if not (corpus / path).is_file():
        return None
    picture = _corpus_picture(corpus, corpus / path, min_side=0, min_quality=0)
    if picture is not None:
        picker.chosen.append(picture)
    return picture


def _earlier_case(corpus: Path | None, picker: _Picker) -> tuple[list[_Earlier], list[_Planned]]:
    """The earlier case's files, and the seizure's files linked to them."""
    earlier: list[_Earlier] = []
    planned: list[_Planned] = []

    def keep(data: bytes, suffix: str, how: str) -> _Earlier:
        name = f"DSC_{len(earlier) + 1:04d}{suffix}"
        earlier.append(_Earlier(name, data, how))
        return earlier[-1]

    def link(to: _Earlier, data: bytes, suffix: str, verdict: str, how: str, *by: str) -> None:
        planned.append(_Planned(LOOSE, data, suffix, verdict, how, None, by, EARLIER_NAME, to))

    def at(file: _Earlier) -> str:
        return f"{EARLIER_FOLDER}/{file.name}"

    person = _fixed(corpus, PERSON_EARLIER, picker) if corpus else None
    if corpus is not None and person is not None:
        seen = keep(person.data, person.suffix, f"a picture of a person ({person.label})")
        for path in PERSON_SEIZURE:
            if (other := _fixed(corpus, path, picker)) is not None:
                how = f"another picture of the person in {at(seen)} ({other.label})"
                link(seen, other.data, other.suffix, RELATED, how, "face", "person")

    scene, turned = _linked_copy(
        _choices(corpus, SCENE_CHOICES, 2000), picker, other_angle, "same_scene"
    )
    place = keep(scene.data, scene.suffix, f"a place ({scene.label})")
    how = f"the place in {at(place)} from another angle: turned {ANGLE_DEGREES:g} degrees"
    link(place, turned, ".jpg", RELATED, how + ", off-centre", "scene")

    whole, cropped = _linked_copy(
        _choices(corpus, CROP_CHOICES, 2500), picker, crop_sides, "duplicate"
    )
    kept = keep(whole.data, whole.suffix, f"a picture ({whole.label})")
    how = f"{at(kept)} with {CROP_SIDE:.0%} cut from every side (PDQ misses it)"
    link(kept, cropped, ".jpg", NEAR, how, "keypoints")

    pair = [_fixed(corpus, path, picker) for path in SERIAL_PAIR] if corpus else []
    if len(pair) == 2 and pair[0] is not None and pair[1] is not None:
        one, two, serial = pair[0], pair[1], SERIAL
    else:
        one, two, serial = _serial_pair(picker)
    body = keep(one.data, one.suffix, f"a photo from camera body {serial} ({one.label})")
    how = f"another photo from the camera body of {at(body)}, serial {serial} ({two.label})"
    link(body, two.data, two.suffix, RELATED, how, "serial")

    videos = [corpus / path for path in VIDEO_PAIR] if corpus else []
    if videos and all(path.is_file() for path in videos):
        clip = keep(videos[0].read_bytes(), ".mp4", f"a video (corpus {VIDEO_PAIR[0]})")
        how = f"the video {at(clip)} re-encoded, heavily compressed (corpus {VIDEO_PAIR[1]})"
        link(clip, videos[1].read_bytes(), ".mp4", NEAR, how, "vpdq")

    sign = picker.take(
        _as_picture(sign_jpeg(_GENERATED_SEED + 4000 + n), ".jpg", "generated")
        for n in itertools.count()
    )
    keep(sign.data, sign.suffix, f"a photo of a sign: {' / '.join(SIGN_LINES)}")
    return earlier, planned


def _plan(corpus: Path | None) -> tuple[list[_Planned], list[_Picture], list[_Earlier]]:
    """What goes where, the known pictures whose hashes form the hash set, and the earlier
    case. The earlier case is chosen first, so no known or new picture is near it."""
    picker = _Picker()
    earlier, linked = _earlier_case(corpus, picker)
    pool: Iterator[_Picture] = _generated(0)
    if corpus is not None:
        pool = itertools.chain(_from_corpus(corpus), pool)
    fresh = _generated(1000)  # always generated: shows the generator's pictures among the new
    spare: list[_Picture] = []

    def take() -> _Picture:
        return spare.pop(0) if spare else picker.take(pool)

    plan: list[_Planned] = list(linked)
    near: list[_Picture] = []
    for number, (how, transform) in enumerate(TRANSFORMS):
        while True:
            picture = picker.take(pool)
            data = transform(full_pixels(picture.data))
            value, _, variants = pdq_of(data)
            if dihedral_distance((value, variants), picture.pdq) <= NEAR_MARGIN:
                break
            spare.append(picture)
        place = NESTED if number == len(TRANSFORMS) - 1 else LOOSE
        suffix = ".heic" if how == _AS_HEIC else ".jpg"
        how = f"known picture {how}"
        plan.append(_Planned(place, data, suffix, NEAR, how, picture, ("pdq",), HASHSET_NAME))
        near.append(picture)
    exact = [take() for _ in range(4)]
    for place, picture in zip((LOOSE, LOOSE, LOOSE, ZIPPED), exact, strict=True):
        how = "exact copy of a known picture"
        by = ("sha256",)
        plan.append(
            _Planned(place, picture.data, picture.suffix, KNOWN, how, picture, by, HASHSET_NAME)
        )
    only = [take() for _ in range(3)]  # in the hash set, not in the seizure
    for place in (LOOSE, LOOSE, LOOSE, LOOSE, LOOSE, ZIPPED):
        picture = take()
        how = f"not in the hash set ({picture.label})"
        plan.append(_Planned(place, picture.data, picture.suffix, NEW, how))
    for place in (LOOSE, LOOSE, TARRED, NESTED):
        picture = picker.take(fresh)
        how = f"not in the hash set ({picture.label})"
        plan.append(_Planned(place, picture.data, picture.suffix, NEW, how))
    whole = generated_jpeg(0, _GENERATED_SEED + 999)
    plan.append(_Planned(LOOSE, whole[: len(whole) * 2 // 5], ".jpg", ERROR, "truncated JPEG"))
    plan.append(_Planned(LOOSE, b"", ".jpg", ERROR, "zero-byte file named .jpg"))
    return plan, [*exact, *near, *only], earlier


def build_scenario(data_dir: Path, corpus: Path | None) -> Scenario:
    """Write the hash set CSV, the seizure folder and ``expected.json`` under ``data_dir``.

    ``corpus`` is the benign corpus folder (see :func:`default_corpus`), or None to generate
    every picture. The same inputs always give the same scenario.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    seizure_dir = data_dir / "seizure"
    seizure_dir.mkdir()
    plan, known, earlier = _plan(corpus)

    earlier_dir = data_dir / EARLIER_FOLDER
    earlier_dir.mkdir()
    for file in earlier:
        (earlier_dir / file.name).write_bytes(file.data)

    # The reference collection: corpus files stay where they are; generated ones are written.
    reference: list[Path] = []
    for number, picture in enumerate(known, start=1):
        if picture.file is None:
            path = data_dir / "reference" / f"known_{number:03d}{picture.suffix}"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(picture.data)
            picture = replace(picture, file=path)
        assert picture.file is not None
        reference.append(picture.file)
    origin_of = {id(p): f for p, f in zip(known, reference, strict=True)}
    hashset_csv = data_dir / "reference-hashes.csv"
    _write_hashset(hashset_csv, known, reference)

    # Loose files in shuffled order, so that neither names nor order give verdicts away.
    loose = [p for p in plan if p.place == LOOSE]
    random.Random(20240601).shuffle(loose)
    ordered = loose + [p for p in plan if p.place != LOOSE]
    items: list[ScenarioItem] = []
    members: dict[str, list[tuple[str, bytes]]] = {ZIPPED: [], TARRED: [], NESTED: []}
    prefix = {
        LOOSE: "",
        ZIPPED: f"{_BACKUP_ZIP}/",
        TARRED: f"{_PHONE_TAR}/{_PHONE_CAMERA}/",
        NESTED: f"{_PHONE_TAR}/{_PHONE_ZIP}/",
    }
    for number, planned in enumerate(ordered, start=1):
        name = f"IMG_{number:04d}{'.jpg' if planned.suffix == '.jpeg' else planned.suffix}"
        if planned.place == LOOSE:
            (seizure_dir / name).write_bytes(planned.data)
        else:
            members[planned.place].append((name, planned.data))
        origin = origin_of[id(planned.origin)] if planned.origin else None
        if planned.earlier is not None:
            origin = earlier_dir / planned.earlier.name
        how = planned.how + _WHERE[planned.place]
        where = prefix[planned.place] + name
        items.append(
            ScenarioItem(where, planned.verdict, how, origin, planned.signals, planned.linked_to)
        )
    (seizure_dir / "photo.jpg").write_bytes(_SHOPPING_LIST)
    items.insert(len(loose), ScenarioItem("photo.jpg", ERROR, "text file named photo.jpg"))

    _write_zip(seizure_dir / _BACKUP_ZIP, members[ZIPPED])
    nested = io.BytesIO()
    _write_zip(nested, members[NESTED])
    tar_members = [(f"{_PHONE_CAMERA}/{name}", data) for name, data in members[TARRED]]
    _write_tar_gz(seizure_dir / _PHONE_TAR, [*tar_members, (_PHONE_ZIP, nested.getvalue())])

    expected_json = data_dir / "expected.json"
    scenario = Scenario(
        data_dir=data_dir,
        hashset_csv=hashset_csv,
        seizure_dir=seizure_dir,
        expected_json=expected_json,
        items=tuple(items),
        containers=(_BACKUP_ZIP, _PHONE_TAR, f"{_PHONE_TAR}/{_PHONE_ZIP}"),
        reference=tuple(reference),
        corpus=corpus,
        earlier_dir=earlier_dir,
        earlier=tuple(EarlierFile(earlier_dir / file.name, file.how) for file in earlier),
    )
    expected_json.write_text(json.dumps(scenario.expected, indent=1, sort_keys=True) + "\n")
    return scenario


def _write_hashset(path: Path, pictures: list[_Picture], files: list[Path]) -> None:
    """The reference hash set, in the CSV form ``vident hashset import`` reads."""
    pdq_kind = get_kind("pdq")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HASHSET_HEADER)
        for number, (picture, file) in enumerate(zip(pictures, files, strict=True)):
            writer.writerow(
                [
                    hashlib.md5(picture.data).hexdigest(),
                    hashlib.sha1(picture.data).hexdigest(),
                    hashlib.sha256(picture.data).hexdigest(),
                    pdq_kind.to_hex(picture.pdq.to_bytes(32, "big")),
                    "demo",
                    f"demo-series-{number % 3 + 1}",
                    "",
                    f"{picture.label} ({file.name})",
                ]
            )


def _write_zip(target: Path | io.BytesIO, members: list[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2023, 3, 14, 15, 9, 26)), data)


def _write_tar_gz(path: Path, members: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_678_806_566
            archive.addfile(info, io.BytesIO(data))


def check_triage(scenario: Scenario, report: Mapping[str, Any]) -> list[str]:
    """Differences between the triage report (``triage --format json``) and the expectations.

    Paths are matched exactly, else by file name (all names in the seizure are unique), so a
    different spelling of archive member paths does not hide a real difference. An item with
    the expected verdict must also give the reason it was made for: one of its ``signals``,
    pointing to its hash set or earlier source (a crop found by PDQ instead of local features
    would not show what it is there for). An empty list means everything is as expected.
    """
    expected = {item.path: item for item in scenario.items}
    by_name = {PurePosixPath(path).name: path for path in expected}
    container_names = {PurePosixPath(c).name for c in scenario.containers}
    seen: dict[str, Mapping[str, Any]] = {}
    problems: list[str] = []
    for item in report.get("items", []):
        path = str(item.get("path", "")).removeprefix("./")
        key = path if path in expected else by_name.get(PurePosixPath(path).name)
        if key is None:
            if PurePosixPath(path).name not in container_names:
                problems.append(f"{path}: not part of the scenario (verdict {item.get('verdict')})")
            continue
        seen[key] = item
    for path, want in expected.items():
        got = seen.get(path)
        if got is None:
            problems.append(f"{path}: missing from the triage (expected {want.verdict})")
        elif str(got.get("verdict")) != want.verdict:
            problems.append(f"{path}: {got.get('verdict')}, expected {want.verdict}")
        elif want.signals and not _gives_reason(got, want):
            problems.append(
                f"{path}: {want.verdict}, but no {' or '.join(want.signals)} reason "
                f"to {want.linked_to}"
            )
    return problems


def _gives_reason(item: Mapping[str, Any], want: ScenarioItem) -> bool:
    return any(
        reason.get("signal") in want.signals
        and want.linked_to in (reason.get("hashset"), reason.get("source"))
        for reason in item.get("reasons") or []
    )
