"""Memory stays flat whatever one line of a hash list holds: measured, in a fresh process.

A 50 MB line (a CSV cell, a plain-list line, a VICS ``Comments`` string) used to cost several
times its size while it was split, decoded and parsed. Each file here is imported through the
command line in a child process, after a small warm-up import of the same format (so imports,
the store and the indexes are already paid for), and the child's peak RSS may grow by no more
than a small bound while the big one is read and rejected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
BIG = 50 * 1024 * 1024
GROWTH_LIMIT_KIB = 40 * 1024
CTX = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases"
MD5 = [f"{n:032x}" for n in range(4)]

_CHILD = """
import json, resource, sys
from typer.testing import CliRunner
from vident.cli import app

data, small, big = sys.argv[1:4]
runner = CliRunner()
def run(*args):
    result = runner.invoke(app, ["--data", data, *args])
    return result.exit_code, result.stdout, result.stderr

run("init")
warm = run("hashset", "import", small, "--name", "warm", "-q")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
code, out, err = run("hashset", "import", big, "--name", "big", "-q")
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"warm": warm[0], "code": code, "out": out, "err": err, "grew_kib": grew}))
"""


def _csv(filler: str) -> str:
    return f"md5,comment\n{MD5[0]},a\n{MD5[1]},{filler}\n{MD5[2]},b\n"


def _plain(filler: str) -> str:
    return f"{MD5[0]}\n{filler}\n{MD5[2]}\n"


def _vics(filler: str) -> str:
    media = [{"MD5": MD5[0]}, {"MD5": MD5[1], "Comments": filler}, {"MD5": MD5[2]}]
    return json.dumps({"@odata.context": CTX, "value": media})


@pytest.mark.skipif(sys.platform != "linux", reason="peak RSS is read the Linux way")
@pytest.mark.parametrize(
    ("kind", "writer", "where", "why"),
    [
        ("csv", _csv, "line 3", "the line is longer than 1048576 characters"),
        ("txt", _plain, "line 2", "the line is longer than 1048576 characters"),
        ("json", _vics, "value[1]", "a text value longer than 65536 bytes"),
    ],
)
def test_a_50_mb_line_is_rejected_in_flat_memory(
    tmp_path: Path, kind: str, writer: object, where: str, why: str
) -> None:
    assert callable(writer)
    small, big = tmp_path / f"small.{kind}", tmp_path / f"big.{kind}"
    small.write_text(writer("x"))
    big.write_text(writer("x" * BIG))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "data"), str(small), str(big)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    result = json.loads(child.stdout.splitlines()[-1])
    assert result["warm"] == 0 and result["code"] == 0, result
    assert result["grew_kib"] < GROWTH_LIMIT_KIB, f"peak RSS grew by {result['grew_kib']} KiB"
    assert "2 new entries, 1 rejected" in result["out"]
    assert f"rejected: {where}: " in result["err"] and why in result["err"]
