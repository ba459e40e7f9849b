"""Safe, lazy enumeration of a seizure: a folder, a single file or an archive.

The walker runs in the parent process and reads as little as it can: a plain file is only
stat'ed and its first bytes sniffed (to know whether it is an archive to open); workers read
the rest. Seized material is hostile or damaged by nature, so every bad entry (unreadable,
special, a symlink leaving the source, a broken archive) becomes one work item carrying a
one-line ``error`` and the walk goes on. Order is sorted, so a rerun yields the same sequence,
and every path is unique (:mod:`vident.ingest.unique_names`), so no file found is lost.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from vident.config import Limits
from vident.ingest.archives import expand_archive
from vident.ingest.disk_images import expand_disk_image, sniff_disk_image
from vident.ingest.member_names import file_kind, one_line, storable
from vident.ingest.records import FileTimes, WorkItem
from vident.ingest.unique_names import UniqueNames, unique_paths
from vident.media.detect import SNIFF_BYTES, ArchiveFormat, sniff

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
# Keeps the evidence's access time as it was, where the file's owner (or root) reads it.
_NOATIME = getattr(os, "O_NOATIME", 0)


class SourceNotFound(Exception):
    """The source given to ingest is missing, unreadable or neither a file nor a folder."""


def walk_source(
    root: Path, limits: Limits, tmp_dir: Path, exclude: Sequence[Path] = ()
) -> Iterator[WorkItem]:
    """Every file of the source ``root`` as a work item, archives expanded, in sorted order.

    Checks ``root`` now (raising :class:`SourceNotFound`) and walks lazily afterwards.
    ``tmp_dir`` (created if missing) is the only place anything is written: nested archives
    too big to spool in memory. Folders in ``exclude`` (vident's own data directory, when
    the source holds it) are left out, and a symlink into one is not followed.
    """
    root = Path(root)
    root_stat = _stat_root(root)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    if stat.S_ISDIR(root_stat.st_mode):
        try:
            names = _sorted_names(root)
        except OSError as exc:
            raise SourceNotFound(
                f"cannot read the folder {root}: {_os_reason(exc)}; run as a user who can read it"
            ) from exc
        skipped = _Excluded(exclude)
        return unique_paths(_walk_folder(root, names, limits, tmp_dir, skipped))
    real = os.path.realpath(root)
    return unique_paths(_file_items(real, storable(root.name), root_stat, limits, tmp_dir))


class _Excluded:
    """Folders the walk leaves out, known by identity (device, inode) and by real path."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.ids: set[tuple[int, int]] = set()
        self.reals: list[str] = []
        for folder in folders:
            try:
                found = Path(folder).stat()
            except OSError:
                continue  # a folder that does not exist cannot be walked into either
            self.ids.add((found.st_dev, found.st_ino))
            self.reals.append(os.path.realpath(folder).rstrip(os.sep) + os.sep)

    def holds_folder(self, entry_stat: os.stat_result) -> bool:
        return (entry_stat.st_dev, entry_stat.st_ino) in self.ids

    def holds_path(self, real: str) -> bool:
        return any(real.startswith(prefix) for prefix in self.reals)


def measure_source(root: Path, exclude: Sequence[Path] = ()) -> tuple[int, int]:
    """How many files and bytes ``root`` holds, for a progress bar; stat calls only.

    Archives count as one file of their own size; an unreadable folder counts as one file
    (the walker yields one error item for it). Folders in ``exclude`` are not counted.
    """
    root = Path(root)
    root_stat = _stat_root(root)
    if not stat.S_ISDIR(root_stat.st_mode):
        return 1, root_stat.st_size
    skipped = _Excluded(exclude)
    files = total = 0
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            names = _sorted_names(folder)
        except OSError:
            if folder != root:
                files += 1
            continue
        for name in names:
            full = folder / name
            try:
                entry_stat = full.lstat()
            except OSError:
                files += 1
                continue
            if stat.S_ISDIR(entry_stat.st_mode):
                if not skipped.holds_folder(entry_stat):
                    pending.append(full)
            else:
                files += 1
                if stat.S_ISREG(entry_stat.st_mode):
                    total += entry_stat.st_size
    return files, total


def _stat_root(root: Path) -> os.stat_result:
    try:
        root_stat = root.stat()
    except FileNotFoundError as exc:
        raise SourceNotFound(
            f"{root} does not exist: give the path of a folder, a file or an archive"
        ) from exc
    except OSError as exc:
        raise SourceNotFound(f"cannot open {root}: {_os_reason(exc)}") from exc
    if not (stat.S_ISDIR(root_stat.st_mode) or stat.S_ISREG(root_stat.st_mode)):
        raise SourceNotFound(
            f"{root} is a {file_kind(root_stat.st_mode)}, not a file or folder:"
            " give the path of a folder, a file or an archive"
        )
    return root_stat


