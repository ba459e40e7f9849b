"""7z and rar archives at ingest: opened like zip and tar, under the same limits.

Archives are built here: 7z by libarchive's own writer (and py7zr for a password-protected
one, which libarchive cannot write), rar by the small RAR 4 writer in ``tests/rar_builder``.
Members are generated pictures or plain bytes; bombs use small limits so the tests stay fast.
"""

from __future__ import annotations

import calendar
import ctypes
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import libarchive
import libarchive.ffi
import py7zr
import pytest

import vident.ingest.archives as archives
from tests.conftest import jpeg_bytes, write_jpeg
from tests.rar_builder import (
    DIRECTORY,
    ENCRYPTED,
    ENCRYPTED_HEADERS,
    RAR5_SIGNATURE,
    Member,
    rar5_bytes,
    rar_bytes,
)
from tests.test_cli import vident
from tests.test_walk_archives import MTIME, put, summary, tar_bytes, walk, zip_bytes
from vident.config import Limits
from vident.ingest.archives import expand_archive
from vident.ingest.rar5_headers import Rar5Headers, scan_rar5_headers
from vident.ingest.records import FileTimes, WorkItem
from vident.media.detect import ArchiveFormat, sniff

MiB = 1024 * 1024


def seven_z_bytes(
    tmp_path: Path, members: list[tuple[str, bytes]] | dict[str, bytes], options: str = ""
) -> bytes:
    """A solid 7z (LZMA) of the members, written by libarchive, every one dated MTIME."""
    target = tmp_path / "build.7z"
    pairs = members.items() if isinstance(members, dict) else members
    with libarchive.file_writer(str(target), "7zip", options=options) as archive:
        for name, data in pairs:
            archive.add_file_from_memory(name, len(data), data, mtime=MTIME)
    data = target.read_bytes()
    target.unlink()
    return data


def seven_z_zeros(tmp_path: Path, name: str, count: int, size: int) -> bytes:
    """A 7z of ``count`` members of ``size`` zero bytes each: a bomb under small limits."""
    target = tmp_path / "zeros.7z"
    with libarchive.file_writer(str(target), "7zip") as archive:
        for number in range(count):
            chunks = [bytes(MiB)] * (size // MiB) + [bytes(size % MiB)]
            archive.add_file_from_memory(f"{name}{number}", size, chunks)
    data = target.read_bytes()
    target.unlink()
    return data


def expand(data: bytes, tmp_path: Path, fmt: ArchiveFormat, **limits: float) -> list[WorkItem]:
    """The expansion generator run directly over an archive's bytes."""
    source = put(tmp_path, "direct.bin", data)
    with source.open("rb") as handle:
        return list(
            expand_archive(
                handle,
                "x",
                fmt,
                FileTimes(),
                len(data),
                Limits.model_validate(limits),
                tmp_path / "tmp",
            )
        )


PICTURES = {"photos/a.jpg": b"\xff\xd8\xff first", "photos/deep/b.jpg": b"\xff\xd8\xff 2", "n": b""}


# --- detection and plain members -----------------------------------------------------------


def test_7z_and_both_rar_versions_are_sniffed_as_archives(tmp_path: Path) -> None:
    assert sniff(seven_z_bytes(tmp_path, PICTURES)).archive is ArchiveFormat.SEVEN_Z
    assert sniff(rar_bytes([Member("a.jpg", b"x")])).archive is ArchiveFormat.RAR
    assert sniff(RAR5_SIGNATURE + bytes(32)).archive is ArchiveFormat.RAR


def test_7z_members_with_their_paths_and_times(tmp_path: Path) -> None:
    root = put(tmp_path, "seized.7z", seven_z_bytes(tmp_path, PICTURES))
    items = walk(root, tmp_path)
    assert summary(items) == [(f"seized.7z/{name}", data) for name, data in PICTURES.items()]
    assert all(item.times.mtime == MTIME and item.size == len(item.data or b"") for item in items)


def test_rar_members_with_their_paths_and_times(tmp_path: Path) -> None:
    members = [
        Member("photos", flags=DIRECTORY),
        Member("photos\\a.jpg", b"\xff\xd8\xff first"),
        Member("photos/./b.jpg", b"\xff\xd8\xff second"),
    ]
    root = put(tmp_path, "seized.rar", rar_bytes(members))
    items = walk(root, tmp_path)
    assert summary(items) == [
        ("seized.rar/photos/a.jpg", b"\xff\xd8\xff first"),
        ("seized.rar/photos/b.jpg", b"\xff\xd8\xff second"),
    ]
    # DOS times carry no zone; libarchive reads them in the machine's zone.
    written = calendar.timegm((2020, 1, 2, 3, 4, 6))
    assert all(abs((item.times.mtime or 0) - written) <= 14 * 3600 for item in items)


def test_unicode_names_keep_their_spelling(tmp_path: Path) -> None:
    put(tmp_path, "u.7z", seven_z_bytes(tmp_path, {"фото/ünï.jpg": b"a"}))
    put(tmp_path, "u.rar", rar5_bytes([Member("фото/ünï.jpg", b"b")]))
    assert summary(walk(tmp_path / "src", tmp_path)) == [
        ("u.7z/фото/ünï.jpg", b"a"),
        ("u.rar/фото/ünï.jpg", b"b"),
    ]


def test_expansion_generator_reads_7z_and_rar_directly(tmp_path: Path) -> None:
    seven = expand(seven_z_bytes(tmp_path, {"a.jpg": b"one"}), tmp_path, ArchiveFormat.SEVEN_Z)
    rar = expand(rar_bytes([Member("b.jpg", b"two")]), tmp_path, ArchiveFormat.RAR)
    assert summary(seven) == [("x/a.jpg", b"one")]
    assert summary(rar) == [("x/b.jpg", b"two")]


def test_large_member_goes_to_a_file_in_tmp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archives, "MEMBER_MEMORY_BYTES", 1000)
    payload = os.urandom(50_000)
    root = put(tmp_path, "big.7z", seven_z_bytes(tmp_path, {"video.mp4": payload}))
    [item] = walk(root, tmp_path)
    assert item.data is None and item.spooled and item.fs_path is not None
    assert Path(item.fs_path).parent == tmp_path / "tmp"
    assert Path(item.fs_path).read_bytes() == payload and item.size == len(payload)


