"""Hash lists in and VICS out through the REST API, on both stores.

A hash list uploaded over HTTP is imported as the command line imports it, exported back as
VICS and that export imported again; a source is downloaded as VICS with its export audited.
The upload of a large list is fed to the app a chunk at a time while Python's allocations are
traced: the route must stream it to disk, never hold it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI

from tests.api_support import API, Api, api_over, problem
from tests.conftest import write_jpeg
from vident.config import Settings
from vident.media.runtime import scratch_dir
from vident.service.sources import ingest_source

MD5 = [hashlib.md5(f"known {n}".encode()).hexdigest() for n in range(3)]
SHA256 = [hashlib.sha256(f"known {n}".encode()).hexdigest() for n in range(3)]
CSV = "md5,sha256,category,series,comment\n" + "".join(
    f"{m},{s},2,S-{n},entry {n}\n" for n, (m, s) in enumerate(zip(MD5, SHA256, strict=True))
)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


def _scratch_is_empty(api: Api) -> bool:
    folder = scratch_dir(api.ctx.settings)
    return not folder.exists() or not any(folder.iterdir())


def _import(api: Api, who: str, name: str, content: bytes, filename: str) -> dict[str, object]:
    answer = api.client.post(
        f"{API}/hashsets",
        params={"name": name},
        files={"file": (filename, content, "text/csv")},
        headers=api.bearer(who),
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def _sets(api: Api) -> dict[str, dict[str, object]]:
    listed = api.client.get(f"{API}/hashsets", headers=api.bearer("vera")).json()
    return {s["name"]: s for s in listed["hashsets"]}


def test_a_hash_list_is_imported_exported_and_imported_again(api: Api) -> None:
    broken = CSV + "not-a-hash,,,,\n"
    imported = _import(api, "ana", "national", broken.encode(), "national.csv")
    assert (imported["records"], imported["new_entries"], imported["rejected"]) == (3, 3, 1)
    assert imported["format"] == "csv" and imported["fatal"] is None
    listed = _sets(api)["national"]
    assert (listed["entries"], listed["status"], listed["origin"]) == (
        3,
        "complete",
        "national.csv",
    )
    assert _import(api, "ana", "national", CSV.encode(), "again.csv")["new_entries"] == 0
    assert _scratch_is_empty(api)

    export = api.client.get(f"{API}/hashsets/national/export", headers=api.bearer("ana"))
    assert export.status_code == 200, export.text
    assert export.headers["content-type"] == "application/json"
    assert export.headers["content-disposition"] == 'attachment; filename="national.vics.json"'
    (case,) = export.json()["value"]
    assert case["CaseNumber"] == "national" and case["TotalMediaFiles"] == 3
    media = sorted(case["Media"], key=lambda m: m["Series"])
    assert [m["MD5"] for m in media] == [m.upper() for m in MD5]
    assert [(m["Category"], m["Series"], m["Comments"]) for m in media] == [
        (2, f"S-{n}", f"entry {n}") for n in range(3)
    ]
    assert [m["AlternativeHashes"] for m in media] == [
        [{"HashName": "SHA256", "HashValue": s}] for s in SHA256
    ]
    assert _scratch_is_empty(api)

    again = _import(api, "ana", "copy", export.content, "national.vics.json")
    assert (again["format"], again["new_entries"], again["rejected"]) == ("vics", 3, 0)
    assert _sets(api)["copy"]["entries"] == 3


def test_hash_set_refusals(api: Api) -> None:
    files = {"file": ("list.txt", ("ab" * 32 + "\n").encode(), "text/plain")}
    by_viewer = api.client.post(
        f"{API}/hashsets", params={"name": "mine"}, files=files, headers=api.bearer("vera")
    )
    assert problem(by_viewer, 403)
    assert "mine" not in _sets(api)
    unnamed = api.client.post(f"{API}/hashsets", files=files, headers=api.bearer("ana"))
    assert problem(unnamed, 422)
    bad_kind = api.client.post(
        f"{API}/hashsets",
        params={"name": "mine", "kind": "md7"},
        files=files,
        headers=api.bearer("ana"),
    )
    assert "md7" in str(problem(bad_kind, 422)["detail"])
    missing = api.client.get(f"{API}/hashsets/nothing/export", headers=api.bearer("ana"))
    assert problem(missing, 404)["detail"] == "no hash set named 'nothing'"
    _import(api, "ana", "seen", CSV.encode(), "seen.csv")
    viewer_export = api.client.get(f"{API}/hashsets/seen/export", headers=api.bearer("vera"))
    assert problem(viewer_export, 403)
    assert _scratch_is_empty(api)


def test_a_source_is_downloaded_as_vics_and_the_export_audited(api: Api, tmp_path: Path) -> None:
    folder = tmp_path / "ex1"
    pictures = [write_jpeg(folder / f"p{seed}.jpg", seed) for seed in (1, 2)]
    ingest_source(api.ctx, folder, "EX1", workers=1, signals=("pdq",))

    export = api.client.get(
        f"{API}/exports/vics", params={"source": "EX1"}, headers=api.bearer("ana")
    )
    assert export.status_code == 200, export.text
    assert export.headers["content-disposition"] == 'attachment; filename="EX1.vics.json"'
    (case,) = export.json()["value"]
    assert case["CaseNumber"] == "EX1" and case["TotalMediaFiles"] == 2
    sha256s = {
        h["HashValue"]
        for m in case["Media"]
        for h in m["AlternativeHashes"]
        if h["HashName"] == "SHA256"
    }
    assert sha256s == {hashlib.sha256(p.read_bytes()).hexdigest() for p in pictures}
    assert sorted(f["FilePath"] for m in case["Media"] for f in m["MediaFiles"]) == [
        "p1.jpg",
        "p2.jpg",
    ]
    assert _scratch_is_empty(api)
    events = api.client.get(
        f"{API}/audit", params={"action": "export.vics"}, headers=api.bearer("aud")
    ).json()["events"]
    assert [(e["actor"], e["target"], e["outcome"]) for e in events] == [("ana", "EX1", "ok")]

    unknown = api.client.get(
        f"{API}/exports/vics", params={"source": "NOPE"}, headers=api.bearer("ana")
    )
    assert "NOPE" in str(problem(unknown, 404)["detail"])
    by_viewer = api.client.get(
        f"{API}/exports/vics", params={"source": "EX1"}, headers=api.bearer("vera")
    )
    assert problem(by_viewer, 403)
    assert problem(api.client.get(f"{API}/exports/vics", headers=api.bearer("ana")), 422)
    assert _scratch_is_empty(api)


# --- a large upload, a chunk at a time ------------------------------------------------------

BOUNDARY = "vident-test-boundary"
CHUNK = 64 * 1024
BIG = 24 * 1024 * 1024
#: Python allocations allowed at the peak of importing the big upload (a fraction of its size).
PEAK_LIMIT = 6 * 1024 * 1024


def _multipart(filename: str, head: bytes, filler: int) -> tuple[int, Iterator[bytes]]:
    """A multipart body holding one file: ``head``, then ``filler`` bytes of one long line."""
    opening = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    closing = f"\r\n--{BOUNDARY}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield opening + head
        left = filler
        while left > 0:
            size = min(CHUNK, left)
            yield b"x" * size
            left -= size
        yield b"\n" + closing

    return len(opening) + len(head) + filler + 1 + len(closing), chunks()


async def _post(
    app: FastAPI, path: str, query: dict[str, str], token: str, size: int, body: Iterator[bytes]
) -> tuple[int, bytes]:
    """POST ``body`` to ``app`` as a server would hand it over: one chunk per receive."""
    done = asyncio.Event()
    status: list[int] = []
    answer: list[bytes] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode(query).encode(),
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
            (b"content-length", str(size).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, object]:
        chunk = next(body, None)
        if chunk is not None:
            return {"type": "http.request", "body": chunk, "more_body": True}
        if not done.is_set():
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(str(message["status"])))
        elif message["type"] == "http.response.body":
            answer.append(bytes(message.get("body", b"")))  # type: ignore[call-overload]
            if not message.get("more_body"):
                done.set()

    await app(scope, receive, send)  # type: ignore[arg-type]
    return status[0], b"".join(answer)


def test_a_large_hash_list_upload_is_streamed_not_held(api: Api) -> None:
    """A 24 MiB upload (three good rows and one long line, rejected) costs a few MiB."""
    head = CSV.encode()
    token = api.tokens["ana"]
    size, body = _multipart("warm.csv", head, 1000)
    status, _ = asyncio.run(_post(api.app, f"{API}/hashsets", {"name": "warm"}, token, size, body))
    assert status == 200

    size, body = _multipart("big.csv", head, BIG)
    tracemalloc.start()
    try:
        status, answer = asyncio.run(
            _post(api.app, f"{API}/hashsets", {"name": "big"}, token, size, body)
        )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 200, answer
    result = json.loads(answer)
    assert (result["new_entries"], result["rejected"]) == (3, 1)
    assert _sets(api)["big"]["entries"] == 3
    assert peak < PEAK_LIMIT, f"importing a {BIG} byte upload peaked at {peak} bytes"
    assert _scratch_is_empty(api)
