"""Ingest jobs: a seizure uploaded to the API, kept as encrypted evidence and read in the
background, with progress anyone of its agency can watch.

:func:`submit_upload` checks where the seizure may go (the same rules as any ingest), seals
the upload into ``<data>/evidence`` (read-only, AES-GCM with the data directory's keyring) and
queues a job. A runner (:func:`run_next_job`, called by the server's background thread) claims
the oldest queued job, decrypts its evidence into a work folder inside the data directory,
ingests it acting as the user who uploaded it and records progress as it goes. A job that was
running when the server stopped is queued again at the next start
(:func:`requeue_interrupted`); ingest skips what it finished, so the job resumes.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from vident.config import Settings
from vident.media.runtime import cache_dir
from vident.security.crypto import KeyringError
from vident.security.evidence import open_sealed, seal_file
from vident.security.settings import SecuritySettings
from vident.service.context import Context, Principal, PrincipalKind, Role
from vident.service.errors import Invalid, NotFound, ServiceError
from vident.service.keys import open_keyring
from vident.service.schemas import Model
from vident.service.scope import Sight, sight_of
from vident.service.sources import ingest_source
from vident.service.targets import claim_ingest_target, ensure_case
from vident.service.use_case import SEE_MEDIA, WORK_ON_MEDIA, use_case
from vident.store.base import utcnow
from vident.store.db import Store
from vident.store.models import Case
from vident.store.models_jobs import IngestJob
from vident.store.models_security import User

EVIDENCE = "evidence"
#: Seconds between two progress writes of a running job.
PROGRESS_EVERY = 0.5


class JobOut(Model):
    """An uploaded seizure and how far its ingest got."""

    id: int
    source: str
    case: str | None
    filename: str
    size: int
    sha256: str
    status: str
    files_total: int
    files_done: int
    bytes_total: int
    bytes_done: int
    errors: int
    mb_per_s: float | None
    eta_seconds: float | None
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobListOut(Model):
    jobs: list[JobOut]


def _seconds_since(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 1e-6)


def _out(session: Session, job: IngestJob) -> JobOut:
    case = session.get(Case, job.case_id) if job.case_id is not None else None
    rate = eta = None
    if job.started_at is not None and job.bytes_done:
        started = job.started_at
        until = job.finished_at or utcnow()
        if started.tzinfo is None:  # SQLite returns naive UTC times
            until = until.replace(tzinfo=None)
        seconds = _seconds_since(started, until)
        rate = round(job.bytes_done / seconds / 1e6, 3)
        if job.status == "running" and job.bytes_total > job.bytes_done:
            eta = round((job.bytes_total - job.bytes_done) / (job.bytes_done / seconds), 1)
    return JobOut(
        id=job.id,
        source=job.source,
        case=case.name if case else None,
        filename=job.filename,
        size=job.size,
        sha256=job.sha256,
        status=job.status,
        files_total=job.files_total,
        files_done=job.files_done,
        bytes_total=job.bytes_total,
        bytes_done=job.bytes_done,
        errors=job.errors,
        mb_per_s=rate,
        eta_seconds=eta,
        error=job.error,
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def _safe_name(filename: str) -> str:
    """The client's file name as one harmless path component (it names the work file)."""
    name = filename.replace("/", "_").replace("\\", "_").replace("\0", "_")[:255]
    return "upload" if name.strip(". ") == "" else name


def evidence_dir(settings: Settings) -> Path:
    return settings.data / EVIDENCE


def _label(job_id: int) -> str:
    return f"job:{job_id}"


@use_case("job.submit", WORK_ON_MEDIA)
def submit_upload(
    ctx: Context, source: str, upload: Path, *, filename: str, case: str | None = None
) -> JobOut:
    """Queue the ingest of ``upload`` (a file or archive the client named ``filename``) as
    ``source`` in ``case``; the upload is sealed into the evidence folder and may be deleted
    by the caller afterwards."""
    source = source.strip()
    if not source or len(source) > 200:
        raise Invalid("a source needs a name of 1 to 200 characters (a seizure or exhibit)")
    if case is not None and not case.strip():
        raise Invalid("the case name is empty: give a name, or none")
    keyring = open_keyring(ctx)
    ensure_case(ctx, case)
    with ctx.store.session() as session:
        claim_ingest_target(ctx, session, source, case)
        case_id = session.scalar(select(Case.id).where(Case.name == case)) if case else None
        job = IngestJob(
            source=source,
            case_id=case_id,
            agency_id=ctx.principal.agency_id,
            created_by=ctx.principal.name,
            filename=_safe_name(filename),
            evidence="",
            size=upload.stat().st_size,
            sha256="",
            status="sealing",
        )
        session.add(job)
        session.flush()
        job_id = job.id
    sealed = evidence_dir(ctx.settings) / f"job-{job_id}.sealed"
    try:
        digest = seal_file(keyring, upload, sealed, _label(job_id))
    except OSError as exc:
        with ctx.store.session() as session:
            session.execute(
                update(IngestJob)
                .where(IngestJob.id == job_id)
                .values(status="failed", error=f"the upload could not be kept: {exc.strerror}")
            )
        raise Invalid(f"the upload could not be kept: {exc.strerror or exc}") from None
    with ctx.store.session() as session:
        row = session.get(IngestJob, job_id)
        assert row is not None
        row.evidence = f"{EVIDENCE}/{sealed.name}"
        row.sha256 = digest
        row.status = "queued"
        session.flush()
        return _out(session, row)


