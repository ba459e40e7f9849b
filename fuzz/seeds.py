"""Small valid inputs that each fuzz target starts from, generated at run time.

A coverage-guided fuzzer gets much further from valid inputs than from nothing: a zip it can
mutate reaches the archive code that random bytes never do. Seeds are made here (Pillow,
PyAV, zipfile, tarfile) or cut from the shared sample corpus, and kept small: libFuzzer
mutates faster and finds more in a few hundred bytes than in a photo.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import struct
import tarfile
import zipfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("VIDENT_CORPUS", REPO.parent / "shared" / "corpora"))
#: Largest seed cut from a corpus file; bigger ones slow every execution down.
MAX_SEED_BYTES = 16 * 1024

_MD5 = "0123456789abcdef0123456789abcdef"
_SHA1 = "0123456789abcdef0123456789abcdef01234567"
_SHA256 = "0123456789abcdef" * 4
_PDQ = "f" * 8 + "0" * 56


def tiny_jpeg(size: tuple[int, int] = (8, 8), **params: object) -> bytes:
    """A few pixels of gradient as a JPEG (the smallest picture Pillow writes)."""
    width, height = size
    ramp = np.linspace(0, 255, width * height * 3).astype(np.uint8).reshape(height, width, 3)
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, "JPEG", quality=50, **params)
    return buffer.getvalue()


# --- hash lists and VICS ---------------------------------------------------------------------


def _vics(value: list[object], version: str = "2.0") -> bytes:
    key = "@odata.context" if version == "2.0" else "odata.metadata"
    context = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
    return json.dumps({key: context, "value": value}, indent=1).encode()


def vics_seeds() -> dict[str, bytes]:
    media: dict[str, object] = {
        "MediaID": 1,
        "MD5": _MD5.upper(),
        "SHA1": _SHA1,
        "Category": 2,
        "Series": "S-1",
        "VictimIdentified": "True",
        "OffenderIdentified": False,
        "IsDistributed": 1,
        "Tags": "a;b",
        "Comments": "c",
        "MediaSize": "1234",
        "MimeType": "image/jpeg",
        "AlternativeHashes": [
            {"HashName": "SHA-256", "HashValue": _SHA256},
            {"HashName": "PDQ", "HashValue": _PDQ},
            {"HashName": "PhotoDNA", "HashValue": "AAAA"},
        ],
        "MediaFiles": [{"FileName": "x.jpg", "FilePath": "a/b", "Created": "2020-01-01"}],
        "Extra": {"n": 1.5, "big": 12345678901234567890123},
    }
    case = {"CaseID": "c1", "CaseNumber": "OP-1", "Media": [media, {"MD5": _MD5, "Category": 0}]}
    return {
        "media.json": _vics([media]),
        "case.json": _vics([case]),
        "mixed-1x.json": _vics([case, {"SHA1": _SHA1}, 7], version="1.x"),
        "bom.json": b"\xef\xbb\xbf" + _vics([{"md5": _MD5, "tags": ["x", "y"]}]),
        "bad-entries.json": _vics([{"MD5": "xyz"}, {"Category": True, "MD5": _MD5}, []]),
    }


def hashlist_seeds() -> dict[str, bytes]:
    csv_text = (
        "# exported list\n"
        "MD5,SHA-1,sha256,Category,Category_Scheme,Series,Victim Identified,Tags,Size,Note\n"
        f'{_MD5},{_SHA1},{_SHA256},1,US,S,yes,"a,b",12,"quoted, text"\n'
        f"{_MD5.upper()},,,2,US,,n,,,\n"
    )
    tsv_text = f"hash\tcategory\tis_distributed\tmime\n{_SHA1}\t3\t1\timage/png\n{_MD5}\t\t0\t\n"
    semicolon = f"pdq;comment;media_size\n{_PDQ};hello;5\n"
    plain = f"{_MD5}  a.jpg\n\\{_SHA1}  b\\\\n.jpg\n# note\n\n{_SHA256},x\n"
    return {
        "list.csv": csv_text.encode(),
        "list.tsv": tsv_text.encode(),
        "list-semicolon.csv": semicolon.encode(),
        "md5sum.txt": plain.encode(),
        "utf16.csv": csv_text.encode("utf-16"),
        "bom.csv": b"\xef\xbb\xbf" + tsv_text.encode(),
        "cp1252.csv": b"md5,comment\n" + _MD5.encode() + ",caf\xe9\n".encode("cp1252"),
        "vics.json": _vics([{"MD5": _MD5}]),
    }


# --- archives --------------------------------------------------------------------------------


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar(members: dict[str, bytes], links: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if links:
            for kind, name, target in (
                (tarfile.SYMTYPE, "link", "../outside"),
                (tarfile.LNKTYPE, "hard", "a.jpg"),
                (tarfile.DIRTYPE, "dir", ""),
                (tarfile.FIFOTYPE, "fifo", ""),
            ):
                info = tarfile.TarInfo(name)
                info.type = kind
                info.linkname = target
                archive.addfile(info)
    raw = buffer.getvalue()
    # tarfile pads to 10 KiB records; two zero blocks end the archive as well.
    return raw.rstrip(b"\x00") + b"\x00" * (1024 + (-len(raw.rstrip(b"\x00"))) % 512)


def walker_seeds() -> dict[str, bytes]:
    picture = tiny_jpeg()
    members = {"a.jpg": picture, "sub/b.txt": b"hello\n", "../escape.txt": b"x"}
    inner_zip = _zip({"inner/c.jpg": picture})
    tar = _tar(members, links=True)
    return {
        "plain.jpg": picture,
        "deflated.zip": _zip(members),
        "stored.zip": _zip(members, zipfile.ZIP_STORED),
        "nested.zip": _zip({"n.zip": inner_zip, "t.tar": _tar({"d.txt": b"d"})}),
        "plain.tar": tar,
        "archive.tar.gz": gzip.compress(tar, mtime=0),
        "archive.tar.bz2": bz2.compress(tar),
        "archive.tar.xz": lzma.compress(tar),
        "nested.tar.gz": gzip.compress(_tar({"n.zip": inner_zip}), mtime=0),
        "single.gz": gzip.compress(b"just one file\n", mtime=0),
    }


# --- EXIF and maker notes --------------------------------------------------------------------


def _segments(jpeg: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of a JPEG's header segments, up to the start of scan."""
    found: list[tuple[int, bytes]] = []
    at = 2
    while at + 4 <= len(jpeg) and jpeg[at] == 0xFF:
        marker = jpeg[at + 1]
        if marker in (0xDA, 0xD9):
            break
        length = struct.unpack(">H", jpeg[at + 2 : at + 4])[0]
        found.append((marker, jpeg[at + 4 : at + 2 + length]))
        at += 2 + length
    return found


