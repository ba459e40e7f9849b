"""Forensic disk images at ingest: E01 and raw, partitions, FAT and ext4, deleted files, damage.

Every image is built here with the Debian tools a forensic lab uses (mkfs.vfat and mtools,
mkfs.ext4 and debugfs, sfdisk, ewfacquire), from generated pictures; files are written and
deleted with those tools, never by editing bytes. The tests skip, saying which tool is
missing, only where ``make forensic-tools`` could not install them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import jpeg_bytes
from vident.cli import app
from vident.config import Limits, Settings
from vident.ingest.disk_images import EWF_SIGNATURE, DiskImageKind, disk_image_kind
from vident.ingest.records import WorkItem
from vident.ingest.walk import walk_source
from vident.service.compare import media_facts
from vident.service.context import local_operator, open_context
from vident.store.db import Store
from vident.store.models import Occurrence

runner = CliRunner()
SECTOR = 512
MiB = 1024 * 1024
_SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def tool(name: str) -> str:
    found = shutil.which(name, path=_SBIN)
    if found is None:
        pytest.skip(f"{name} is missing: run `make forensic-tools` (Debian packages) as root")
    return found


def run(*args: str | Path) -> None:
    command = [tool(str(args[0])), *map(str, args[1:])]
    subprocess.run(command, check=True, capture_output=True, stdin=subprocess.DEVNULL)


def picture(seed: int) -> bytes:
    return jpeg_bytes(seed, size=(320, 240))


def fat_image(
    path: Path, files: dict[str, bytes], deleted: tuple[str, ...] = (), mib: int = 8
) -> Path:
    """A FAT file system holding ``files``; those named in ``deleted`` written, then deleted."""
    path.write_bytes(bytes(mib * MiB))
    run("mkfs.vfat", path)
    folders = sorted({str(Path(name).parent) for name in files} - {"."})
    made: set[str] = set()
    for folder in folders:
        parts = Path(folder).parts
        for depth in range(1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            if sub not in made:
                run("mmd", "-i", path, f"::/{sub}")
                made.add(sub)
    scratch = path.with_suffix(".files")
    scratch.mkdir()
    for number, (name, data) in enumerate(files.items()):
        local = scratch / str(number)
        local.write_bytes(data)
        run("mcopy", "-i", path, local, f"::/{name}")
    for name in deleted:
        run("mdel", "-i", path, f"::/{name}")
    shutil.rmtree(scratch)
    return path


def ext4_image(path: Path, files: dict[str, bytes], deleted: tuple[str, ...] = ()) -> Path:
    """An ext4 file system filled from a folder (no mount), then ``deleted`` removed."""
    folder = path.with_suffix(".tree")
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    run("mkfs.ext4", "-q", "-d", folder, path, "14M")
    for name in deleted:
        run("debugfs", "-w", "-R", f"rm /{name}", path)
    shutil.rmtree(folder)
    return path


#: sfdisk partition types: (FAT, Linux) for each kind of partition table.
TYPES = {"dos": ("c", "83"), "gpt": ("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "L")}


def mbr_disk(path: Path, volumes: list[tuple[Path, str]], label: str = "dos") -> Path:
    """A disk with a partition table (MBR, or GPT) and each file system copied into place."""
    start = 2048
    layout = [f"label: {label}"]
    places = []
    for volume, kind in volumes:
        sectors = volume.stat().st_size // SECTOR
        layout.append(f"start={start}, size={sectors}, type={kind}")
        places.append((volume, start))
        start += sectors
    path.write_bytes(bytes((start + 2048) * SECTOR))
    subprocess.run(
        [tool("sfdisk"), "-q", str(path)],
        input="\n".join(layout) + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    with path.open("r+b") as disk:
        for volume, offset in places:
            disk.seek(offset * SECTOR)
            disk.write(volume.read_bytes())
    return path


def e01(raw: Path, target: Path, segment: str | None = None) -> Path:
    """``raw`` acquired as an EnCase 6 E01 named ``target`` (``.E01`` added by ewfacquire)."""
    extra = ["-S", segment] if segment else []
    run("ewfacquire", "-u", "-q", "-t", target, "-f", "encase6", *extra, raw)
    return target.with_name(target.name + ".E01")


def vident(data: Path, *args: str, db: str | None = None) -> tuple[int, str, str]:
    options = ["--data", str(data)] + (["--db", db] if db else [])
    result = runner.invoke(app, [*options, *args])
    return result.exit_code, result.stdout, result.stderr


def ingest(data: Path, seizure: Path, db: str | None = None) -> dict[str, dict[str, object]]:
    """``vident ingest`` then ``vident triage``, as a user runs them; triage items by path."""
    if db is None:
        assert vident(data, "init")[0] == 0
    code, _, err = vident(data, "ingest", str(seizure), "--source", "s", "--workers", "1", db=db)
    assert code == 0, err
    assert "Traceback" not in err  # damage is reported in one line per item, never a trace
    code, out, err = vident(data, "triage", "--source", "s", "--format", "json", db=db)
    assert code == 0, err
    return {item["path"]: item for item in json.loads(out)["items"]}


def stored(url: str) -> dict[str, tuple[bool, str | None]]:
    """(deleted, error) of every occurrence in the store, by path."""
    store = Store(url)
    try:
        with store.session() as session:
            rows = session.execute(select(Occurrence.path, Occurrence.deleted, Occurrence.error))
            return {path: (deleted, error) for path, deleted, error in rows}
    finally:
        store.dispose()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def walk(root: Path, tmp_path: Path, **limits: float) -> list[WorkItem]:
    return list(walk_source(root, Limits.model_validate(limits), tmp_path / "scratch"))


# --- E01 with a FAT partition: live, deleted and zipped pictures through the CLI ----------


def test_e01_fat_partition_with_a_deleted_picture(tmp_path: Path, store_url: str) -> None:
    live, gone, zipped = picture(1), picture(2), picture(3)
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("inner/c.jpg", zipped)
    fat = fat_image(
        tmp_path / "fat.img",
        {
            "Users/x/DCIM/a.jpg": live,
            "Users/x/DCIM/beach.jpg": gone,
            "Users/x/bundle.zip": bundle.read_bytes(),
        },
        deleted=("Users/x/DCIM/beach.jpg",),
    )
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    image = e01(mbr_disk(tmp_path / "disk.raw", [(fat, "c")]), seizure / "exhibit")
    assert image.name == "exhibit.E01" and image.read_bytes().startswith(EWF_SIGNATURE)
    before = hashlib.sha256(image.read_bytes()).hexdigest()

    items = ingest(tmp_path / "data", seizure, db=store_url)

    prefix = "exhibit.E01/p1/Users/x"
    assert set(items) == {
        f"{prefix}/DCIM/a.jpg",
        f"{prefix}/DCIM/_each.jpg",  # FAT keeps a deleted name less its first letter
        f"{prefix}/bundle.zip/inner/c.jpg",
    }
    for path, data in (
        (f"{prefix}/DCIM/a.jpg", live),
        (f"{prefix}/DCIM/_each.jpg", gone),
        (f"{prefix}/bundle.zip/inner/c.jpg", zipped),
    ):
        assert items[path]["type"] == "image" and items[path]["verdict"] == "new"
        assert items[path]["sha256"] == sha256(data) and items[path]["error"] is None
    occurrences = stored(store_url)
    assert occurrences[f"{prefix}/DCIM/_each.jpg"] == (True, None)
    assert occurrences[f"{prefix}/DCIM/a.jpg"] == (False, None)
    assert occurrences[f"{prefix}/bundle.zip/inner/c.jpg"] == (False, None)
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before  # read-only

    settings = Settings(data=tmp_path / "data", db=store_url)
    ctx = open_context(settings, local_operator(settings))
    try:  # the media's detail says where it was seen, and that the file there was deleted
        places = media_facts(ctx, sha256(gone)).places
    finally:
        ctx.close()
    assert [(p.path, p.deleted) for p in places] == [(f"{prefix}/DCIM/_each.jpg", True)]

    exported = tmp_path / "s.json"
    code, _, err = vident(
        tmp_path / "data", "export", "vics", "--source", "s", "-o", str(exported), db=store_url
    )
    assert code == 0, err
    media = json.loads(exported.read_text())["value"][0]["Media"]
    files = {f["FilePath"]: f for m in media for f in m["MediaFiles"]}
    assert files[f"{prefix}/DCIM/_each.jpg"]["Deleted"] is True
    assert "Deleted" not in files[f"{prefix}/DCIM/a.jpg"]


# --- raw image: MBR or GPT with FAT and ext4 ----------------------------------------------


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_raw_image_with_fat_and_ext4_partitions(tmp_path: Path, label: str) -> None:
    fat = fat_image(tmp_path / "fat.img", {"DCIM/a.jpg": picture(4)})
    ext = ext4_image(
        tmp_path / "ext.img",
        {"home/x/b.jpg": picture(5), "home/x/gone.jpg": picture(6)},
        deleted=("home/x/gone.jpg",),
    )
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    fat_type, linux_type = TYPES[label]
    mbr_disk(seizure / "laptop.dd", [(fat, fat_type), (ext, linux_type)], label)
    data = tmp_path / "data"

    items = ingest(data, seizure)

    assert {path: item["sha256"] for path, item in items.items()} == {
        "laptop.dd/p1/DCIM/a.jpg": sha256(picture(4)),
        "laptop.dd/p2/home/x/b.jpg": sha256(picture(5)),
        "laptop.dd/p2/home/x/gone.jpg": sha256(picture(6)),
    }
    assert all(item["verdict"] == "new" for item in items.values())
    deleted = {
        path for path, (flag, _) in stored(f"sqlite:///{data / 'vident.db'}").items() if flag
    }
    assert deleted == {"laptop.dd/p2/home/x/gone.jpg"}


# --- damage: truncated E01, damaged boot sector, altered E01 -------------------------------


def test_truncated_e01_lists_what_can_be_read(tmp_path: Path) -> None:
    noise = os.urandom(10 * MiB)  # incompressible: it fills the later segments
    fat = fat_image(tmp_path / "fat.img", {"A.JPG": picture(7), "NOISE.BIN": noise}, mib=16)
    acquired = tmp_path / "acquired"
    acquired.mkdir()
    first = e01(fat, acquired / "ex", segment="2MiB")
    segments = sorted(acquired.iterdir())
    assert len(segments) >= 5, segments
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    kept = segments[:3]  # the acquisition was cut short: later segments are missing
    for segment in kept:
        shutil.copy(segment, seizure / segment.name)
    half = segments[3].read_bytes()[: segments[3].stat().st_size // 2]
    (seizure / segments[3].name).write_bytes(half)

    items = ingest(tmp_path / "data", seizure)

    image = first.name
    assert items[f"{image}/A.JPG"]["sha256"] == sha256(picture(7))
    assert items[f"{image}/A.JPG"]["verdict"] == "new"
    broken = items[f"{image}/NOISE.BIN"]
    assert broken["verdict"] == "error" and "truncated or damaged" in str(broken["error"])
    whole = items[image]
    assert whole["verdict"] == "error"
    assert str(whole["error"]).startswith("E01 image truncated or damaged:")
    for segment in kept[1:]:  # later segments are listed as plain files
        assert segment.name in items


def test_damaged_boot_sector_is_one_error_naming_the_partition(tmp_path: Path) -> None:
    fat = fat_image(tmp_path / "fat.img", {"A.JPG": picture(8)})
    ext = ext4_image(tmp_path / "ext.img", {"b.jpg": picture(9)})
    with fat.open("r+b") as volume:
        volume.write(bytes(SECTOR))  # the FAT boot sector wiped
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    mbr_disk(seizure / "disk.img", [(fat, "c"), (ext, "83")])

    items = ingest(tmp_path / "data", seizure)

    assert set(items) == {"disk.img/p1", "disk.img/p2/b.jpg"}
    error = str(items["disk.img/p1"]["error"])
    assert error.startswith("partition 1 (") and "no file system vident can read" in error
    assert "\n" not in error
    assert items["disk.img/p2/b.jpg"]["sha256"] == sha256(picture(9))


def test_altered_e01_is_an_error_on_the_image(tmp_path: Path) -> None:
    fat = fat_image(tmp_path / "fat.img", {"A.JPG": picture(10)})
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    image = e01(fat, seizure / "ex")
    raw = bytearray(image.read_bytes())
    at = raw.index(picture(10)[:64]) + 200
    raw[at] ^= 0xFF  # one byte of the picture changed after acquisition
    image.write_bytes(bytes(raw))

    items = walk(seizure, tmp_path)

    # libewf hands back the altered chunk zeroed, boot sector included: one error says it all.
    errors = {item.path: item.error for item in items if item.error}
    assert list(errors) == ["ex.E01"]
    error = errors["ex.E01"]
    assert error is not None and "\n" not in error
    assert error.startswith("E01 image altered or damaged: the MD5 of its disk data is ")
    assert error.endswith(
        "; no partition table and no file system vident can read: Cannot determine file system type"
    )


def test_unreadable_e01_is_one_error(tmp_path: Path) -> None:
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    (seizure / "broken.E01").write_bytes(EWF_SIGNATURE + b"\x01\x01\x00" + bytes(100))

    items = walk(seizure, tmp_path)

    assert [item.path for item in items] == ["broken.E01"]
    assert items[0].error is not None and items[0].error.startswith("cannot open the E01 image")


# --- a bare file system, limits, detection -------------------------------------------------


def test_bare_file_system_image_and_limits(tmp_path: Path) -> None:
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    big = os.urandom(2 * MiB)
    packed = tmp_path / "old.zip"
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("c.jpg", picture(14))
    fat_image(
        seizure / "stick.001",
        {
            "A.JPG": picture(11),
            "B.JPG": picture(12),
            "BIG.BIN": big,
            "OLD.ZIP": packed.read_bytes(),
        },
        deleted=("B.JPG", "OLD.ZIP"),
    )

    items = {item.path: item for item in walk(seizure, tmp_path)}
    assert set(items) == {
        "stick.001/A.JPG",
        "stick.001/_.JPG",
        "stick.001/BIG.BIN",
        "stick.001/_LD.ZIP/c.jpg",
    }
    assert items["stick.001/_.JPG"].deleted and items["stick.001/_.JPG"].data == picture(12)
    assert not items["stick.001/A.JPG"].deleted and items["stick.001/BIG.BIN"].data == big
    zipped = items["stick.001/_LD.ZIP/c.jpg"]  # a deleted archive's members are deleted too
    assert zipped.deleted and zipped.data == picture(14)

    limited = {item.path: item for item in walk(seizure, tmp_path, max_file_bytes=MiB)}
    assert limited["stick.001/BIG.BIN"].error == f"file is larger than the limit of {MiB} bytes"

    few = walk(seizure, tmp_path, max_archive_members=2)
    assert [item.path for item in few][-1] == "stick.001"
    assert few[-1].error == "too many files in disk image: more than 2; the rest was not read"


def test_split_raw_image_is_read_as_one_disk(tmp_path: Path) -> None:
    filler = os.urandom(5 * MiB)  # written first, so the picture lies in the second part
    whole = fat_image(tmp_path / "card.img", {"FILLER.BIN": filler, "A.JPG": picture(15)})
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    raw = whole.read_bytes()
    for number, offset in enumerate(range(0, len(raw), 4 * MiB), start=1):
        (seizure / f"card.{number:03d}").write_bytes(raw[offset : offset + 4 * MiB])

    items = {item.path: item for item in walk(seizure, tmp_path)}

    assert items["card.001/A.JPG"].data == picture(15)
    assert items["card.001/FILLER.BIN"].data == filler
    assert items["card.002"].fs_path is not None  # the later part is listed as a plain file
    assert set(items) == {"card.001/A.JPG", "card.001/FILLER.BIN", "card.002"}


def test_ntfs_volume_lists_its_files_not_its_own_records(tmp_path: Path) -> None:
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    volume = seizure / "usb.raw"
    volume.write_bytes(bytes(16 * MiB))
    run("mkntfs", "-F", "-f", "-Q", volume)
    local = tmp_path / "a.jpg"
    local.write_bytes(picture(13))
    run("ntfscp", "-f", volume, local, "holiday.jpg")

    items = walk(seizure, tmp_path)

    assert [(item.path, item.data, item.deleted) for item in items] == [
        ("usb.raw/holiday.jpg", picture(13), False)  # no $MFT, $LogFile... nor orphan entries
    ]


def test_detection_by_signature_and_name() -> None:
    boot = bytes(510) + b"\x55\xaa" + bytes(600)
    assert disk_image_kind(EWF_SIGNATURE + b"\x01\x01\x00", "x.bin") is DiskImageKind.EWF
    assert disk_image_kind(EWF_SIGNATURE + b"\x01\x02\x00", "x.E02") is None  # later segment
    assert disk_image_kind(boot, "card.dd") is DiskImageKind.RAW
    assert disk_image_kind(boot, "card.IMG#2") is DiskImageKind.RAW
    assert disk_image_kind(boot, "card.jpg") is None  # raw images are known by name too
    assert disk_image_kind(bytes(2048), "card.dd") is None  # nothing of a disk at its start
