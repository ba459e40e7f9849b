"""Uploading a seizure into a case and watching its ingest job.

The page only offers the choice (a visible case or a new case name, a source name, one file):
its script streams the file to ``POST /api/v1/jobs`` with upload progress, then follows the
job's progress until the ingest is done. The API takes one file per job, an archive or a
single picture or video, so several files must be packed into one archive first.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from vident.service.cases import list_cases
from vident.service.errors import Forbidden
from vident.web.pages.render import _
from vident.web.pages.session import PageRoute, ViewerDep

router = APIRouter(include_in_schema=False, route_class=PageRoute)


@router.get("/upload")
def upload_page(viewer: ViewerDep) -> Response:
    """The upload form (for roles that may load material)."""
    if not viewer.can_edit:
        raise Forbidden(
            _("Your role may not upload seizures: ask an analyst of your agency to load it.")
        )
    cases = list_cases(viewer.ctx).cases
    mine = [case for case in cases if viewer.user.agency in (None, case.agency)]
    limit = viewer.ctx.settings.max_upload_bytes
    return viewer.render(
        "upload.html", {"title": _("Upload a seizure"), "cases": mine, "max_bytes": limit}
    )
