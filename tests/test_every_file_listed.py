"""Every file of a seizure is listed in triage, always: a file not shown is a child not sought.

The hostile seizure here holds what loses files in practice: members of one name twice in a
zip and a tar, a file name with an undecodable byte beside its escaped spelling, a zip that
flags a non-UTF-8 name as UTF-8, damaged videos, HEIC and AVIF photos, nested archives,
links, a FIFO. Its files are counted by :mod:`tests.seizure_count`, which shares no code
with vident's walker, and triage must list exactly those, each under a path of its own.
"""

from __future__ import annotations

import io
import json
import os
import struct
import tarfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from pillow_heif import register_heif_opener
from typer.testing import CliRunner

from tests.conftest import jpeg_bytes, write_jpeg
from tests.helpers_media import tiny_video
from tests.seizure_count import count_seizure, normalise
from vident.cli import app
from vident.config import Limits
from vident.ingest.records import WorkItem
from vident.ingest.walk import walk_source
from vident.ingest.worker import process_item

runner = CliRunner()


def vident(data: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--data", str(data), *args])
    return result.exit_code, result.stdout, result.stderr


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """A zip holding ``members`` in order; a name given twice is written twice."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members:
                archive.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: list[tuple[str, bytes]], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def utf8_flagged_latin1_zip() -> bytes:
    """A zip whose middle member's name is Latin-1 bytes although bit 11 says UTF-8."""
    good = zip_bytes(
        [("good.jpg", jpeg_bytes(31)), ("caf\u00e9.jpg", jpeg_bytes(32)), ("z.jpg", jpeg_bytes(33))]
    )
    # zipfile sets bit 11 for the non-ASCII name; the same length in other bytes breaks it.
    broken = good.replace("caf\u00e9".encode(), b"caf\xe9\xff")
    with pytest.raises(UnicodeDecodeError):
        zipfile.ZipFile(io.BytesIO(broken))
    return broken


def boxes(mp4: bytes) -> dict[bytes, tuple[int, int]]:
    """Top-level ISO boxes of an MP4: type -> (offset, size)."""
    found, position = {}, 0
    while position < len(mp4):
        size, kind = struct.unpack(">I4s", mp4[position : position + 8])
        found[kind] = (position, size)
        position += size
    return found


def cut_in_moov() -> bytes:
    """An MP4 (index at the end) cut a few dozen bytes into its ``moov`` box."""
    video = tiny_video(frames=10)
    start, _ = boxes(video)[b"moov"]
    return video[: start + 43]


def frames_zeroed() -> bytes:
    """A whole MP4 whose frames are all zero bytes: a container with nothing decodable."""
    video = tiny_video(frames=10)
    start, size = boxes(video)[b"mdat"]
    return video[: start + 8] + bytes(size - 8) + video[start + size :]


def garbage_after_ftyp() -> bytes:
    video = tiny_video(frames=10)
    _, size = boxes(video)[b"ftyp"]
    return video[:size] + bytes(range(256)) * 30


def picture_as(fmt: str, seed: int) -> bytes:
    register_heif_opener()  # only to write the test's HEIC
    buffer = io.BytesIO()
    Image.open(io.BytesIO(jpeg_bytes(seed, (320, 240)))).save(buffer, fmt, quality=80)
    return buffer.getvalue()


def hostile_seizure(root: Path, outside: Path) -> Path:
    """The seizure every test here walks; returns its folder."""
    seizure = root / "seizure"
    write_jpeg(seizure / "photos" / "a.jpg", 1)
    (seizure / "photos" / "empty.jpg").write_bytes(b"")
    (seizure / "photos" / "cut.jpg").write_bytes(jpeg_bytes(2)[:900])
    (seizure / "photos" / "text.jpg").write_text("a note, not a picture")
    (seizure / "photos" / "iphone.heic").write_bytes(picture_as("HEIF", 3))
    (seizure / "photos" / "web.avif").write_bytes(picture_as("AVIF", 4))
    (seizure / "dup.zip").write_bytes(
        zip_bytes(
            [
                ("a.jpg", jpeg_bytes(5)),
                ("a.jpg", jpeg_bytes(6)),
                ("a.jpg#2", jpeg_bytes(7)),  # a real name that a duplicate must not take
                ("sub/", b""),
                ("sub/c.jpg", jpeg_bytes(8)),
            ]
        )
    )
    (seizure / "dup.tar").write_bytes(
        tar_bytes([("a.jpg", jpeg_bytes(9)), ("a.jpg", jpeg_bytes(10)), ("b.jpg", jpeg_bytes(11))])
    )
    (seizure / "dup.tar.gz").write_bytes(
        tar_bytes([("x.jpg", jpeg_bytes(12)), ("x.jpg", jpeg_bytes(13))], mode="w:gz")
    )
    (seizure / "badflag.zip").write_bytes(utf8_flagged_latin1_zip())
    inner_a = zip_bytes([("x.jpg", jpeg_bytes(14))])
    inner_b = zip_bytes([("x.jpg", jpeg_bytes(15)), ("y.jpg", jpeg_bytes(16))])
    (seizure / "nested.zip").write_bytes(
        zip_bytes(
            [
                ("inner.zip", inner_a),
                ("inner.zip", inner_b),
                ("inner.zip/x.jpg", jpeg_bytes(17)),  # spelt like the nested member
                ("inner.tar", tar_bytes([("t.jpg", jpeg_bytes(18))])),
            ]
        )
    )
    (seizure / "unsafe.zip").write_bytes(
        zip_bytes([("../evil.jpg", jpeg_bytes(19)), ("/abs.jpg", jpeg_bytes(20))])
    )
    names = seizure / "names"
    names.mkdir()
    (names / os.fsdecode(b"bad\xc3.jpg")).write_bytes(jpeg_bytes(21))
    (names / "bad\\xc3.jpg").write_bytes(jpeg_bytes(22))  # the escaped spelling, for real
    video = seizure / "video"
    video.mkdir()
    (video / "whole.mp4").write_bytes(tiny_video(frames=10))
    (video / "cut.mp4").write_bytes(cut_in_moov())
    (video / "zeroed.mp4").write_bytes(frames_zeroed())
    (video / "garbage.mp4").write_bytes(garbage_after_ftyp())
    links = seizure / "links"
    links.mkdir()
    outside.write_bytes(jpeg_bytes(23))
    (links / "out.jpg").symlink_to(outside)
    (links / "in.jpg").symlink_to(seizure / "photos" / "a.jpg")
    (links / "folder").symlink_to(seizure / "photos")
    (links / "broken.jpg").symlink_to(seizure / "nowhere.jpg")
    os.mkfifo(seizure / "pipe")
    (seizure / "empty-folder").mkdir()
    return seizure


@pytest.fixture
def seizure(tmp_path: Path) -> Path:
    return hostile_seizure(tmp_path, tmp_path / "outside.jpg")


def triage_items(data: Path, source: str) -> list[dict[str, object]]:
    code, out, err = vident(data, "triage", "--source", source, "--format", "json")
    assert code == 0, err
    items: list[dict[str, object]] = json.loads(out)["items"]
    return items


def test_triage_lists_every_file_of_a_hostile_seizure(tmp_path: Path, seizure: Path) -> None:
    expected = count_seizure(seizure)
    assert sum(expected.values()) == 36  # the yardstick itself sees every file
    data = tmp_path / "data"
    assert vident(data, "init")[0] == 0
    args = ("ingest", str(seizure), "--source", "H", "--workers", "1", "--signals", "pdq", "-q")
    code, _, err = vident(data, *args)
    assert code == 0, err

    items = triage_items(data, "H")
    paths = [str(item["path"]) for item in items]
    assert len(paths) == sum(expected.values())
    assert len(set(paths)) == len(paths), "two files share a path"
    assert Counter(normalise(path) for path in paths) == expected

    by_path = {str(item["path"]): item for item in items}
    # Duplicates are told apart, and a real "a.jpg#2" keeps its own name.
    assert {"dup.zip/a.jpg", "dup.zip/a.jpg#2", "dup.zip/a.jpg#3"} <= set(by_path)
    assert by_path["dup.zip/a.jpg#2"]["sha256"] != by_path["dup.zip/a.jpg#3"]["sha256"]
    assert {"dup.tar/a.jpg", "dup.tar/a.jpg#2", "dup.tar.gz/x.jpg", "dup.tar.gz/x.jpg#2"} <= set(
        by_path
    )
    assert {"names/bad\\xc3.jpg", "names/bad\\xc3.jpg#2"} <= set(by_path)
    assert {"nested.zip/inner.zip/x.jpg", "nested.zip/inner.zip#2/y.jpg"} <= set(by_path)
    # Every member of the zip with the lying flag is read, the bad name too.
    for name in ("good.jpg", "caf\\xe9\\xff.jpg", "z.jpg"):
        assert by_path[f"badflag.zip/{name}"]["verdict"] == "new", name
    # Damaged videos are errors with a reason, their exact hashes kept.
    for name in ("cut.mp4", "zeroed.mp4", "garbage.mp4"):
        item = by_path[f"video/{name}"]
        assert item["verdict"] == "error" and item["error"], name
        assert item["sha256"], name
    assert "moov" in str(by_path["video/cut.mp4"]["error"])
    assert by_path["video/whole.mp4"]["verdict"] == "new"
    # Phone pictures are pictures.
    for name in ("iphone.heic", "web.avif"):
        assert by_path[f"photos/{name}"]["verdict"] == "new", by_path[f"photos/{name}"]
        assert by_path[f"photos/{name}"]["type"] == "image"


def test_rerun_adds_nothing_and_keeps_every_path(tmp_path: Path, seizure: Path) -> None:
    data = tmp_path / "data"
    assert vident(data, "init")[0] == 0
    args = ("ingest", str(seizure), "--source", "H", "--workers", "1", "--signals", "pdq", "-q")
    assert vident(data, *args)[0] == 0
    first = sorted(str(item["path"]) for item in triage_items(data, "H"))
    code, _, err = vident(data, *args[:-1])
    assert code == 0, err
    assert "0 files ingested" in err and f"{len(first)} already done" in err
    assert sorted(str(item["path"]) for item in triage_items(data, "H")) == first


def test_duplicate_paths_are_the_same_at_every_walk(tmp_path: Path, seizure: Path) -> None:
    def walk() -> list[str]:
        return [item.path for item in walk_source(seizure, Limits(), tmp_path / "tmp")]

    first = walk()
    assert first == walk()
    assert len(set(first)) == len(first)


def test_duplicate_never_takes_a_later_real_name(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(zip_bytes([("a.jpg", b"1"), ("a.jpg", b"2"), ("a.jpg#2", b"3")]))
    found = {item.path: item.data for item in walk_source(archive, Limits(), tmp_path / "tmp")}
    assert found == {"a.zip/a.jpg": b"1", "a.zip/a.jpg#3": b"2", "a.zip/a.jpg#2": b"3"}


def test_duplicate_marked_name_still_claims_its_type() -> None:
    # "a.jpg#2" is still a file named .jpg: text inside is flagged as mislabelled.
    item = WorkItem("a.zip/a.jpg#2", size=5, data=b"hello")
    assert process_item(item, Limits()).error == (
        "named as image (.jpg) but the content is text/plain"
    )


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("cut.mp4", cut_in_moov, "moov"),
        ("zeroed.mp4", frames_zeroed, "no decodable frame"),
        ("garbage.mp4", garbage_after_ftyp, "unreadable video"),
    ],
)
def test_undecodable_video_is_an_error_with_its_hashes(
    name: str, make: Callable[[], bytes], reason: str
) -> None:
    data = make()
    result = process_item(WorkItem(name, size=len(data), data=data), Limits(), ["pdq"])
    assert result.error is not None and reason in result.error
    assert "\n" not in result.error
    assert result.sha256 is not None
    assert {s.kind for s in result.signals} >= {"md5", "sha1", "sha256"}


