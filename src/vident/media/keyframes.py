"""Video frames for the picture signals: sampled with PyAV, hashed with PDQ, keyframes chosen.

One decode of a video gives two products:

* **Frame hashes** (vPDQ): the PDQ hash and quality of every sampled frame (``sample_fps``
  per second), a frame within ``prune_distance`` bits of the last kept one left out (the
  "pruning" of ThreatExchange's vPDQ description). Two videos are compared on these bags of
  hashes by :mod:`vident.match.vpdq`. They are the video's *frames*: frame ``seq`` (1-based)
  is ``frame_hashes[seq - 1]``.
* **Keyframes**: one frame per scene, the few that go through the costly signals (faces,
  scenes, text). Every keyframe is also a frame, under the same ``seq``.

Why two lists and not vPDQ on keyframes only: a keyframe list thin enough for face and text
models is too thin for vPDQ once a video is longer than a few seconds. On 2-minute test
videos (pans over still pictures, a cut every 2-12 s) against their re-encodes (25 to
30 fps, 0.75 size, crf 32) and a 40 s clip cut at an odd offset, the 1 fps frame hashes
matched 96 % / 89 % (slow pans) and 91 % (fast pans), the keyframes (12 a minute) 100 % /
67 % and 57 %. On the 4-7 s corpus and conformance clips both did equally well.

Decoding is bounded (``max_seconds`` of video, ``max_decoded_frames`` frames) and never seeks:
seeking on a damaged or hostile file is where demuxers go wrong. Non-reference frames that
show before the next sampling tick are not decoded at all (see :meth:`_Clock.skip_for`);
the frames that are sampled are exactly those of a full decode. The display matrix (phone
videos stored sideways) and sample aspect ratio are applied, as EXIF orientation is for
photos. The input reaches FFmpeg as a Python file object, never as a URL, and demuxers that
only point at other files are refused, as in :mod:`vident.media.video`.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Final, Literal, TypedDict, Unpack

import av
import av.container
import numpy as np
import pdqhash
from PIL import Image

from vident.config import Limits
from vident.media.bits import pack_bits
from vident.media.errors import MediaError
from vident.media.types import DecodedImage
from vident.media.video import _REFERENCE_FORMATS, _ffmpeg_reason, _refuse_nested_open

#: Frames sampled per second of video: vPDQ's usual rate (python-threatexchange's default
#: ``seconds_per_hash`` is 1). 2/s matched a clip cut at an odd offset better (95 % instead
#: of 89 %) for twice the rows, but its half-second ticks fall between the frames of 15 fps
#: re-encodes: two of the fast-moving conformance clips then matched only 75-79 %.
SAMPLE_FPS: Final = 1.0
#: A sampled frame more than this many PDQ bits from the first frame of the current scene
#: starts a new one. Unrelated pictures are about 128 bits apart (cuts in the test videos:
#: 108 or more); frames 1 s apart within a shot, median 26, 90th percentile 60.
MIN_CHANGE: Final = 64
#: Most keyframes in each minute of video (0-60 s, 60-120 s...); see :func:`_thin`.
MAX_PER_MINUTE: Final = 12
#: Over the cap, a keyframe this many bits (or more) from the one before counts as a cut and
#: is kept before the re-keys of a pan or zoom (cuts in the test videos: 108 bits or more).
CUT_NOVELTY: Final = 100
#: While a minute is under way at most this many times the cap of keyframe pictures are held.
HOLD_FACTOR: Final = 2
#: Scenes whose best frame is this flat (PDQ quality; black and fade frames give 0-10) give
#: no keyframe, unless the whole video is that flat: then its best frame is the one keyframe.
MIN_KEYFRAME_QUALITY: Final = 20
#: A frame hash this close to the last kept one is left out (vPDQ pruning): a still scene
#: collapses to one row, and matches stayed within 0.01 of unpruned ones.
PRUNE_DISTANCE: Final = 8
#: Bounds on the work one video may cost: the first 3 hours, at most 400 000 frames (over
#: 3 hours at 30 fps). Extraction ran 9 (1080p) to 140 (384x216) times faster than real
#: time per CPU core, so a 3-hour 1080p video costs about 20 CPU minutes.
MAX_SECONDS: Final = 3 * 3600.0
MAX_DECODED_FRAMES: Final = 400_000
#: FFmpeg decoding threads (frame and slice threads; 0: one per core). Ingest already runs
#: one worker process per core, so more would only contend.
DECODE_THREADS: Final = 2
#: Decoding errors tolerated (damaged packets are skipped) before the rest is given up.
MAX_BAD_PACKETS: Final = 50
#: Non-reference frames that show this long before the next sampling tick are not decoded;
#: the margin absorbs rounding between packet and frame times.
SKIP_MARGIN: Final = 0.1
#: Pixels of a keyframe: shorter side reduced by a whole factor to 512-1023, as for photos,
#: and the longer side to at most MAX_SIDE (a hostile 65000x1000 stream stays small).
TARGET_SIDE: Final = 512
MAX_SIDE: Final = 4096

_Skip = Literal["DEFAULT", "NONREF"]
_FLIP = Image.Transpose.FLIP_LEFT_RIGHT
_FLOP = Image.Transpose.FLIP_TOP_BOTTOM


@dataclass(frozen=True, slots=True)
class SampledFrame:
    """One decoded frame: ``ts`` seconds from the first frame, the picture upright."""

    ts: float
    image: DecodedImage


@dataclass(frozen=True, slots=True)
class Keyframe:
    """A frame that gets the picture signals; ``seq`` is its 1-based number among the frames
    (``frame_hashes[seq - 1]`` is its PDQ hash)."""

    seq: int
    ts: float
    image: DecodedImage


@dataclass(frozen=True, slots=True)
class FrameHash:
    """One vPDQ entry: the PDQ hash (32 bytes) and quality of the frame at ``ts`` seconds."""

    ts: float
    pdq: bytes
    quality: int


@dataclass(slots=True)
class DecodeReport:
    """What a decode got through; filled in as it goes.

    ``stopped`` says why decoding ended before the end of the video (a bound reached, or a
    damaged stream whose rest could not be read); None when the whole video was read.
    ``last_ts`` is the time of the last decoded frame (the span of video covered).
    """

    has_video: bool = False
    decoded_frames: int = 0
    sampled_frames: int = 0
    bad_packets: int = 0
    last_ts: float = 0.0
    codec: str = ""
    stopped: str | None = None


@dataclass(frozen=True, slots=True)
class VideoFrames:
    """Keyframes (in time order) and the vPDQ frame hashes of one video."""

    keyframes: list[Keyframe]
    frame_hashes: list[FrameHash]
    report: DecodeReport = field(default_factory=DecodeReport)


class KeyframeOptions(TypedDict, total=False):
    """The tuning of :func:`iter_keyframes`, for callers that pass it through."""

    sample_fps: float
    max_per_minute: int
    min_change: int
    min_keyframe_quality: int
    prune_distance: int
    max_seconds: float
    max_decoded_frames: int
    decode_threads: int


def extract_keyframes(
    source: str | bytes | Path, limits: Limits, **options: Unpack[KeyframeOptions]
) -> VideoFrames:
    """Keyframes and vPDQ frame hashes of a video (path or bytes), all in memory.

    Holds every keyframe's picture until the end: for long videos use
    :func:`iter_keyframes`, which hands each over as soon as it is final.
    """
    hashes: list[FrameHash] = []
    report = DecodeReport()
    keyframes = list(iter_keyframes(source, limits, hashes, report, **options))
    return VideoFrames(keyframes=keyframes, frame_hashes=hashes, report=report)


def iter_keyframes(
    source: str | bytes | Path,
    limits: Limits,
    frame_hashes: list[FrameHash],
    report: DecodeReport | None = None,
    *,
    sample_fps: float = SAMPLE_FPS,
    max_per_minute: int = MAX_PER_MINUTE,
    min_change: int = MIN_CHANGE,
    min_keyframe_quality: int = MIN_KEYFRAME_QUALITY,
    prune_distance: int = PRUNE_DISTANCE,
    max_seconds: float = MAX_SECONDS,
    max_decoded_frames: int = MAX_DECODED_FRAMES,
    decode_threads: int = DECODE_THREADS,
) -> Iterator[Keyframe]:
    """Keyframes in time order, each as soon as it is final; frame hashes go to ``frame_hashes``.

    A keyframe is final once the minute of video after it has started (the cap per minute
    is then settled), so at most a minute's keyframe pictures are held at once. A container
    without a video stream (audio only) gives nothing and no error. Raises
    :class:`MediaError` (one line) when the file is not a readable video or no frame of its
    video stream can be decoded.
    """
    if max_per_minute < 1:
        raise ValueError(f"max_per_minute must be at least 1, got {max_per_minute}")
    chooser = _KeyframeChooser(min_change, min_keyframe_quality, max_per_minute)
    last_kept: int | None = None
    for sample in iter_sampled_frames(
        source,
        limits,
        sample_fps,
        max_seconds=max_seconds,
        max_decoded_frames=max_decoded_frames,
        decode_threads=decode_threads,
        report=report,
    ):
        bits, quality = pdqhash.compute(np.asarray(sample.image.pixels))
        code = pack_bits(bits)
        as_int = int.from_bytes(code, "big")
        seq = len(frame_hashes) + 1
        held = chooser.add(_Candidate(sample, as_int, int(quality), seq))
        if held or last_kept is None or (as_int ^ last_kept).bit_count() > prune_distance:
            frame_hashes.append(FrameHash(ts=sample.ts, pdq=code, quality=int(quality)))
            last_kept = as_int
        yield from chooser.drain()
    chooser.finish()
    yield from chooser.drain()


@dataclass(frozen=True, slots=True)
class _Candidate:
    sample: SampledFrame
    code: int
    quality: int
    seq: int  # its frame number, valid once the chooser holds it (the frame is then kept)


class _KeyframeChooser:
    """One keyframe per scene, at most ``cap`` in each minute of video.

    A *scene* starts at a sampled frame more than ``min_change`` bits from the first frame
    of the scene before, and holds the following frames that stay within ``min_change`` of
    that first frame: a cut starts a scene, and so does a pan or zoom once it shows
    something else. The scene's keyframe is its frame of highest PDQ quality (the earliest
    among equals): quality measures gradient energy, so a faded-in, blurred or flat frame
    gives way to a sharp one of the same shot. Scenes whose best frame is under
    ``min_quality`` (black or fade frames) give none.

    Over ``cap`` keyframes in one minute (0-60 s, 60-120 s...), the re-keys of pans and
    zooms are dropped before cuts, each class thinned evenly over time (:func:`_thin`).
    Shots that kept a keyframe at a cap of 12 on 2-minute test videos with 18 sampled shots
    (11 a minute): slow pans 17-18 (thinning evenly over time alone: 15), fast pans 15
    (16); dropping the least novel keyframe first gave 18 and 11.
    """

    def __init__(self, min_change: int, min_quality: int, cap: int) -> None:
        self._min_change = min_change
        self._min_quality = min_quality
        self._cap = cap
        self._anchor: int | None = None
        self._scene_best: _Candidate | None = None
        self._fallback: _Candidate | None = None
        self._any = False
        self._window = 0
        self._pending: list[_Candidate] = []
        self._last_final: int | None = None
        self._ready: list[_Candidate] = []

    def add(self, candidate: _Candidate) -> bool:
        """Take the next sampled frame; True when the chooser holds on to it."""
        held = False
        if not self._any and (self._fallback is None or candidate.quality > self._fallback.quality):
            self._fallback = candidate  # the best frame of a video with no good one
            held = True
        anchor = self._anchor
        if anchor is None or (candidate.code ^ anchor).bit_count() > self._min_change:
            self._close_scene()
            self._anchor = candidate.code
        if candidate.quality >= self._min_quality and (
            self._scene_best is None or candidate.quality > self._scene_best.quality
        ):
            self._scene_best = candidate
            self._any = True
            self._fallback = None
            held = True
        return held

    def finish(self) -> None:
        self._close_scene()
        self._flush()
        if not self._any and self._fallback is not None:
            self._ready.append(self._fallback)
            self._fallback = None

    def drain(self) -> Iterator[Keyframe]:
        ready, self._ready = self._ready, []
        for kept in ready:
            yield Keyframe(seq=kept.seq, ts=kept.sample.ts, image=kept.sample.image)

    def _close_scene(self) -> None:
        best, self._scene_best = self._scene_best, None
        if best is None:
            return
        window = int(best.sample.ts // 60)
        if window != self._window:
            self._flush()
            self._window = window
        self._pending.append(best)
        if len(self._pending) > HOLD_FACTOR * self._cap:  # bounds the pictures held
            self._pending = _thin(self._pending, self._last_final, HOLD_FACTOR * self._cap)

    def _flush(self) -> None:
        pending = _thin(self._pending, self._last_final, self._cap)
        self._pending = []
        if pending:
            self._last_final = pending[-1].code
            self._ready.extend(pending)


def _thin(candidates: list[_Candidate], before: int | None, cap: int) -> list[_Candidate]:
    """At most ``cap`` of ``candidates`` (in time order), the others dropped one by one.

    Re-keys (less than :data:`CUT_NOVELTY` bits from the keyframe kept before them, or from
    ``before`` for the first) go before cuts; within each class the keyframe whose loss
    leaves the shortest stretch of video between its neighbours goes first (even in time).
    """
    kept = list(candidates)
    while len(kept) > cap:
        keys = []
        for index, item in enumerate(kept):
            prev = kept[index - 1].code if index else before
            is_cut = prev is None or (prev ^ item.code).bit_count() >= CUT_NOVELTY
            start = kept[index - 1].sample.ts if index else item.sample.ts - 60
            end = kept[index + 1].sample.ts if index + 1 < len(kept) else item.sample.ts + 60
            keys.append((is_cut, end - start, -index))
        del kept[keys.index(min(keys))]
    return kept


def iter_sampled_frames(
    source: str | bytes | Path,
    limits: Limits,
    fps: float = SAMPLE_FPS,
    *,
    max_seconds: float = MAX_SECONDS,
    max_decoded_frames: int = MAX_DECODED_FRAMES,
    decode_threads: int = DECODE_THREADS,
    report: DecodeReport | None = None,
) -> Iterator[SampledFrame]:
    """Frames about ``fps`` times per second of video: the first frame at or after each tick.

    Nothing is yielded for a container without a video stream. Raises :class:`MediaError`
    when the file cannot be opened, or when its video stream yields no frame at all; damage
    later in the stream ends the iteration early with ``report.stopped`` saying why.
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    report = report if report is not None else DecodeReport()
    with _opened(source) as handle:
        container = _open_container(handle)
        try:
            yield from _sample(
                container, limits, fps, max_seconds, max_decoded_frames, decode_threads, report
            )
        except MediaError:
            raise
        except av.FFmpegError as exc:
            raise MediaError(f"undecodable video: {_ffmpeg_reason(exc)}") from exc
        except Exception as exc:  # a hostile stream may upset PyAV in other ways
            raise MediaError(f"undecodable video ({type(exc).__name__}): {exc}") from exc
        finally:
            container.close()


