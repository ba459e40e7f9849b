"""Small JPEG renditions of pictures for the analyst's screen, and their veiled form.

The rendition is made at ingest from the pixels already decoded for the signals (upright,
RGB, reduced by draft mode), so it costs one resize and one small JPEG encode per picture and
never a second decode of seized bytes. It carries no metadata: Pillow writes no EXIF unless
asked to.

A video gets a *strip*: renditions of up to :data:`STRIP_FRAMES` of its keyframes, made
from the keyframe pictures its signals already decode (:class:`FrameStrip`), evenly spread
over the video when it has more; its first keyframe's rendition is also the video's preview.

The veiled form is what an analyst sees before choosing to look: by default greyscale and
blurred so strongly that only the layout of the scene is left (each analyst may choose a
lighter or stronger blur, and colour: see :mod:`vident.service.wellbeing`). It is made on
the server, so the detail of an unrevealed picture never reaches the browser at all.
"""

from __future__ import annotations

import io
from typing import Final

from PIL import Image, ImageFilter

from vident.media.types import DecodedImage

#: Longest side of a rendition, in pixels.
LONGEST: Final = 320
#: JPEG quality of renditions and veiled copies: small files, still clear at 320 px.
QUALITY: Final = 80
#: Gaussian blur radius of a veiled copy at :data:`LONGEST` px; scaled for smaller pictures.
BLUR_RADIUS: Final = 12.0
#: Least blur radius of a veiled copy, in pixels, whatever the setting or the picture's size.
MIN_BLUR: Final = 2.0
#: Most keyframes of a video that get a preview (the frame strip of its media page).
STRIP_FRAMES: Final = 8


def rendition(decoded: DecodedImage, longest: int = LONGEST) -> bytes:
    """A JPEG of ``decoded`` whose longest side is at most ``longest`` pixels.

    Shrunk by a whole-number box reduction, then bilinear: about 2 ms for an 800x600 decode,
    where a bicubic thumbnail took three times as long for no difference visible at 320 px.
    """
    picture = decoded.pixels
    width, height = picture.size
    scale = longest / max(width, height)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        picture = picture.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    if picture.mode != "RGB":
        picture = picture.convert("RGB")
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=QUALITY)
    return buffer.getvalue()


def veiled(jpeg: bytes, *, blur: float = BLUR_RADIUS, greyscale: bool = True) -> bytes:
    """``jpeg`` (a rendition made by :func:`rendition`) blurred, in greyscale by default.

    ``blur`` is the Gaussian radius at :data:`LONGEST` px (scaled for smaller pictures); it is
    never below :data:`MIN_BLUR` px, so a veiled copy is never the picture itself. Only
    renditions vident made itself are passed here (decrypted with an authenticated cipher),
    never seized bytes, so no decoding limits apply.
    """
    with Image.open(io.BytesIO(jpeg), formats=("JPEG",)) as opened:
        picture = opened.convert("L" if greyscale else "RGB")
    radius = blur * max(picture.size) / LONGEST
    blurred = picture.filter(ImageFilter.GaussianBlur(radius=max(radius, MIN_BLUR)))
    buffer = io.BytesIO()
    blurred.save(buffer, "JPEG", quality=QUALITY)
    return buffer.getvalue()


class FrameStrip:
    """Renditions of up to ``count`` keyframes of one video, evenly spread over however many
    keyframes it turns out to have.

    Keyframes arrive one by one and their number is known only at the end, so the strip
    keeps every ``stride``-th keyframe (the first one always), doubling the stride and
    dropping every other kept rendition whenever ``2 * count`` are held: at most that many
    small JPEGs are held, and only the keyframes kept at the time are encoded.
    :meth:`chosen` then picks ``count`` of those, first and last included.
    """

    def __init__(self, count: int = STRIP_FRAMES) -> None:
        if count < 2:
            raise ValueError(f"a frame strip holds at least 2 frames, got {count}")
        self.count = count
        self._stride = 1
        self._seen = 0
        self._kept: list[tuple[int, bytes]] = []

    def add(self, seq: int, decoded: DecodedImage) -> None:
        """Offer keyframe ``seq`` (its frame number), whose picture is ``decoded``.

        A rendition that cannot be made (memory) costs that frame's preview only.
        """
        position, self._seen = self._seen, self._seen + 1
        if position % self._stride:
            return
        try:
            jpeg = rendition(decoded)
        except (OSError, ValueError, MemoryError):
            return
        self._kept.append((seq, jpeg))
        if len(self._kept) >= 2 * self.count:
            self._kept = self._kept[::2]
            self._stride *= 2

    def first(self) -> bytes | None:
        """The rendition of the first keyframe that got one (the video's preview)."""
        return self._kept[0][1] if self._kept else None

    def chosen(self) -> list[tuple[int, bytes]]:
        """At most ``count`` (frame number, JPEG) pairs in time order, evenly spread."""
        held = len(self._kept)
        if held <= self.count:
            return list(self._kept)
        picks = sorted({round(i * (held - 1) / (self.count - 1)) for i in range(self.count)})
        return [self._kept[i] for i in picks]
