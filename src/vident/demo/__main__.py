"""``make demo``: build a demo seizure from benign pictures, run vident on it, check the triage.

The commands run as subprocesses (``python -m vident ...``), exactly as a user would type them,
so the demo proves the installed command line and not some internal shortcut. An earlier case
is ingested before the seizure, so the triage can show material *related* to it. The demo ends
by comparing the triage with the verdict (and the reason) each file was made for and says
whether all agree; its exit status is 0 only then, so it doubles as an end-to-end check. The
next steps it prints are real commands on real files of the demo: what to compare and connect.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from vident.demo.scenario import (
    ERROR,
    KNOWN,
    NEAR,
    NEW,
    RELATED,
    Scenario,
    ScenarioItem,
    build_scenario,
    check_triage,
    default_corpus,
)

#: Marks a directory as made by the demo, so a rerun may wipe it without asking.
MARKER = ".vident-demo"

console = Console(highlight=False)


class DemoError(Exception):
    """A step failed; the message says which and how to go on."""


def _prepare(data: Path, fresh: bool) -> None:
    """Start from an empty data directory, never wiping one the demo did not make."""
    if data.exists():
        made_by_demo = (data / MARKER).exists()
        empty = data.is_dir() and not any(data.iterdir())
        if not (made_by_demo or empty or fresh):
            raise DemoError(
                f"{data} exists and was not made by the demo; choose another --data "
                "or pass --fresh to wipe it"
            )
        if data.is_dir():
            shutil.rmtree(data)
        else:
            data.unlink()
    data.mkdir(parents=True)
    (data / MARKER).write_text("made by python -m vident.demo; wiped on the next run\n")


def _shown(data: Path, args: list[str]) -> str:
    return shlex.join(["vident", "--data", str(data), *args])


def _vident(data: Path, *args: str, capture: bool = False) -> str:
    """Run one vident command as a user would; its output goes to the terminal unless captured."""
    console.print(f"[bold]$ {escape(_shown(data, list(args)))}[/]", soft_wrap=True)
    command = [sys.executable, "-m", "vident", "--data", str(data), *args]
    sys.stdout.flush()  # keep our lines and the child's in order when piped
    result = subprocess.run(
        command,
        stdout=subprocess.PIPE if capture else None,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DemoError(f"'{_shown(data, list(args))}' failed with exit status {result.returncode}")
    return result.stdout or ""


def _describe(scenario: Scenario) -> None:
    made = Counter(item.verdict for item in scenario.items)
    known = Counter(i.verdict for i in scenario.items if i.linked_to == scenario.hashset_name)
    linked = [item for item in scenario.items if item.linked_to == scenario.earlier_name]
    to_earlier = Counter(item.verdict for item in linked)
    source = f"the benign corpus in {scenario.corpus}" if scenario.corpus else "generated pictures"
    lines = [
        f"pictures from {source}",
        f"hash set {scenario.hashset_name}: {len(scenario.reference)} known pictures "
        f"-> {scenario.hashset_csv}",
        f"earlier case {scenario.earlier_name}: {len(scenario.earlier)} files in "
        f"{scenario.earlier_dir}, ingested before the seizure:",
        *(f"  {file.path.name}: {file.how}" for file in scenario.earlier),
        f"seizure {scenario.source_name}: {len(scenario.items)} files in "
        f"{scenario.seizure_dir} ({', '.join(scenario.containers[:2])}, one zip nested): "
        f"{known[KNOWN]} copies of known pictures, {known[NEAR]} edited copies "
        f"(resized, recompressed, flipped, rotated, greyscale), {made[NEW]} unrelated pictures, "
        f"{made[ERROR]} broken files; {to_earlier[RELATED]} related to the earlier case and "
        f"{to_earlier[NEAR]} near duplicates of it:",
        *(
            f"  {item.path}: {item.verdict} ({', '.join(item.signals)}), {item.how}"
            for item in linked
        ),
    ]
    if scenario.corpus is None:
        lines.append(
            "  without the corpus there are no faces and no videos: the person and video "
            "items are left out"
        )
    lines.append(f"expected verdicts, kept outside the seizure: {scenario.expected_json}")
    for line in lines:
        console.print(line, markup=False)


def _script() -> str:
    """How the user calls vident from here: the venv's script if there is one."""
    script = Path(sys.executable).with_name("vident")
    if not script.exists():
        return "vident"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


