"""Expanding archives (zip, tar, gz, bz2, xz, 7z, rar, nested) into work items, one by one.

Nothing is extracted to disk: a member is read, under the limits, into memory for the worker,
or, when it is itself an archive, into a spooled temporary file inside ``tmp_dir`` so it can
be opened in turn. Every kind of damage or hostility becomes one error item and the walk goes
on; only :class:`~vident.ingest.metered.ArchiveTooLarge` travels up, to stop every archive
under the same top-level one. Members that share a name (an archive appended to) each get
their own path: the later ones ``name#2``, ``name#3``...
"""

from __future__ import annotations

import bz2
import calendar
import gzip
import io
import lzma
import os
import stat
import struct
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from vident.config import Limits
from vident.ingest.libarchive_members import libarchive_members
from vident.ingest.member_names import (
    clean_member_name,
    compressed_member_name,
    file_kind,
    is_unsafe,
    last_part,
    one_line,
    storable,
)
from vident.ingest.metered import (
    ArchiveTooLarge,
    Budget,
    CountingReader,
    MemberLimitExceeded,
    MemberReader,
    Metered,
    SeekableReadable,
    TarSource,
)
from vident.ingest.records import FileTimes, WorkItem
from vident.ingest.unique_names import UniqueNames, without_duplicate_mark
from vident.ingest.zip_names import open_zip
from vident.media.detect import ArchiveFormat, sniff

#: A nested archive smaller than this is spooled in memory, a larger one in ``tmp_dir``.
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024
#: Archive members larger than this are handed to workers as files, not bytes.
MEMBER_MEMORY_BYTES = 32 * 1024 * 1024

_ZIP_ENCRYPTED = 0x1
_ZIP_UNIX = 3
_ZIP_EXTENDED_TIME = 0x5455
_MAX_LINK_TARGET = 1024
_MAX_REASON = 200


@dataclass(frozen=True, slots=True)
class _Context:
    limits: Limits
    tmp_dir: Path
    budget: Budget


def expand_archive(
    stream: SeekableReadable,
    path: str,
    fmt: ArchiveFormat,
    times: FileTimes,
    size: int | None,
    limits: Limits,
    tmp_dir: Path,
) -> Iterator[WorkItem]:
    """The members of an archive found directly in a source (not inside another archive).

    ``path`` is the archive's own item path; members are ``path/member``. One
    uncompressed-bytes budget covers this archive and all archives nested in it.
    """
    if limits.max_archive_depth < 1:
        yield WorkItem(path, size=size, times=times, error=_too_deep(limits))
        return
    context = _Context(limits, tmp_dir, Budget(limits.max_archive_total_bytes))
    try:
        yield from _expand(stream, path, fmt, times, 1, context)
    except ArchiveTooLarge as exc:
        yield WorkItem(path, size=size, times=times, error=str(exc))


def _expand(
    stream: SeekableReadable,
    path: str,
    fmt: ArchiveFormat,
    times: FileTimes,
    depth: int,
    context: _Context,
) -> Iterator[WorkItem]:
    counted = CountingReader(stream)
    if fmt is ArchiveFormat.ZIP:
        yield from _zip_members(counted, path, depth, context)
    elif fmt is ArchiveFormat.TAR:
        source = TarSource(counted, context.budget, seek_by_reading=False)
        yield from _tar_members(source, counted, path, "tar", depth, context)
    elif fmt in (ArchiveFormat.SEVEN_Z, ArchiveFormat.RAR):
        yield from libarchive_members(
            counted,
            path,
            fmt,
            context.limits,
            context.budget,
            lambda reader, member, times: _member(reader, member, times, depth, context),
        )
    else:
        yield from _compressed_members(counted, path, fmt, times, depth, context)


