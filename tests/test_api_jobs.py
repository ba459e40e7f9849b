"""Seizures uploaded to the API: streamed to disk, kept as encrypted read-only evidence,
ingested in the background with progress, resumed after a restart, refused with 413/507 and
nothing left behind; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api_support import API, HIT, Api, api_over, problem
from tests.conftest import jpeg_bytes
from vident.config import Settings
from vident.media.runtime import scratch_dir
from vident.security.crypto import Keyring, KeyringError
from vident.security.evidence import MAGIC, open_sealed, seal_file
from vident.service.agencies import add_agency
from vident.service.context import Principal, PrincipalKind, Role, open_context
from vident.service.jobs import evidence_dir, show_job, submit_upload
from vident.service.tokens import create_token
from vident.service.users import add_user
from vident.store.models_jobs import IngestJob
from vident.web.app import create_app


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


def _zip(seeds: range, broken: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for seed in seeds:
            archive.writestr(f"photos/p{seed}.jpg", jpeg_bytes(seed, (320, 240)))
        if broken:
            archive.writestr("photos/broken.jpg", b"\xff\xd8 not a picture")
    return buffer.getvalue()


def _wait(client: TestClient, job_id: int, headers: dict[str, str]) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body: dict[str, object] = client.get(f"{API}/jobs/{job_id}", headers=headers).json()
        if body["status"] in {"done", "failed"}:
            return body
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {body}")


def _upload(
    client: TestClient, headers: dict[str, str], data: bytes, source: str, case: str = "Op A"
) -> httpx.Response:
    response: httpx.Response = client.post(
        f"{API}/jobs",
        params={"source": source, "case": case},
        files={"file": ("seized.zip", data, "application/zip")},
        headers=headers,
    )
    return response


def test_an_uploaded_zip_is_sealed_ingested_and_watched(api: Api) -> None:
    data = _zip(range(1, 4))
    accepted = _upload(api.client, api.bearer("ana"), data, "UP-1")
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert job["status"] == "queued" and job["size"] == len(data)
    assert job["sha256"] == hashlib.sha256(data).hexdigest() and job["case"] == "Op A"
    done = _wait(api.client, job["id"], api.bearer("ana"))
    assert done["status"] == "done", done
    assert done["files_done"] == done["files_total"] == 4 and done["errors"] == 1
    assert done["bytes_done"] == done["bytes_total"] and done["mb_per_s"] is not None

    triage = api.client.get(f"{API}/sources/UP-1/triage", headers=api.bearer("vera")).json()
    paths = sorted(item["path"] for item in triage["items"])
    # Each upload's files are found under its job, so a later upload can add to the source.
    prefix = f"job-{job['id']}/seized.zip/photos"
    assert paths == [f"{prefix}/{n}.jpg" for n in ("broken", "p1", "p2", "p3")]
    assert triage["counts"]["error"] == 1

    # The evidence: read-only, encrypted (no plaintext inside), the upload's own bytes.
    sealed = evidence_dir(api.ctx.settings) / f"job-{job['id']}.sealed"
    assert sealed.stat().st_mode & 0o777 == 0o400
    raw = sealed.read_bytes()
    assert raw.startswith(MAGIC) and data[:64] not in raw and b"photos/p1.jpg" not in raw
    plain = api.ctx.settings.data / "check.zip"
    keyring = Keyring.open(api.ctx.settings.data)
    assert open_sealed(keyring, sealed, plain, f"job:{job['id']}") == job["sha256"]
    assert not any(scratch_dir(api.ctx.settings).iterdir())  # the upload itself is gone
    listed = api.client.get(f"{API}/jobs", headers=api.bearer("vera")).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]] and listed["total"] == 1


def test_two_analysts_upload_at_once_and_both_succeed(api: Api) -> None:
    results: dict[str, httpx.Response] = {}

    def send(source: str, seeds: range) -> None:
        client = api.client_for("http://127.0.0.1")  # no lifespan: the app's runner serves
        results[source] = _upload(client, api.bearer("ana"), _zip(seeds, False), source)

    threads = [
        threading.Thread(target=send, args=("UP-A", range(10, 13))),
        threading.Thread(target=send, args=("UP-B", range(20, 23))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["UP-A", "UP-B"]
    for source, response in results.items():
        assert response.status_code == 202, response.text
        done = _wait(api.client, response.json()["id"], api.bearer("ana"))
        assert done["status"] == "done" and done["files_done"] == 3, (source, done)


def test_a_job_left_running_by_a_stopped_server_resumes_at_the_next_start(
    api: Api, tmp_path: Path
) -> None:
    upload = tmp_path / "seized.zip"
    upload.write_bytes(_zip(range(30, 33), False))
    ana = Principal(name="ana", kind=PrincipalKind.USER, role=Role.ANALYST, agency_id=1)
    ctx = open_context(api.ctx.settings, ana)
    job = submit_upload(ctx, "UP-R", upload, filename="seized.zip", case="Op R")
    with ctx.store.session() as session:  # what a server killed mid-ingest leaves
        row = session.get(IngestJob, job.id)
        assert row is not None
        row.status = "running"
    with TestClient(create_app(api.ctx.settings)) as client:
        HIT.add(("GET", f"{API}/jobs/{{job_id}}"))
        done = _wait(client, job.id, api.bearer("ana"))
    assert done["status"] == "done" and done["files_done"] == 3
    assert show_job(ctx, job.id).status == "done"
    ctx.close()


def test_uploads_over_the_size_or_the_disk_are_refused_and_leave_nothing(
    settings: Settings, api: Api
) -> None:
    for change, status in (({"max_upload_bytes": 1000}, 413), ({"disk_reserve_bytes": 2**62}, 507)):
        limited = settings.model_copy(update=change)
        with TestClient(create_app(limited), base_url="http://127.0.0.1") as client:
            HIT.add(("POST", f"{API}/jobs"))
            refused = _upload(client, api.bearer("ana"), _zip(range(40, 42)), "UP-X")
            problem(refused, status)
    assert not any(scratch_dir(settings).iterdir())
    folder = evidence_dir(settings)
    assert not folder.exists() or not any(folder.iterdir())
    assert api.client.get(f"{API}/jobs", headers=api.bearer("ana")).json()["total"] == 0


def test_jobs_are_their_agencys_and_viewers_cannot_upload(api: Api) -> None:
    refused = _upload(api.client, api.bearer("vera"), _zip(range(50, 51)), "UP-V")
    assert problem(refused, 403)
    no_case = api.client.post(
        f"{API}/jobs",
        params={"source": "UP-N"},
        files={"file": ("x.zip", _zip(range(51, 52)), "application/zip")},
        headers=api.bearer("ana"),
    )
    assert "case" in str(problem(no_case, 422)["detail"])
    job = _upload(api.client, api.bearer("ana"), _zip(range(52, 53), False), "UP-M").json()
    add_agency(api.ctx, "BKA", "DE")
    add_user(
        api.ctx,
        "bea",
        "BKA",
        Role.ANALYST,
        date.today() + timedelta(days=9),
        "a fine long password",
    )
    headers = {"Authorization": f"Bearer {create_token(api.ctx, 'bea', 't', 1).secret}"}
    assert problem(api.client.get(f"{API}/jobs/{job['id']}", headers=headers), 404)
    assert api.client.get(f"{API}/jobs", headers=headers).json()["items"] == []
    assert problem(api.client.get(f"{API}/jobs/99999", headers=api.bearer("ana")), 404)


def test_sealed_evidence_refuses_a_cut_a_swap_and_another_label(tmp_path: Path) -> None:
    keyring = Keyring.open(tmp_path)
    plain = tmp_path / "plain.bin"
    plain.write_bytes(bytes(range(256)) * 9000)  # a little over two chunks
    sealed = tmp_path / "sealed"
    digest = seal_file(keyring, plain, sealed, "job:1")
    assert open_sealed(keyring, sealed, tmp_path / "back", "job:1") == digest
    assert (tmp_path / "back").read_bytes() == plain.read_bytes()
    with pytest.raises(KeyringError):
        open_sealed(keyring, sealed, tmp_path / "other", "job:2")
    raw = sealed.read_bytes()
    cut = tmp_path / "cut"
    cut.write_bytes(raw[: len(raw) - 5000])
    with pytest.raises(KeyringError):
        open_sealed(keyring, cut, tmp_path / "x", "job:1")
    dropped = tmp_path / "dropped"  # the last chunk removed: the one before is not "last"
    first_len = int.from_bytes(raw[5:9], "big")
    second_start = 5 + 4 + first_len
    second_len = int.from_bytes(raw[second_start : second_start + 4], "big")
    dropped.write_bytes(raw[: second_start + 4 + second_len])
    with pytest.raises(KeyringError, match="cut short"):
        open_sealed(keyring, dropped, tmp_path / "y", "job:1")


def test_an_upload_cut_off_mid_way_leaves_nothing_behind(tmp_path: Path) -> None:
    """The client goes away half-way through the body: the partial file is removed."""
    import asyncio

    from starlette.requests import ClientDisconnect, Request

    from vident.web.uploads import receive

    boundary = "cutboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    messages: list[dict[str, object]] = [
        {"type": "http.request", "body": head + b"x" * 50_000, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def deliver() -> dict[str, object]:
        return messages.pop(0)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/jobs",
        "headers": [(b"content-type", f"multipart/form-data; boundary={boundary}".encode())],
        "query_string": b"",
    }
    folder = tmp_path / "scratch"
    with pytest.raises(ClientDisconnect):
        asyncio.run(receive(Request(scope, deliver), folder, limit=10**9))
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_a_second_upload_into_a_source_adds_to_it(api: Api) -> None:
    first = _upload(api.client, api.bearer("ana"), _zip(range(60, 62), False), "UP-2").json()
    assert _wait(api.client, first["id"], api.bearer("ana"))["status"] == "done"
    second = _upload(api.client, api.bearer("ana"), _zip(range(62, 63), False), "UP-2").json()
    done = _wait(api.client, second["id"], api.bearer("ana"))
    assert done["status"] == "done", done
    triage = api.client.get(f"{API}/sources/UP-2/triage", headers=api.bearer("ana")).json()
    assert triage["counts"]["new"] == 3
    assert sorted({i["path"].split("/")[0] for i in triage["items"]}) == sorted(
        [f"job-{first['id']}", f"job-{second['id']}"]
    )


def test_with_a_key_passphrase_uploads_are_sealed_and_read_back(api: Api) -> None:
    """The server's security settings (the passphrase) reach every use of the keyring: the
    upload's sealing, the background job's reading, the previews."""
    from pydantic import SecretStr

    from vident.security.settings import SecuritySettings

    security = SecuritySettings(key_passphrase=SecretStr("a long keyring passphrase"))
    with TestClient(create_app(api.ctx.settings, security), base_url="http://127.0.0.1") as client:
        HIT.add(("POST", f"{API}/jobs"))
        job = _upload(client, api.bearer("ana"), _zip(range(70, 72), False), "UP-P").json()
        done = _wait(client, job["id"], api.bearer("ana"))
    assert done["status"] == "done" and done["files_done"] == 2, done
    with pytest.raises(KeyringError):  # the keyring is now sealed by the passphrase
        Keyring.open(api.ctx.settings.data)
