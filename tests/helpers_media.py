"""Generated test media for the media tests: photo-like pictures, EXIF blocks, tiny videos.

Everything is made here from numpy noise and shapes, so the tests run on a clone without the
shared corpus. The TIFF builder writes EXIF blocks byte by byte, which lets a test place a
maker note exactly where a camera would.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VIDENT_SHARED", REPO.parent / "shared"))
CORPUS = Path(os.environ.get("VIDENT_CORPUS", SHARED / "corpora"))
CONFORMANCE = SHARED / "conformance"


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """A deterministic RGB picture with smooth regions, edges and sensor-like noise.

    It has enough structure at every scale for PDQ to give quality 100, and no symmetry,
    so rotations and flips give very different hashes.
    """
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (height // 48 + 2, width // 48 + 2, 3), dtype=np.uint8)
    base = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(base)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1 = x0 + int(rng.integers(8, max(9, width // 3)))
        y1 = y0 + int(rng.integers(8, max(9, height // 3)))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        draw.ellipse((x0, y0, x1, y1), fill=colour)
    draw.rectangle((0, 0, width // 5, height // 7), fill=(250, 250, 250))  # breaks symmetry
    noisy = np.asarray(base.filter(ImageFilter.GaussianBlur(1))).astype(np.int16)
    noisy += rng.normal(0, 4, noisy.shape).astype(np.int16)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **params)
    return buffer.getvalue()


def with_app_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """``jpeg`` with an APPn segment (``marker`` 0xE0-0xEF) inserted right after SOI."""
    assert jpeg[:2] == b"\xff\xd8"
    segment = bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


# --- a minimal TIFF/EXIF writer ------------------------------------------------------------

Value = tuple[int, int, bytes]  # (field type, count, raw value bytes in the block's order)


def ascii_value(text: str) -> Value:
    raw = text.encode() + b"\x00"
    return (2, len(raw), raw)


def undefined_value(raw: bytes) -> Value:
    return (7, len(raw), raw)


def long_value(number: int, order: str = "<") -> Value:
    return (4, 1, struct.pack(order + "I", number))


def rational_value(parts: Sequence[tuple[int, int]], order: str = "<") -> Value:
    raw = b"".join(struct.pack(order + "II", n, d) for n, d in parts)
    return (5, len(parts), raw)


def directory(entries: dict[int, Value], start: int, order: str = "<") -> bytes:
    """A directory that will lie at offset ``start``, its long values right after it.

    Value offsets count from offset 0 of the structure the directory is placed in.
    """
    count = len(entries)
    table_end = start + 2 + 12 * count + 4
    data = bytearray()
    table = bytearray(struct.pack(order + "H", count))
    for tag in sorted(entries):
        kind, n, raw = entries[tag]
        if len(raw) <= 4:
            field = raw.ljust(4, b"\x00")
        else:
            field = struct.pack(order + "I", table_end + len(data))
            data += raw + (b"\x00" if len(raw) % 2 else b"")
        table += struct.pack(order + "HHI", tag, kind, n) + field
    table += b"\x00\x00\x00\x00"
    return bytes(table + data)


class TiffBuilder:
    """Lays out IFDs and their out-of-line values in one buffer, as cameras write EXIF.

    ``ifd()`` appends a directory and returns its offset; pointer tags are patched in
    with ``link``. Offsets count from the TIFF header, like real EXIF.
    """

    def __init__(self, order: str = "<") -> None:
        self.order = order
        mark = b"II" if order == "<" else b"MM"
        self.buffer = bytearray(mark + struct.pack(order + "HI", 42, 8))

    def ifd(self, entries: dict[int, Value]) -> int:
        start = len(self.buffer)
        self.buffer += directory(entries, start, self.order)
        return start

    def place(self, raw: bytes) -> int:
        """Append raw bytes (a maker note body); return their offset."""
        start = len(self.buffer)
        self.buffer += raw
        return start

    def link(self, ifd_offset: int, tag: int, target: int) -> None:
        """Point the LONG entry ``tag`` of the directory at ``ifd_offset`` at ``target``."""
        count = struct.unpack_from(self.order + "H", self.buffer, ifd_offset)[0]
        for index in range(count):
            at = ifd_offset + 2 + 12 * index
            if struct.unpack_from(self.order + "H", self.buffer, at)[0] == tag:
                struct.pack_into(self.order + "I", self.buffer, at + 8, target)
                return
        raise KeyError(tag)

    def exif_segment(self) -> bytes:
        return b"Exif\x00\x00" + bytes(self.buffer)


def exif_block(
    ifd0: dict[int, Value],
    exif: dict[int, Value],
    maker_note: bytes | None = None,
    gps: dict[int, Value] | None = None,
    order: str = "<",
    maker_note_at: int | None = None,
) -> bytes:
    """An ``Exif\\0\\0`` APP1 payload: IFD0 -> Exif IFD (-> maker note), optional GPS IFD.

    The maker note lies at ``maker_note_at`` when given (Canon-style notes count their
    offsets from the TIFF header, so a test must know where the note starts).
    """
    builder = TiffBuilder(order)
    ifd0 = dict(ifd0)
    ifd0[0x8769] = long_value(0, order)
    if gps is not None:
        ifd0[0x8825] = long_value(0, order)
    first = builder.ifd(ifd0)
    exif = dict(exif)
    if maker_note is not None:
        if maker_note_at is not None:
            builder.buffer += b"\x00" * (maker_note_at - len(builder.buffer))
            assert builder.place(maker_note) == maker_note_at
            exif[0x927C] = (7, len(maker_note), b"\x00\x00\x00\x00")
        else:
            exif[0x927C] = undefined_value(maker_note)
    exif_at = builder.ifd(exif)
    builder.link(first, 0x8769, exif_at)
    if maker_note is not None and maker_note_at is not None:
        builder.link(exif_at, 0x927C, maker_note_at)
    if gps is not None:
        builder.link(first, 0x8825, builder.ifd(gps))
    return builder.exif_segment()


def jpeg_with_exif(exif_payload: bytes, xmp: bytes | None = None, seed: int = 0) -> bytes:
    img = photo_like(96, 64, seed)
    params: dict[str, object] = {"exif": exif_payload, "quality": 85}
    if xmp is not None:
        params["xmp"] = xmp
    return encode(img, "JPEG", **params)


# --- tiny videos -------------------------------------------------------------------------


def tiny_video(
    codec: str = "mpeg4",
    frames: int = 10,
    rate: int = 10,
    size: tuple[int, int] = (64, 48),
    container: str = "mp4",
    sample_aspect: Fraction | None = None,
) -> bytes:
    """A few frames of moving noise encoded with PyAV, returned as the container's bytes."""
    width, height = size
    rng = np.random.default_rng(7)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=rate)
        assert isinstance(stream, av.VideoStream)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        if sample_aspect is not None:
            stream.codec_context.sample_aspect_ratio = sample_aspect
        for _ in range(frames):
            pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()


def tiny_audio_mp4(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """An MP4 holding only an AAC audio track (a video container with no video in it)."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as output:
        stream = output.add_stream("aac", rate=rate)
        assert isinstance(stream, av.AudioStream)
        samples = np.zeros((1, int(seconds * rate)), np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()