@contextmanager
def _opened(source: str | bytes | Path) -> Iterator[IO[bytes]]:
    if isinstance(source, bytes):
        if not source:
            raise MediaError("empty file (0 bytes)")
        yield io.BytesIO(source)
        return
    try:
        with Path(source).open("rb") as handle:
            yield handle  # an OSError while FFmpeg reads comes from the file too
    except OSError as exc:
        raise MediaError(f"cannot read file: {exc.strerror or exc}") from exc


def _open_container(handle: IO[bytes]) -> av.container.InputContainer:
    try:
        container = av.open(handle, mode="r", io_open=_refuse_nested_open)
    except av.FFmpegError as exc:
        raise MediaError(f"unreadable video: {_ffmpeg_reason(exc)}") from exc
    except Exception as exc:  # PyAV wraps most failures, but a hostile file may find others
        raise MediaError(f"unreadable video ({type(exc).__name__}): {exc}") from exc
    if set(container.format.name.split(",")) & _REFERENCE_FORMATS:
        container.close()
        raise MediaError(f"not a video but a list of other files ({container.format.name})")
    return container


def _sample(
    container: av.container.InputContainer,
    limits: Limits,
    fps: float,
    max_seconds: float,
    max_decoded_frames: int,
    decode_threads: int,
    report: DecodeReport,
) -> Iterator[SampledFrame]:
    if not container.streams.video:
        return
    stream = container.streams.video[0]
    report.has_video = True
    context = stream.codec_context
    if context is None:
        raise MediaError("video stream of an unknown codec")
    report.codec = context.name or ""
    if context.width * context.height > limits.max_pixels:
        raise MediaError(
            f"video frames of {context.width}x{context.height} pixels are over the limit of "
            f"{limits.max_pixels}"
        )
    context.thread_type = "AUTO"
    context.thread_count = decode_threads
    clock = _Clock(stream)
    aspect = stream.sample_aspect_ratio or context.sample_aspect_ratio
    if aspect is not None and not Fraction(1, 10) <= aspect <= 10:
        aspect = None  # a hostile header must not make us scale a frame a thousandfold
    next_tick = 0.0
    last_error = ""
    packets = container.demux(stream)
    while report.stopped is None:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.FFmpegError as exc:  # a damaged container: what was read so far counts
            last_error = _ffmpeg_reason(exc)
            report.stopped = f"unreadable container data: {last_error}"
            break
        skip = clock.skip_for(packet, next_tick - SKIP_MARGIN)
        if context.skip_frame != skip:
            context.skip_frame = skip
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            report.bad_packets += 1
            last_error = _ffmpeg_reason(exc)
            if report.bad_packets > MAX_BAD_PACKETS:
                report.stopped = f"too many damaged packets ({last_error})"
            continue
        for frame in frames:
            if frame.width * frame.height > limits.max_pixels:  # the size changed mid-stream
                report.stopped = f"a frame of {frame.width}x{frame.height} pixels is over the limit"
                break
            report.decoded_frames += 1
            ts = clock.frame_ts(frame)
            if ts > max_seconds:
                report.stopped = f"only the first {max_seconds:g} s of video were read"
                break
            report.last_ts = max(report.last_ts, ts)
            if ts + 1e-6 >= next_tick:
                next_tick = (math.floor(ts * fps + 1e-6) + 1) / fps
                report.sampled_frames += 1
                yield SampledFrame(ts=ts, image=_picture(frame, aspect, report.codec))
            if report.decoded_frames >= max_decoded_frames:
                report.stopped = f"only the first {max_decoded_frames} frames were decoded"
                break
    if report.decoded_frames == 0:
        reason = f": {last_error}" if last_error else ""
        raise MediaError(f"no decodable frame in the video stream{reason}")


