"""The files of one file system inside a disk image, deleted ones included, as work items.

The Sleuth Kit (pytsk3) reads the file system; this module walks its folders and reads each
file under the same limits as an archive member: in memory up to
:data:`~vident.ingest.archives.MEMBER_MEMORY_BYTES`, spooled into ``tmp_dir`` above, an
archive expanded by :func:`~vident.ingest.archives.expand_archive`. A file whose name or
record the file system marks unallocated is a deleted file that is still described: it is
read like the others and its item says ``deleted``. File systems in seized images are
damaged or hostile as often as archives, so a bad entry is one error item and the walk goes
on; folders are walked with an explicit stack and each folder once, so a looping directory
tree ends.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import pytsk3

from vident.config import Limits
from vident.ingest.archives import MEMBER_MEMORY_BYTES, SPOOL_MEMORY_BYTES, expand_archive
from vident.ingest.member_names import one_line, storable
from vident.ingest.records import FileTimes, WorkItem
from vident.media.detect import SNIFF_BYTES, sniff

#: Largest single read from a file inside an image.
CHUNK = 1024 * 1024

_META_REG = int(pytsk3.TSK_FS_META_TYPE_REG)
_META_DIR = int(pytsk3.TSK_FS_META_TYPE_DIR)
_META_LNK = int(pytsk3.TSK_FS_META_TYPE_LNK)
_META_VIRT = int(pytsk3.TSK_FS_META_TYPE_VIRT)
_META_VIRT_DIR = int(pytsk3.TSK_FS_META_TYPE_VIRT_DIR)
_NAME_DIR = int(pytsk3.TSK_FS_NAME_TYPE_DIR)
_NAME_UNALLOC = int(pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
_META_UNALLOC = int(pytsk3.TSK_FS_META_FLAG_UNALLOC)
_NTFS = int(pytsk3.TSK_FS_TYPE_NTFS_DETECT)
#: NTFS keeps its own records (``$MFT``, ``$LogFile``...) as files in the first 27 entries.
_NTFS_RESERVED_ENTRIES = 27
#: The folder The Sleuth Kit makes up for deleted files that no folder names any more.
ORPHAN_FOLDER = "$OrphanFiles"

_KINDS = {
    int(pytsk3.TSK_FS_META_TYPE_CHR): "character device",
    int(pytsk3.TSK_FS_META_TYPE_BLK): "block device",
    int(pytsk3.TSK_FS_META_TYPE_FIFO): "named pipe",
    int(pytsk3.TSK_FS_META_TYPE_SOCK): "socket",
}


class ImageTooLarge(Exception):
    """More file bytes were read from one image than its budget allows: stop the image."""


class ImageUnreadable(Exception):
    """The image's own bytes could not be read at some offset (truncated or damaged)."""


@dataclass(slots=True)
class ReadFailures:
    """Where reading the image failed; set by the reader under The Sleuth Kit.

    The Sleuth Kit may carry on past a failed read (filling the gap), so each file's read
    is checked against this count instead of trusting that an error always comes back.
    """

    count: int = 0
    last_offset: int | None = None

    def record(self, offset: int) -> None:
        self.count += 1
        self.last_offset = offset

    def reason_since(self, before: int, exc: BaseException) -> str:
        """Why a call failed: an unreadable image if a read failed since ``before``."""
        if self.count != before:
            return f"the image cannot be read at byte {self.last_offset} (truncated or damaged)"
        return tsk_reason(exc)


@dataclass(slots=True)
class ImageContext:
    """What every file of one image shares: limits, scratch folder, byte budget, failures."""

    limits: Limits
    tmp_dir: Path
    budget: int
    failures: ReadFailures
    used: int = 0
    files: int = 0

    def spend(self, count: int) -> None:
        self.used += count
        if self.used > self.budget:
            raise ImageTooLarge(
                f"disk image over the limit of {self.budget} bytes read from its files:"
                " the rest was not read"
            )

    def count_file(self) -> None:
        self.files += 1
        if self.files > self.limits.max_archive_members:
            raise ImageTooLarge(
                f"too many files in disk image: more than {self.limits.max_archive_members};"
                " the rest was not read"
            )


@dataclass(frozen=True, slots=True)
class _Folder:
    directory: object
    prefix: str
    deleted: bool
    #: The Sleuth Kit's made-up folder of deleted records that no folder names.
    orphans: bool = False


