"""Previews of stored pictures, and of videos' keyframes, for the analyst's screen: veiled
unless revealed.

The media is named by its SHA-256 only (never a path of the seizure), and the answer is
never kept by a cache: the security headers already say ``no-store`` under ``/api/``, and the
route says it again so that the rule holds wherever the route is mounted.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from vident.service.previews import MAX_FRAME, frame_preview, preview
from vident.web.deps import ContextDep

router = APIRouter(tags=["previews"])


@router.get(
    "/media/{sha256}/preview",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "A JPEG, 320 px at most."}},
)
def get_preview(
    sha256: str,
    ctx: ContextDep,
    reveal: Annotated[
        bool, Query(description="The picture as it is, not veiled (audited as a reveal).")
    ] = False,
) -> Response:
    """A small preview of one stored picture: greyscale and blurred unless ``reveal``.

    Each reveal is an audit event of its own. A media ingested before previews existed has
    none until its source is ingested again.
    """
    made = preview(ctx, sha256, reveal=reveal)
    return Response(
        content=made.content, media_type=made.media_type, headers={"Cache-Control": "no-store"}
    )


@router.get(
    "/media/{sha256}/frames/{index}/preview",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "A JPEG, 320 px at most."}},
)
def get_frame_preview(
    sha256: str,
    index: Annotated[
        int,
        Path(
            ge=1,
            le=MAX_FRAME,
            description="The keyframe's number among the video's frames (its ``seq``, from 1).",
        ),
    ],
    ctx: ContextDep,
    reveal: Annotated[
        bool, Query(description="The keyframe as it is, not veiled (audited as a reveal).")
    ] = False,
) -> Response:
    """A small preview of one keyframe of a stored video: greyscale and blurred unless
    ``reveal``.

    A video's keyframes with a preview (a few, evenly spread) are those its media page
    lists; audited like the video's own preview (``media.preview``, ``media.reveal``).
    """
    made = frame_preview(ctx, sha256, index, reveal=reveal)
    return Response(
        content=made.content, media_type=made.media_type, headers={"Cache-Control": "no-store"}
    )
