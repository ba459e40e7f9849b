"""The walker on archives: every container kind, nesting, and every kind of hostile archive.

Everything is generated in tmp_path. Bombs use small limits so the tests stay fast; memory
bounds are checked with tracemalloc, which sees every bytes object the walker builds.
"""

from __future__ import annotations

import bz2
import calendar
import gzip
import io
import lzma
import os
import struct
import tarfile
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from vident.config import Limits
from vident.ingest.metered import CountingReader, MemberLimitExceeded, MemberReader
from vident.ingest.records import WorkItem
from vident.ingest.walk import walk_source

MTIME = 1_600_000_000
MiB = 1024 * 1024


def walk(root: Path, tmp_path: Path, **limits: float) -> list[WorkItem]:
    return list(walk_source(root, Limits.model_validate(limits), tmp_path / "tmp"))


def summary(items: list[WorkItem]) -> list[tuple[str, bytes | str | None]]:
    """(path, data or error) per item."""
    return [(item.path, item.data if item.error is None else item.error) for item in items]


def put(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def zip_bytes(
    members: dict[str, bytes] | list[tuple[str, bytes]],
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    buffer = io.BytesIO()
    pairs = members.items() if isinstance(members, dict) else members
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in pairs:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 2, 3, 4, 6))
            info.compress_type = compression
            archive.writestr(info, data)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = MTIME
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def gzip_stream(parts: list[tuple[bytes, int]]) -> bytes:
    """Gzip of each ``bytes`` repeated ``int`` times, built without holding it uncompressed."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [compressor.compress(chunk) for chunk, times in parts for _ in range(times)]
    out.append(compressor.flush())
    return b"".join(out)


def patch_first_zip_member(data: bytes, **fields: int) -> bytes:
    """Rewrite header fields of the first member, in its local header and central entry."""
    offsets = {
        "flags": (6, 8, "<H"),
        "method": (8, 10, "<H"),
        "csize": (18, 20, "<I"),
        "usize": (22, 24, "<I"),
    }
    buffer = bytearray(data)
    assert buffer[-22:-18] == b"PK\x05\x06"
    central = struct.unpack_from("<I", buffer, len(buffer) - 6)[0]
    assert buffer[:4] == b"PK\x03\x04" and buffer[central : central + 4] == b"PK\x01\x02"
    for name, value in fields.items():
        local_at, central_at, layout = offsets[name]
        struct.pack_into(layout, buffer, local_at, value)
        struct.pack_into(layout, buffer, central + central_at, value)
    return bytes(buffer)


def peak_bytes_while(action: object) -> int:
    assert callable(action)
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


IMAGES = {"img/1.jpg": b"\xff\xd8\xff first", "img/2.jpg": b"\xff\xd8\xff second", "n.txt": b""}


# --- container kinds -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_tar_of_every_compression_as_root(tmp_path: Path, mode: str) -> None:
    root = put(tmp_path, "seizure.bin", tar_bytes(IMAGES, mode))
    items = walk(root, tmp_path)
    assert summary(items) == [(f"seizure.bin/{name}", data) for name, data in IMAGES.items()]
    assert all(item.times.mtime == MTIME and item.size == len(item.data or b"") for item in items)


@pytest.mark.parametrize(
    "compression",
    [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA],
)
def test_zip_of_every_compression_as_root(tmp_path: Path, compression: int) -> None:
    root = put(tmp_path, "seizure.zip", zip_bytes(IMAGES, compression))
    assert summary(walk(root, tmp_path)) == [
        (f"seizure.zip/{name}", data) for name, data in IMAGES.items()
    ]


@pytest.mark.parametrize(
    ("compress", "name", "member"),
    [
        (gzip.compress, "photo.jpg.gz", "photo.jpg"),
        (bz2.compress, "photo.jpg.bz2", "photo.jpg"),
        (lzma.compress, "photo.jpg.xz", "photo.jpg"),
        (gzip.compress, "blob", "blob"),
        (gzip.compress, "photo.TGZ", "photo"),
    ],
)
def test_single_compressed_file(tmp_path: Path, compress: object, name: str, member: str) -> None:
    assert callable(compress)
    root = put(tmp_path, name, compress(b"\xff\xd8\xff jpeg-ish"))
    [item] = walk(root, tmp_path)
    assert (item.path, item.data, item.size) == (f"{name}/{member}", b"\xff\xd8\xff jpeg-ish", 12)
    assert item.times.mtime is not None


def test_gzip_member_time_comes_from_its_header(tmp_path: Path) -> None:
    root = put(tmp_path, "a.txt.gz", gzip.compress(b"text", mtime=1_234_567_890))
    [item] = walk(root, tmp_path)
    assert item.times.mtime == 1_234_567_890


def test_archive_inside_compressed_file(tmp_path: Path) -> None:
    inner = zip_bytes({"m.txt": b"member"})
    root = put(tmp_path, "x.zip.gz", gzip.compress(inner))
    assert summary(walk(root, tmp_path)) == [("x.zip.gz/x.zip/m.txt", b"member")]


def test_zip_members_sorted_with_times(tmp_path: Path) -> None:
    stamped = zipfile.ZipInfo("stamped.txt", date_time=(2001, 1, 1, 0, 0, 0))
    stamped.extra = struct.pack("<HHBi", 0x5455, 5, 1, 1_234_567_890)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("c.txt", "dir/", "a.txt", "b/x.txt"):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 2, 3, 4, 6)), name)
        archive.writestr(stamped, b"s")
    root = put(tmp_path, "s.zip", buffer.getvalue())
    items = walk(root, tmp_path)
    assert [item.path for item in items] == [
        "s.zip/a.txt",
        "s.zip/b/x.txt",
        "s.zip/c.txt",
        "s.zip/stamped.txt",
    ]
    assert items[0].times.mtime == calendar.timegm((2020, 1, 2, 3, 4, 6, 0, 0, 0))
    assert items[3].times.mtime == 1_234_567_890
    assert walk(root, tmp_path) == items


# --- bombs and limits ------------------------------------------------------------------------


def test_zip_bomb_by_ratio(tmp_path: Path) -> None:
    data = zip_bytes({"bomb.bin": bytes(10 * MiB), "ok.txt": b"fine"})
    root = put(tmp_path, "b.zip", data)
    items = walk(root, tmp_path, max_compression_ratio=50)
    assert items[1] == WorkItem("b.zip/ok.txt", size=4, times=items[1].times, data=b"fine")
    assert items[0].path == "b.zip/bomb.bin" and items[0].data is None
    assert items[0].error is not None
    assert items[0].error.startswith("compression ratio over the limit of 50 (")
    assert items[0].error.endswith("): zip bomb?")


def test_member_larger_than_limit(tmp_path: Path) -> None:
    big = os.urandom(200_000)
    root = put(tmp_path, "a.tar", tar_bytes({"big.bin": big, "small.txt": b"small"}))
    assert summary(walk(root, tmp_path, max_file_bytes=100_000)) == [
        ("a.tar/big.bin", "archive member larger than the limit of 100000 bytes"),
        ("a.tar/small.txt", b"small"),
    ]


def test_zip_header_that_lies_about_the_size(tmp_path: Path) -> None:
    """The headers claim 4 KiB (ratio under 1): the bytes really read decide, not the header."""
    honest = zip_bytes({"lie.bin": bytes(10 * MiB)})
    lying = patch_first_zip_member(honest, usize=4096)
    with zipfile.ZipFile(io.BytesIO(lying)) as archive:
        declared = archive.infolist()[0]
        assert declared.file_size == 4096 and declared.compress_size > 4096
    root = put(tmp_path, "lie.zip", lying)
    [item] = walk(root, tmp_path, max_compression_ratio=50)
    assert item.path == "lie.zip/lie.bin" and item.data is None
    assert item.error is not None and item.error.startswith("corrupt archive member: Bad CRC-32")


def test_compressed_bomb_reading_stops_at_the_limit(tmp_path: Path) -> None:
    """64 MiB of zeros behind a gzip header that declares nothing: memory stays near 1 MiB."""
    root = put(tmp_path, "zeros.gz", gzip_stream([(bytes(MiB), 64)]))
    items: list[WorkItem] = []
    peak = peak_bytes_while(lambda: items.extend(walk(root, tmp_path, max_file_bytes=MiB)))
    assert summary(items) == [
        ("zeros.gz/zeros", f"archive member larger than the limit of {MiB} bytes")
    ]
    assert peak < 8 * MiB


def test_ratio_is_checked_on_a_compressed_single_file(tmp_path: Path) -> None:
    root = put(tmp_path, "zeros.bin.xz", lzma.compress(bytes(4 * MiB)))
    [item] = walk(root, tmp_path)
    assert item.path == "zeros.bin.xz/zeros.bin"
    assert item.error is not None and item.error.startswith(
        "compression ratio over the limit of 200"
    )


def test_archive_total_limit_stops_the_archive(tmp_path: Path) -> None:
    members = {f"{index}.bin": os.urandom(100_000) for index in range(4)}
    root = put(tmp_path, "t.zip", zip_bytes(members))
    items = walk(root, tmp_path, max_archive_total_bytes=250_000)
    assert summary(items) == [
        ("t.zip/0.bin", members["0.bin"]),
        ("t.zip/1.bin", members["1.bin"]),
        ("t.zip", "archive over the limit of 250000 uncompressed bytes: the rest was not read"),
    ]


def test_archive_total_is_shared_with_nested_archives(tmp_path: Path) -> None:
    inner = {f"{index}.bin": os.urandom(60_000) for index in range(3)}
    nested = zip_bytes({"inner.zip": zip_bytes(inner, zipfile.ZIP_STORED)}, zipfile.ZIP_STORED)
    root = put(tmp_path, "outer.zip", nested)
    items = walk(root, tmp_path, max_archive_total_bytes=300_000)
    # 180 KB spooling inner.zip, then 60 KB per member: the second member passes the budget.
    assert [item.path for item in items] == ["outer.zip/inner.zip/0.bin", "outer.zip"]
    assert items[-1].error is not None and items[-1].error.startswith("archive over the limit")


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_too_many_members(tmp_path: Path, kind: str) -> None:
    members = {f"{index}.txt": b"%d" % index for index in range(5)}
    data = zip_bytes(members) if kind == "zip" else tar_bytes(members, "w:gz")
    root = put(tmp_path, f"many.{kind}", data)
    assert summary(walk(root, tmp_path, max_archive_members=3)) == [
        (f"many.{kind}/0.txt", b"0"),
        (f"many.{kind}/1.txt", b"1"),
        (f"many.{kind}/2.txt", b"2"),
        (f"many.{kind}", "too many members in archive: more than 3; the rest was not read"),
    ]


def test_depth_limit(tmp_path: Path) -> None:
    level3 = zip_bytes({"x.txt": b"deepest"})
    level2 = tar_bytes({"c.zip": level3}, "w:gz")
    level1 = zip_bytes({"b.tgz": level2})
    root = put(tmp_path, "a.zip", level1)
    assert summary(walk(root, tmp_path, max_archive_depth=3)) == [
        ("a.zip/b.tgz/c.zip/x.txt", b"deepest")
    ]
    assert summary(walk(root, tmp_path, max_archive_depth=2)) == [
        ("a.zip/b.tgz/c.zip", "archive not opened: nested deeper than 2 levels")
    ]
    assert summary(walk(root, tmp_path, max_archive_depth=0)) == [
        ("a.zip", "archive not opened: nested deeper than 0 levels")
    ]


# --- hostile names and member types ----------------------------------------------------------


def test_unsafe_member_paths_are_errors_and_never_written(tmp_path: Path) -> None:
    names = ["../x.txt", "/abs.txt", "C:/win.txt", "a/../../b.txt", "..\\evil.txt", "ok.txt"]
    zipped = zip_bytes([(name, b"payload") for name in names])
    tarred = tar_bytes({"../t.txt": b"p", "/etc/t.txt": b"p", "fine/t.txt": b"t"}, "w:gz")
    put(tmp_path, "z.zip", zipped)
    put(tmp_path, "t.tar.gz", tarred)
    items = walk(tmp_path / "src", tmp_path)
    errors = {item.path: item.error for item in items if item.error}
    assert errors == {
        "t.tar.gz/../t.txt": "unsafe path in archive: ../t.txt",
        "t.tar.gz//etc/t.txt": "unsafe path in archive: /etc/t.txt",
        "z.zip//abs.txt": "unsafe path in archive: /abs.txt",
        "z.zip/../x.txt": "unsafe path in archive: ../x.txt",
        "z.zip/..\\evil.txt": "unsafe path in archive: ..\\evil.txt",
        "z.zip/C:/win.txt": "unsafe path in archive: C:/win.txt",
        "z.zip/a/../../b.txt": "unsafe path in archive: a/../../b.txt",
    }
    assert [item.path for item in items if not item.error] == [
        "t.tar.gz/fine/t.txt",
        "z.zip/ok.txt",
    ]
    for name in ("x.txt", "abs.txt", "win.txt", "b.txt", "evil.txt", "t.txt"):
        assert not (tmp_path / name).exists() and not (tmp_path.parent / name).exists()


def test_tar_links_and_devices_are_not_followed(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.addfile(tarfile.TarInfo("a.txt"), io.BytesIO(b""))
        for name, kind, target in [
            ("sym", tarfile.SYMTYPE, "/etc/passwd"),
            ("hard", tarfile.LNKTYPE, "a.txt"),
            ("chr", tarfile.CHRTYPE, ""),
            ("blk", tarfile.BLKTYPE, ""),
            ("fifo", tarfile.FIFOTYPE, ""),
        ]:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            archive.addfile(info)
        folder = tarfile.TarInfo("dir")
        folder.type = tarfile.DIRTYPE
        archive.addfile(folder)
        last = tarfile.TarInfo("z.txt")
        last.size = 1
        archive.addfile(last, io.BytesIO(b"z"))
    root = put(tmp_path, "links.tar", buffer.getvalue())
    assert summary(walk(root, tmp_path)) == [
        ("links.tar/a.txt", b""),
        ("links.tar/sym", "symlink in archive not followed: -> /etc/passwd"),
        ("links.tar/hard", "hard link in archive not followed: -> a.txt"),
        ("links.tar/chr", "not a regular file in archive: character device"),
        ("links.tar/blk", "not a regular file in archive: block device"),
        ("links.tar/fifo", "not a regular file in archive: named pipe"),
        ("links.tar/z.txt", b"z"),
    ]


def test_zip_symlink_member_is_not_followed(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("link")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("real.txt", b"r")
    root = put(tmp_path, "l.zip", buffer.getvalue())
    assert summary(walk(root, tmp_path)) == [
        ("l.zip/link", "symlink in archive not followed: -> /etc/passwd"),
        ("l.zip/real.txt", b"r"),
    ]


def test_encrypted_zip_member(tmp_path: Path) -> None:
    data = patch_first_zip_member(zip_bytes([("a.txt", b"secret"), ("b.txt", b"open")]), flags=1)
    root = put(tmp_path, "e.zip", data)
    assert summary(walk(root, tmp_path)) == [
        ("e.zip/a.txt", "encrypted archive member: cannot be read without the password"),
        ("e.zip/b.txt", b"open"),
    ]


def test_unsupported_zip_compression(tmp_path: Path) -> None:
    data = patch_first_zip_member(zip_bytes([("a.txt", b"x" * 100)]), method=9)
    root = put(tmp_path, "d.zip", data)
    assert summary(walk(root, tmp_path)) == [
        ("d.zip/a.txt", "unsupported compression method 9 in archive member")
    ]


# --- damaged archives ------------------------------------------------------------------------


def test_corrupt_archives_are_one_error_each(tmp_path: Path) -> None:
    put(tmp_path, "bad.zip", b"PK\x03\x04" + b"\x00garbage" * 50)
    put(tmp_path, "bad.gz", b"\x1f\x8b\x08\x00" + b"\xffgarbage" * 50)
    put(tmp_path, "bad.bz2", b"BZh9" + b"garbage" * 50)
    put(tmp_path, "bad.xz", b"\xfd7zXZ\x00" + b"garbage" * 50)
    put(tmp_path, "ok.txt", b"ok")
    items = walk(tmp_path / "src", tmp_path)
    assert [item.path for item in items] == ["bad.bz2", "bad.gz", "bad.xz", "bad.zip", "ok.txt"]
    for item in items[:4]:
        kind = item.path.split(".")[1]
        assert item.error is not None and item.error.startswith(f"corrupt {kind} archive: ")
        assert "\n" not in item.error
    assert items[3].error == "corrupt zip archive: File is not a zip file"
    assert items[4].fs_path is not None


def test_damaged_zip_member_does_not_stop_the_others(tmp_path: Path) -> None:
    data = bytearray(zip_bytes([("a.txt", b"A" * 50), ("b.txt", b"B" * 50)], zipfile.ZIP_STORED))
    data[data.index(b"A" * 50) + 10] ^= 0xFF
    root = put(tmp_path, "crc.zip", bytes(data))
    assert summary(walk(root, tmp_path)) == [
        ("crc.zip/a.txt", "corrupt archive member: Bad CRC-32 for file 'a.txt'"),
        ("crc.zip/b.txt", b"B" * 50),
    ]


def test_truncated_tar_gz_keeps_members_before_the_damage(tmp_path: Path) -> None:
    members = {f"{index}.bin": os.urandom(50_000) for index in range(3)}
    whole = tar_bytes(members, "w:gz")
    root = put(tmp_path, "cut.tar.gz", whole[: int(len(whole) * 0.6)])
    items = walk(root, tmp_path)
    assert summary(items[:1]) == [("cut.tar.gz/0.bin", members["0.bin"])]
    assert len(items) == 2 and items[1].path == "cut.tar.gz"
    assert items[1].error is not None and items[1].error.startswith("corrupt tar.gz archive: ")
    assert items[1].error.endswith("(in 1.bin)")


def test_damaged_plain_tars(tmp_path: Path) -> None:
    members = {"a.bin": os.urandom(1000), "b.bin": os.urandom(1000)}
    whole = tar_bytes(members)
    second_header = 512 + 1024  # a.bin's header, then its data padded to 1024
    put(tmp_path, "mid_member.tar", whole[: second_header + 512 + 300])
    put(tmp_path, "no_end.tar", whole[:second_header])
    bad_checksum = bytearray(whole)
    bad_checksum[second_header + 10] ^= 0xFF
    put(tmp_path, "bad_header.tar", bytes(bad_checksum))
    put(tmp_path, "whole.tar", whole)
    items = walk(tmp_path / "src", tmp_path)
    a = members["a.bin"]
    assert summary(items) == [
        ("bad_header.tar/a.bin", a),
        ("bad_header.tar", "corrupt tar archive: invalid header (bad checksum)"),
        ("mid_member.tar/a.bin", a),
        ("mid_member.tar", "corrupt tar archive: unexpected end of data (in b.bin)"),
        ("no_end.tar/a.bin", a),
        ("no_end.tar", "corrupt tar archive: truncated: no end-of-archive marker"),
        ("whole.tar/a.bin", a),
        ("whole.tar/b.bin", members["b.bin"]),
    ]


def test_tar_header_claiming_huge_extension_is_refused(tmp_path: Path) -> None:
    """A pax header whose size is 32 MiB: tarfile would read it whole into memory."""
    header = tarfile.TarInfo("pax")
    header.type = tarfile.XHDTYPE
    header.size = 32 * MiB
    block = header.tobuf(tarfile.USTAR_FORMAT)
    root = put(tmp_path, "pax.tar.gz", gzip_stream([(block, 1), (bytes(MiB), 32)]))
    items: list[WorkItem] = []
    peak = peak_bytes_while(lambda: items.extend(walk(root, tmp_path)))
    assert summary(items) == [
        ("pax.tar.gz", "corrupt tar.gz archive: tar header larger than the limit of 16777216 bytes")
    ]
    assert peak < 8 * MiB


# --- the bounded reader itself ---------------------------------------------------------------


class EndlessZeros:
    """A stream that never ends, counting what it hands out."""

    def __init__(self) -> None:
        self.served = 0

    def read(self, size: int = -1, /) -> bytes:
        assert 0 < size <= 16 * MiB
        self.served += size
        return bytes(size)


def test_member_reader_never_reads_past_the_limit() -> None:
    stream = EndlessZeros()
    compressed = CountingReader(io.BytesIO(b"x" * 10))
    reader = MemberReader(
        stream, Limits(max_file_bytes=3 * MiB + 5, ratio_check_min_bytes=10**12), compressed
    )
    with pytest.raises(MemberLimitExceeded, match="larger than the limit"):
        reader.copy_rest(lambda _data: None)
    assert stream.served == 3 * MiB + 6
