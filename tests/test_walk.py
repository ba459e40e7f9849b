"""The walker on folders and single files: paths, order, symlinks, special and unreadable files.

Archives have their own file, tests/test_walk_archives.py.
"""

from __future__ import annotations

import io
import os
import pickle
import socket
import sys
import tarfile
import traceback
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from vident.config import Limits
from vident.ingest.records import WorkItem
from vident.ingest.walk import SourceNotFound, measure_source, walk_source

NOBODY = 65534


def walk(root: Path, tmp_dir: Path, limits: Limits | None = None) -> list[WorkItem]:
    return list(walk_source(root, limits or Limits(), tmp_dir))


def by_path(items: list[WorkItem]) -> dict[str, WorkItem]:
    paths = [item.path for item in items]
    assert len(paths) == len(set(paths)), paths
    return {item.path: item for item in items}


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_600_000_000
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "seizure"
    (root / "b" / "deep").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha")
    (root / "b" / "z.bin").write_bytes(b"\x00" * 100)
    (root / "b" / "deep" / "c.txt").write_bytes(b"charlie")
    (root / "B.txt").write_bytes(b"upper")
    (root / "empty").mkdir()
    (root / "zero").write_bytes(b"")
    return root


def test_folder_items_are_relative_sorted_and_not_read(source: Path, tmp_path: Path) -> None:
    items = walk(source, tmp_path / "tmp")
    assert [item.path for item in items] == ["B.txt", "a.txt", "b/deep/c.txt", "b/z.bin", "zero"]
    for item in items:
        assert item.error is None and item.data is None
        assert item.fs_path == str(source.absolute() / item.path)
        real = Path(item.fs_path).stat()
        assert item.size == real.st_size
        assert item.times.mtime == real.st_mtime
        assert item.times.ctime == real.st_ctime
        assert item.times.atime is not None


def test_walk_is_lazy_and_repeatable(source: Path, tmp_path: Path) -> None:
    walker = walk_source(source, Limits(), tmp_path / "tmp")
    assert isinstance(walker, Iterator)
    first = next(walker)
    assert first.path == "B.txt"
    assert walk(source, tmp_path / "tmp") == walk(source, tmp_path / "tmp")


def test_reading_the_head_keeps_access_time(source: Path, tmp_path: Path) -> None:
    target = source / "a.txt"
    stamp = target.stat()
    os.utime(target, (stamp.st_mtime - 86_400 * 10, stamp.st_mtime))
    before = target.stat().st_atime
    walk(source, tmp_path / "tmp")
    assert target.stat().st_atime == before


def test_single_file_source_is_named_after_the_file(source: Path, tmp_path: Path) -> None:
    items = walk(source / "b" / "deep" / "c.txt", tmp_path / "tmp")
    assert [(item.path, item.size, item.fs_path) for item in items] == [
        ("c.txt", 7, str(source / "b" / "deep" / "c.txt"))
    ]


def test_missing_or_special_root_raises(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound, match="does not exist: give the path"):
        walk_source(tmp_path / "nope", Limits(), tmp_path / "tmp")
    with pytest.raises(SourceNotFound, match="does not exist"):
        measure_source(tmp_path / "nope")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(SourceNotFound, match="named pipe, not a file or folder"):
        walk_source(tmp_path / "pipe", Limits(), tmp_path / "tmp")


def test_measure_source_counts_without_reading(source: Path, tmp_path: Path) -> None:
    (source / "b" / "inner.zip").write_bytes(zip_bytes({"x.txt": b"x" * 1000}))
    archive_size = (source / "b" / "inner.zip").stat().st_size
    assert measure_source(source) == (6, 5 + 100 + 7 + 5 + 0 + archive_size)
    assert measure_source(source / "b" / "inner.zip") == (1, archive_size)


def test_folder_with_archives_nested_in_archives(tmp_path: Path) -> None:
    root = tmp_path / "seizure"
    (root / "sub").mkdir(parents=True)
    inner_tar = tar_bytes({"x.jpg": b"picture", "y.txt": b"note"})
    zip_data = zip_bytes({"inner/b.tar.gz": inner_tar, "top.txt": b"top"})
    (root / "sub" / "a.zip").write_bytes(zip_data)
    (root / "plain.txt").write_bytes(b"plain")
    items = walk(root, tmp_path / "tmp")
    assert [(item.path, item.data) for item in items] == [
        ("plain.txt", None),
        ("sub/a.zip/inner/b.tar.gz/x.jpg", b"picture"),
        ("sub/a.zip/inner/b.tar.gz/y.txt", b"note"),
        ("sub/a.zip/top.txt", b"top"),
    ]
    members = [item for item in items if item.data is not None]
    assert all(item.fs_path is None and item.error is None for item in members)
    assert members[0].size == len(b"picture")
    assert members[0].times.mtime == 1_600_000_000


