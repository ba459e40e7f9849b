"""The dashboard: my cases, ingest jobs with live progress, alerts, verdict counts, my week.

The page itself reads what is quick (cases, jobs, alerts); the verdict counts run the triage
of the newest sources, so they arrive as a fragment the page asks for once it is shown
(``hx-trigger="load"``). A running job's progress is a fragment too, which asks for itself
again every second until the job is finished.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from vident.service.alerts import AlertHitOut, list_alert_hits
from vident.service.cases import CaseOut, list_cases
from vident.service.dashboard import series_alerts, verdict_counts
from vident.service.jobs import JobOut, list_jobs, show_job
from vident.service.peers import IdentityMissing
from vident.service.use_case import SEE_MEDIA
from vident.service.wellbeing import my_week
from vident.web.pages.render import _
from vident.web.pages.session import PageRoute, Viewer, ViewerDep

router = APIRouter(include_in_schema=False, route_class=PageRoute)

#: Job statuses that still change: their progress is polled.
RUNNING = frozenset({"sealing", "queued", "running"})
#: Finished jobs shown besides the running ones.
RECENT_JOBS = 8
#: Sources whose verdicts the dashboard adds up.
COUNTED_SOURCES = 10


def _my_cases(viewer: Viewer) -> list[CaseOut]:
    """The cases of the viewer's agency (everything they see when they have no agency)."""
    cases = list_cases(viewer.ctx).cases
    if viewer.user.agency is None:
        return cases
    return [case for case in cases if case.agency == viewer.user.agency]


def _jobs(viewer: Viewer) -> tuple[list[JobOut], list[JobOut]]:
    """(running jobs, the newest finished ones) of the viewer's agency."""
    jobs = list_jobs(viewer.ctx).jobs
    running = [job for job in jobs if job.status in RUNNING]
    finished = [job for job in jobs if job.status not in RUNNING][:RECENT_JOBS]
    return running, finished


def _alert_hits(viewer: Viewer) -> list[AlertHitOut]:
    """Hits of the agency's alerts not acknowledged yet (none on a store without identity:
    made before interconnect and not initialised again)."""
    try:
        return [h for h in list_alert_hits(viewer.ctx, unseen_only=True).hits if h.mine]
    except IdentityMissing:
        return []


@router.get("/")
def dashboard(viewer: ViewerDep) -> Response:
    """Where a signed-in analyst lands: their cases, jobs, alerts and the week so far."""
    sees_media = viewer.role in SEE_MEDIA
    context: dict[str, object] = {
        "title": _("Dashboard"),
        "sees_media": sees_media,
        "cases": [],
        "running": [],
        "finished": [],
        "alerts": [],
        "alert_hits": [],
        "week": my_week(viewer.ctx),
    }
    if sees_media:
        running, finished = _jobs(viewer)
        context.update(
            cases=_my_cases(viewer),
            running=running,
            finished=finished,
            alerts=series_alerts(viewer.ctx).alerts,
            alert_hits=_alert_hits(viewer),
        )
    return viewer.render("dashboard.html", context)


@router.get("/dashboard/verdicts")
def verdicts_fragment(viewer: ViewerDep) -> Response:
    """The verdict counts over the viewer's newest sources (a fragment of the dashboard)."""
    counted = verdict_counts(viewer.ctx, limit=COUNTED_SOURCES)
    return viewer.render("_dashboard_verdicts.html", {"counted": counted})


@router.get("/jobs/{job_id}/progress")
def job_progress(job_id: Annotated[int, Path(ge=1, le=2**31 - 1)], viewer: ViewerDep) -> Response:
    """One job's progress bar (a fragment that polls itself while the job runs)."""
    job = show_job(viewer.ctx, job_id)
    return viewer.render("_dashboard_job.html", {"job": job})
