"""Forensic disk images (EnCase E01, raw dd) found in a seizure, opened read-only and listed.

An E01 is known by its signature and read through libewf (pyewf), every segment file
(``.E02``...) opened read-only; a raw image is known by its name (``.dd .raw .img .001``)
together with a partition table or a file system's boot block at its start. The Sleuth Kit
(pytsk3) reads the partition table (MBR, GPT) and each partition's file system; the files
themselves are listed by :mod:`vident.ingest.disk_filesystems`. Items are named
``image/p1/folder/file``; an image with no partition table holds its file system directly,
``image/folder/file``.

A damaged image still gives every file that can be read: a partition whose file system
cannot be opened is one error item naming it and why, a file whose bytes lie in an unreadable
stretch is one error item, and an E01 small enough to read whole (:data:`VERIFY_MAX_BYTES`) is
checked against the MD5 and SHA-1 its maker recorded, any difference or unreadable stretch
being an error item on the image itself.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import os
import stat
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

import pyewf
import pytsk3

from vident.config import Limits
from vident.ingest.disk_filesystems import (
    ImageContext,
    ImageTooLarge,
    ReadFailures,
    filesystem_items,
    tsk_reason,
)
from vident.ingest.records import FileTimes, WorkItem
from vident.ingest.unique_names import without_duplicate_mark
from vident.media.detect import SNIFF_BYTES

#: The first bytes of every EWF (EnCase 1 to 6, ``.E01``) segment file.
EWF_SIGNATURE = b"EVF\x09\x0d\x0a\xff\x00"
#: Names raw images usually carry; the content must still look like a disk.
RAW_EXTENSIONS = frozenset({"dd", "raw", "img", "001"})
#: An E01 up to this size (of disk data) is read whole to check its recorded hashes.
VERIFY_MAX_BYTES = 8 * 1024**3
#: Bytes of an E01 decompressed at a time and kept for the small reads that follow (two
#: chunks of the usual 32 KiB), and how many such pieces are kept.
EWF_PIECE = 64 * 1024
EWF_CACHED = 256
#: Bytes read at a time when checking an E01's hashes.
VERIFY_CHUNK = 1024 * 1024
#: A raw image may give this many times its size in file bytes (files sharing blocks).
RAW_BUDGET_FACTOR = 2

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_NOATIME = getattr(os, "O_NOATIME", 0)
_PART_ALLOC = int(pytsk3.TSK_VS_PART_FLAG_ALLOC)
_SECTOR = 512


class DiskImageKind(enum.StrEnum):
    EWF = "E01"
    RAW = "raw"


def disk_image_kind(head: bytes, name: str) -> DiskImageKind | None:
    """What kind of disk image a file is, from its first bytes and (raw only) its name.

    A later segment of an E01 (``.E02``...) is not an image of its own: it is read with the
    first one and listed as a plain file.
    """
    if head.startswith(EWF_SIGNATURE):
        segment = int.from_bytes(head[9:11], "little") if len(head) >= 11 else 0
        return DiskImageKind.EWF if segment == 1 else None
    suffix = PurePosixPath(without_duplicate_mark(name)).suffix.lower().lstrip(".")
    if suffix in RAW_EXTENSIONS and _looks_like_disk(head):
        return DiskImageKind.RAW
    return None


def sniff_disk_image(fd: int, name: str) -> DiskImageKind | None:
    """:func:`disk_image_kind` of the file open on ``fd``; None if its start cannot be read."""
    try:
        head = os.pread(fd, SNIFF_BYTES, 0)
    except OSError:
        return None  # the worker reads the file again and records why it cannot
    return disk_image_kind(head, name)


def _looks_like_disk(head: bytes) -> bool:
    """A partition table or a file system's boot block where disks and volumes keep it."""
    return (
        head[512:520] == b"EFI PART"  # GPT header
        or head[510:512] == b"\x55\xaa"  # MBR, or a FAT, exFAT or NTFS boot sector
        or head[1080:1082] == b"\x53\xef"  # ext2/3/4 superblock magic
        or head[1024:1026] in (b"H+", b"HX")  # HFS+ volume header
        or head[32:36] == b"NXSB"  # APFS container
    )


class _Reader(Protocol):
    size: int
    budget_base: int

    def read_at(self, offset: int, count: int) -> bytes: ...

    def problem(self) -> str | None: ...

    def close(self) -> None: ...


class ImageOpenError(Exception):
    """The image cannot be opened at all; the message is the one-line reason."""