def _member(
    reader: MemberReader,
    path: str,
    times: FileTimes,
    depth: int,
    context: _Context,
    head: bytes | None = None,
) -> Iterator[WorkItem]:
    """One member: its bytes as an item, or, if it is an archive, that archive's members.

    Raises on damage to the surrounding archive; the caller knows whether that ends the
    archive (tar, compressed stream) or only this member (zip).
    """
    try:
        if head is None:
            head = reader.read_head()
        fmt = sniff(head).archive
        item = _read_member(reader, head, path, times, context) if fmt is None else None
    except MemberLimitExceeded as exc:
        yield WorkItem(path, times=times, error=str(exc))
        return
    if fmt is None:
        assert item is not None
        yield item
    elif depth >= context.limits.max_archive_depth:
        yield WorkItem(path, times=times, error=_too_deep(context.limits))
    else:
        yield from _nested(reader, head, fmt, path, times, depth, context)


def _read_member(
    reader: MemberReader, head: bytes, path: str, times: FileTimes, context: _Context
) -> WorkItem:
    """The member's bytes in memory, or, past :data:`MEMBER_MEMORY_BYTES`, in a file.

    Work items wait in a queue and travel to worker processes; a seizure's archive of videos
    must not hold gigabytes in memory on the way. The file lies in the data directory's
    scratch folder and the pipeline deletes it once the item's result is stored.
    """
    buffer = io.BytesIO()
    buffer.write(head)
    while buffer.tell() <= MEMBER_MEMORY_BYTES and (block := reader.read()):
        buffer.write(block)
    if buffer.tell() <= MEMBER_MEMORY_BYTES:
        data = buffer.getvalue()
        return WorkItem(path, size=len(data), times=times, data=data)
    context.tmp_dir.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - handed over to the pipeline
        dir=os.fspath(context.tmp_dir), prefix="member-", delete=False
    )
    try:
        with handle:
            handle.write(buffer.getbuffer())
            del buffer
            reader.copy_rest(handle.write)
            size = handle.tell()
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return WorkItem(path, size=size, times=times, fs_path=handle.name, spooled=True)


def _nested(
    reader: MemberReader,
    head: bytes,
    fmt: ArchiveFormat,
    path: str,
    times: FileTimes,
    depth: int,
    context: _Context,
) -> Iterator[WorkItem]:
    """An archive inside an archive, spooled (in memory, or in ``tmp_dir`` if big) and opened."""
    with tempfile.SpooledTemporaryFile(
        max_size=SPOOL_MEMORY_BYTES, dir=os.fspath(context.tmp_dir)
    ) as spool:
        try:
            spool.write(head)
            reader.copy_rest(spool.write)
        except MemberLimitExceeded as exc:
            yield WorkItem(path, times=times, error=str(exc))
            return
        spool.seek(0)
        yield from _expand(cast(BinaryIO, spool), path, fmt, times, depth + 1, context)


# --- zip ---------------------------------------------------------------------------------


def _zip_members(
    counted: CountingReader, path: str, depth: int, context: _Context
) -> Iterator[WorkItem]:
    try:
        archive, names = open_zip(counted)
        members = sorted(
            zip(names, archive.filelist, strict=True),
            key=lambda member: (member[0], member[1].header_offset),
        )
    except Exception as exc:  # hostile input can break zipfile in many ways
        yield _corrupt(path, "zip", exc)
        return
    with archive:
        limit = context.limits.max_archive_members
        files = [(name, info) for name, info in members if not name.endswith(("/", "\\"))]
        # The whole directory is known: a duplicate never takes the name of a real member.
        unique = UniqueNames(_zip_member_name(name) for name, _ in files[:limit])
        for count, (name, info) in enumerate(files, start=1):
            if count > limit:
                yield _too_many(path, limit)
                return
            member_path = f"{path}/{unique.claim(_zip_member_name(name))}"
            yield from _zip_member(archive, info, name, member_path, counted, depth, context)


def _zip_member_name(name: str) -> str:
    """How a zip member's name is stored: cleaned, or as written when it is unsafe."""
    if is_unsafe(name):
        return storable(name)
    return clean_member_name(name, backslash_separates=True)


