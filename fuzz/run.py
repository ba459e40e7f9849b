"""``make fuzz``: every target under atheris for a bounded time, then a summary.

Usage: ``python -m fuzz.run [--seconds 60] [--timeout 5] [--targets exif,vics]``. Each target
runs in its own process (libFuzzer owns the process) on one core, from the seeds of
:mod:`fuzz.seeds` plus the corpus grown by earlier runs (``fuzz/work/corpus``). When an input
crashes, it is kept under ``fuzz/work/crashes/TARGET/`` and fuzzing goes on for the rest of
the target's time, so one run can find several distinct crashes; a crash found a second time
ends the target, unless ``--keep-going`` (to explore past a known, unfixed bug). The exit
status is 1 when any target crashed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fuzz.harness import TARGETS, WORK
from fuzz.seeds import write_seeds

REPO = Path(__file__).resolve().parent.parent
#: At most this many restarts after crashes per target; a target also stops at the first
#: crash it has already reported (it would only find it again), unless told to keep going.
MAX_RESTARTS = 8
#: Restarts allowed with ``--keep-going`` (exploring past known crashes until time is up).
MAX_RESTARTS_KEEP_GOING = 500
_EXECUTED = re.compile(r"^stat::number_of_executed_units:\s*(\d+)", re.MULTILINE)
_PROGRESS = re.compile(r"^#(\d+)\s", re.MULTILINE)
_ARTIFACT = re.compile(r"Test unit written to (\S+)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")
_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+)', re.MULTILINE)


@dataclass(slots=True)
class Crash:
    signature: str
    artifact: str | None
    log: Path


@dataclass(slots=True)
class Outcome:
    target: str
    executions: int = 0
    seconds: float = 0.0
    crashes: list[Crash] = field(default_factory=list)


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _signature(log: str) -> str:
    """A short name for a crash: the exception and where it was raised, or libFuzzer's kind."""
    marker = "=== Uncaught Python exception: ==="
    if marker in log:
        after = log.split(marker, 1)[1]
        lines = [line for line in after.splitlines() if line.strip()]
        exception = lines[0].strip() if lines else "exception"
        frames = [
            frame
            for frame in _FRAME.findall(after.split("ERROR: libFuzzer", 1)[0])
            if not frame[0].endswith("contract.py")
        ]
        where = ""
        if frames:
            path, line = frames[-1]
            where = f" at {os.path.relpath(path, REPO)}:{line}"
        exception = _NUMBER.sub("N", exception)  # one bug, whatever values it shows
        return f"{exception[:160]}{where}"
    for kind in ("timeout", "out-of-memory", "deadly signal", "malloc limit"):
        if f"ERROR: libFuzzer: {kind}" in log:
            return kind
    return "the fuzzer process failed (see its log)"


def _executions(log: str) -> int:
    found = _EXECUTED.findall(log) or _PROGRESS.findall(log)
    return max((int(count) for count in found), default=0)


def fuzz_target(
    name: str, seconds: int, timeout: int, rss_mb: int, keep_going: bool = False
) -> Outcome:
    target = TARGETS[name]
    seeds, corpus = WORK / "seeds" / name, WORK / "corpus" / name
    crashes, logs = WORK / "crashes" / name, WORK / "logs"
    for folder in (corpus, crashes, logs):
        folder.mkdir(parents=True, exist_ok=True)
    for old_log in logs.glob(f"{name}-*.log"):
        old_log.unlink()
    write_seeds(name, seeds)
    outcome = Outcome(name)
    deadline = time.monotonic() + seconds
    restarts = MAX_RESTARTS_KEEP_GOING if keep_going else MAX_RESTARTS
    for attempt in range(restarts + 1):
        left = int(deadline - time.monotonic())
        if left < 1:
            break
        log_path = logs / f"{name}-{attempt}.log"
        command = [
            sys.executable,
            "-m",
            "fuzz.harness",
            name,
            f"-max_total_time={left}",
            f"-timeout={timeout}",
            f"-rss_limit_mb={rss_mb}",
            f"-max_len={target.max_len}",
            "-workers=1",
            "-print_final_stats=1",
            f"-artifact_prefix={crashes}/",
            str(corpus),
            str(seeds),
        ]
        started = time.monotonic()
        with log_path.open("w") as log_file:
            result = subprocess.run(
                command, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT, check=False
            )
        outcome.seconds += time.monotonic() - started
        log = log_path.read_text(errors="replace")
        outcome.executions += _executions(log)
        if result.returncode == 0:
            break
        artifact = _ARTIFACT.search(log)
        crash = Crash(_signature(log), artifact.group(1) if artifact else None, log_path)
        repeated = any(seen.signature == crash.signature for seen in outcome.crashes)
        outcome.crashes.append(crash)
        if not repeated:
            _say(f"  {name}: crash: {crash.signature} -> {crash.artifact}")
        if artifact is None or (repeated and not keep_going):
            break  # the fuzzer failed, or keeps finding the same crash: more time is wasted
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "60")), metavar="N"
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=int(os.environ.get("FUZZ_TIMEOUT", "5")),
        metavar="S",
        help="seconds one input may take before it counts as a hang",
    )
    parser.add_argument("--rss-mb", type=int, default=2048, help="memory limit of a target")
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="restart after a crash already reported, to explore past known bugs",
    )
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated names")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.targets.split(",") if name.strip()]
    unknown = [name for name in names if name not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; known: {', '.join(TARGETS)}")
    outcomes = []
    for name in names:
        _say(f"fuzzing {name} for {args.seconds} s")
        outcomes.append(fuzz_target(name, args.seconds, args.timeout, args.rss_mb, args.keep_going))
    _say(f"\n{'target':<10} {'seconds':>8} {'executions':>11} {'crashes':>8}")
    for outcome in outcomes:
        distinct = {crash.signature for crash in outcome.crashes}
        _say(
            f"{outcome.target:<10} {outcome.seconds:>8.0f} {outcome.executions:>11} "
            f"{len(distinct):>8}"
        )
    crashed = [outcome for outcome in outcomes if outcome.crashes]
    for outcome in crashed:
        seen: set[str] = set()
        for crash in outcome.crashes:
            if crash.signature not in seen:
                seen.add(crash.signature)
                _say(f"{outcome.target}: {crash.signature}\n    input: {crash.artifact}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
