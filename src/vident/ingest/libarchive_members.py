"""7z and rar archives, read member by member through libarchive.

Python's standard library reads neither format, so Debian's libarchive does the parsing and
decompressing (through ``libarchive-c``). It reads the archive's own bytes through callbacks
over the counted stream of :mod:`vident.ingest.archives`, so nothing is extracted to disk,
solid 7z blocks are decoded once in order, and the compressed bytes each member consumes are
counted for the ratio check. What to do with a member's bytes (hash it, spool it, open it as
a nested archive) is left to the caller, so 7z and rar members get the same limits, names and
nesting as zip and tar members.

Neither format can be decrypted here. A member whose data is encrypted, or an archive whose
names are, becomes an error item that says so, never bytes: libarchive would otherwise hand
back a stored rar member's ciphertext as if it were the file. libarchive 3.6 does not see a
RAR 5 member's encryption at all; :mod:`vident.ingest.rar5_headers` names those members.
"""

from __future__ import annotations

import ctypes
import logging
import stat
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Protocol

from vident.config import Limits
from vident.ingest.member_names import (
    clean_member_name,
    file_kind,
    is_unsafe,
    one_line,
    storable,
)
from vident.ingest.metered import (
    CHUNK,
    ArchiveTooLarge,
    Budget,
    CountingReader,
    MemberReader,
    Metered,
)
from vident.ingest.rar5_headers import SIGNATURE as RAR5_SIGNATURE
from vident.ingest.rar5_headers import Rar5Headers, scan_rar5_headers
from vident.ingest.records import FileTimes, WorkItem
from vident.ingest.unique_names import UniqueNames
from vident.media.detect import ArchiveFormat

#: What a member's bytes become: the caller's item, or a nested archive's items.
MemberHandler = Callable[[MemberReader, str, FileTimes], Iterator[WorkItem]]

#: Bytes handed to libarchive per read of the archive's own (compressed) bytes.
READ_BLOCK = 32 * 1024
#: Compressed bytes every member is credited with in its ratio check, for libarchive's
#: read-ahead (see :meth:`_Source.member_reader`). Measured here at up to 75 KiB for LZMA,
#: LZMA2, deflate and PPMd 7z (a bzip2 one lags by a whole bzip2 block, up to 900 KiB, so a
#: very compressible member there may still be refused). At the default ratio of 200 a member
#: must give 25 MiB before it can look a bomb.
RATIO_CREDIT = 128 * 1024

_ARCHIVE_FATAL = -30
_MAX_REASON = 200
_WHAT_TO_DO = "open the archive with its password and ingest the files it holds"

# libarchive-c logs libarchive's warnings; without a handler Python would print them on the
# terminal, in the middle of the progress bar. An application's own logging still sees them.
logging.getLogger("libarchive").addHandler(logging.NullHandler())

# libarchive-c loads the C library when imported. Without it (Debian's libarchive13) only 7z
# and rar archives are out of reach: each becomes an error item saying so, ingest goes on.
try:
    import libarchive
    import libarchive.ffi

    _entry_is_encrypted = libarchive.ffi.libarchive.archive_entry_is_encrypted
    _entry_is_encrypted.argtypes = [ctypes.c_void_p]
    _entry_is_encrypted.restype = ctypes.c_int
    _MISSING: str | None = None
except Exception as exc:  # no library, or one too old to know encrypted entries
    _MISSING = (
        f"libarchive could not be loaded ({one_line(str(exc), 120)}):"
        " install Debian's libarchive13 package"
    )


def libarchive_members(
    counted: CountingReader,
    path: str,
    fmt: ArchiveFormat,
    limits: Limits,
    budget: Budget,
    handle_member: MemberHandler,
) -> Iterator[WorkItem]:
    """The items of a 7z or rar archive at ``path``: its members, or why they cannot be read.

    Members come in archive order, as they are decoded; directories give no item. Only
    :class:`~vident.ingest.metered.ArchiveTooLarge` travels up.
    """
    label = fmt.value
    if _MISSING is not None:
        yield WorkItem(path, error=f"{label} archive not opened: {_MISSING}")
        return
    source = _Source(counted)
    with ExitStack() as stack:
        try:
            format_name = _format_name(counted, fmt)
            headers = Rar5Headers(frozenset(), complete=True)
            if format_name == "rar5":
                headers = scan_rar5_headers(counted, limits.max_archive_members + 2)
            archive: _Archive = stack.enter_context(
                libarchive.custom_reader(
                    source.read,
                    format_name=format_name,
                    filter_name="none",
                    seek_func=source.seek,
                )
            )
        except Exception as exc:  # not this format after all, damaged, or unreadable
            yield WorkItem(path, error=_archive_error(label, source.why(exc)))
            return
        yield from _members(archive, source, path, label, limits, budget, headers, handle_member)