def _zip_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    name: str,
    path: str,
    counted: CountingReader,
    depth: int,
    context: _Context,
) -> Iterator[WorkItem]:
    times = FileTimes(mtime=_zip_mtime(info))
    if is_unsafe(name):
        yield WorkItem(path, times=times, error=f"unsafe path in archive: {one_line(name)}")
        return
    mode = info.external_attr >> 16 if info.create_system == _ZIP_UNIX else 0
    if info.flag_bits & _ZIP_ENCRYPTED:
        error = "encrypted archive member: cannot be read without the password"
    elif stat.S_ISLNK(mode):
        error = f"symlink in archive not followed: -> {_zip_link_target(archive, info)}"
    elif mode and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        error = f"not a regular file in archive: {file_kind(mode)}"
    else:
        error = None
    if error is not None:
        yield WorkItem(path, times=times, error=error)
        return
    try:
        with archive.open(info) as raw:
            reader = MemberReader(Metered(raw, context.budget), context.limits, counted)
            yield from _member(reader, path, times, depth, context)
    except ArchiveTooLarge:
        raise
    except NotImplementedError:
        yield WorkItem(
            path,
            times=times,
            error=f"unsupported compression method {info.compress_type} in archive member",
        )
    except Exception as exc:  # a damaged member; the others may be fine
        yield WorkItem(path, times=times, error=f"corrupt archive member: {_reason(exc)}")


def _zip_link_target(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    try:
        with archive.open(info) as raw:
            return one_line(raw.read(_MAX_LINK_TARGET).decode("utf-8", "replace"))
    except Exception:  # the target is only shown; a damaged one is not worth an error
        return "?"


def _zip_mtime(info: zipfile.ZipInfo) -> float | None:
    """The member's modification time as a Unix timestamp.

    The extended-timestamp extra field holds real UTC seconds; without it zip only has a
    local time with no zone, read here as UTC so results never depend on this machine.
    """
    extra, offset = info.extra, 0
    while offset + 4 <= len(extra):
        field_id, length = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4 : offset + 4 + length]
        if field_id == _ZIP_EXTENDED_TIME and len(body) >= 5 and body[0] & 1:
            return float(struct.unpack_from("<i", body, 1)[0])
        offset += 4 + length
    try:
        return float(calendar.timegm((*info.date_time, 0, 0, 0)))
    except (ValueError, OverflowError):
        return None


# --- tar ---------------------------------------------------------------------------------


def _tar_members(
    source: TarSource,
    counted: CountingReader,
    path: str,
    label: str,
    depth: int,
    context: _Context,
) -> Iterator[WorkItem]:
    try:
        archive = _open_tar(source)
    except ArchiveTooLarge:
        raise
    except Exception as exc:
        yield _corrupt(path, label, exc)
        return
    limit = context.limits.max_archive_members
    count = 0
    unique = UniqueNames()  # names come one at a time: a duplicate takes the next free one
    with archive:
        while True:
            try:
                with source.reading_headers():
                    info = archive.next()
            except ArchiveTooLarge:
                raise
            except Exception as exc:
                yield _corrupt(path, label, exc)
                return
            if info is None:
                damage = _tar_end_damage(source, archive.offset)
                if damage:
                    yield _corrupt(path, label, damage)
                return
            count += 1
            if count > limit:
                yield _too_many(path, limit)
                return
            try:
                yield from _tar_member(archive, info, counted, path, unique, depth, context)
            except ArchiveTooLarge:
                raise
            except Exception as exc:
                yield _corrupt(path, label, f"{_reason(exc)} (in {one_line(info.name)})")
                return


def _open_tar(source: TarSource) -> tarfile.TarFile:
    """Random-access mode over :class:`TarSource`, which makes forward seeks affordable."""
    with source.reading_headers():
        return tarfile.open(
            fileobj=cast(BinaryIO, source), mode="r:", encoding="utf-8", errors="surrogateescape"
        )