def filesystem_items(fs: object, prefix: str, context: ImageContext) -> Iterator[WorkItem]:
    """Every file of the opened file system ``fs``, its paths starting ``prefix/``.

    Raises :class:`ImageTooLarge` when the image's budget or file count is spent.
    """
    info = getattr(fs, "info")  # noqa: B009 - pytsk3 objects are untyped
    ntfs = bool(int(info.ftype) & _NTFS)
    before = context.failures.count
    try:
        root = getattr(fs, "open_dir")(inode=int(info.root_inum))  # noqa: B009
    except Exception as exc:
        reason = context.failures.reason_since(before, exc)
        yield WorkItem(prefix, error=f"cannot read the root folder: {reason}")
        return
    seen: set[int] = {int(info.root_inum)}
    stack: list[Iterator[tuple[object, _Folder]]] = [_entries(_Folder(root, prefix, False))]
    while stack:
        step = next(stack[-1], None)
        if step is None:
            stack.pop()
            continue
        entry, folder = step
        name_info = getattr(entry, "info").name  # noqa: B009
        raw = bytes(name_info.name)
        if raw in (b".", b".."):
            continue
        meta = getattr(entry, "info").meta  # noqa: B009
        name = _component(raw)
        path = f"{folder.prefix}/{name}"
        deleted = folder.deleted or bool(int(name_info.flags) & _NAME_UNALLOC)
        if meta is None:
            # An orphan without a record is a number only (NTFS's reserved entries): no file.
            if int(name_info.type) != _NAME_DIR and not folder.orphans:
                context.count_file()
                yield WorkItem(
                    path, deleted=deleted, error="deleted file whose record is gone: not readable"
                )
            continue
        kind = int(meta.type)
        address = int(meta.addr)
        at_root = folder.prefix == prefix
        if ntfs and at_root and raw.startswith(b"$") and address < _NTFS_RESERVED_ENTRIES:
            continue  # the file system's own records, not seized files
        if kind == _META_VIRT or (kind == _META_VIRT_DIR and raw != ORPHAN_FOLDER.encode()):
            continue  # The Sleuth Kit's views of the FAT tables, boot sector...
        meta_deleted = bool(int(meta.flags) & _META_UNALLOC)
        if kind in (_META_DIR, _META_VIRT_DIR):
            if address in seen:
                continue  # a looping or cross-linked folder tree: each folder once
            seen.add(address)
            orphans = kind == _META_VIRT_DIR
            before = context.failures.count
            try:
                child = getattr(entry, "as_directory")()  # noqa: B009
            except Exception as exc:
                context.count_file()
                reason = context.failures.reason_since(before, exc)
                what = "the deleted files no folder names" if orphans else "the folder"
                yield WorkItem(path, deleted=deleted, error=f"cannot list {what}: {reason}")
                continue
            gone = deleted or meta_deleted or orphans
            stack.append(_entries(_Folder(child, path, gone, orphans=orphans)))
            continue
        context.count_file()
        times = _times(meta)
        if deleted and not meta_deleted:
            # The name is deleted but its record was taken by a live file since: the bytes
            # are that other file's and must not be attributed to this name.
            yield WorkItem(
                path,
                times=times,
                deleted=True,
                error="deleted file whose record now belongs to another file: not read",
            )
            continue
        deleted = deleted or meta_deleted
        if kind == _META_REG:
            yield from _file(entry, int(meta.size), path, times, deleted, context)
        elif kind == _META_LNK:
            yield WorkItem(
                path, times=times, deleted=deleted, error="symlink in disk image not followed"
            )
        else:
            what = _KINDS.get(kind, "special file")
            yield WorkItem(
                path,
                times=times,
                deleted=deleted,
                error=f"not a regular file in disk image: {what}",
            )


def _entries(folder: _Folder) -> Iterator[tuple[object, _Folder]]:
    """A folder's entries in name order, each with the folder; a damaged listing ends early."""
    try:
        entries = list(cast(Iterator[object], iter(folder.directory)))  # type: ignore[call-overload]
    except Exception:
        return
    entries.sort(key=lambda entry: bytes(getattr(entry, "info").name.name))  # noqa: B009
    for entry in entries:
        yield entry, folder


def _component(raw: bytes) -> str:
    """A file name as stored text; a ``/`` inside a name cannot pass for a folder."""
    return storable(raw.decode("utf-8", "surrogateescape")).replace("/", "\\x2f") or "\\x00"


