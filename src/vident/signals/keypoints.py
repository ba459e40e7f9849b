"""Local features (ORB keypoints) stored at ingest, to verify candidates geometrically.

A perceptual hash sees the whole frame, so a picture cropped by a few per cent per side, or a
photo of the same place from another angle, escapes it. Local features survive both: a few
hundred small patches, each described independently, that a query can match and then check
for one consistent geometric transform (:mod:`vident.match.geometry`).

Why it is built this way (measured with ``bench.quality_near`` on the shared corpus, 2-core
box, OpenCV 5.0):

* **ORB, not SIFT.** OpenCV 5 ships ORB and SIFT in the main module (AKAZE and BRISK moved to
  contrib). On the 640 px working picture ORB takes about 5 ms, SIFT 60-110 ms, and ingest
  must stay at a few tens of ms per picture. ORB's binary descriptors are 32 bytes, SIFT's
  128 floats, and ORB alone already finds 98.5% of the corpus edits. 90-degree turns need
  nothing (ORB descriptors are steered by the keypoint orientation), but no descriptor is
  mirror-invariant: the value's one variant holds the features of the mirror image, so any
  stored picture can also be the query of a verification and still find a flipped copy.
* **500 points.** On a third of the corpus (before the agreement tests) 300 points found
  96.6% of the edits, 500 and 800 96.8%; 500 keeps a value under 18 KB (36 KB with the
  mirror variant).
* **A fixed working size.** The picture is scaled so its longer side is :data:`WORK_SIDE`
  pixels (small pictures are enlarged, at most :data:`MAX_UPSCALE` times: 2, 3 or 8 found
  fewer edits of the corpus's 100-px thumbnails than 4): a resized copy then
  yields the same features as its original, a crop of 10% per side is seen 1.25 times larger,
  well inside ORB's 8-level pyramid, and the cost is bounded whatever the input size.
* **Compact packing.** Coordinates are stored as uint16 fractions of the picture's width and
  height (sub-pixel for any picture under 65,000 px), so they are independent of the decoded
  size; with :data:`STORED_POINTS` points a value is at most ``10 + 36 * n`` bytes.
* **The candidate's pixels are never needed again**: verification reads only this value, so
  the evidence file may be offline when a query runs.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from vident.media.types import DecodedImage
from vident.signals.base import ImageSignal, MatchRule, SignalValue
from vident.signals.panels import panels

#: Longer side, in pixels, of the grey picture features are computed on.
WORK_SIDE: Final = 640
#: Longer side of the dense set: a picture 1.6 times as large, with 2.4 times the points. One
#: tile of a collage, a picture inside a screenshot or a heavy crop sits at a scale of the
#: picture it copies where the 640-pixel set holds too few points to agree on.
DENSE_SIDE: Final = 1024
#: Keypoints of the dense set. Measured on the corpus (every 4th picture, 36 queries per
#: edit, at least 12 similarity inliers with the source): 1,200 at 1,024 px found 14 3 x 3
#: collage tiles, 24 2 x 2 and 36 pictures in pictures, against 15, 25 and 36 with 1,500 at
#: 1,280 px, for about 70% of the time (2,000 at 1,280: 18, 27, 36 at 40% more again).
DENSE_POINTS: Final = 1200
#: Keypoints of each panel's set (:func:`panel_sets`): a panel is a picture of its own at the
#: working size, like a thumbnail query, and 300 points keep a 3 x 3 collage's sets at 100 KB.
PANEL_POINTS: Final = 300
#: Shorter side, in pixels, the working picture is given at least (a line of text 400x80 px
#: would otherwise be too thin for ORB's 31-pixel descriptor patch).
MIN_SHORT_SIDE: Final = 160
#: Small pictures are enlarged to the working size, but no more than this factor: beyond it
#: interpolation invents smooth corners that match everything weakly.
MAX_UPSCALE: Final = 4.0
#: Most pixels of the working picture (bounds the cost for panoramas).
#: Keypoints kept per stored picture (the strongest, spread over ORB's pyramid levels).
STORED_POINTS: Final = 500
#: Fewer keypoints than this say nothing reliable: the value is then left empty.
MIN_POINTS: Final = 8
#: Bytes of one ORB descriptor.
DESCRIPTOR_BYTES: Final = 32
#: ORB's FAST thresholds, tried in turn while fewer than half the wanted keypoints are found:
#: OpenCV's default of 20 finds almost nothing on soft, hazy or enlarged pictures.
FAST_THRESHOLDS: Final = (12, 6, 3)

_HEADER: Final = struct.Struct("<IIH")
_COORD_SCALE: Final = 65535.0


@dataclass(frozen=True, slots=True)
class LocalFeatures:
    """Keypoints of one picture (or region, or mirror image of either).

    ``points`` are (x, y) in pixels of a ``width`` x ``height`` frame: the full picture, as
    stored, or the queried region. ``mirrored`` marks the features of a left-right mirror
    image (query side only): their coordinates are those of the mirrored frame.
    """

    points: npt.NDArray[np.float32]
    descriptors: npt.NDArray[np.uint8]
    width: int
    height: int
    mirrored: bool = False

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @staticmethod
    def empty(width: int = 0, height: int = 0, *, mirrored: bool = False) -> LocalFeatures:
        return LocalFeatures(
            np.zeros((0, 2), np.float32),
            np.zeros((0, DESCRIPTOR_BYTES), np.uint8),
            width,
            height,
            mirrored,
        )


def working_grey(
    pixels: Image.Image, max_upscale: float = MAX_UPSCALE, side: int = WORK_SIDE
) -> tuple[npt.NDArray[np.uint8], float]:
    """The picture as grey uint8 at the working size (longer side ``side``), and the factor
    applied to ``pixels``."""
    grey = pixels.convert("L")
    w, h = grey.size
    factor = max(side / max(w, h), MIN_SHORT_SIDE / min(w, h))
    factor = min(factor, max_upscale, math.sqrt(side * side / (w * h)))
    size = (max(1, round(grey.width * factor)), max(1, round(grey.height * factor)))
    if size != grey.size:
        method = Image.Resampling.BILINEAR if factor < 1 else Image.Resampling.BICUBIC
        # reducing_gap: box-prefilter big reductions so the result is antialiased and fast.
        grey = grey.resize(size, method, reducing_gap=2.0 if factor < 0.5 else None)
    return np.asarray(grey, dtype=np.uint8), factor


def detect(
    pixels: Image.Image,
    width: int,
    height: int,
    points: int = STORED_POINTS,
    *,
    mirrored: bool = False,
) -> LocalFeatures:
    """ORB features of ``pixels``, with coordinates scaled to a ``width`` x ``height`` frame.

    ``pixels`` may be a reduced copy of that frame (the decoded picture of a larger file);
    fewer than :data:`MIN_POINTS` keypoints give an empty result. With ``mirrored`` the
    features are those of the left-right mirror image, in its own (mirrored) frame.
    """
    grey, _ = working_grey(pixels)
    if mirrored:
        grey = np.ascontiguousarray(grey[:, ::-1])
    return detect_grey(grey, width, height, points, mirrored=mirrored)


def detect_grey(
    grey: npt.NDArray[np.uint8], width: int, height: int, points: int, *, mirrored: bool = False
) -> LocalFeatures:
    """:func:`detect` on a picture already at the working size (see :func:`working_grey`)."""
    gh, gw = grey.shape
    # edgeThreshold/patchSize 31 is ORB's descriptor patch: smaller pictures cannot hold one.
    if min(gw, gh) < 40:
        return LocalFeatures.empty(width, height)
    keypoints: Sequence[cv2.KeyPoint] = ()
    descriptors: Any = None  # the stubs say an array; OpenCV returns None for no keypoint
    for threshold in FAST_THRESHOLDS:
        orb = cv2.ORB.create(nfeatures=points, fastThreshold=threshold)
        keypoints, descriptors = orb.detectAndCompute(grey, None)
        if len(keypoints) >= points // 2:
            break
    if descriptors is None or len(keypoints) < MIN_POINTS:
        return LocalFeatures.empty(width, height)
    xy = np.array([kp.pt for kp in keypoints], dtype=np.float32).reshape(-1, 2)
    xy *= np.array([width / gw, height / gh], dtype=np.float32)
    return LocalFeatures(xy, np.ascontiguousarray(descriptors, np.uint8), width, height, mirrored)


def pack(features: LocalFeatures) -> bytes:
    """Header (width, height, n), then uint16 coordinates, then the descriptors."""
    n = len(features)
    if n == 0:
        return b""
    frame = np.array([features.width, features.height], dtype=np.float64)
    fractions = np.clip(features.points.astype(np.float64) / frame, 0.0, 1.0)
    coords = np.rint(fractions * _COORD_SCALE).astype("<u2")
    return (
        _HEADER.pack(features.width, features.height, n)
        + coords.tobytes()
        + features.descriptors.tobytes()
    )


def unpack(value: bytes, *, mirrored: bool = False) -> LocalFeatures:
    """The features of a stored value (an empty value gives no points); ``mirrored`` for
    the value's variant, the features of the mirror image."""
    if len(value) < _HEADER.size:
        return LocalFeatures.empty(mirrored=mirrored)
    width, height, n = _HEADER.unpack_from(value)
    expected = _HEADER.size + n * (4 + DESCRIPTOR_BYTES)
    if len(value) != expected:
        raise ValueError(f"keypoints value has {len(value)} bytes, expected {expected}")
    start = _HEADER.size
    coords = np.frombuffer(value, dtype="<u2", count=2 * n, offset=start).reshape(n, 2)
    points = (coords.astype(np.float32) / np.float32(_COORD_SCALE)) * np.array(
        [width, height], dtype=np.float32
    )
    descriptors = np.frombuffer(value, dtype=np.uint8, offset=start + 4 * n).reshape(
        n, DESCRIPTOR_BYTES
    )
    return LocalFeatures(points, descriptors, width, height, mirrored)


