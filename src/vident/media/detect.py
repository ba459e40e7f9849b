"""Type detection from magic bytes, never from file names.

Seized files are often renamed to hide them; a name only matters to flag a mislabelled file
(a ``.jpg`` that is really text), which is recorded as an error so an analyst sees it.

HEIF pictures (HEIC from phones, AVIF) are ISO media files like MP4 videos; ``filetype``
knows only a few of their brands, so the brand of the ``ftyp`` box is read here first:
an iPhone photo must be read as a picture, never left aside as unknown data.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from pathlib import PurePosixPath

import filetype

from vident.media.types import MediaType

#: Bytes read from the start of a file to detect its type (tar needs 262).
SNIFF_BYTES = 8192


class ArchiveFormat(enum.StrEnum):
    ZIP = "zip"
    TAR = "tar"
    GZIP = "gz"
    BZIP2 = "bz2"
    XZ = "xz"
    SEVEN_Z = "7z"
    RAR = "rar"


@dataclass(frozen=True, slots=True)
class Sniffed:
    media_type: MediaType
    mime: str | None
    extension: str | None
    archive: ArchiveFormat | None = None


_ARCHIVES = {
    "application/zip": ArchiveFormat.ZIP,
    "application/x-tar": ArchiveFormat.TAR,
    "application/gzip": ArchiveFormat.GZIP,
    "application/x-bzip2": ArchiveFormat.BZIP2,
    "application/x-xz": ArchiveFormat.XZ,
    "application/x-7z-compressed": ArchiveFormat.SEVEN_Z,
    "application/x-rar-compressed": ArchiveFormat.RAR,
}

# Office documents and similar are zip files too, but their contents are not seizure media.
_ZIP_BASED_DOCUMENTS = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/epub+zip",
    }
)

IMAGE_EXTENSIONS = frozenset(
    {
        *("jpg", "jpeg", "jpe", "jfif", "png", "gif", "bmp", "tif", "tiff", "webp"),
        *("heic", "heif", "hif", "avif"),
    }
)

#: HEIF brands of the ``ftyp`` box: (mime, extension). A still-image brand is major here.
_HEIF_BRANDS: dict[bytes, tuple[str, str]] = {
    **dict.fromkeys((b"heic", b"heix", b"heim", b"heis"), ("image/heic", "heic")),
    **dict.fromkeys((b"hevc", b"hevx", b"hevm", b"hevs"), ("image/heic-sequence", "heics")),
    b"avif": ("image/avif", "avif"),
    b"avis": ("image/avif", "avif"),
}
#: Structural brands that say "HEIF" without naming the codec; the compatible brands do.
_HEIF_GENERIC = frozenset({b"mif1", b"msf1", b"mif2", b"miaf"})
VIDEO_EXTENSIONS = frozenset(
    {"mp4", "m4v", "mov", "avi", "mkv", "webm", "wmv", "flv", "mpg", "mpeg", "3gp", "ts"}
)


def sniff(header: bytes) -> Sniffed:
    """The type of a file from its first bytes (:data:`SNIFF_BYTES` are enough)."""
    heif = _heif_type(header)
    if heif is not None:
        return Sniffed(MediaType.IMAGE, *heif)
    kind = filetype.guess(header) if header else None
    if kind is None:
        if _looks_like_text(header):
            return Sniffed(MediaType.OTHER, "text/plain", "txt")
        return Sniffed(MediaType.OTHER, None, None)
    mime: str = kind.mime
    extension: str = kind.extension
    if mime in _ARCHIVES:
        return Sniffed(MediaType.OTHER, mime, extension, _ARCHIVES[mime])
    if mime.startswith("image/") and mime not in {"image/vnd.dwg", "image/x-xcf"}:
        return Sniffed(MediaType.IMAGE, mime, extension)
    if mime.startswith("video/"):
        return Sniffed(MediaType.VIDEO, mime, extension)
    if mime in _ZIP_BASED_DOCUMENTS:
        return Sniffed(MediaType.OTHER, mime, extension)
    return Sniffed(MediaType.OTHER, mime, extension)


def _heif_type(header: bytes) -> tuple[str, str] | None:
    """(mime, extension) of a HEIF picture (HEIC, AVIF) from its ``ftyp`` box, else None."""
    if len(header) < 16 or header[4:8] != b"ftyp":
        return None
    size = struct.unpack(">I", header[:4])[0]
    if not 16 <= size <= min(len(header), 4096):
        return None
    major = header[8:12]
    compatible = {header[at : at + 4] for at in range(16, size - 3, 4)}
    if major in _HEIF_BRANDS:
        return _HEIF_BRANDS[major]
    if major not in _HEIF_GENERIC:
        return None
    for brand in (b"avif", b"avis", b"heic", b"heix", b"hevc", b"hevx"):
        if brand in compatible:
            return _HEIF_BRANDS[brand]
    return ("image/heif", "heif")


def _looks_like_text(header: bytes) -> bool:
    """UTF-8 text without control characters other than whitespace."""
    if not header or b"\x00" in header:
        return False
    try:
        decoded = header.decode("utf-8")
    except UnicodeDecodeError:
        # The sniffed window may cut a multi-byte character at its end.
        try:
            decoded = header[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(ch.isprintable() or ch in "\t\n\r\f" for ch in decoded)


def claimed_type(path: str) -> MediaType | None:
    """The media type a file's name claims, if its extension is a picture or video one."""
    suffix = PurePosixPath(path).suffix.lower().lstrip(".")
    if suffix in IMAGE_EXTENSIONS:
        return MediaType.IMAGE
    if suffix in VIDEO_EXTENSIONS:
        return MediaType.VIDEO
    return None