def _visible(sight: Sight, job: IngestJob) -> bool:
    return sight.everything or job.agency_id in (None, sight.agency_id)


@use_case("job.list", SEE_MEDIA)
def list_jobs(ctx: Context) -> JobListOut:
    """The ingest jobs of the principal's agency, newest first."""
    with ctx.store.reader() as session:
        rows = session.scalars(select(IngestJob).order_by(IngestJob.id.desc())).all()
        sight = sight_of(ctx, session)
        return JobListOut(jobs=[_out(session, j) for j in rows if _visible(sight, j)])


@use_case("job.show", SEE_MEDIA)
def show_job(ctx: Context, job_id: int) -> JobOut:
    """One ingest job and its progress (files, bytes, MB/s, seconds left)."""
    with ctx.store.reader() as session:
        job = session.get(IngestJob, job_id)
        if job is None or not _visible(sight_of(ctx, session), job):
            raise NotFound(f"no ingest job {job_id}")
        return _out(session, job)


def requeue_interrupted(store: Store) -> int:
    """Queue again the jobs that were running when the server stopped; returns how many."""
    with store.session() as session:
        result = session.execute(
            update(IngestJob).where(IngestJob.status == "running").values(status="queued")
        )
        return int(getattr(result, "rowcount", 0) or 0)


class _JobProgress:
    """The ingest's progress, written to the job row at most every PROGRESS_EVERY seconds."""

    def __init__(self, store: Store, job_id: int) -> None:
        self.store = store
        self.job_id = job_id
        self.files = 0
        self.total = 0
        self.nbytes = 0
        self.written = 0.0

    def _write(self, **values: int) -> None:
        with self.store.session() as session:
            session.execute(update(IngestJob).where(IngestJob.id == self.job_id).values(**values))
        self.written = time.monotonic()

    def start(self, files: int, nbytes: int) -> None:
        self.total = files
        self._write(files_total=files, bytes_total=nbytes, files_done=0, bytes_done=0)

    def _counts(self) -> dict[str, int]:
        # An archive counts as one file until it is opened: the total grows as members appear.
        self.total = max(self.total, self.files)
        return {"files_done": self.files, "files_total": self.total, "bytes_done": self.nbytes}

    def advance(self, files: int, nbytes: int) -> None:
        self.files += files
        self.nbytes += nbytes
        if time.monotonic() - self.written >= PROGRESS_EVERY:
            self._write(**self._counts())

    def finish(self, completed: bool = True) -> None:
        # Done: what was read is the whole (an archive's members, not its compressed size).
        self._write(**self._counts(), bytes_total=self.nbytes)


def _claim(store: Store) -> int | None:
    """The id of the oldest queued job, now marked running by this runner (or None)."""
    with store.session() as session:
        for job_id in session.scalars(
            select(IngestJob.id).where(IngestJob.status == "queued").order_by(IngestJob.id)
        ):
            claimed = session.execute(
                update(IngestJob)
                .where(IngestJob.id == job_id, IngestJob.status == "queued")
                .values(status="running", started_at=utcnow(), attempts=IngestJob.attempts + 1)
            )
            if getattr(claimed, "rowcount", 0) == 1:
                return int(job_id)
    return None


def _uploader(session: Session, job: IngestJob) -> Principal:
    """The principal a job runs as: the user who uploaded it, with their role of today."""
    user = session.scalar(select(User).where(User.username == job.created_by))
    role = Role(user.role) if user is not None else Role.ANALYST
    return Principal(
        name=job.created_by,
        kind=PrincipalKind.USER,
        role=role,
        agency_id=job.agency_id,
        user_id=user.id if user is not None else None,
    )


def run_next_job(
    settings: Settings, store: Store, security: SecuritySettings | None = None
) -> bool:
    """Run the oldest queued job to its end; False when none was queued."""
    job_id = _claim(store)
    if job_id is None:
        return False
    with store.session() as session:
        job = session.get(IngestJob, job_id)
        assert job is not None
        principal = _uploader(session, job)
        case = session.get(Case, job.case_id) if job.case_id is not None else None
        source, filename, evidence = job.source, job.filename, job.evidence
    ctx = Context(settings=settings, store=store, principal=principal, security=security)
    # One work folder per source, so a later upload into the same source is read from the
    # same origin and adds to it (each job's file is named by its job, and removed after).
    folder = hashlib.sha256(source.encode()).hexdigest()[:16]
    work = cache_dir(settings) / "jobs" / folder
    status, error, errors = "done", None, 0
    try:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        upload = work / f"job-{job_id}" / filename
        upload.parent.mkdir()
        open_sealed(open_keyring(ctx), settings.data / evidence, upload, _label(job_id))
        summary = ingest_source(
            ctx,
            work,
            source,
            case=case.name if case else None,
            progress=_JobProgress(store, job_id),
        )
        errors = summary.errors
    except (ServiceError, KeyringError) as exc:
        status, error = "failed", str(exc)
    except OSError as exc:
        status, error = "failed", f"the evidence could not be read: {exc.strerror or exc}"
    except Exception as exc:
        status, error = "failed", f"unexpected error: {type(exc).__name__}: {exc}"[:500]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with store.session() as session:
        session.execute(
            update(IngestJob)
            .where(IngestJob.id == job_id)
            .values(status=status, error=error, errors=errors, finished_at=utcnow())
        )
    return True
