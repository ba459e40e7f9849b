"""Safe picture decoding: only what the signals need, and a clear error for everything else.

Why it is built this way (measured on a 2-core box, Pillow 13 with libjpeg-turbo, pdqhash 0.2.8,
generated 1-12 MP photo-like JPEGs and 58 real photos of the shared corpus):

* **JPEG draft mode.** ``Image.draft`` makes libjpeg scale by 1/2, 1/4 or 1/8 inside the DCT, so
  a 12 MP photo decodes as 1000x750 in about half the time, and PDQ (about 20-30 ns per pixel)
  then costs 15 ms instead of 430 ms.
* **No further thumbnail.** Pillow's draft keeps the *shorter* side at or above ``target``
  (512). Shrinking further to 512 on the *longer* side (bilinear thumbnail) saved 10-20 ms
  per 1-6 MP file (about 45 instead of 24 files/s per core; nothing at 12 MP) but moved the
  hash away from the full-size (reference) hash: mean 9, max 24 bits over 58 real photos,
  against mean 2, max 14 for draft alone. The match threshold is 31 bits, so that error
  budget is kept for real edits. Other formats are decoded in full and box-reduced by an
  integer factor to the same "shorter side between target and 2x target" rule, which is
  what the DCT scaling does to a JPEG.
* **Header check first.** The claimed size is checked against ``Limits.max_pixels`` before any
  pixel is decoded. Pillow's own decompression-bomb guard, which also covers frames and tiles
  found later, is set from the same limit: :func:`decode_image` assigns
  ``PIL.Image.MAX_IMAGE_PIXELS = limits.max_pixels`` on each call (process-wide, harmless in a
  worker, and every caller passes the same configured limit).
* **No partial pictures.** ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left alone (it is global and
  would hand grey-filled pictures to the hashes): a truncated file is an error, with its
  SHA-256 still recorded by the caller.
* **Orientation before hashing.** The EXIF Orientation tag is applied, so a phone picture
  stored sideways hashes like its upright copy; width and height are reported upright too.
* **RGB like the references.** ``convert("RGB")`` for every mode (alpha dropped, palettes
  expanded, 16-bit scaled), exactly as python-threatexchange does before PDQ.
* **HEIC through pillow-heif, AVIF through Pillow.** Phones have written HEIC since 2017.
  The pillow-heif opener is registered by :func:`decode_image` itself, on first use in each
  process (a forkserver worker imports this module afresh), with embedded thumbnails, depth
  and auxiliary pictures off: the hashes need the main picture only. libheif applies the
  container's rotation and mirroring and pillow-heif then resets the EXIF Orientation to 1,
  so the picture is upright once and only once; Pillow's AVIF reader instead hands the
  rotation over as EXIF Orientation, which the rule above applies. The same pixel limit
  guards both, since Pillow checks the size of whatever its openers report.
"""

from __future__ import annotations

import io
from typing import Final

from PIL import Image, UnidentifiedImageError
from PIL.TiffImagePlugin import TiffImageFile

from vident.config import Limits
from vident.media.detect import SNIFF_BYTES, sniff
from vident.media.errors import MediaError
from vident.media.ifd import Tiff
from vident.media.types import DecodedImage

#: Pillow formats that are tried, in this order. Rare formats with weak signatures (TGA, PCX)
#: and ones that run external programs or need extra libraries (EPS, WMF, FPX) are left out:
#: seized data is hostile, and a text file must not "open" as a picture.
SAFE_FORMATS: Final = (
    "JPEG",
    "PNG",
    "GIF",
    "WEBP",
    "TIFF",
    "BMP",
    "AVIF",
    "HEIF",
    "JPEG2000",
    "ICO",
    "PPM",
    "PSD",
    "QOI",
    "DIB",
)

_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ORIENTATION_TAG: Final = 0x0112

_heif_registered = False


def register_heif() -> None:
    """Let Pillow open HEIC/HEIF pictures (pillow-heif); once per process, writes nothing."""
    global _heif_registered
    if _heif_registered:
        return
    from pillow_heif import register_heif_opener

    # One decoding thread: ingest already runs one worker process per core.
    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False, decode_threads=1)
    _heif_registered = True