class _Clock:
    """Seconds since the first frame, for frames and (before decoding) for packets."""

    def __init__(self, stream: av.VideoStream) -> None:
        rate = float(stream.guessed_rate or 0)
        # Only used where timestamps fail; a hostile header may claim anything.
        self._period = 1.0 / rate if 0.01 <= rate <= 1000 else 1.0 / 25
        self._time_base = stream.time_base
        self._origin: float | None = None
        self._previous: float | None = None

    def frame_ts(self, frame: av.VideoFrame) -> float:
        """The frame's time; one frame period on where timestamps are missing or stall.

        Damaged or badly muxed files carry missing, repeated or backward timestamps; taken
        as they are, a whole video would collapse onto one instant and give one sample.
        """
        time: float | None = frame.time  # None at run time where the frame has no pts
        previous = self._previous
        if previous is None:
            self._origin = time if time is not None else 0.0
            ts = 0.0
        elif time is not None and self._origin is not None and time - self._origin > previous:
            ts = time - self._origin
        else:
            ts = previous + self._period
        self._previous = ts
        return ts

    def skip_for(self, packet: av.Packet[av.VideoStream], limit: float) -> _Skip:
        """``skip_frame`` for this packet: NONREF if its frame shows before ``limit``.

        A frame that no other frame refers to and that shows before the next sampling tick
        can never be sampled, so it need not be decoded. Everything else is decoded: the
        first frame after each tick is then exactly the one a full decode would give.
        """
        if self._origin is None or packet.pts is None or self._time_base is None:
            return "DEFAULT"
        return "NONREF" if float(packet.pts * self._time_base) - self._origin < limit else "DEFAULT"


