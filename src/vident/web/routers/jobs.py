"""Uploads of seizures and the ingest jobs that read them.

``POST /jobs`` streams the upload to disk (never whole in memory), refuses it with 413 past
the configured size and with 507 when the disk would run short, seals it as evidence and
queues its ingest: the answer (202) is the job, which ``GET /jobs/{job_id}`` shows as it runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from vident.service.jobs import JobOut, list_jobs, show_job, submit_upload
from vident.web.deps import ContextDep, StateDep
from vident.web.paging import Page, PageDep, paged
from vident.web.uploads import UPLOAD_BODY, SeizureDep

router = APIRouter(tags=["jobs"])


@router.post("/jobs", response_model=JobOut, status_code=202, openapi_extra=UPLOAD_BODY)
def post_job(
    upload: SeizureDep,
    ctx: ContextDep,
    state: StateDep,
    source: Annotated[str, Query(min_length=1, max_length=200, description="Source name.")],
    case: Annotated[
        str | None, Query(max_length=200, description="The case it belongs to.")
    ] = None,
) -> JobOut:
    """Upload a seizure (an archive or one file) and queue its ingest as ``source``."""
    job = submit_upload(ctx, source, upload.path, filename=upload.filename, case=case)
    if state.jobs is not None:
        state.jobs.notify()
    return job


@router.get("/jobs", response_model=Page[JobOut])
def get_jobs(ctx: ContextDep, page: PageDep) -> Page[JobOut]:
    """The ingest jobs of your agency, newest first."""
    return paged(list_jobs(ctx).jobs, page)


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: Annotated[int, Path(ge=1, le=2**31 - 1)], ctx: ContextDep) -> JobOut:
    """One job: its status, files and bytes done of the total, MB/s and seconds left."""
    return show_job(ctx, job_id)