def test_video_cut_inside_its_frames_is_an_error_but_keeps_frame_hashes() -> None:
    video = tiny_video(frames=30)
    start, size = boxes(video)[b"mdat"]
    # Index first (as phones write it), then the frames cut in half.
    moov_start, moov_size = boxes(video)[b"moov"]
    moov = video[moov_start : moov_start + moov_size]
    shift = len(moov)
    patched = _shift_chunk_offsets(moov, shift)
    faststart = video[:start] + patched + video[start : start + size]
    whole = process_item(WorkItem("w.mp4", size=len(faststart), data=faststart), Limits(), ["pdq"])
    assert whole.error is None and whole.frames
    cut = faststart[: len(faststart) - size // 2]
    result = process_item(WorkItem("c.mp4", size=len(cut), data=cut), Limits(), ["pdq"])
    assert result.error is not None and "truncated video" in result.error
    assert "'mdat'" in result.error
    assert result.frames  # what was before the cut still matches


def _shift_chunk_offsets(moov: bytes, shift: int) -> bytes:
    """``moov`` with every chunk offset (stco) moved by ``shift`` bytes."""
    out = bytearray(moov)
    at = out.find(b"stco")
    assert at > 0
    count = struct.unpack_from(">I", out, at + 8)[0]
    for index in range(count):
        position = at + 12 + 4 * index
        struct.pack_into(">I", out, position, struct.unpack_from(">I", out, position)[0] + shift)
    return bytes(out)


def test_data_directory_inside_the_source_is_left_out(tmp_path: Path) -> None:
    evidence = tmp_path / "ev"
    write_jpeg(evidence / "a.jpg", 1)
    write_jpeg(evidence / "b" / "c.jpg", 2)
    data = evidence / "vident-data"
    assert vident(data, "init")[0] == 0
    code, _, err = vident(data, "ingest", str(evidence), "--source", "EV", "--workers", "1")
    assert code == 0, err
    assert "vident's own data directory" in err
    paths = sorted(str(item["path"]) for item in triage_items(data, "EV"))
    assert paths == ["a.jpg", "b/c.jpg"]
    assert Counter(paths) == count_seizure(evidence, skip=data)


def test_link_into_the_data_directory_is_not_followed(tmp_path: Path) -> None:
    evidence = tmp_path / "ev"
    write_jpeg(evidence / "a.jpg", 1)
    data = evidence / "vident-data"
    assert vident(data, "init")[0] == 0
    (evidence / "db.jpg").symlink_to(data / "vident.db")
    assert vident(data, "ingest", str(evidence), "--source", "EV", "--workers", "1", "-q")[0] == 0
    items = {str(item["path"]): item for item in triage_items(data, "EV")}
    assert set(items) == {"a.jpg", "db.jpg"}
    assert "data directory" in str(items["db.jpg"]["error"])


def test_the_data_directory_itself_is_refused_as_a_source(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert vident(data, "init")[0] == 0
    code, _, err = vident(data, "ingest", str(data), "--source", "S")
    assert code == 1
    assert "data directory" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    # A seizure kept in a folder inside the data directory (as the demo does) is fine.
    write_jpeg(data / "seizure" / "a.jpg", 1)
    assert vident(data, "ingest", str(data / "seizure"), "--source", "S", "-q")[0] == 0
    assert [item["path"] for item in triage_items(data, "S")] == ["a.jpg"]


def test_empty_source_name_is_refused_in_one_line(tmp_path: Path) -> None:
    evidence = tmp_path / "ev"
    write_jpeg(evidence / "a.jpg", 1)
    data = tmp_path / "data"
    assert vident(data, "init")[0] == 0
    for name in ("", "  "):
        code, _, err = vident(data, "ingest", str(evidence), "--source", name)
        assert code == 1
        assert "name" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