def dense(pixels: Image.Image, width: int, height: int) -> LocalFeatures:
    """The dense set: :data:`DENSE_POINTS` keypoints at :data:`DENSE_SIDE` (see there)."""
    grey, _ = working_grey(pixels, side=DENSE_SIDE)
    return detect_grey(grey, width, height, DENSE_POINTS)


def panel_sets(
    pixels: Image.Image, width: int, height: int, grey: npt.NDArray[np.uint8] | None = None
) -> list[LocalFeatures]:
    """The features of each panel of the picture (:func:`vident.signals.panels.panels`: a
    collage's tiles, the picture in a screenshot, a picture above its caption), each computed
    on the panel alone at the working size, with coordinates in the ``width`` x ``height``
    frame: a match then says where in the picture the known one lies. Panels without enough
    keypoints are left out. ``grey`` is the working picture when the caller has it."""
    if grey is None:
        grey, _ = working_grey(pixels)
    sx, sy = width / pixels.width, height / pixels.height
    gx, gy = pixels.width / grey.shape[1], pixels.height / grey.shape[0]
    out: list[LocalFeatures] = []
    for bx, by, bw, bh in panels(grey):
        x, y = round(bx * gx), round(by * gy)
        w = min(pixels.width - x, round(bw * gx))
        h = min(pixels.height - y, round(bh * gy))
        frame_w, frame_h = max(1, round(w * sx)), max(1, round(h * sy))
        part, _ = working_grey(pixels.crop((x, y, x + w, y + h)))
        found = detect_grey(part, frame_w, frame_h, PANEL_POINTS)
        if len(found):
            shifted = found.points + np.array([x * sx, y * sy], dtype=np.float32)
            out.append(LocalFeatures(shifted, found.descriptors, width, height))
    return out