def _with_segments(segments: list[tuple[int, bytes]]) -> bytes:
    body = tiny_jpeg()
    head = b"".join(
        bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
        for marker, payload in segments
    )
    return body[:2] + head + body[2:]


def _without_thumbnail(exif: bytes) -> bytes:
    """An ``Exif\\0\\0`` payload whose IFD0 no longer links to IFD1 (the thumbnail)."""
    tiff = exif[6:]
    order = "<" if tiff[:2] == b"II" else ">"
    if len(tiff) < 8:
        return exif
    first = struct.unpack(order + "I", tiff[4:8])[0]
    if first + 2 > len(tiff):
        return exif
    count = struct.unpack(order + "H", tiff[first : first + 2])[0]
    link = first + 2 + 12 * count
    if link + 4 > len(tiff):
        return exif
    return exif[:6] + tiff[:link] + b"\x00\x00\x00\x00" + tiff[link + 4 :]


def exif_seeds() -> dict[str, bytes]:
    seeds: dict[str, bytes] = {}
    for folder in ("cameras", "serial", "gps"):
        for path in sorted((CORPUS / "exif" / folder).glob("*.jp*g")):
            kept = [
                (marker, _without_thumbnail(payload) if payload[:6] == b"Exif\x00\x00" else payload)
                for marker, payload in _segments(path.read_bytes())
                if marker in (0xE1, 0xEC)
            ]
            seed = _with_segments(kept)
            if kept and len(seed) <= MAX_SEED_BYTES:
                seeds[f"{folder}-{path.stem}.jpg"] = seed
                exif = next((p for m, p in kept if p[:6] == b"Exif\x00\x00"), None)
                if exif is not None:
                    seeds[f"{folder}-{path.stem}.tiff-in-unknown"] = b"\x00\x00\x00\x0cftyp" + exif
    seeds.update(_generated_exif_seeds())
    return seeds