def _format_name(counted: CountingReader, fmt: ArchiveFormat) -> str:
    """libarchive's reader for the format; rar 5 has its own, told by its signature."""
    if fmt is ArchiveFormat.SEVEN_Z:
        return "7zip"
    start = counted.tell()
    mark = counted.read(len(RAR5_SIGNATURE))
    counted.seek(start)
    return "rar5" if mark == RAR5_SIGNATURE else "rar"


def _members(
    archive: _Archive,
    source: _Source,
    path: str,
    label: str,
    limits: Limits,
    budget: Budget,
    headers: Rar5Headers,
    handle_member: MemberHandler,
) -> Iterator[WorkItem]:
    """The items of the archive's entries; ``headers``: what a RAR 5 scan found."""
    entries = iter(archive)
    unique = UniqueNames()  # names come one at a time: a duplicate takes the next free one
    count = 0
    while True:
        try:
            entry = next(entries)
        except StopIteration:
            if not headers.complete:
                yield WorkItem(
                    path,
                    error=_archive_error(
                        label, "damaged or truncated: the headers end before the archive's end"
                    ),
                )
            return
        except Exception as exc:
            yield WorkItem(path, error=_archive_error(label, source.why(exc)))
            return
        count += 1
        if count > limits.max_archive_members:
            yield WorkItem(
                path,
                error=f"too many members in archive: more than {limits.max_archive_members};"
                " the rest was not read",
            )
            return
        member = _Entry(entry, headers.encrypted)
        if member.is_dir:
            continue
        member_path = f"{path}/{unique.claim(member.stored_name)}"
        refusal = member.refusal(label)
        data = Metered(_EntryData(archive._pointer, source.data_buffer), budget)
        try:
            if refusal is None:
                yield from handle_member(
                    source.member_reader(data, limits), member_path, member.times
                )
            else:
                yield WorkItem(member_path, times=member.times, error=refusal)
            if not member.encrypted:  # encrypted data cannot even be decoded to be skipped
                _drain(data)
        except ArchiveTooLarge:
            raise
        except Exception as exc:  # damaged member data; a fatal error also ends the archive
            if refusal is None:
                yield WorkItem(member_path, times=member.times, error=_member_error(label, exc))
            if _retcode(exc) == _ARCHIVE_FATAL:
                yield WorkItem(
                    path,
                    error=_archive_error(
                        label, f"reading stopped at {one_line(member.name)}: {_reason(exc)}"
                    ),
                )
                return


def _drain(data: Metered) -> None:
    """Decode and charge what was left unread of a member.

    libarchive would skip it by decoding it all the same, uncounted: a bomb member stopped at
    its limit, or refused for its name, must still spend the archive's budget, or a thousand
    of them would run forever.
    """
    while data.read(CHUNK):
        pass


class _RawEntry(Protocol):
    """The parts of libarchive-c's ``ArchiveEntry`` read here."""

    _entry_p: int
    pathname: str | bytes | None
    filetype: int
    islnk: bool
    linkpath: str | bytes | None
    mtime: float | None


class _Archive(Protocol):
    """The parts of libarchive-c's ``ArchiveRead`` used here."""

    _pointer: int

    def __iter__(self) -> Iterator[_RawEntry]: ...


class _Entry:
    """What the walker needs of a libarchive entry, read before the archive moves on."""

    def __init__(self, entry: _RawEntry, encrypted: frozenset[str]) -> None:
        self.name = _text(entry.pathname, "surrogateescape")
        self.mode = entry.filetype
        self.is_dir = stat.S_ISDIR(self.mode)
        self.is_hard_link = entry.islnk
        self.link = _text(entry.linkpath, "replace") or "?"
        self.encrypted = self.name in encrypted or bool(_entry_is_encrypted(entry._entry_p))
        mtime = entry.mtime
        self.times = FileTimes(mtime=float(mtime) if mtime is not None else None)

    @property
    def stored_name(self) -> str:
        """The name as stored: cleaned, or as written when it is unsafe.

        Both formats come from Windows tools, where ``\\`` separates folders, like zip's.
        A member without a name is ``unnamed``: libarchive gives none when it cannot spell a
        7z's Unicode name in the process's locale (``LC_ALL=C``); the bytes are still read.
        """
        if is_unsafe(self.name):
            return storable(self.name)
        return clean_member_name(self.name, backslash_separates=True) or "unnamed"

    def refusal(self, label: str) -> str | None:
        """Why this member's bytes are not read, if they are not."""
        if is_unsafe(self.name):
            return f"unsafe path in archive: {one_line(self.name)}"
        if self.encrypted:
            return _encrypted_member(label)
        if stat.S_ISLNK(self.mode):
            return f"symlink in archive not followed: -> {one_line(self.link)}"
        if self.is_hard_link:
            return f"hard link in archive not followed: -> {one_line(self.link)}"
        if stat.S_IFMT(self.mode) and not stat.S_ISREG(self.mode):
            return f"not a regular file in archive: {file_kind(self.mode)}"
        return None


