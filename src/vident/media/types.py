"""Plain data about decoded media, shared by the decoders, the signals and the store."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from PIL import Image


class MediaType(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ExifFacts:
    """Camera facts that link pictures across cases (same body, same place, same time)."""

    make: str | None = None
    model: str | None = None
    body_serial: str | None = None
    other_serials: dict[str, str] = field(default_factory=dict)
    lens: str | None = None
    software: str | None = None
    taken_at: datetime | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None

    def is_empty(self) -> bool:
        return not any(
            (
                self.make,
                self.model,
                self.body_serial,
                self.other_serials,
                self.lens,
                self.software,
                self.taken_at,
                self.gps_lat is not None,
                self.gps_lon is not None,
            )
        )


@dataclass(slots=True)
class DecodedImage:
    """A picture reduced to what the signals need, with orientation already applied.

    ``pixels`` is RGB, reduced by JPEG draft mode (DCT scaling) or a whole-number box filter
    so that its shorter side is 512 to 1023 pixels (smaller pictures are kept as they are);
    ``width`` and ``height`` are the stored picture's full size, after EXIF orientation.
    """

    pixels: Image.Image
    width: int
    height: int
    format: str
    exif: ExifFacts | None = None