def test_duplicate_names_each_get_an_item(tmp_path: Path) -> None:
    data = seven_z_bytes(tmp_path, [("a.jpg", b"first"), ("a.jpg", b"second")])
    root = put(tmp_path, "twice.7z", data)
    assert summary(walk(root, tmp_path)) == [
        ("twice.7z/a.jpg", b"first"),
        ("twice.7z/a.jpg#2", b"second"),
    ]


# --- nesting -------------------------------------------------------------------------------


def test_archives_inside_7z_and_rar_are_opened_in_turn(tmp_path: Path) -> None:
    inner_7z = seven_z_bytes(tmp_path, {"in7z.jpg": b"seven"})
    inner_zip = zip_bytes({"inzip.jpg": b"zip"})
    inner_tgz = tar_bytes({"intar.jpg": b"tar"}, "w:gz")
    outer_rar = rar_bytes([Member("n/inner.7z", inner_7z), Member("photos.zip", inner_zip)])
    outer_7z = seven_z_bytes(tmp_path, {"p.tar.gz": inner_tgz, "all.rar": outer_rar})
    root = put(tmp_path, "outer.7z", outer_7z)
    assert summary(walk(root, tmp_path)) == [
        ("outer.7z/p.tar.gz/intar.jpg", b"tar"),
        ("outer.7z/all.rar/n/inner.7z/in7z.jpg", b"seven"),
        ("outer.7z/all.rar/photos.zip/inzip.jpg", b"zip"),
    ]


def test_depth_limit_applies_to_7z_and_rar(tmp_path: Path) -> None:
    inner = seven_z_bytes(tmp_path, {"a.jpg": b"a"})
    root = put(tmp_path, "outer.rar", rar_bytes([Member("inner.7z", inner)]))
    [item] = walk(root, tmp_path, max_archive_depth=1)
    assert item.path == "outer.rar/inner.7z"
    assert item.error == "archive not opened: nested deeper than 1 levels"
    [item] = walk(root, tmp_path, max_archive_depth=0)
    assert item.path == "outer.rar" and "nested deeper than 0" in (item.error or "")


