"""Camera facts read by vident, exifread and ExifTool, scored against the corpus manifest.

A body serial or a date taken that vident does not read is a link between seizures that is
lost, so vident's own reader is compared here with the forensic standard (ExifTool, Debian's
``libimage-exiftool-perl``) and with exifread (pure Python). Every picture of the shared
corpus is read by all three in the same run (``exif/`` first); the manifest's
camera_make/model, serial_number, datetime_original and gps columns are the truth.

Cost per picture is the median of ``--repeats`` timings of each picture, then the median
over pictures (and the mean, which large maker notes pull up). vident and exifread are timed
on bytes already in memory; ExifTool runs as one ``-stay_open`` process fed one file per
request, so its figure is what one more picture costs a running ExifTool, not Perl's start.
``--before PATH`` prints vident's cost and counts from an earlier ``--json`` beside today's.

    .venv/bin/python -m bench.camera_facts [--repeats 5] [--json PATH] [--before PATH]
        [--corpus DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from vident.demo.scenario import default_corpus
from vident.media.exif import read_exif

PICTURE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".heic"}
_DATE = re.compile(r"(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
#: Degrees within which a read GPS position counts as correct (about 10 m).
GPS_TOLERANCE = 1e-4


@dataclass(slots=True)
class Facts:
    """What one reader found in one picture, in a form all three readers can give."""

    make: str | None = None
    model: str | None = None
    #: Body serial candidates, best first, as (tag name, value).
    serials: list[tuple[str, str]] = field(default_factory=list)
    #: Date taken as ``YYYY:MM:DD HH:MM:SS`` and the tag it came from.
    date: tuple[str, str] | None = None
    gps: tuple[float, float] | None = None


@dataclass(slots=True)
class Truth:
    path: Path
    name: str
    make: str
    model: str
    serial: str
    date: str
    gps: tuple[float, float] | None


def normal_date(value: str) -> str | None:
    """``YYYY:MM:DD HH:MM:SS`` of a date in EXIF or ISO form; None for placeholders."""
    match = _DATE.match(value.strip())
    if match is None or match.group(1) == "0000":
        return None
    return "{}:{}:{} {}:{}:{}".format(*match.groups())


def pictures(corpus: Path) -> list[Truth]:
    """Every picture of the manifest, ``exif/`` first."""
    rows: list[Truth] = []
    with (corpus / "manifest.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            path = corpus / row["path"]
            if path.suffix.lower() not in PICTURE_SUFFIXES or not path.is_file():
                continue
            gps = None
            if row["gps_lat"] and row["gps_lon"]:
                gps = (float(row["gps_lat"]), float(row["gps_lon"]))
            rows.append(
                Truth(
                    path,
                    row["path"],
                    row["camera_make"].strip(),
                    row["camera_model"].strip(),
                    row["serial_number"].strip(),
                    row["datetime_original"][:19],
                    gps,
                )
            )
    rows.sort(key=lambda t: (not t.name.startswith("exif/"), t.name))
    return rows


# vident --------------------------------------------------------------------------------


def vident_facts(data: bytes) -> Facts:
    facts = read_exif(data)
    if facts is None:
        return Facts()
    serials = [("body_serial", facts.body_serial)] if facts.body_serial else []
    date = (facts.taken_at.strftime("%Y:%m:%d %H:%M:%S"), "taken_at") if facts.taken_at else None
    gps = None
    if facts.gps_lat is not None and facts.gps_lon is not None:
        gps = (facts.gps_lat, facts.gps_lon)
    return Facts(facts.make, facts.model, serials, date, gps)


# exifread ------------------------------------------------------------------------------

_EXIFREAD_SERIALS = (
    "EXIF BodySerialNumber",
    "Image CameraSerialNumber",
    "MakerNote SerialNumber",
    "MakerNote InternalSerialNumber",
    "MakerNote InternalSerialNumber ",
)


def exifread_facts(data: bytes) -> Facts:
    import exifread

    try:
        tags: dict[str, Any] = exifread.process_file(io.BytesIO(data), details=True)
    except Exception:  # a reader's crash on a damaged file is no facts, as for the others
        return Facts()
    facts = Facts(_tag_text(tags.get("Image Make")), _tag_text(tags.get("Image Model")))
    for name in _EXIFREAD_SERIALS:
        value = _tag_text(tags.get(name))
        if value and set(value) - set("0 "):
            facts.serials.append((name.strip(), value))
    for name in ("EXIF DateTimeOriginal", "Image DateTime"):
        value = normal_date(_tag_text(tags.get(name)) or "")
        if value:
            facts.date = (value, name)
            break
    lat = _exifread_degrees(tags, "GPS GPSLatitude", "S")
    lon = _exifread_degrees(tags, "GPS GPSLongitude", "W")
    if lat is not None and lon is not None:
        facts.gps = (lat, lon)
    return facts


def _tag_text(tag: Any) -> str | None:
    if tag is None:
        return None
    value = str(tag.printable if hasattr(tag, "printable") else tag).strip()
    return value or None


def _exifread_degrees(tags: dict[str, Any], name: str, negative: str) -> float | None:
    tag = tags.get(name)
    if tag is None:
        return None
    try:
        parts = [float(v) for v in tag.values[:3]]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = sum(p / s for p, s in zip(parts, (1.0, 60.0, 3600.0), strict=False))
    ref = _tag_text(tags.get(name + "Ref")) or ""
    return -value if ref.upper().startswith(negative) else value


# ExifTool ------------------------------------------------------------------------------


class ExifTool:
    """One ``exiftool -stay_open`` process: each :meth:`read` is one request, one reply."""

    def __init__(self, binary: str) -> None:
        self.process = subprocess.Popen(
            [binary, "-stay_open", "True", "-@", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def read(self, path: Path) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        request = "\n".join(["-j", "-n", "-G1", "-a", str(path), "-execute", ""])
        self.process.stdin.write(request.encode())
        self.process.stdin.flush()
        lines: list[bytes] = []
        while True:
            line = self.process.stdout.readline()
            if not line or line.strip() == b"{ready}":
                break
            lines.append(line)
        text = b"".join(lines).decode("utf-8", errors="replace").strip()
        if not text:
            return {}
        parsed = json.loads(text)
        return parsed[0] if isinstance(parsed, list) and parsed else {}

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"-stay_open\nFalse\n")
        self.process.stdin.flush()
        self.process.wait(timeout=30)


def exiftool_facts(tags: dict[str, Any]) -> Facts:
    facts = Facts(_first(tags, "Make"), _first(tags, "Model"))
    serials: list[tuple[int, str, str]] = []
    for key, raw in tags.items():
        group, _, name = key.partition(":")
        if not name.endswith("SerialNumber") or "Lens" in name or group == "Composite":
            continue
        value = str(raw).strip()
        if not value or not set(value) - set("0 "):
            continue
        # Standard places first (as vident ranks them), then maker notes, internal serials last.
        rank = 0 if group in ("ExifIFD", "IFD0") else 1 if group.startswith("XMP") else 2
        rank += 3 if name.startswith("Internal") else 0
        serials.append((rank, key, value))
    facts.serials = [(key, value) for _, key, value in sorted(serials, key=lambda s: s[0])]
    for key in sorted(
        (k for k in tags if k.endswith(":DateTimeOriginal")),
        key=lambda k: (k.startswith("Composite"), not k.startswith("ExifIFD")),
    ):
        when = normal_date(str(tags[key]))
        if when:
            facts.date = (when, key)
            break
    modified = normal_date(str(tags.get("IFD0:ModifyDate", "")))
    if facts.date is None and modified:
        facts.date = (modified, "IFD0:ModifyDate")
    # Composite positions are signed (-n gives the GPS group's unsigned ones).
    lat, lon = tags.get("Composite:GPSLatitude"), tags.get("Composite:GPSLongitude")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        facts.gps = (float(lat), float(lon))
    return facts


def _first(tags: dict[str, Any], name: str) -> str | None:
    for group in ("IFD0", "XMP-tiff", "CIFF"):
        value = tags.get(f"{group}:{name}")
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


# scoring -------------------------------------------------------------------------------


def _median_ms(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def score(truths: list[Truth], found: list[Facts]) -> dict[str, int]:
    counts = dict.fromkeys(
        (
            "pictures",
            "serials_true",
            "serials_read",
            "serials_correct",
            "dates_true",
            "dates_read",
            "dates_correct",
            "cameras_true",
            "cameras_correct",
            "gps_true",
            "gps_correct",
        ),
        0,
    )
    for truth, facts in zip(truths, found, strict=True):
        counts["pictures"] += 1
        counts["serials_read"] += bool(facts.serials)
        if truth.serial:
            counts["serials_true"] += 1
            counts["serials_correct"] += bool(facts.serials) and facts.serials[0][1] == truth.serial
        counts["dates_read"] += facts.date is not None
        if truth.date:
            counts["dates_true"] += 1
            counts["dates_correct"] += facts.date is not None and facts.date[0] == truth.date
        if truth.make:
            counts["cameras_true"] += 1
            counts["cameras_correct"] += (facts.make or "").strip() == truth.make and (
                facts.model or ""
            ).strip() == truth.model
        if truth.gps:
            counts["gps_true"] += 1
            counts["gps_correct"] += facts.gps is not None and all(
                abs(a - b) <= GPS_TOLERANCE for a, b in zip(facts.gps, truth.gps, strict=True)
            )
    return counts


def run(repeats: int = 5, corpus: Path | None = None) -> dict[str, Any]:
    """Facts and cost of every reader on every corpus picture; ExifTool only when installed."""
    logging.getLogger("exifread").setLevel(logging.CRITICAL)  # one line per picture otherwise
    root = corpus or default_corpus()
    if root is None:
        raise SystemExit("no corpus: ../shared/corpora is missing")
    truths = pictures(root)
    blobs = [truth.path.read_bytes() for truth in truths]
    readers: dict[str, list[Facts]] = {"vident": [], "exifread": []}
    costs: dict[str, list[float]] = {"vident": [], "exifread": []}
    for data in blobs:
        readers["vident"].append(vident_facts(data))
        costs["vident"].append(_median_ms(lambda d=data: read_exif(d), repeats))  # type: ignore[misc]
        readers["exifread"].append(exifread_facts(data))
        costs["exifread"].append(_median_ms(lambda d=data: exifread_facts(d), repeats))  # type: ignore[misc]
    binary = shutil.which("exiftool")
    exiftool_tags: list[dict[str, Any]] = []
    if binary is not None:
        tool = ExifTool(binary)
        readers["exiftool"], costs["exiftool"] = [], []
        try:
            for truth in truths:
                tags = tool.read(truth.path)
                exiftool_tags.append(tags)
                readers["exiftool"].append(exiftool_facts(tags))
                costs["exiftool"].append(_median_ms(lambda p=truth.path: tool.read(p), repeats))  # type: ignore[misc]
        finally:
            tool.close()
    figures: dict[str, Any] = {"pictures": len(truths), "repeats": repeats, "readers": {}}
    for name, found in readers.items():
        figures["readers"][name] = {
            **score(truths, found),
            "ms_median": statistics.median(costs[name]),
            "ms_mean": statistics.fmean(costs[name]),
            "ms_max": max(costs[name]),
        }
    figures["gaps"] = gaps(truths, readers)
    return figures


def gaps(truths: list[Truth], readers: dict[str, list[Facts]]) -> list[dict[str, str]]:
    """Pictures where ExifTool or exifread reads a serial or a date that vident does not."""
    rows = []
    for index, truth in enumerate(truths):
        ours = readers["vident"][index]
        for name in ("exiftool", "exifread"):
            if name not in readers:
                continue
            theirs = readers[name][index]
            our_serial = ours.serials[0][1] if ours.serials else ""
            if theirs.serials and theirs.serials[0][1] != our_serial:
                tag, value = theirs.serials[0]
                rows.append(_gap(truth.name, name, "serial", tag, value, truth.serial, our_serial))
            our_date = ours.date[0] if ours.date else ""
            if theirs.date and theirs.date[0] != our_date:
                tag, value = theirs.date[1], theirs.date[0]
                rows.append(_gap(truth.name, name, "date", tag, value, truth.date, our_date))
    return rows


def _gap(*values: str) -> dict[str, str]:
    keys = ("picture", "reader", "fact", "tag", "value", "truth", "vident")
    return dict(zip(keys, values, strict=True))


def table(figures: dict[str, Any], before: dict[str, Any] | None = None) -> Table:
    result = Table(
        title=f"camera facts on {figures['pictures']} corpus pictures "
        f"(cost: median of {figures['repeats']} repeats per picture)"
    )
    for column in (
        "reader",
        "serials read",
        "serials correct",
        "dates read",
        "dates correct",
        "make/model correct",
        "GPS correct",
        "ms/picture median",
        "ms mean (max)",
        "x vident",
    ):
        result.add_column(column, justify="left" if column == "reader" else "right")
    rows = dict(figures["readers"])
    if before is not None:
        rows = {"vident (before)": before["readers"]["vident"], **rows}
    base = figures["readers"]["vident"]["ms_median"]
    for name, f in rows.items():
        result.add_row(
            name,
            str(f["serials_read"]),
            f"{f['serials_correct']}/{f['serials_true']}",
            str(f["dates_read"]),
            f"{f['dates_correct']}/{f['dates_true']}",
            f"{f['cameras_correct']}/{f['cameras_true']}",
            f"{f['gps_correct']}/{f['gps_true']}",
            f"{f['ms_median']:.3f}",
            f"{f['ms_mean']:.3f} ({f['ms_max']:.1f})",
            f"{f['ms_median'] / base:.1f}",
        )
    return result


def gap_table(figures: dict[str, Any]) -> Table:
    result = Table(title="serials and dates another reader finds that vident does not")
    for column in ("picture", "reader", "fact", "tag", "value", "manifest", "vident"):
        result.add_column(column)
    for gap in figures["gaps"]:
        result.add_row(
            gap["picture"],
            gap["reader"],
            gap["fact"],
            gap["tag"],
            gap["value"],
            gap["truth"],
            gap["vident"] or "-",
        )
    return result


def report(
    repeats: int = 5, before: dict[str, Any] | None = None, corpus: Path | None = None
) -> dict[str, Any]:
    """Run and print both tables (what ``python -m bench`` calls); the figures."""
    print("camera facts: vident, exifread and ExifTool on the corpus pictures...")
    if shutil.which("exiftool") is None:
        print("ExifTool not installed (apt-get install libimage-exiftool-perl): not compared")
    figures = run(repeats, corpus)
    console = Console(width=160)
    console.print(table(figures, before))
    console.print(gap_table(figures))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.camera_facts", description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="timings per picture and reader")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--before", type=Path, help="an earlier --json, to show vident's change")
    parser.add_argument("--corpus", type=Path, help="default: ../shared/corpora of the clone")
    args = parser.parse_args(argv)
    before = json.loads(args.before.read_text()) if args.before else None
    figures = report(args.repeats, before, args.corpus)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