#: What the next steps show with ``vident similar``: (reason signal of a seizure file linked
#: to the earlier case, ``--by``, what the command finds).
_SIMILAR = (
    ("face", "face", "the other pictures of this person, in the earlier case and the seizure"),
    ("scene", "scene", "the place of this picture, seen from another angle in the earlier case"),
    ("keypoints", "pdq", "the picture this one was cropped from (local features; PDQ misses it)"),
    ("serial", "camera", "the picture taken with the same camera body (EXIF body serial)"),
    ("vpdq", "pdq", "the video this one was re-encoded from (keyframe hashes, vPDQ-style)"),
)


def _linked(scenario: Scenario, signal: str) -> ScenarioItem | None:
    """The first seizure file made to be linked to the earlier case by ``signal``."""
    return next(
        (
            item
            for item in scenario.items
            if signal in item.signals and item.linked_to == scenario.earlier_name
        ),
        None,
    )


def _next_steps(scenario: Scenario) -> None:
    data = scenario.data_dir
    vident = f"{_script()} --data {shlex.quote(str(data))}"

    def show(what: str, *args: str) -> None:
        console.print(what, markup=False)
        console.print(f"  {vident} {shlex.join(args)}", soft_wrap=True, markup=False)

    near = next(
        (
            i
            for i in scenario.items
            if i.verdict == NEAR and i.linked_to == scenario.hashset_name and "/" not in i.path
        ),
        scenario.items[0],
    )
    console.rule("next steps")
    show(
        f"what is known about one picture ({near.how}):",
        "search",
        str(scenario.seizure_dir / near.path),
    )
    for signal, by, what in _SIMILAR:
        item = _linked(scenario, signal)
        if item is not None:
            show(f"{what}:", "similar", str(scenario.seizure_dir / item.path), "--by", by)
    related = _linked(scenario, "face") or _linked(scenario, "serial")
    if related is not None:
        sha256 = hashlib.sha256((scenario.seizure_dir / related.path).read_bytes()).hexdigest()
        show(f"every strong link of one file ({related.path}), by its SHA-256:", "related", sha256)
    if _linked(scenario, "face") is not None:
        show("person candidates: the faces of both cases, clustered:", "people")
    show("pictures whose recognised text has a word:", "text", scenario.text_query)
    show(
        "the triage with every reason, for other tools:",
        "triage",
        "--source",
        scenario.source_name,
        "--format",
        "json",
    )
    vics = data / f"{scenario.source_name}.vics.json"
    show(
        "hashes and metadata in Project VIC VICS 2.0 JSON:",
        "export",
        "vics",
        "--source",
        scenario.source_name,
        "-o",
        str(vics),
    )
    show(
        "the first administrator (prints a password, a TOTP enrolment and recovery codes):",
        "admin",
        "bootstrap",
        "--username",
        "admin",
    )
    show(
        "the analyst's workspace: open http://127.0.0.1:8000/login and sign in as admin "
        "(the REST API for other tools is on http://127.0.0.1:8000/api/v1):",
        "serve",
    )


def run(data: Path, fresh: bool, corpus_dir: Path | None = None) -> int:
    corpus = default_corpus(corpus_dir)
    console.rule("vident demo")
    _prepare(data, fresh)
    started = time.perf_counter()
    with console.status("building the demo seizure..."):
        scenario = build_scenario(data, corpus)
    console.print(f"built in {time.perf_counter() - started:.1f} s")
    _describe(scenario)

    console.rule("load")
    _vident(data, "init")
    _vident(data, "hashset", "import", str(scenario.hashset_csv), "--name", scenario.hashset_name)
    _vident(data, "ingest", str(scenario.earlier_dir), "--source", scenario.earlier_name)
    _vident(data, "ingest", str(scenario.seizure_dir), "--source", scenario.source_name)

    console.rule("triage")
    _vident(data, "triage", "--source", scenario.source_name)
    report: dict[str, Any] = json.loads(
        _vident(data, "triage", "--source", scenario.source_name, "--format", "json", capture=True)
    )
    problems = check_triage(scenario, report)
    if problems:
        console.print(f"[bold red]{len(problems)} verdicts differ from the expected ones:[/]")
        for problem in problems:
            console.print(f"  {problem}", markup=False)
    else:
        console.print(
            f"[bold green]all {len(scenario.items)} verdicts as expected, "
            "each with the reason it was made for[/]"
        )
    _next_steps(scenario)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vident.demo",
        description="Build a demo seizure from benign pictures, ingest it and show its triage. "
        "The data directory is rebuilt on every run.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("demo-data"),
        help="demo data directory (default: demo-data)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="wipe --data even if it was not made by the demo",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="folder of benign sample pictures (default: ../shared/corpora of the clone)",
    )
    args = parser.parse_args(argv)
    try:
        return run(args.data, args.fresh, args.corpus)
    except DemoError as exc:
        console.print(f"[bold red]demo stopped:[/] {escape(str(exc))}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
