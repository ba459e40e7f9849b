"""Reading archive bytes under the limits, by counting what is read rather than trusting headers.

Archive headers are written by whoever made the archive and a hostile one lies about sizes.
Every check here therefore counts the bytes that actually come out of a decompressor (and the
compressed bytes that actually went into it) and stops as soon as a limit is passed, before
another chunk is asked for. Reads are chunked, so memory stays bounded whatever the input.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from vident.config import Limits
from vident.media.detect import SNIFF_BYTES

#: Largest single read while copying a member.
CHUNK = 1024 * 1024

#: Bytes a tar header (with its pax or GNU long-name extensions) may take. Real ones are a
#: few KiB; tarfile reads the whole extension into memory, so a lying size must be stopped.
MAX_TAR_HEADER_BYTES = 16 * 1024 * 1024

_TAR_BLOCK = 512


class LimitExceeded(Exception):
    """A limit was passed while reading; the message is the one-line reason to record."""


class MemberLimitExceeded(LimitExceeded):
    """One member is too big or too compressed; the rest of its archive can still be read."""


class ArchiveTooLarge(LimitExceeded):
    """The uncompressed-bytes budget of a top-level archive is spent: stop all of it."""


class HeaderTooLarge(LimitExceeded):
    """A tar header claims more bytes than any real one needs."""


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class SeekableReadable(Readable, Protocol):
    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def tell(self) -> int: ...


class Budget:
    """Uncompressed bytes one top-level archive may produce, nested archives included.

    Shared down the nesting so that a chain of archives (42.zip style) cannot multiply the
    work: everything decompressed under one archive found in the source counts once here.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, count: int) -> None:
        self.used += count
        if self.used > self.limit:
            raise ArchiveTooLarge(
                f"archive over the limit of {self.limit} uncompressed bytes: the rest was not read"
            )


class CountingReader:
    """A seekable byte stream that counts the bytes read through it.

    Wrapped around an archive's own (compressed) bytes, it tells how much compressed input a
    member really consumed, whatever the member's header says.
    """

    def __init__(self, inner: SeekableReadable) -> None:
        self._inner = inner
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)
        self.count += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def seekable(self) -> bool:
        return True


class Metered:
    """A read-only stream whose bytes are charged to a :class:`Budget`."""

    def __init__(self, inner: Readable, budget: Budget) -> None:
        self._inner = inner
        self._budget = budget

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        data = self._inner.read(size)
        self._budget.spend(len(data))
        return data


class TarSource(Metered):
    """What :mod:`tarfile` reads from: metered, with seeks it can afford.

    Over a decompressor a forward seek is done by reading (and charging) the skipped bytes,
    so skipping a bomb member costs budget like reading it; a backward seek restarts the
    decompressor and reads forward again. While headers are read, one header may take at most
    :data:`MAX_TAR_HEADER_BYTES`. The last small read is kept so the caller can tell a clean
    end of archive from a damaged header, which :mod:`tarfile` treats alike.
    """

    def __init__(self, inner: SeekableReadable, budget: Budget, *, seek_by_reading: bool) -> None:
        super().__init__(inner, budget)
        self._seekable_inner = inner
        self._seek_by_reading = seek_by_reading
        self._pos = inner.tell()
        self._header_allowance: int | None = None
        self.last_read: tuple[int, bytes] = (-1, b"")

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            return super().read(size)
        if self._header_allowance is not None:
            if size > self._header_allowance:
                raise HeaderTooLarge(
                    f"tar header larger than the limit of {MAX_TAR_HEADER_BYTES} bytes"
                )
            self._header_allowance -= size
        start = self._pos
        data = super().read(size)
        self._pos += len(data)
        if size <= _TAR_BLOCK:
            self.last_read = (start, data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        if not self._seek_by_reading:
            self._pos = self._seekable_inner.seek(offset, whence)
            return self._pos
        if whence == os.SEEK_CUR:
            offset += self._pos
        elif whence != os.SEEK_SET:
            raise io.UnsupportedOperation("cannot seek from the end of a compressed stream")
        if offset < self._pos:
            self._pos = self._seekable_inner.seek(0)
        while self._pos < offset:
            data = self._inner.read(min(CHUNK, offset - self._pos))
            if not data:
                break
            self._budget.spend(len(data))
            self._pos += len(data)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    @contextmanager
    def reading_headers(self) -> Iterator[None]:
        """Bound what tarfile may read until it has parsed the next header."""
        self._header_allowance = MAX_TAR_HEADER_BYTES
        try:
            yield
        finally:
            self._header_allowance = None


class MemberReader:
    """Reads one archive member in chunks, checking the limits after every chunk.

    ``compressed`` counts the archive's compressed input; the ratio is the member's bytes so
    far over the compressed bytes consumed since the member started, which a lying header
    cannot change. Never asks for more than one byte past ``max_file_bytes``.
    """

    def __init__(self, source: Readable, limits: Limits, compressed: CountingReader) -> None:
        self._source = source
        self._limits = limits
        self._compressed = compressed
        self._start = compressed.count
        self.total = 0

    def read(self, size: int = CHUNK) -> bytes:
        allowed = self._limits.max_file_bytes - self.total + 1
        data = self._source.read(max(1, min(size, allowed)))
        self.total += len(data)
        self._check()
        return data

    def read_head(self) -> bytes:
        """The first :data:`SNIFF_BYTES` (fewer only at the end of the member)."""
        parts: list[bytes] = []
        got = 0
        while got < SNIFF_BYTES:
            data = self.read(SNIFF_BYTES - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def copy_rest(self, write: Callable[[bytes], object]) -> None:
        while data := self.read():
            write(data)

    def _check(self) -> None:
        limits = self._limits
        if self.total > limits.max_file_bytes:
            raise MemberLimitExceeded(
                f"archive member larger than the limit of {limits.max_file_bytes} bytes"
            )
        if self.total > limits.ratio_check_min_bytes:
            consumed = max(1, self._compressed.count - self._start)
            ratio = self.total / consumed
            if ratio > limits.max_compression_ratio:
                raise MemberLimitExceeded(
                    f"compression ratio over the limit of {limits.max_compression_ratio:g}"
                    f" ({ratio:.0f} to 1 after {self.total} bytes): zip bomb?"
                )