def _times(meta: object) -> FileTimes:
    """Modified, created (or, where the file system keeps none, changed) and accessed."""

    def stamp(seconds: str, nanos: str) -> float | None:
        value = int(getattr(meta, seconds, 0) or 0)
        if value <= 0:
            return None
        return value + int(getattr(meta, nanos, 0) or 0) / 1e9

    created = stamp("crtime", "crtime_nano") or stamp("ctime", "ctime_nano")
    return FileTimes(
        mtime=stamp("mtime", "mtime_nano"), ctime=created, atime=stamp("atime", "atime_nano")
    )


def _file(
    entry: object, size: int, path: str, times: FileTimes, deleted: bool, context: ImageContext
) -> Iterator[WorkItem]:
    """One regular file: its bytes as an item, or its members if it is an archive."""
    if size > context.limits.max_file_bytes:
        yield WorkItem(
            path,
            size=size,
            times=times,
            deleted=deleted,
            error=f"file is larger than the limit of {context.limits.max_file_bytes} bytes",
        )
        return
    reader = _FileReader(entry, size, context)
    try:
        head = reader.read(SNIFF_BYTES) if size else b""
        fmt = sniff(head).archive if head else None
        if fmt is None:
            yield _whole(reader, head, path, times, deleted, context)
            return
        with tempfile.SpooledTemporaryFile(
            max_size=SPOOL_MEMORY_BYTES, dir=os.fspath(context.tmp_dir)
        ) as spool:
            spool.write(head)
            reader.copy_rest(spool.write)
            spool.seek(0)
            members = expand_archive(
                cast(BinaryIO, spool), path, fmt, times, size, context.limits, context.tmp_dir
            )
            for member in members:  # the members of a deleted archive are deleted files too
                yield dataclasses.replace(member, deleted=True) if deleted else member
    except ImageUnreadable as exc:
        yield WorkItem(path, size=size, times=times, deleted=deleted, error=str(exc))


def _whole(
    reader: _FileReader,
    head: bytes,
    path: str,
    times: FileTimes,
    deleted: bool,
    context: ImageContext,
) -> WorkItem:
    """The file's bytes in memory, or in a scratch file the pipeline deletes once stored."""
    if reader.size <= MEMBER_MEMORY_BYTES:
        buffer = io.BytesIO()
        buffer.write(head)
        reader.copy_rest(buffer.write)
        data = buffer.getvalue()
        return WorkItem(path, size=len(data), times=times, data=data, deleted=deleted)
    context.tmp_dir.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - handed over to the pipeline
        dir=os.fspath(context.tmp_dir), prefix="member-", delete=False
    )
    try:
        with handle:
            handle.write(head)
            reader.copy_rest(handle.write)
            written = handle.tell()
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return WorkItem(
        path, size=written, times=times, fs_path=handle.name, spooled=True, deleted=deleted
    )


class _FileReader:
    """Reads one file of the image in order, counting bytes and checking every read."""

    def __init__(self, entry: object, size: int, context: ImageContext) -> None:
        self._read_random: Callable[[int, int], bytes] = getattr(entry, "read_random")  # noqa: B009
        self.size = size
        self.offset = 0
        self._context = context

    def read(self, count: int) -> bytes:
        count = min(count, self.size - self.offset)
        if count <= 0:
            return b""
        failures = self._context.failures
        before = failures.count
        try:
            block = bytes(self._read_random(self.offset, count))
        except Exception as exc:
            raise ImageUnreadable(self._unreadable(tsk_reason(exc))) from exc
        if failures.count != before:
            raise ImageUnreadable(self._unreadable(None))
        if len(block) != count:
            raise ImageUnreadable(
                f"cannot read the whole file from the disk image: {self.offset + len(block)}"
                f" of {self.size} bytes"
            )
        self._context.spend(len(block))
        self.offset += len(block)
        return block

    def copy_rest(self, write: Callable[[bytes], object]) -> None:
        while block := self.read(CHUNK):
            write(block)

    def _unreadable(self, reason: str | None) -> str:
        where = self._context.failures.last_offset
        at = f" (image byte {where})" if where is not None else ""
        detail = f": {reason}" if reason and where is None else ""
        return (
            f"cannot read this file's bytes from the disk image{at}: the image is truncated"
            f" or damaged there{detail}"
        )


def tsk_reason(exc: BaseException) -> str:
    """The useful end of a libtsk or libewf message, on one line."""
    text = " ".join(str(exc).split())
    for marker in ("with error: ", "error: "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
            break
    return one_line(text.strip(" '\"") or type(exc).__name__, 200)
