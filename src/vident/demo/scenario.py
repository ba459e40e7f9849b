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
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import random
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image, ImageOps

import vident
from vident.config import Limits
from vident.demo.synthetic import camera_exif, photo_like
from vident.media.errors import MediaError
from vident.media.image import decode_image
from vident.signals.pdq import Pdq
from vident.signals.registry import get as get_kind

SOURCE_NAME = "demo-seizure"
HASHSET_NAME = "demo-reference"
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

KNOWN, NEAR, NEW, ERROR = "known", "near", "new", "error"

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
    source_name: str = SOURCE_NAME
    hashset_name: str = HASHSET_NAME

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


def default_corpus() -> Path | None:
    """The benign sample corpus: ``$VIDENT_CORPUS``, else ``../shared/corpora`` of the clone."""
    configured = os.environ.get("VIDENT_CORPUS")
    if configured:
        path = Path(configured)
        return path if path.is_dir() else None
    repo = Path(vident.__file__).resolve().parents[2]
    path = repo.parent / "shared" / "corpora"
    return path if path.is_dir() else None


def full_pixels(data: bytes) -> Image.Image:
    """The whole picture, EXIF orientation applied, RGB: what a person would edit and resave."""
    with Image.open(io.BytesIO(data)) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def pdq_of(data: bytes) -> tuple[int, int, tuple[int, ...]]:
    """PDQ hash, quality and the seven other dihedral hashes, exactly as vident computes them."""
    value = Pdq().compute(decode_image(data, Limits()))
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


def _from_corpus(corpus: Path) -> Iterator[_Picture]:
    for path in _corpus_files(corpus):
        try:
            with Image.open(path) as probe:
                if min(probe.size) < MIN_SIDE:
                    continue
            data = path.read_bytes()
            pdq, quality, variants = pdq_of(data)
        except (OSError, ValueError, MediaError):  # a corpus picture vident cannot read
            continue
        if quality >= MIN_QUALITY:
            label = path.relative_to(corpus).as_posix()
            yield _Picture(data, path.suffix.lower(), f"corpus {label}", pdq, variants, path)


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

    def take(self, candidates: Iterator[_Picture]) -> _Picture:
        for picture in candidates:
            if all(
                dihedral_distance((picture.pdq, picture.variants), other.pdq) > MIN_DISTANCE
                for other in self.chosen
            ):
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


TRANSFORMS: tuple[tuple[str, Callable[[Image.Image], bytes]], ...] = (
    ("resized to 50%", _half),
    ("recompressed at JPEG quality 40", lambda image: _save(image, quality=40)),
    ("flipped left-right", lambda image: _save(ImageOps.mirror(image))),
    ("rotated 90 degrees", lambda image: _save(image.transpose(Image.Transpose.ROTATE_90))),
    ("greyscale", lambda image: _save(ImageOps.grayscale(image))),
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
class _Planned:
    place: str
    data: bytes
    suffix: str
    verdict: str
    how: str
    origin: _Picture | None = None


def _plan(corpus: Path | None) -> tuple[list[_Planned], list[_Picture]]:
    """What goes where, and the known pictures whose hashes form the hash set."""
    picker = _Picker()
    pool: Iterator[_Picture] = _generated(0)
    if corpus is not None:
        pool = itertools.chain(_from_corpus(corpus), pool)
    fresh = _generated(1000)  # always generated: shows the generator's pictures among the new
    spare: list[_Picture] = []

    def take() -> _Picture:
        return spare.pop(0) if spare else picker.take(pool)

    plan: list[_Planned] = []
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
        plan.append(_Planned(place, data, ".jpg", NEAR, f"known picture {how}", picture))
        near.append(picture)
    exact = [take() for _ in range(4)]
    for place, picture in zip((LOOSE, LOOSE, LOOSE, ZIPPED), exact, strict=True):
        how = "exact copy of a known picture"
        plan.append(_Planned(place, picture.data, picture.suffix, KNOWN, how, picture))
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
    return plan, [*exact, *near, *only]


def build_scenario(data_dir: Path, corpus: Path | None) -> Scenario:
    """Write the hash set CSV, the seizure folder and ``expected.json`` under ``data_dir``.

    ``corpus`` is the benign corpus folder (see :func:`default_corpus`), or None to generate
    every picture. The same inputs always give the same scenario.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    seizure_dir = data_dir / "seizure"
    seizure_dir.mkdir()
    plan, known = _plan(corpus)

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
        how = planned.how + _WHERE[planned.place]
        items.append(ScenarioItem(prefix[planned.place] + name, planned.verdict, how, origin))
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
    different spelling of archive member paths does not hide a real difference. An empty list
    means every verdict is as expected.
    """
    expected = scenario.expected
    by_name = {PurePosixPath(path).name: path for path in expected}
    container_names = {PurePosixPath(c).name for c in scenario.containers}
    seen: dict[str, str] = {}
    problems: list[str] = []
    for item in report.get("items", []):
        path = str(item.get("path", "")).removeprefix("./")
        verdict = str(item.get("verdict"))
        key = path if path in expected else by_name.get(PurePosixPath(path).name)
        if key is None:
            if PurePosixPath(path).name not in container_names:
                problems.append(f"{path}: not part of the scenario (verdict {verdict})")
            continue
        seen[key] = verdict
    for path, want in expected.items():
        got = seen.get(path)
        if got is None:
            problems.append(f"{path}: missing from the triage (expected {want})")
        elif got != want:
            problems.append(f"{path}: {got}, expected {want}")
    return problems