def expand_disk_image(
    fd: int,
    fs_path: str,
    path: str,
    kind: DiskImageKind,
    times: FileTimes,
    size: int | None,
    limits: Limits,
    tmp_dir: Path,
) -> Iterator[WorkItem]:
    """Every file of the disk image open read-only on ``fd`` (at ``fs_path``), as items.

    ``path`` is the image's own item path. The descriptor stays the caller's.
    """
    try:
        reader: _Reader = (
            _EwfReader(fd, fs_path) if kind is DiskImageKind.EWF else _RawReader(fd, fs_path)
        )
    except ImageOpenError as exc:
        yield WorkItem(path, size=size, times=times, error=str(exc))
        return
    try:
        failures = ReadFailures()
        factor = limits.max_compression_ratio if kind is DiskImageKind.EWF else RAW_BUDGET_FACTOR
        budget = max(limits.max_archive_total_bytes, int(reader.budget_base * factor))
        context = ImageContext(limits, tmp_dir, budget, failures)
        image = _TskImage(reader, failures)
        # What is wrong with the image as a whole becomes one item, the hash check first:
        # a damaged E01 explains why its file system could not be opened.
        errors: list[str] = []
        try:
            for item in _volume_items(image, path, context):
                if item.path == path and item.error is not None:
                    errors.append(item.error)
                else:
                    yield item
        except ImageTooLarge as exc:
            errors.append(str(exc))
        problem = reader.problem()
        if problem is not None:
            errors.insert(0, problem)
        if errors:
            yield WorkItem(path, size=size, times=times, error="; ".join(errors))
    finally:
        reader.close()


def _volume_items(image: _TskImage, path: str, context: ImageContext) -> Iterator[WorkItem]:
    """Each partition's files, or the files of an image that is one file system."""
    try:
        volumes = pytsk3.Volume_Info(image)
    except Exception:
        volumes = None  # no partition table: the image may be a file system itself
    if volumes is None:
        fs, reason = _open_fs(image, 0, context.failures)
        if fs is None:
            yield WorkItem(
                path, error=f"no partition table and no file system vident can read: {reason}"
            )
        else:
            yield from filesystem_items(fs, path, context)
        return
    block = int(volumes.info.block_size) or _SECTOR
    number = 0
    for part in sorted(volumes, key=lambda part: int(part.start)):
        if not int(part.flags) & _PART_ALLOC:
            continue  # the table itself, gaps between partitions, extended containers
        number += 1
        part_path = f"{path}/p{number}"
        start = int(part.start)
        fs, reason = _open_fs(image, start * block, context.failures)
        if fs is None:
            desc = bytes(part.desc).decode("utf-8", "replace").strip()
            length = int(part.len) * block
            yield WorkItem(
                part_path,
                error=f"partition {number} ({desc}, {length} bytes at sector {start}):"
                f" no file system vident can read: {reason}",
            )
            continue
        yield from filesystem_items(fs, part_path, context)
    if number == 0:
        yield WorkItem(path, error="the partition table lists no partition")


def _open_fs(image: _TskImage, offset: int, failures: ReadFailures) -> tuple[object, str]:
    """(file system, "") or (None, why not)."""
    before = failures.count
    try:
        return pytsk3.FS_Info(image, offset=offset), ""
    except Exception as exc:
        return None, failures.reason_since(before, exc)


class _TskImage(pytsk3.Img_Info):  # type: ignore[misc]
    """The image's bytes for The Sleuth Kit, from whichever reader opened it."""

    def __init__(self, reader: _Reader, failures: ReadFailures) -> None:
        self._reader = reader
        self._failures = failures
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def close(self) -> None:
        """The reader is closed by :func:`expand_disk_image`, not by The Sleuth Kit."""

    def read(self, offset: int, size: int) -> bytes:
        try:
            return self._reader.read_at(offset, size)
        except Exception as exc:
            self._failures.record(offset)
            raise OSError(f"image unreadable at byte {offset}") from exc

    def get_size(self) -> int:
        return self._reader.size


class _RawReader:
    """A raw image through the walker's read-only descriptor, with its further parts if split.

    Imaging tools split raw images into ``name.001``, ``name.002``...; the parts after the
    first are opened read-only here, read as one disk, and listed as plain files by the walk.
    """

    def __init__(self, fd: int, fs_path: str) -> None:
        self._owned: list[int] = []
        try:
            self._parts = [(fd, os.fstat(fd).st_size)]
            if fs_path.endswith(".001"):
                self._open_parts(fs_path[: -len("001")])
        except OSError as exc:
            self.close()
            raise ImageOpenError(f"cannot read the disk image: {exc.strerror or exc}") from exc
        self.size = sum(size for _, size in self._parts)
        self.budget_base = self.size

    def _open_parts(self, stem: str) -> None:
        for number in range(2, 1000):
            try:
                part = _open_read_only(f"{stem}{number:03d}")
            except FileNotFoundError:
                return
            self._owned.append(part)
            found = os.fstat(part)
            if not stat.S_ISREG(found.st_mode):
                return
            self._parts.append((part, found.st_size))

    def read_at(self, offset: int, count: int) -> bytes:
        out = bytearray()
        start = 0
        for part, size in self._parts:
            end = start + size
            position = offset + len(out)
            if len(out) >= count:
                break
            if position < end:
                wanted = min(count - len(out), end - position)
                block = os.pread(part, wanted, position - start)
                out += block
                if len(block) < wanted:
                    break  # a part shorter than it was: stop at the gap
            start = end
        return bytes(out)

    def problem(self) -> str | None:
        return None  # a raw image records no hash to check

    def close(self) -> None:
        """Closes the further parts; the first part's descriptor is the walker's."""
        for part in self._owned:
            os.close(part)
        self._owned = []