def empty_value(width: int, height: int) -> bytes:
    """A packed set without points: holds a variant's place when it found none."""
    return _HEADER.pack(width, height, 0)


def split(values: bytes) -> list[bytes]:
    """Packed values stored one after the other (the store concatenates variants)."""
    out: list[bytes] = []
    offset = 0
    while offset + _HEADER.size <= len(values):
        _, _, n = _HEADER.unpack_from(values, offset)
        size = _HEADER.size + n * (4 + DESCRIPTOR_BYTES)
        out.append(values[offset : offset + size])
        offset += size
    return out


class Keypoints(ImageSignal):
    """Stored ORB keypoints: never indexed, read to verify candidates found by other kinds.

    The value holds the picture's features, the first variant those of its mirror image: with
    both, a stored picture can be the *query* of a verification (triage of material already
    ingested) and still find a mirrored copy, without its pixels. The second variant is the
    dense set (:func:`dense`): a picture of which another is a heavy crop or a tile is matched
    at the crop's scale. Any further variants are the panel sets (:func:`panel_sets`): the
    tiles of a collage, the picture in a screenshot, each at a working size of its own. They
    are exactly what :func:`vident.match.geometry.query_features` computes from the pixels.
    Values stored before have no dense set or no panel sets and are still read.
    """

    name = "keypoints"
    version = 1
    match = MatchRule.STORED
    value_bytes = 0
    model: ClassVar[str] = f"orb{STORED_POINTS}-w{WORK_SIDE}"

    def compute(self, image: DecodedImage) -> SignalValue:
        grey, _ = working_grey(image.pixels)
        features = detect_grey(grey, image.width, image.height, STORED_POINTS)
        variants: tuple[bytes, ...] = ()
        if len(features):
            mirror = np.ascontiguousarray(grey[:, ::-1])
            mirrored = detect_grey(mirror, image.width, image.height, STORED_POINTS, mirrored=True)
            many = dense(image.pixels, image.width, image.height)
            variants = (
                pack(mirrored) or empty_value(image.width, image.height),
                pack(many) or empty_value(image.width, image.height),
                *(pack(f) for f in panel_sets(image.pixels, image.width, image.height, grey)),
            )
        return SignalValue(
            kind=self.name,
            version=self.version,
            value=pack(features),
            quality=len(features),
            variants=variants,
            model=self.model,
        )

    def unpack(self, value: bytes, *, mirrored: bool = False) -> LocalFeatures:
        return unpack(value, mirrored=mirrored)