class _Source:
    """libarchive's read and seek callbacks over the archive's counted bytes.

    A Python exception cannot cross libarchive's C frames: a failed read is kept here and
    reported as libarchive's fatal error code, and :meth:`why` gives it back as the reason.
    """

    def __init__(self, counted: CountingReader) -> None:
        self._counted = counted
        self._buffer = ctypes.create_string_buffer(READ_BLOCK)
        self._address = ctypes.addressof(self._buffer)
        self._failure: Exception | None = None
        self._member_input: CountingReader | None = None
        #: Where members' decoded bytes land, one chunk at a time; one for all members.
        self.data_buffer = ctypes.create_string_buffer(CHUNK)

    def member_reader(self, data: Metered, limits: Limits) -> MemberReader:
        """A reader of the current member whose ratio check counts :data:`RATIO_CREDIT` more.

        libarchive reads ahead: in a solid 7z the start of a member's compressed bytes may
        have come in with the previous member's, and the member would look like it came from
        nothing. With the credit an ordinary compressible picture (a BMP, a TIFF) is not
        taken for a bomb; a real bomb passes the ratio limit some MiB later all the same,
        and what it would have given beyond is never read.
        """
        consumed = CountingReader(self._counted)  # only its count is used
        reader = MemberReader(data, limits, consumed)
        consumed.count += RATIO_CREDIT
        self._member_input = consumed
        return reader

    def read(self, _archive: int, _context: int, pointer: ctypes._Pointer[ctypes.c_void_p]) -> int:
        try:
            data = self._counted.read(READ_BLOCK)
        except Exception as exc:  # an unreadable disk block: one reason, no traceback
            self._failure = exc
            return _ARCHIVE_FATAL
        if self._member_input is not None:
            self._member_input.count += len(data)
        ctypes.memmove(self._address, data, len(data))
        pointer[0] = self._address
        return len(data)

    def seek(self, _archive: int, _context: int, offset: int, whence: int) -> int:
        try:
            return self._counted.seek(offset, whence)
        except Exception as exc:
            self._failure = exc
            return _ARCHIVE_FATAL

    def why(self, exc: Exception) -> str:
        """The reason to record: the read that failed underneath, else libarchive's."""
        return _reason(self._failure if self._failure is not None else exc)


class _EntryData:
    """The current entry's decoded bytes as a ``read(size)`` stream."""

    def __init__(self, archive_p: int, buffer: ctypes.Array[ctypes.c_char]) -> None:
        self._archive_p = archive_p
        self._buffer = buffer

    def read(self, size: int = -1, /) -> bytes:
        size = CHUNK if size < 0 else min(size, CHUNK)
        got = int(libarchive.ffi.read_data(self._archive_p, self._buffer, size))
        if got < 0:  # a warning code: the data cannot be trusted
            raise libarchive.ArchiveError("damaged data", retcode=got)
        return ctypes.string_at(self._buffer, got)


def _text(value: str | bytes | None, errors: str) -> str:
    """A name from libarchive: bytes when it could not decode them itself."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors)
    return value or ""


def _retcode(exc: Exception) -> int | None:
    code = getattr(exc, "retcode", None)
    return code if isinstance(code, int) else None


def _reason(exc: BaseException) -> str:
    """One line from any exception; libarchive's own text rather than its object's repr."""
    message: object = getattr(exc, "msg", None) if isinstance(exc, libarchive.ArchiveError) else exc
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    text = str(message) if message else ""
    return one_line(text or "damaged or truncated", _MAX_REASON)


def _is_about_encryption(reason: str) -> bool:
    lowered = reason.lower()
    return "encrypt" in lowered or "passphrase" in lowered or "password" in lowered


def _archive_error(label: str, reason: str) -> str:
    if _is_about_encryption(reason):
        return (
            f"encrypted: {label} archive with encrypted names, cannot be read without"
            f" the password ({reason}); {_WHAT_TO_DO}"
        )
    return f"corrupt {label} archive: {reason}"


def _member_error(label: str, exc: Exception) -> str:
    reason = _reason(exc)
    if _is_about_encryption(reason):
        return _encrypted_member(label)
    return f"corrupt archive member: {reason}"


def _encrypted_member(label: str) -> str:
    return f"encrypted: {label} archive member, cannot be read without the password; {_WHAT_TO_DO}"