class _EwfReader:
    """An E01 and its further segments, each opened read-only, through libewf."""

    def __init__(self, fd: int, fs_path: str) -> None:
        self._files: list[BinaryIO] = []
        try:
            self._files.append(os.fdopen(os.dup(fd), "rb"))
            for segment in _segments(fs_path)[1:]:
                self._files.append(os.fdopen(_open_read_only(segment), "rb"))
            self._handle = pyewf.handle()
            self._handle.open_file_objects(self._files, "r")
            self.size = int(self._handle.get_media_size())
        except Exception as exc:
            self.close()
            raise ImageOpenError(f"cannot open the E01 image: {tsk_reason(exc)}") from exc
        if self.size <= 0:
            self.close()
            raise ImageOpenError("cannot open the E01 image: it describes no disk data")
        self.budget_base = sum(os.fstat(f.fileno()).st_size for f in self._files)
        self._cache: OrderedDict[int, bytes] = OrderedDict()

    def read_at(self, offset: int, count: int) -> bytes:
        """Bytes of the disk, through a cache of the last :data:`EWF_CACHED` aligned pieces.

        The Sleuth Kit reads a cluster at a time and goes back to the allocation table in
        between; libewf would decompress the same chunk again for each of those reads.
        """
        if count >= EWF_PIECE * 4:
            return self._read(offset, count)
        out = bytearray()
        position, end = offset, offset + count
        while position < end:
            start = position - position % EWF_PIECE
            piece = self._piece(start)
            if piece is None:  # a damaged chunk elsewhere in the piece: read just what is asked
                out += self._read(position, end - position)
                break
            out += piece[position - start : end - start]
            if len(piece) < EWF_PIECE:
                break  # the end of the disk
            position = start + EWF_PIECE
        return bytes(out)

    def _piece(self, start: int) -> bytes | None:
        piece = self._cache.get(start)
        if piece is not None:
            self._cache.move_to_end(start)
            return piece
        try:
            piece = self._read(start, EWF_PIECE)
        except Exception:
            return None
        self._cache[start] = piece
        if len(self._cache) > EWF_CACHED:
            self._cache.popitem(last=False)
        return piece

    def _read(self, offset: int, count: int) -> bytes:
        return bytes(self._handle.read_buffer_at_offset(count, offset))

    def problem(self) -> str | None:
        """Why the E01's data cannot be trusted whole, or None; read only up to a size."""
        if self.size > VERIFY_MAX_BYTES:
            return None
        recorded = {
            name: str(self._handle.get_hash_value(name) or "").lower() for name in ("MD5", "SHA1")
        }
        md5, sha1 = hashlib.md5(usedforsecurity=False), hashlib.sha1(usedforsecurity=False)
        unreadable, first_bad = 0, None
        for offset in range(0, self.size, VERIFY_CHUNK):
            count = min(VERIFY_CHUNK, self.size - offset)
            try:
                block = self._read(offset, count)
            except Exception:
                block = b""
            if len(block) != count:
                unreadable += count
                first_bad = offset if first_bad is None else first_bad
                continue
            md5.update(block)
            sha1.update(block)
        if unreadable:
            return (
                f"E01 image truncated or damaged: {unreadable} of its {self.size} bytes of disk"
                f" data cannot be read, from byte {first_bad}; the files there are listed with"
                " errors"
            )
        for name, digest in (("MD5", md5.hexdigest()), ("SHA1", sha1.hexdigest())):
            if recorded[name] and recorded[name] != digest:
                return (
                    f"E01 image altered or damaged: the {name} of its disk data is {digest},"
                    f" the image records {recorded[name]}"
                )
        return None

    def close(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            # Closing a handle that failed to open is not worth an error.
            with contextlib.suppress(Exception):
                handle.close()
        for file in self._files:
            file.close()
        self._files = []


def _segments(fs_path: str) -> list[str]:
    """The E01's segment files in order (the first one first), as libewf names them."""
    try:
        found = [str(name) for name in pyewf.glob(fs_path)]
    except Exception:
        return [fs_path]
    same = found and os.path.realpath(found[0]) == os.path.realpath(fs_path)
    return found if same else [fs_path]


def _open_read_only(fs_path: str) -> int:
    if _NOATIME:
        try:
            return os.open(fs_path, _OPEN_FLAGS | _NOATIME)
        except PermissionError:
            pass  # O_NOATIME needs ownership
    return os.open(fs_path, _OPEN_FLAGS)


__all__ = [
    "EWF_SIGNATURE",
    "DiskImageKind",
    "disk_image_kind",
    "expand_disk_image",
    "sniff_disk_image",
]
