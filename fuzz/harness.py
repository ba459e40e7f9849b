"""Runs one fuzz target under atheris: ``python -m fuzz.harness TARGET [libFuzzer args]``.

The target's module is imported inside atheris' instrumentation, so the vident modules it
pulls in (and Pillow's pure-Python parsers for EXIF) report coverage to libFuzzer. Nothing
from vident may be imported before that, or it would run uninstrumented.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

WORK = Path(__file__).resolve().parent / "work"


@dataclass(frozen=True, slots=True)
class Target:
    """One fuzz target: its module, what to instrument, and the largest input worth trying."""

    name: str
    instrument: tuple[str, ...]
    max_len: int


TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        Target("hashlists", ("vident",), 4096),
        Target("vics", ("vident",), 4096),
        Target("walker", ("vident", "zipfile", "tarfile", "gzip"), 16384),
        Target("exif", ("vident", "PIL"), 32768),
        Target("video", ("vident",), 16384),
    )
}


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: python -m fuzz.harness {{{','.join(TARGETS)}}} [libFuzzer args]")
    import atheris  # type: ignore[import-untyped]

    target = TARGETS[argv[1]]
    scratch_root = WORK / "scratch"
    scratch_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=scratch_root))
    with atheris.instrument_imports(include=list(target.instrument)):
        module = importlib.import_module(f"fuzz.target_{target.name}")
    one_input = module.make(scratch)
    atheris.Setup([argv[0], *argv[2:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