def decode_image(data: bytes, limits: Limits, *, target: int | None = 512) -> DecodedImage:
    """Decode ``data`` to an upright RGB picture whose shorter side is about ``target`` px.

    ``target=None`` decodes at full size (conformance checks against reference hashes).
    ``width``/``height`` of the result are the stored picture's full size after orientation.
    ``exif`` is left unset: :func:`vident.media.exif.read_exif` reads it from the same bytes.
    Raises :class:`MediaError` (and nothing else) with a one-line reason.
    """
    if target is not None and target < 1:
        raise ValueError(f"target must be positive or None, got {target}")
    if not data:
        raise MediaError("empty file (0 bytes)")
    register_heif()
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    try:
        return _decode(data, limits.max_pixels, target)
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:
        raise MediaError(f"decompression bomb: {exc}") from exc
    except MemoryError as exc:
        raise MediaError("not enough memory to decode this image") from exc
    except UnidentifiedImageError as exc:
        raise MediaError(_unidentified_reason(data)) from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error...
        raise MediaError(_reason(exc)) from exc


def _decode(data: bytes, max_pixels: int, target: int | None) -> DecodedImage:
    img = Image.open(io.BytesIO(data), formats=SAFE_FORMATS)
    with img:
        width, height = img.size
        if width < 1 or height < 1:
            raise MediaError(f"image claims an empty size of {width}x{height} pixels")
        if width * height > max_pixels:
            raise MediaError(
                f"image claims {width}x{height} pixels, over the limit of {max_pixels} "
                "(decompression bomb?)"
            )
        fmt = img.format or "unknown"
        if target is not None and fmt in {"JPEG", "MPO"}:
            img.draft("RGB", (target, target))
        img.load()
        orientation = _orientation(img)  # after load: a PNG may keep eXIf after its pixels
        pixels = img.convert("RGB")
    if target is not None:
        factor = min(pixels.size) // target
        if factor >= 2:
            pixels = pixels.reduce(factor)
    method = _TRANSPOSE.get(orientation)
    if method is not None:
        pixels = pixels.transpose(method)
        if method in {
            Image.Transpose.TRANSPOSE,
            Image.Transpose.TRANSVERSE,
            Image.Transpose.ROTATE_90,
            Image.Transpose.ROTATE_270,
        }:
            width, height = height, width
    return DecodedImage(pixels=pixels, width=width, height=height, format=fmt)


def _orientation(img: Image.Image) -> int:
    """The EXIF Orientation value (1-8), 1 when absent, unreadable or invalid.

    Read with vident's bounded IFD reader rather than ``getexif()``: no full EXIF parse and
    no "Corrupt EXIF" warnings for the damaged blocks that seized pictures often carry.
    """
    if isinstance(img, TiffImageFile):
        value = img.tag_v2.get(_ORIENTATION_TAG, 1)
    else:
        raw = img.info.get("exif")
        if not isinstance(raw, bytes):
            return 1
        tiff = Tiff.parse(raw[6:] if raw.startswith(b"Exif\x00\x00") else raw)
        values = tiff.ints(tiff.first_ifd().get(_ORIENTATION_TAG)) if tiff else ()
        value = values[0] if values else 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _reason(exc: BaseException) -> str:
    message = str(exc) or type(exc).__name__
    lowered = message.lower()
    if "truncated" in lowered or isinstance(exc, EOFError):
        return f"truncated image: {message}"
    return f"corrupt image ({type(exc).__name__}): {message}"


def _unidentified_reason(data: bytes) -> str:
    sniffed = sniff(data[:SNIFF_BYTES])
    if sniffed.mime is None:
        return "not a recognised image format"
    if sniffed.mime.startswith("image/"):
        return f"unsupported or corrupt image ({sniffed.mime})"
    return f"not an image: content is {sniffed.mime}"


def crop_region(image: DecodedImage, region: tuple[int, int, int, int]) -> DecodedImage:
    """The part of a decoded picture inside ``region`` (x, y, w, h in full-picture pixels).

    The analyst draws a box on the picture as it is shown (full size, orientation applied);
    the decoded pixels may be reduced, so the box is scaled to them. The result is a picture
    of its own whose full size is the box's, so every signal works on it unchanged.
    """
    x, y, w, h = region
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(image.width, x + w), min(image.height, y + h)
    if w <= 0 or h <= 0 or x1 <= x0 or y1 <= y0:
        raise MediaError(
            f"region {x},{y},{w},{h} lies outside the {image.width}x{image.height} picture"
        )
    sx, sy = image.pixels.width / image.width, image.pixels.height / image.height
    left, top = int(x0 * sx), int(y0 * sy)
    box = (left, top, max(left + 1, round(x1 * sx)), max(top + 1, round(y1 * sy)))
    return DecodedImage(
        pixels=image.pixels.crop(box),
        width=x1 - x0,
        height=y1 - y0,
        format=image.format,
        exif=image.exif,
    )