# --- hostile names and entries -------------------------------------------------------------


def test_traversal_and_absolute_names_are_errors_never_written(tmp_path: Path) -> None:
    names = ["../../x.jpg", "/abs.jpg", "C:\\win.jpg", "ok/../../up.jpg"]
    seven = seven_z_bytes(tmp_path, dict.fromkeys(names, b"\xff\xd8\xff"))
    rar = rar_bytes([Member(name, b"\xff\xd8\xff") for name in names])
    for archive_name, data in (("s.7z", seven), ("s.rar", rar)):
        root = put(tmp_path, archive_name, data)
        items = walk(root, tmp_path)
        assert len(items) == len(names)
        for item in items:
            assert item.data is None and (item.error or "").startswith("unsafe path in archive: ")
    assert not (tmp_path / "x.jpg").exists() and not (tmp_path.parent / "x.jpg").exists()
    assert list((tmp_path / "tmp").rglob("*")) == []


def test_7z_links_and_devices_are_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "build.7z"
    # libarchive-c's ``linkpath=`` sets a hard link; a symlink's target is set by hand.
    set_symlink = libarchive.ffi.libarchive.archive_entry_set_symlink
    set_symlink.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    set_symlink.restype = None
    with libarchive.file_writer(str(target), "7zip") as archive:
        link = libarchive.ArchiveEntry(pathname="passwd", filetype=stat.S_IFLNK, size=0)
        set_symlink(link._entry_p, b"/etc/passwd")
        libarchive.ffi.write_header(archive._pointer, link._entry_p)
        libarchive.ffi.write_finish_entry(archive._pointer)
        archive.add_file_from_memory("fifo", 0, b"", filetype=stat.S_IFIFO)
        archive.add_file_from_memory("ok.jpg", 2, b"ok")
    root = put(tmp_path, "links.7z", target.read_bytes())
    # libarchive's writer puts the members without data (the pipe) last.
    assert summary(walk(root, tmp_path)) == [
        ("links.7z/passwd", "symlink in archive not followed: -> /etc/passwd"),
        ("links.7z/ok.jpg", b"ok"),
        ("links.7z/fifo", "not a regular file in archive: named pipe"),
    ]


def test_rar_symlink_is_not_followed(tmp_path: Path) -> None:
    members = [
        Member("passwd.jpg", b"/etc/passwd", unix_mode=stat.S_IFLNK | 0o777),
        Member("ok.jpg", b"ok", unix_mode=stat.S_IFREG | 0o644),
    ]
    root = put(tmp_path, "links.rar", rar_bytes(members))
    assert summary(walk(root, tmp_path)) == [
        ("links.rar/passwd.jpg", "symlink in archive not followed: -> /etc/passwd"),
        ("links.rar/ok.jpg", b"ok"),
    ]


# --- encrypted -----------------------------------------------------------------------------


def test_password_protected_7z_members_are_encrypted_errors(tmp_path: Path) -> None:
    target = tmp_path / "locked.7z"
    with py7zr.SevenZipFile(target, "w", password="secret") as archive:
        archive.writestr(jpeg_bytes(1, (32, 32)), "a.jpg")
        archive.writestr(b"notes", "b/notes.txt")
    items = walk(target, tmp_path)
    assert [item.path for item in items] == ["locked.7z/a.jpg", "locked.7z/b/notes.txt"]
    for item in items:
        assert item.data is None and (item.error or "").startswith("encrypted: ")
        assert "password" in (item.error or "") and "\n" not in (item.error or "")


def test_7z_with_encrypted_names_is_one_encrypted_error(tmp_path: Path) -> None:
    target = tmp_path / "hidden.7z"
    with py7zr.SevenZipFile(target, "w", password="secret", header_encryption=True) as archive:
        archive.writestr(b"x", "a.jpg")
    [item] = walk(target, tmp_path)
    assert item.path == "hidden.7z" and (item.error or "").startswith("encrypted: ")
    assert "encrypted names" in (item.error or "")