def _picture(frame: av.VideoFrame, aspect: Fraction | None, codec: str) -> DecodedImage:
    """The frame as a display-shaped, upright RGB picture of about the photo decode's size."""
    width, height = frame.width, frame.height
    if aspect is not None and aspect != 1:
        width = max(1, int(width * aspect))  # as probe_video reports it
    factor = max(min(width, height) // TARGET_SIDE, -(-max(width, height) // MAX_SIDE))
    out_w, out_h = (width // factor, height // factor) if factor >= 2 else (width, height)
    rgb = frame.reformat(width=out_w, height=out_h, format="rgb24", interpolation="AREA")
    pixels = Image.fromarray(rgb.to_ndarray())
    for step in _display_transposes(frame):
        pixels = pixels.transpose(step)
    if pixels.size != (out_w, out_h):
        width, height = height, width
    return DecodedImage(pixels=pixels, width=width, height=height, format=codec)


def _display_transposes(frame: av.VideoFrame) -> tuple[Image.Transpose, ...]:
    """The turns and flips that make the frame upright, as FFmpeg's ``-autorotate`` does.

    Read from the frame's display matrix (AV_FRAME_DATA_DISPLAYMATRIX, which FFmpeg copies
    from the container's rotation tag): ``VideoFrame.rotation`` alone loses mirroring.
    Angles that are not a multiple of 90 degrees are left alone.
    """
    matrix: tuple[int, ...] | None = None
    entries: Any = frame.side_data  # a mapping of SideData at run time; typed as one entry
    for side in entries:
        if side.type.name == "DISPLAYMATRIX" and len(bytes(side)) == 36:
            matrix = struct.unpack("<9i", bytes(side))
    if matrix is None:
        return ()
    scale_x = math.hypot(matrix[0], matrix[3])
    scale_y = math.hypot(matrix[1], matrix[4])
    if not scale_x or not scale_y:
        return ()
    # fftools' get_rotation(): minus av_display_rotation_get(), i.e. clockwise degrees.
    theta = round(math.degrees(math.atan2(matrix[1] / scale_y, matrix[0] / scale_x))) % 360
    if abs(theta - 90) < 1:
        return (Image.Transpose.TRANSPOSE,) if matrix[3] > 0 else (Image.Transpose.ROTATE_270,)
    if abs(theta - 270) < 1:
        return (Image.Transpose.TRANSVERSE,) if matrix[3] < 0 else (Image.Transpose.ROTATE_90,)
    if abs(theta - 180) < 1:
        return ((_FLIP,) if matrix[0] < 0 else ()) + ((_FLOP,) if matrix[4] < 0 else ())
    if theta < 1 or theta > 359:
        return (_FLOP,) if matrix[4] < 0 else ()
    return ()
