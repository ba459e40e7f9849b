"""``vident serve`` as a user runs it: a real uvicorn process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

VIDENT = Path(sys.executable).parent / "vident"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Interrupt the server as Ctrl-C would, then kill it if it has not ended in 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_serve_answers_health_on_loopback_and_stops(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "VIDENT_DATA": str(data)}
    subprocess.run([str(VIDENT), "init"], env=env, check=True, capture_output=True, timeout=120)
    port = _free_port()
    process = subprocess.Popen(
        [str(VIDENT), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        answer: httpx.Response | None = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None, process.stderr.read() if process.stderr else ""
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
        assert answer.headers["x-content-type-options"] == "nosniff"
        refused = httpx.get(f"http://127.0.0.1:{port}/api/v1/sources", timeout=5)
        assert refused.status_code == 401
    finally:
        _stop(process)
    assert process.returncode is not None
    said = process.stderr.read().decode() if process.stderr else ""
    assert "no users yet" in said and "vident admin bootstrap USERNAME" in " ".join(said.split())


def test_serve_without_a_store_says_how_to_make_one(tmp_path: Path) -> None:
    env = {**os.environ, "VIDENT_DATA": str(tmp_path / "empty")}
    done = subprocess.run(
        [str(VIDENT), "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "initialise it first (vident init)" in lines[0], done.stderr