def test_encrypted_rar_member_is_an_error_and_never_its_ciphertext(tmp_path: Path) -> None:
    members = [
        Member("before.jpg", b"plain"),
        Member("locked.jpg", b"ciphertext", flags=ENCRYPTED),
        Member("after.jpg", b"also plain"),
    ]
    root = put(tmp_path, "s.rar", rar_bytes(members))
    items = walk(root, tmp_path)
    assert [item.path for item in items] == [
        "s.rar/before.jpg",
        "s.rar/locked.jpg",
        "s.rar/after.jpg",
    ]
    assert items[0].data == b"plain" and items[2].data == b"also plain"
    assert items[1].data is None and (items[1].error or "").startswith("encrypted: rar")


def test_rar_with_encrypted_names_is_one_encrypted_error(tmp_path: Path) -> None:
    root = put(tmp_path, "s.rar", rar_bytes([Member("a.jpg", b"x")], ENCRYPTED_HEADERS))
    [item] = walk(root, tmp_path)
    assert item.path == "s.rar" and (item.error or "").startswith("encrypted: rar archive")


def test_rar5_members_and_encrypted_ones(tmp_path: Path) -> None:
    # libarchive 3.6 reads past a RAR 5 encryption record silently; it is found by name.
    members = [
        Member("photos", flags=DIRECTORY),
        Member("photos/a.jpg", b"\xff\xd8\xff first"),
        Member("photos/locked.jpg", b"ciphertext", flags=ENCRYPTED),
        Member("b.jpg", b"\xff\xd8\xff second"),
    ]
    root = put(tmp_path, "new.rar", rar5_bytes(members, mtime=MTIME))
    items = walk(root, tmp_path)
    assert [item.path for item in items] == [
        "new.rar/photos/a.jpg",
        "new.rar/photos/locked.jpg",
        "new.rar/b.jpg",
    ]
    assert items[0].data == b"\xff\xd8\xff first" and items[2].data == b"\xff\xd8\xff second"
    assert items[1].data is None and (items[1].error or "").startswith("encrypted: rar")
    assert all(item.times.mtime == MTIME for item in items)


def test_rar5_with_encrypted_names_is_one_encrypted_error(tmp_path: Path) -> None:
    root = put(tmp_path, "new.rar", rar5_bytes([], encrypted_headers=True))
    [item] = walk(root, tmp_path)
    assert item.path == "new.rar" and (item.error or "").startswith("encrypted: rar archive")


def test_rar5_header_scan_survives_damage_and_leaves_the_stream_in_place() -> None:
    whole = rar5_bytes([Member("a.jpg", b"x"), Member("s.jpg", b"y", flags=ENCRYPTED)])
    headers = scan_rar5_headers(io.BytesIO(whole), 10)
    assert headers.encrypted == {"s.jpg"} and headers.complete
    few = scan_rar5_headers(io.BytesIO(whole), 2)  # the main header and a.jpg's only
    assert few.encrypted == frozenset() and few.complete
    for damaged in (whole[:30], whole[:8] + b"\xff" * 40, b"Rar!\x1a\x07\x00" + whole[8:]):
        stream = io.BytesIO(b"lead" + damaged)
        stream.seek(4)
        assert scan_rar5_headers(stream, 10) == Rar5Headers(frozenset(), complete=False)
        assert stream.tell() == 4


# --- damage --------------------------------------------------------------------------------


def test_truncated_rar_keeps_the_members_before_the_damage(tmp_path: Path) -> None:
    first = rar_bytes([Member("a.jpg", b"first" * 10)])[:-7]  # without the end header
    whole = rar_bytes([Member("a.jpg", b"first" * 10), Member("b.jpg", b"second" * 10)])
    cut_in_data = put(tmp_path, "cut.rar", whole[: len(whole) - 40])
    assert summary(walk(cut_in_data, tmp_path)) == [
        ("cut.rar/a.jpg", b"first" * 10),
        ("cut.rar/b.jpg", "corrupt archive member: Truncated RAR file data"),
        ("cut.rar", "corrupt rar archive: reading stopped at b.jpg: Truncated RAR file data"),
    ]
    cut_in_header = put(tmp_path, "head.rar", whole[: len(first) + 12])
    assert summary(walk(cut_in_header, tmp_path)) == [
        ("head.rar/a.jpg", b"first" * 10),
        ("head.rar", "corrupt rar archive: damaged or truncated"),
    ]


