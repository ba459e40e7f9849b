"""The issue's "Done when", tried as a new user would: examples/api_walkthrough.sh, run with
bash and curl against a real ``vident serve`` on a free loopback port.

The script bootstraps the first administrator, makes two agencies and an analyst in each, and
has the first upload a zip, watch the job, read its triage, make a series of the pictures and
identify its victim; the second agency's analyst then uploads a copy and a changed copy of one
of those pictures and must see them triaged as known and near with "victim identified by ...",
while the first agency's unshared case answers 404. Last, the audit trail verifies, is edited
in the SQLite store, and fails to verify. The README shows the same steps; a test here keeps
its section naming every route the script calls.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.conftest import jpeg_bytes

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "api_walkthrough.sh"
README = ROOT / "README.md"
API_DOC = ROOT / "docs" / "api.md"
VIDENT = Path(sys.executable).parent / "vident"
SECTION = "## The REST API, step by step"

needs_curl = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("bash") is None,
    reason="the walkthrough is a bash script over curl",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _changed(jpeg: bytes) -> bytes:
    """The same picture a little smaller and recompressed: a near copy, not an exact one."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    buffer = io.BytesIO()
    image.resize((image.width * 7 // 8, image.height * 7 // 8)).save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


def _seizures(folder: Path) -> tuple[Path, Path]:
    """The first agency's zip of three pictures, and the second's: a copy and a changed copy
    of the first picture."""
    pictures = [jpeg_bytes(seed) for seed in (11, 12, 13)]
    first, second = folder / "first.zip", folder / "second.zip"
    with zipfile.ZipFile(first, "w") as archive:
        for number, picture in enumerate(pictures, 1):
            archive.writestr(f"exhibit/IMG_{number:04d}.jpg", picture)
    with zipfile.ZipFile(second, "w") as archive:
        archive.writestr("copy.jpg", pictures[0])
        archive.writestr("changed.jpg", _changed(pictures[0]))
    return first, second


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C as a user would, then kill the server if it has not ended in 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_for_health(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"vident serve did not answer on {url} (exit {process.poll()})")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``vident serve`` on a fresh data directory: its URL and the environment it runs in
    (PDQ only and one worker, so the two ingest jobs take seconds)."""
    env = {
        **os.environ,
        "VIDENT_DATA": str(tmp_path / "data"),
        "VIDENT_SIGNALS": "pdq",
        "VIDENT_WORKERS": "1",
    }
    env.pop("VIDENT_DB", None)
    subprocess.run([str(VIDENT), "init"], env=env, check=True, capture_output=True, timeout=120)
    url = f"http://127.0.0.1:{_free_port()}"
    process = subprocess.Popen(
        [str(VIDENT), "serve", "--port", url.rsplit(":", 1)[1]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_health(process, url)
        yield url, env
    finally:
        _stop(process)
    assert process.returncode is not None, "the server was left running"


@needs_curl
def test_walkthrough_runs_end_to_end_against_a_real_server(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = server
    first, second = _seizures(tmp_path)
    script_env = {
        **env,
        "VIDENT_URL": url,
        "VIDENT": str(VIDENT),
        "PYTHON": sys.executable,
        "FIRST_ZIP": str(first),
        "SECOND_ZIP": str(second),
    }
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        env=script_env,
        capture_output=True,
        text=True,
        timeout=150,
        cwd=tmp_path,
    )
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}"

    # The first agency's upload: a job that ends done, three new pictures.
    assert re.search(r"job 1: done, 3 of 3 files, 0 errors", out), out
    assert "triage of EX1: known 0, near 0, related 0, new 3, error 0" in out
    assert "series BLUE-ROOM unidentified" in out
    assert re.search(r"victim identified: V-\d{4}-\d{4} Kripo Berlin DE \d{4}-\d\d-\d\d", out)

    # The other agency's later seizure: known and near, each saying who identified the victim.
    assert re.search(r"job 2: done, 2 of 2 files, 0 errors", out), out
    assert "triage of NL-7: known 1, near 1, related 0, new 0, error 0" in out
    identified = r"\(series BLUE-ROOM; victim identified by Kripo Berlin, DE, \d{4}-\d\d-\d\d\)"
    assert re.search(rf"second\.zip/copy\.jpg: known {identified}", out), out
    assert re.search(rf"second\.zip/changed\.jpg: near {identified}", out), out

    # Agency scoping: the first agency's unshared case does not exist for the other.
    assert "GET /cases/OP-LANTERN as joost: 404" in out

    # The audit trail verified intact, then broken after the edit of event 2.
    assert re.search(r"audit trail intact: \d+ events", out), out
    assert "audit verify after the edit: FAILED, as it must" in out
    assert "audit trail broken at event 2" in done.stderr
    again = subprocess.run(
        [str(VIDENT), "audit", "verify"], env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 1 and "broken at event 2" in again.stderr


def test_readme_section_shows_every_step_of_the_script() -> None:
    """The README's walkthrough names each route the script calls, and points to the script."""
    text = README.read_text()
    assert text.count(SECTION) == 1
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    steps = [
        "make demo",
        "vident serve",
        "vident admin bootstrap",
        "/auth/login",
        "/agencies",
        "/users",
        "X-CSRF-Token",
        "/jobs?source=",
        "/jobs/",
        "/triage",
        "/series",
        "/media",
        "/victims",
        "/identify",
        "/cases/",
        "vident audit verify",
        "UPDATE audit_event",
        "examples/api_walkthrough.sh",
    ]
    missing = [step for step in steps if step not in section]
    assert not missing, f"the README's walkthrough lacks {missing}"
    script = SCRIPT.read_text()
    for route in ("/auth/login", "/agencies", "/users", "/jobs", "/series", "/victims", "/cases/"):
        assert route in script
    assert "examples/api_walkthrough.sh" in API_DOC.read_text()
