"""Names of archive members and files: safety checks and text that is safe to store and show.

Member names are written by whoever made the archive. They are never used to write anything,
but an analyst (or a later export) must not be misled by ``../`` tricks, and a name in an odd
encoding must not break the store or a one-line error message.
"""

from __future__ import annotations

import re
import stat
from pathlib import PurePosixPath

from vident.media.detect import ArchiveFormat

_DRIVE = re.compile(r"^[A-Za-z]:")

#: Suffixes a compressed single file usually carries, longest first. Only reached when the
#: content is not a tar, so ``.tgz`` and friends lose their whole suffix too.
_COMPRESSION_SUFFIXES: dict[ArchiveFormat, tuple[str, ...]] = {
    ArchiveFormat.GZIP: (".gzip", ".tgz", ".gz", ".z"),
    ArchiveFormat.BZIP2: (".bzip2", ".tbz2", ".tbz", ".bz2", ".bz"),
    ArchiveFormat.XZ: (".txz", ".xz"),
}

_MAX_MESSAGE_NAME = 300


def storable(text: str) -> str:
    """``text`` with undecodable bytes (surrogate escapes from the file system) spelt ``\\xff``.

    Linux file names are bytes; Python keeps undecodable ones as lone surrogates, which no
    UTF-8 database or JSON encoder accepts.
    """
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def one_line(text: str, limit: int = _MAX_MESSAGE_NAME) -> str:
    """``text`` fit for a one-line message: control characters escaped, length bounded."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in storable(text))
    return out if len(out) <= limit else out[:limit] + "..."


def is_unsafe(name: str) -> bool:
    """Whether a member name could escape a folder it was extracted to.

    Both ``/`` and ``\\`` count as separators, since archives made on Windows use either.
    """
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return True
    return any(part == ".." for part in re.split(r"[/\\]", name))


def clean_member_name(name: str, *, backslash_separates: bool) -> str:
    """A member name as a relative ``/``-separated path: no ``.`` or empty parts.

    Zip names use ``/`` by specification, but some Windows tools wrote ``\\``; a tar name may
    legitimately contain a backslash, so only zip names get it converted.
    """
    if backslash_separates:
        name = name.replace("\\", "/")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    return storable("/".join(parts))


def compressed_member_name(archive_name: str, fmt: ArchiveFormat) -> str:
    """The name of the one file inside a compressed file: its own name minus the suffix."""
    lowered = archive_name.lower()
    for suffix in _COMPRESSION_SUFFIXES.get(fmt, ()):
        if lowered.endswith(suffix) and len(archive_name) > len(suffix):
            return archive_name[: -len(suffix)]
    return archive_name


def last_part(path: str) -> str:
    """The last component of a ``/``-separated item path."""
    return PurePosixPath(path).name or path


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words, from its ``st_mode``."""
    if stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "special file"