def _tar_member(
    archive: tarfile.TarFile,
    info: tarfile.TarInfo,
    counted: CountingReader,
    archive_path: str,
    unique: UniqueNames,
    depth: int,
    context: _Context,
) -> Iterator[WorkItem]:
    if info.isdir():
        return
    name = info.name
    times = FileTimes(mtime=float(info.mtime))
    if is_unsafe(name):
        yield WorkItem(
            f"{archive_path}/{unique.claim(storable(name))}",
            times=times,
            error=f"unsafe path in archive: {one_line(name)}",
        )
        return
    path = f"{archive_path}/{unique.claim(clean_member_name(name, backslash_separates=False))}"
    if info.issym():
        error = f"symlink in archive not followed: -> {one_line(info.linkname)}"
    elif info.islnk():
        error = f"hard link in archive not followed: -> {one_line(info.linkname)}"
    elif info.ischr() or info.isblk() or info.isfifo():
        error = f"not a regular file in archive: {_tar_kind(info)}"
    else:
        error = None
    if error is not None:
        yield WorkItem(path, times=times, error=error)
        return
    raw = archive.extractfile(info)
    if raw is None:
        yield WorkItem(path, times=times, error="not a regular file in archive")
        return
    with raw:
        reader = MemberReader(raw, context.limits, counted)
        yield from _member(reader, path, times, depth, context)


def _tar_end_damage(source: TarSource, offset: int) -> str | None:
    """Why tarfile stopped early, if it did: it ends quietly on a bad or truncated header.

    A clean end is a block of zeros where the next header should be.
    """
    position, block = source.last_read
    if position != offset:
        return None
    if not block:
        return "truncated: no end-of-archive marker"
    if len(block) < 512:
        return "truncated inside a header"
    if block.count(0) == len(block):
        return None
    return "invalid header (bad checksum)"


def _tar_kind(info: tarfile.TarInfo) -> str:
    if info.ischr():
        return "character device"
    if info.isblk():
        return "block device"
    return "named pipe"


# --- gz, bz2, xz -------------------------------------------------------------------------


def _compressed_members(
    counted: CountingReader,
    path: str,
    fmt: ArchiveFormat,
    times: FileTimes,
    depth: int,
    context: _Context,
) -> Iterator[WorkItem]:
    """A compressed tar's members, or else the one compressed file inside."""
    label = fmt.value
    own_name = without_duplicate_mark(last_part(path))
    member_path = f"{path}/{compressed_member_name(own_name, fmt)}"
    try:
        stream = _decompressor(fmt, counted)
    except Exception as exc:
        yield _corrupt(path, label, exc)
        return
    with stream:
        reader = MemberReader(Metered(stream, context.budget), context.limits, counted)
        try:
            head = reader.read_head()
            is_tar = sniff(head).archive is ArchiveFormat.TAR
            if is_tar:
                stream.seek(0)
        except ArchiveTooLarge:
            raise
        except MemberLimitExceeded as exc:
            yield WorkItem(member_path, times=times, error=str(exc))
            return
        except Exception as exc:
            yield _corrupt(path, label, exc)
            return
        if is_tar:
            source = TarSource(stream, context.budget, seek_by_reading=True)
            yield from _tar_members(source, counted, path, f"tar.{label}", depth, context)
            return
        mtime = getattr(stream, "mtime", None)
        member_times = FileTimes(mtime=float(mtime) if mtime else times.mtime)
        try:
            yield from _member(reader, member_path, member_times, depth, context, head=head)
        except ArchiveTooLarge:
            raise
        except Exception as exc:
            yield _corrupt(path, label, exc)


def _decompressor(fmt: ArchiveFormat, raw: CountingReader) -> BinaryIO:
    fileobj = cast(BinaryIO, raw)
    if fmt is ArchiveFormat.GZIP:
        return cast(BinaryIO, gzip.GzipFile(fileobj=fileobj, mode="rb"))
    if fmt is ArchiveFormat.BZIP2:
        return cast(BinaryIO, bz2.BZ2File(fileobj, mode="rb"))
    return cast(BinaryIO, lzma.LZMAFile(fileobj, mode="rb"))


# --- error items -------------------------------------------------------------------------


def _reason(exc: BaseException | str) -> str:
    if isinstance(exc, str):
        return exc
    return one_line(str(exc) or type(exc).__name__, _MAX_REASON)


def _corrupt(path: str, label: str, exc: BaseException | str) -> WorkItem:
    return WorkItem(path, error=f"corrupt {label} archive: {_reason(exc)}")


def _too_many(path: str, limit: int) -> WorkItem:
    return WorkItem(
        path, error=f"too many members in archive: more than {limit}; the rest was not read"
    )


def _too_deep(limits: Limits) -> str:
    return f"archive not opened: nested deeper than {limits.max_archive_depth} levels"
