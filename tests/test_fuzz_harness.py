"""The fuzz harnesses (``make fuzz``) still run: every target accepts every one of its seeds.

This is not fuzzing (that stays out of ``make test``); it keeps the harnesses from rotting
when a reader's signature changes, and proves the seeds are inputs the contracts accept.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz import run
from fuzz.harness import TARGETS
from fuzz.seeds import SEEDS


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_seed_passes_its_target(name: str, tmp_path: Path) -> None:
    module = __import__(f"fuzz.target_{name}", fromlist=["make"])
    one_input = module.make(tmp_path)
    seeds = SEEDS[name]()
    assert len(seeds) >= 4
    for seed_name, data in seeds.items():
        assert len(data) <= TARGETS[name].max_len, seed_name
        one_input(data)


def test_crash_signatures_name_the_exception_and_where() -> None:
    log = (
        "INFO: Seed: 1\n === Uncaught Python exception: ===\n"
        "IndexError: index 7 out of range\nTraceback (most recent call last):\n"
        f'  File "{run.REPO}/src/vident/media/ifd.py", line 12, in at\n'
        "==1== ERROR: libFuzzer: fuzz target exited\n"
    )
    assert run._signature(log) == "IndexError: index N out of range at src/vident/media/ifd.py:12"
    assert run._signature("==1== ERROR: libFuzzer: timeout after 5 seconds") == "timeout"