def test_truncated_rar5_keeps_the_members_before_the_damage(tmp_path: Path) -> None:
    whole = rar5_bytes([Member("a.jpg", b"first" * 10), Member("b.jpg", b"second" * 10)])
    root = put(tmp_path, "cut.rar", whole[: len(whole) - 40])
    items = walk(root, tmp_path)
    assert summary(items)[0] == ("cut.rar/a.jpg", b"first" * 10)
    assert [item.path for item in items[1:]] == ["cut.rar/b.jpg", "cut.rar"]
    assert (items[1].error or "").startswith("corrupt archive member: ")
    assert (items[2].error or "").startswith("corrupt rar archive: reading stopped at b.jpg")


def test_rar5_cut_inside_a_header_is_not_taken_for_its_end(tmp_path: Path) -> None:
    # libarchive ends quietly when a RAR 5 header runs past the end of the file.
    first = rar5_bytes([Member("a.jpg", b"first" * 10)])[:-8]  # without the end header
    whole = rar5_bytes([Member("a.jpg", b"first" * 10), Member("b.jpg", b"second" * 10)])
    root = put(tmp_path, "cut.rar", whole[: len(first) + 12])
    assert summary(walk(root, tmp_path)) == [
        ("cut.rar/a.jpg", b"first" * 10),
        (
            "cut.rar",
            "corrupt rar archive: damaged or truncated: the headers end before the archive's end",
        ),
    ]