def _walk_folder(
    root: Path, names: list[str], limits: Limits, tmp_dir: Path, skipped: _Excluded
) -> Iterator[WorkItem]:
    """Depth first in sorted name order, with an explicit stack (seized trees can be deep)."""
    root_real = os.path.realpath(root)
    stack: list[tuple[Path, str, Iterator[tuple[str, str]]]] = [
        (root.absolute(), "", _stored_names(names))
    ]
    while stack:
        folder, prefix, remaining = stack[-1]
        entry = next(remaining, None)
        if entry is None:
            stack.pop()
            continue
        name, stored = entry
        full = folder / name
        path = prefix + stored
        try:
            entry_stat = full.lstat()
        except OSError as exc:
            yield WorkItem(path, error=_os_reason(exc))
            continue
        times = _times(entry_stat)
        mode = entry_stat.st_mode
        if stat.S_ISDIR(mode):
            if skipped.holds_folder(entry_stat):
                continue  # vident's own data directory: the caller says so once
            try:
                children = _sorted_names(full)
            except OSError as exc:
                yield WorkItem(path, times=times, error=_os_reason(exc))
                continue
            stack.append((full, path + "/", _stored_names(children)))
        elif stat.S_ISLNK(mode):
            yield from _symlink_items(full, path, times, root_real, limits, tmp_dir, skipped)
        elif stat.S_ISREG(mode):
            yield from _file_items(str(full), path, entry_stat, limits, tmp_dir)
        else:
            yield WorkItem(path, times=times, error=f"not a regular file: {file_kind(mode)}")


def _stored_names(names: list[str]) -> Iterator[tuple[str, str]]:
    """Each name of one folder with the unique text it is stored as.

    Two names can be spelt alike once undecodable bytes are written ``\\xff``: the literal
    spelling and the bytes themselves. The later one gets a ``#2``.
    """
    stored = [storable(name) for name in names]
    unique = UniqueNames(stored)
    return iter([(name, unique.claim(text)) for name, text in zip(names, stored, strict=True)])


def _symlink_items(
    link: Path,
    path: str,
    times: FileTimes,
    root_real: str,
    limits: Limits,
    tmp_dir: Path,
    skipped: _Excluded,
) -> Iterator[WorkItem]:
    """A symlink is followed only to a regular file inside the source; never to a folder.

    Error items carry the link's own times; a followed link gets its target's.
    """
    try:
        target = one_line(str(link.readlink()))
    except OSError as exc:
        yield WorkItem(path, times=times, error=_os_reason(exc))
        return
    real = os.path.realpath(link)
    if real != root_real and not real.startswith(root_real.rstrip(os.sep) + os.sep):
        yield WorkItem(path, times=times, error=f"symlink points outside the source: -> {target}")
        return
    if skipped.holds_path(real):
        reason = f"symlink into vident's data directory not followed: -> {target}"
        yield WorkItem(path, times=times, error=reason)
        return
    try:
        target_stat = Path(real).stat()
    except FileNotFoundError:
        yield WorkItem(path, times=times, error=f"broken symlink: -> {target}")
        return
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            yield WorkItem(path, times=times, error=f"symlink loop: -> {target}")
        else:
            yield WorkItem(path, times=times, error=_os_reason(exc))
        return
    mode = target_stat.st_mode
    if stat.S_ISDIR(mode):
        yield WorkItem(path, times=times, error=f"symlink to a folder not followed: -> {target}")
    elif not stat.S_ISREG(mode):
        yield WorkItem(
            path, times=times, error=f"not a regular file: symlink to a {file_kind(mode)}"
        )
    else:
        yield from _file_items(real, path, target_stat, limits, tmp_dir)


def _file_items(
    fs_path: str, path: str, seen: os.stat_result, limits: Limits, tmp_dir: Path
) -> Iterator[WorkItem]:
    """A regular file as one item, or its members if it is an archive or a disk image."""
    times = _times(seen)
    size = seen.st_size
    try:
        fd = _open_evidence(fs_path)
    except OSError as exc:
        yield WorkItem(path, size=size, times=times, error=_os_reason(exc))
        return
    try:
        error, fmt = _sniff_opened(fd, seen)
        if error is None and fmt is not None:
            handle = os.fdopen(fd, "rb")
            fd = -1  # the handle owns the descriptor now
            with handle:
                handle.seek(0)
                yield from expand_archive(handle, path, fmt, times, size, limits, tmp_dir)
            return
        if error is None and (kind := sniff_disk_image(fd, path)) is not None:
            yield from expand_disk_image(fd, fs_path, path, kind, times, size, limits, tmp_dir)
            return
    finally:
        if fd >= 0:
            os.close(fd)
    if error is not None:
        yield WorkItem(path, size=size, times=times, error=error)
    else:
        yield WorkItem(path, size=size, times=times, fs_path=fs_path)


def _sniff_opened(fd: int, seen: os.stat_result) -> tuple[str | None, ArchiveFormat | None]:
    """(error, archive format) of an opened file, checking it is still the file stat'ed."""
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
            seen.st_dev,
            seen.st_ino,
        ):
            return "changed while walking: not the file first seen", None
        return None, sniff(os.read(fd, SNIFF_BYTES)).archive
    except OSError as exc:
        return _os_reason(exc), None


def _sorted_names(folder: Path) -> list[str]:
    """A folder's entry names, sorted so a rerun walks in the same order."""
    with os.scandir(folder) as entries:
        return sorted(entry.name for entry in entries)


def _open_evidence(fs_path: str) -> int:
    """A read-only descriptor that never follows a symlink nor blocks on a FIFO."""
    if _NOATIME:
        try:
            return os.open(fs_path, _OPEN_FLAGS | _NOATIME)
        except PermissionError:
            pass  # O_NOATIME needs ownership; fall through to a plain open
    return os.open(fs_path, _OPEN_FLAGS)


def _times(entry_stat: os.stat_result) -> FileTimes:
    return FileTimes(
        mtime=entry_stat.st_mtime, ctime=entry_stat.st_ctime, atime=entry_stat.st_atime
    )


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "vanished while walking"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return f"cannot read: {one_line(exc.strerror or str(exc))}"