def test_archive_types_come_from_magic_bytes_not_names(tmp_path: Path) -> None:
    root = tmp_path / "seizure"
    root.mkdir()
    (root / "holiday.jpg").write_bytes(zip_bytes({"hidden.txt": b"inside"}))
    (root / "fake.zip").write_bytes(b"just text, not a zip")
    items = by_path(walk(root, tmp_path / "tmp"))
    assert items["holiday.jpg/hidden.txt"].data == b"inside"
    assert items["fake.zip"].fs_path == str(root / "fake.zip")


# --- symlinks and special files ----------------------------------------------------------


def test_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "seizure"
    (root / "dir").mkdir(parents=True)
    (root / "real.txt").write_bytes(b"real")
    (tmp_path / "secret.txt").write_bytes(b"outside")
    os.mkfifo(root / "pipe")
    links = {
        "abs_out": "/etc/passwd",
        "rel_out": "../secret.txt",
        "inside": "real.txt",
        "inside_via_dir": "dir/../real.txt",
        "to_dir": "dir",
        "to_root": ".",
        "broken": "missing.txt",
        "loop_a": "loop_b",
        "loop_b": "loop_a",
        "to_pipe": "pipe",
    }
    for name, target in links.items():
        (root / name).symlink_to(target)
    items = by_path(walk(root, tmp_path / "tmp"))
    assert items["abs_out"].error == "symlink points outside the source: -> /etc/passwd"
    assert items["rel_out"].error == "symlink points outside the source: -> ../secret.txt"
    for name in ("inside", "inside_via_dir"):
        assert items[name].error is None
        assert items[name].fs_path == str(root / "real.txt")
        assert items[name].size == 4
    assert items["to_dir"].error == "symlink to a folder not followed: -> dir"
    assert items["to_root"].error == "symlink to a folder not followed: -> ."
    assert items["broken"].error == "broken symlink: -> missing.txt"
    assert items["loop_a"].error == "symlink loop: -> loop_b"
    assert items["to_pipe"].error == "not a regular file: symlink to a named pipe"
    assert items["pipe"].error == "not a regular file: named pipe"
    assert all(item.fs_path is None for item in items.values() if item.error)


def test_symlink_to_archive_inside_is_expanded(tmp_path: Path) -> None:
    root = tmp_path / "seizure"
    root.mkdir()
    (root / "a.zip").write_bytes(zip_bytes({"m.txt": b"member"}))
    (root / "link.zip").symlink_to("a.zip")
    assert [(item.path, item.data) for item in walk(root, tmp_path / "tmp")] == [
        ("a.zip/m.txt", b"member"),
        ("link.zip/m.txt", b"member"),
    ]


def test_socket_is_not_a_regular_file(tmp_path: Path) -> None:
    root = tmp_path / "s"
    root.mkdir()
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(root / "sock"))
        assert [(item.path, item.error) for item in walk(root, tmp_path / "tmp")] == [
            ("sock", "not a regular file: socket")
        ]
    finally:
        server.close()


def test_deep_tree_needs_no_recursion(tmp_path: Path) -> None:
    root = tmp_path / "deep"
    path = root
    for _ in range(60):
        path = path / "d"
    path.mkdir(parents=True)
    (path / "leaf.txt").write_bytes(b"leaf")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        items = walk(root, tmp_path / "tmp")
    finally:
        sys.setrecursionlimit(limit)
    assert [item.path for item in items] == ["d/" * 60 + "leaf.txt"]


def test_undecodable_names_become_storable_text(tmp_path: Path) -> None:
    root = tmp_path / "names"
    root.mkdir()
    raw_name = os.fsdecode(b"caf\xe9.txt")
    (root / raw_name).write_bytes(b"x")
    [item] = walk(root, tmp_path / "tmp")
    assert item.path == "caf\\xe9.txt"
    item.path.encode("utf-8")
    assert item.fs_path is not None and Path(item.fs_path).read_bytes() == b"x"


