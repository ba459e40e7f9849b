"""Counting the files of a seizure without vident: the yardstick for "every file is listed".

Deliberately plain and independent of vident's walker: ``os.walk`` for folders, a direct
read of a zip's central directory (so a member name that is not valid UTF-8 cannot stop the
count), :mod:`tarfile` for tars (compressed or not), nested archives opened from their bytes.
Every member counts, duplicates included. Paths are normalised the same way on both sides
(empty and ``.`` parts dropped, a ``#n`` duplicate mark removed) so that they can be compared
as a multiset.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import tarfile
import zlib
from collections import Counter
from pathlib import Path

_MARK = re.compile(r"#[0-9]+\Z")


def normalise(path: str) -> str:
    """A path as a comparable key: no empty or ``.`` parts, no ``#n`` duplicate marks."""
    parts = [_MARK.sub("", part) for part in path.split("/") if part not in ("", ".")]
    return "/".join(parts)


def count_seizure(root: Path, skip: Path | None = None) -> Counter[str]:
    """Every file of the folder ``root`` (archives listed member by member), as a multiset."""
    found: Counter[str] = Counter()
    for folder, dirnames, filenames in os.walk(root):
        relative = Path(folder).relative_to(root)
        prefix = "" if relative == Path() else _text(str(relative)) + "/"
        for name in list(dirnames):
            full = Path(folder) / name
            if skip is not None and full.samefile(skip):
                dirnames.remove(name)
            elif full.is_symlink():  # a link to a folder is one (unfollowed) file
                dirnames.remove(name)
                found[normalise(prefix + _text(name))] += 1
        for name in filenames:
            full = Path(folder) / name
            path = prefix + _text(name)
            if stat.S_ISREG(full.lstat().st_mode):
                _count_file(full.read_bytes(), path, found)
            else:
                found[normalise(path)] += 1
    return found


def _text(name: str | bytes) -> str:
    """A file system name as vident shows it: undecodable bytes spelt ``\\xff``."""
    raw = os.fsencode(name) if isinstance(name, str) else name
    return raw.decode("utf-8", "backslashreplace")


def _count_file(data: bytes, path: str, found: Counter[str]) -> None:
    if data.startswith(b"PK\x03\x04"):
        for name, content in _zip_members(data):
            if not name.endswith("/"):
                _count_file(content, f"{path}/{name}", found)
        return
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            members = archive.getmembers()
            for member in members:
                if member.isdir():
                    continue
                raw = member.name.encode("utf-8", "surrogateescape")
                extracted = archive.extractfile(member) if member.isfile() else None
                content = extracted.read() if extracted is not None else b""
                _count_file(content, f"{path}/{_text(raw)}", found)
        return
    except tarfile.TarError:
        pass
    found[normalise(path)] += 1


def _zip_members(data: bytes) -> list[tuple[str, bytes]]:
    """(name, uncompressed bytes) of every central directory entry, stored or deflated."""
    end = data.rfind(b"PK\x05\x06")
    count, _, directory = struct.unpack_from("<HII", data, end + 10)
    members = []
    offset = directory
    for _ in range(count):
        flags, method = struct.unpack_from("<HH", data, offset + 8)
        packed = struct.unpack_from("<I", data, offset + 20)[0]
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, offset + 28)
        local = struct.unpack_from("<I", data, offset + 42)[0]
        raw = data[offset + 46 : offset + 46 + name_length]
        name = raw.decode("utf-8", "backslashreplace") if flags & 0x800 else raw.decode("cp437")
        local_name, local_extra = struct.unpack_from("<HH", data, local + 26)
        start = local + 30 + local_name + local_extra
        body = data[start : start + packed]
        content = body if method == 0 else zlib.decompressobj(-15).decompress(body)
        members.append((name, content))
        offset += 46 + name_length + extra_length + comment_length
    return members