def _generated_exif_seeds() -> dict[str, bytes]:
    """Pictures whose EXIF Pillow writes: TIFF, PNG and WebP containers, GPS, XMP, APP12."""
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D Mark II"
    exif[0x0132] = "2021:01:02 03:04:05"
    sub = exif.get_ifd(0x8769)
    sub[0xA431] = "720305332"
    sub[0x9003] = "2020:05:06 07:08:09"
    sub[0xA435] = "LENS0042"
    gps = exif.get_ifd(0x8825)
    gps[1] = "S"
    gps[2] = (Fraction(33), Fraction(51), Fraction(5415, 100))
    gps[3] = "E"
    gps[4] = (Fraction(151), Fraction(12), Fraction(36))
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description aux:SerialNumber="A1B2"'
        b' tiff:Make="Nikon"><exifEX:LensModel>50mm</exifEX:LensModel>'
        b"<exif:DateTimeOriginal>2019-02-03T04:05:06</exif:DateTimeOriginal>"
        b"</rdf:Description></x:xmpmeta>"
    )
    ramp = Image.fromarray(np.full((8, 8, 3), 128, np.uint8))
    seeds: dict[str, bytes] = {}
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        buffer = io.BytesIO()
        params: dict[str, object] = {"exif": exif}
        if fmt in ("JPEG", "WEBP", "PNG"):
            params["xmp"] = xmp
        ramp.save(buffer, fmt, **params)
        seeds[f"generated.{fmt.lower()}"] = buffer.getvalue()
    app12 = b"[picture info]\r\nSerial#=OLY12345\r\nTimeDate=1234567890\r\n"
    seeds["app12.jpg"] = _with_segments([(0xEC, app12)])
    seeds["xmp-only.bin"] = b"junk" + xmp.replace(b"rdf:Description ", b"rdf:Description\n")
    return seeds


# --- video -----------------------------------------------------------------------------------


def _tiny_video(container: str, codec: str, frames: int = 3, pix_fmt: str = "yuv420p") -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=5)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 16, 16, pix_fmt
        for index in range(frames):
            pixels = np.full((16, 16, 3), index * 60, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()


def video_seeds() -> dict[str, bytes]:
    seeds = {
        "mpeg4.mp4": _tiny_video("mp4", "mpeg4"),
        "mpeg4.mkv": _tiny_video("matroska", "mpeg4"),
        "mpeg4.avi": _tiny_video("avi", "mpeg4"),
        "mjpeg.mov": _tiny_video("mov", "mjpeg", frames=1, pix_fmt="yuvj420p"),
    }
    clip = CORPUS / "video" / "carphone_distorted.mp4"
    if clip.is_file():
        seeds["carphone-head.mp4"] = clip.read_bytes()[:MAX_SEED_BYTES]
    return seeds


SEEDS: dict[str, Callable[[], dict[str, bytes]]] = {
    "hashlists": hashlist_seeds,
    "vics": vics_seeds,
    "walker": walker_seeds,
    "exif": exif_seeds,
    "video": video_seeds,
}


def write_seeds(target: str, folder: Path) -> int:
    """Write the seeds of ``target`` into ``folder`` (replacing older ones); how many."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    seeds = SEEDS[target]()
    for name, data in seeds.items():
        (folder / name).write_bytes(data)
    return len(seeds)