def test_truncated_7z_is_one_error(tmp_path: Path) -> None:
    # A 7z keeps its list of members at the end: cut, nothing in it can be named.
    whole = seven_z_bytes(tmp_path, PICTURES)
    root = put(tmp_path, "cut.7z", whole[: len(whole) // 2])
    [item] = walk(root, tmp_path)
    assert item.path == "cut.7z" and (item.error or "").startswith("corrupt 7z archive: ")


def test_damaged_7z_data_is_a_member_error_and_stops_there(tmp_path: Path) -> None:
    whole = bytearray(seven_z_bytes(tmp_path, {"a.jpg": os.urandom(4000), "b.jpg": b"b"}))
    whole[40] ^= 0xFF  # inside the packed data, after the 32-byte signature header
    root = put(tmp_path, "bad.7z", bytes(whole))
    items = walk(root, tmp_path)
    assert [item.path for item in items] == ["bad.7z/a.jpg", "bad.7z"]
    assert (items[0].error or "").startswith("corrupt archive member: ")
    assert (items[1].error or "").startswith("corrupt 7z archive: reading stopped at a.jpg")


def test_garbage_after_a_7z_signature_is_one_error(tmp_path: Path) -> None:
    root = put(tmp_path, "fake.7z", b"7z\xbc\xaf\x27\x1c" + os.urandom(200))
    [item] = walk(root, tmp_path)
    assert item.path == "fake.7z" and (item.error or "").startswith("corrupt 7z archive: ")


# --- limits --------------------------------------------------------------------------------


def test_7z_bomb_stops_at_the_ratio_limit(tmp_path: Path) -> None:
    root = put(tmp_path, "bomb.7z", seven_z_zeros(tmp_path, "zeros", 1, 16 * MiB))
    assert len(root.read_bytes()) < 20_000
    [item] = walk(root, tmp_path, max_compression_ratio=50)
    assert item.path == "bomb.7z/zeros0" and item.data is None
    assert "compression ratio over the limit of 50" in (item.error or "")


def test_member_over_the_size_limit(tmp_path: Path) -> None:
    data = seven_z_bytes(tmp_path, {"big.bin": os.urandom(5000), "small.jpg": b"s"})
    root = put(tmp_path, "s.7z", data)
    assert summary(walk(root, tmp_path, max_file_bytes=1000)) == [
        ("s.7z/big.bin", "archive member larger than the limit of 1000 bytes"),
        ("s.7z/small.jpg", b"s"),
    ]


def test_skipped_bomb_members_still_spend_the_archive_budget(tmp_path: Path) -> None:
    # Each member is stopped by the ratio limit early; what libarchive would then skip by
    # decoding it anyway is charged too, so the archive stops once the budget is spent.
    root = put(tmp_path, "bombs.7z", seven_z_zeros(tmp_path, "z", 4, 8 * MiB))
    items = walk(root, tmp_path, max_compression_ratio=20, max_archive_total_bytes=20 * MiB)
    assert [item.path for item in items] == [
        "bombs.7z/z0",
        "bombs.7z/z1",
        "bombs.7z/z2",
        "bombs.7z",
    ]
    assert all("compression ratio" in (item.error or "") for item in items[:3])
    assert "over the limit of 20971520 uncompressed bytes" in (items[3].error or "")


def test_bombs_refused_for_their_names_still_spend_the_archive_budget(tmp_path: Path) -> None:
    root = put(tmp_path, "bombs.7z", seven_z_zeros(tmp_path, "../z", 4, 8 * MiB))
    items = walk(root, tmp_path, max_archive_total_bytes=20 * MiB)
    assert [item.path for item in items] == [
        "bombs.7z/../z0",
        "bombs.7z/../z1",
        "bombs.7z/../z2",
        "bombs.7z",
    ]
    assert all("unsafe path" in (item.error or "") for item in items[:3])
    assert "over the limit of 20971520 uncompressed bytes" in (items[3].error or "")


def test_archive_total_is_shared_with_nested_7z(tmp_path: Path) -> None:
    inner = seven_z_bytes(tmp_path, {"a.bin": os.urandom(3000), "b.bin": os.urandom(3000)})
    root = put(tmp_path, "outer.rar", rar_bytes([Member("inner.7z", inner)]))
    items = walk(root, tmp_path, max_archive_total_bytes=len(inner) + 4000)
    assert [item.path for item in items] == ["outer.rar/inner.7z/a.bin", "outer.rar"]
    assert "uncompressed bytes: the rest was not read" in (items[1].error or "")


@pytest.mark.parametrize("kind", ["7z", "rar"])
def test_too_many_members(tmp_path: Path, kind: str) -> None:
    members = {f"{n}.jpg": b"x" for n in range(5)}
    data = (
        seven_z_bytes(tmp_path, members)
        if kind == "7z"
        else rar_bytes([Member(name, body) for name, body in members.items()])
    )
    root = put(tmp_path, f"many.{kind}", data)
    items = walk(root, tmp_path, max_archive_members=3)
    assert [item.path for item in items] == [
        f"many.{kind}/0.jpg",
        f"many.{kind}/1.jpg",
        f"many.{kind}/2.jpg",
        f"many.{kind}",
    ]
    assert (items[3].error or "").startswith("too many members in archive: more than 3")


def test_compressible_pictures_in_a_solid_7z_are_not_taken_for_bombs(tmp_path: Path) -> None:
    # Flat BMP-like members compress well; in a solid block the start of one member's
    # compressed bytes is read with the previous member. Their ratio stays under 200.
    members = {f"{n}.bmp": bytes([n]) * 100 + os.urandom(2 * MiB // 150) * 150 for n in range(4)}
    root = put(tmp_path, "flat.7z", seven_z_bytes(tmp_path, members))
    items = walk(root, tmp_path)
    assert [item.error for item in items] == [None] * 4
    assert [item.data for item in items] == list(members.values())


def test_without_libarchive_7z_and_rar_are_error_items(tmp_path: Path) -> None:
    # libarchive-c loads the library named by LIBARCHIVE: a missing one, as on a machine
    # without Debian's libarchive13. Other archives are still opened.
    put(tmp_path, "a.7z", seven_z_bytes(tmp_path, {"a.jpg": b"a"}))
    put(tmp_path, "b.rar", rar_bytes([Member("b.jpg", b"b")]))
    put(tmp_path, "c.zip", zip_bytes({"c.jpg": b"c"}))
    code = (
        "import json, sys; from pathlib import Path; from vident.config import Limits;"
        "from vident.ingest.walk import walk_source;"
        "print(json.dumps([[i.path, i.error] for i in"
        " walk_source(Path(sys.argv[1]), Limits(), Path(sys.argv[2]))]))"
    )
    env = {**os.environ, "LIBARCHIVE": str(tmp_path / "missing.so")}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "src"), str(tmp_path / "tmp")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    items = dict(json.loads(done.stdout))
    assert set(items) == {"a.7z", "b.rar", "c.zip/c.jpg"} and items["c.zip/c.jpg"] is None
    assert items["a.7z"].startswith("7z archive not opened: libarchive could not be loaded")
    assert items["b.rar"].endswith("install Debian's libarchive13 package")
    assert done.stderr == ""


# --- through the command line --------------------------------------------------------------


def test_ingest_triages_pictures_inside_7z_and_rar(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    write_jpeg(reference / "known.jpg", 1)
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    known = (reference / "known.jpg").read_bytes()
    new_picture = jpeg_bytes(2)
    (seizure / "photos.7z").write_bytes(
        seven_z_bytes(tmp_path, {"holiday/known.jpg": known, "../../escape.jpg": known})
    )
    (seizure / "more.rar").write_bytes(
        rar_bytes(
            [
                Member("camera\\new.jpg", new_picture),
                Member("locked.jpg", known, flags=ENCRYPTED),
            ]
        )
    )
    (seizure / "v5.rar").write_bytes(
        rar5_bytes([Member("phone/known.jpg", known), Member("hidden.jpg", known, flags=ENCRYPTED)])
    )
    (seizure / "bomb.7z").write_bytes(seven_z_zeros(tmp_path, "zeros", 1, 16 * MiB))

    data = tmp_path / "data"
    assert vident(data, "init")[0] == 0
    code, _, err = vident(
        data, "ingest", str(reference), "--source", "ref", "--workers", "1", "--signals", "pdq"
    )
    assert code == 0, err
    os.environ["VIDENT_MAX_COMPRESSION_RATIO"] = "100"
    try:
        code, _, err = vident(
            data, "ingest", str(seizure), "--source", "s", "--workers", "1", "--signals", "pdq"
        )
    finally:
        del os.environ["VIDENT_MAX_COMPRESSION_RATIO"]
    assert code == 0, err
    code, out, _ = vident(data, "triage", "--source", "s", "--format", "json")
    assert code == 0
    items = {item["path"]: item for item in json.loads(out)["items"]}
    assert set(items) == {
        "photos.7z/holiday/known.jpg",
        "photos.7z/../../escape.jpg",
        "more.rar/camera/new.jpg",
        "more.rar/locked.jpg",
        "v5.rar/phone/known.jpg",
        "v5.rar/hidden.jpg",
        "bomb.7z/zeros0",
    }
    inside_7z = items["photos.7z/holiday/known.jpg"]
    assert inside_7z["verdict"] == "known" and inside_7z["type"] == "image"
    _, ref_out, _ = vident(data, "triage", "--source", "ref", "--format", "json")
    [loose] = json.loads(ref_out)["items"]
    assert inside_7z["sha256"] == loose["sha256"]
    inside_rar = items["more.rar/camera/new.jpg"]
    assert inside_rar["verdict"] == "new" and inside_rar["type"] == "image"
    inside_rar5 = items["v5.rar/phone/known.jpg"]
    assert inside_rar5["verdict"] == "known" and inside_rar5["sha256"] == loose["sha256"]
    assert "unsafe path in archive" in items["photos.7z/../../escape.jpg"]["error"]
    assert items["more.rar/locked.jpg"]["verdict"] == "error"
    assert items["more.rar/locked.jpg"]["error"].startswith("encrypted: ")
    assert items["v5.rar/hidden.jpg"]["error"].startswith("encrypted: ")
    assert "compression ratio over the limit of 100" in items["bomb.7z/zeros0"]["error"]
    assert not (tmp_path / "escape.jpg").exists()