# --- nothing written outside tmp_dir -----------------------------------------------------


def snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    found: dict[str, tuple[int, float]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            info = full.lstat()
            found[str(full)] = (info.st_size, info.st_mtime)
    return found


def open_files() -> list[str]:
    links = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            links.append(str(fd.readlink()))
        except OSError:
            continue  # the descriptor listing the folder itself, already closed
    return links


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
def test_nothing_is_written_outside_tmp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vident.ingest import archives

    monkeypatch.setattr(archives, "SPOOL_MEMORY_BYTES", 1)  # nested archives go to disk
    root = tmp_path / "seizure"
    root.mkdir()
    inner = zip_bytes({"x.txt": b"x" * 5000, "y.txt": b"y"})
    (root / "outer.tar.gz").write_bytes(tar_bytes({"in/inner.zip": inner, "n.txt": b"n"}))
    tmp_dir = tmp_path / "data" / "tmp"
    tmp_dir.mkdir(parents=True)
    around = tmp_path.parent
    before = snapshot(around)

    open_before = set(open_files())  # pytest's own capture files among them
    walker = walk_source(root, Limits(), tmp_dir)
    first = next(walker)
    assert first.path == "outer.tar.gz/in/inner.zip/x.txt"
    # The walk is paused inside the nested zip: its spooled copy is open, and only there.
    temporary = [link for link in set(open_files()) - open_before if link.endswith(" (deleted)")]
    assert temporary, "the nested archive was not spooled to disk"
    assert all(link.startswith(str(tmp_dir) + "/") for link in temporary), temporary
    rest = list(walker)
    assert [item.path for item in rest] == ["outer.tar.gz/in/inner.zip/y.txt", "outer.tar.gz/n.txt"]

    after = snapshot(around)
    assert {path: value for path, value in after.items() if not path.startswith(str(tmp_dir))} == {
        path: value for path, value in before.items() if not path.startswith(str(tmp_dir))
    }
    assert list(tmp_dir.iterdir()) == []


def test_tmp_dir_is_created(source: Path, tmp_path: Path) -> None:
    tmp_dir = tmp_path / "data" / "tmp"
    walk(source, tmp_dir)
    assert tmp_dir.is_dir()


# --- unreadable files ----------------------------------------------------------------------


def _walk_in_child(root: Path, tmp_dir: Path) -> list[tuple[str, str | None]]:
    """Walk as uid/gid 65534 in a forked child: root ignores file permissions."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            found = [(item.path, item.error) for item in walk_source(root, Limits(), tmp_dir)]
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(pickle.dumps(found))
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    result: list[tuple[str, str | None]] = pickle.loads(payload)
    return result


def _open_ancestors(path: Path) -> list[tuple[Path, int]]:
    """Let others traverse to ``path`` (pytest's base temp folder is private); modes to restore."""
    changed = []
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            changed.append((folder, mode))
            folder.chmod(mode | 0o005)
    return changed


def test_unreadable_files_and_folders(tmp_path: Path) -> None:
    root = tmp_path / "seizure"
    (root / "locked_dir").mkdir(parents=True)
    (root / "locked_dir" / "hidden.txt").write_bytes(b"hidden")
    (root / "locked.txt").write_bytes(b"locked")
    (root / "open.txt").write_bytes(b"open")
    for folder in (root, root / "locked_dir"):
        folder.chmod(0o755)
    for file in (root / "open.txt", root / "locked.txt"):
        file.chmod(0o644)
    tmp_dir = tmp_path / "tmp"
    tmp_dir.mkdir(mode=0o777)
    tmp_dir.chmod(0o777)
    (root / "locked.txt").chmod(0)
    (root / "locked_dir").chmod(0)
    restore: list[tuple[Path, int]] = []
    try:
        if os.geteuid() == 0:
            restore = _open_ancestors(root)
            found = _walk_in_child(root, tmp_dir)
        else:
            found = [(item.path, item.error) for item in walk(root, tmp_dir)]
    finally:
        for folder, mode in restore:
            folder.chmod(mode)
        (root / "locked.txt").chmod(0o644)
        (root / "locked_dir").chmod(0o755)
    assert found == [
        ("locked.txt", "permission denied"),
        ("locked_dir", "permission denied"),
        ("open.txt", None),
    ]
