"""The caller's own account: wellbeing settings, exposure figures, week and live sessions;
and the wellbeing defaults an agency administrator sets for their agency's users.

Every role may read and change its own settings and end its own sessions: they concern
nobody else. The session a request came with (its cookie) is marked in the list and gives
the exposure figures; a caller with an API token has none.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import Field

from vident.service.schemas import Model
from vident.service.wellbeing import (
    MySessionsOut,
    SessionEndedOut,
    VeilIn,
    VeilOut,
    WeekOut,
    WellbeingOut,
    agency_wellbeing,
    end_my_session,
    my_sessions,
    my_week,
    my_wellbeing,
    set_agency_wellbeing,
    set_my_wellbeing,
)
from vident.web.auth import COOKIE, remote_of
from vident.web.deps import ContextDep

router = APIRouter(tags=["me"])
#: A session's number, as the session list gives it.
SessionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: An agency's name, as an administrator gave it.
AgencyName = Annotated[str, Path(min_length=1, max_length=200)]


class AgencyWellbeingOut(Model):
    agency: str
    default: VeilOut | None = Field(description="None: vident's own default applies.")


def _cookie_secret(request: Request) -> str | None:
    """The session secret the request came with, if it came with a session (not a token)."""
    if request.headers.get("authorization") is not None:
        return None
    return request.cookies.get(COOKIE) or None


@router.get("/me/wellbeing", response_model=WellbeingOut)
def get_wellbeing(request: Request, ctx: ContextDep) -> WellbeingOut:
    """The caller's effective veil and break reminder, where they come from, and (with a
    session cookie) the session's exposure: time spent and media revealed."""
    return my_wellbeing(ctx, _cookie_secret(request))


@router.put("/me/wellbeing", response_model=WellbeingOut)
def put_wellbeing(body: VeilIn, ctx: ContextDep) -> WellbeingOut:
    """Choose one's own blur, colour and break reminder (audited)."""
    return set_my_wellbeing(ctx, body)


@router.delete("/me/wellbeing", response_model=WellbeingOut)
def delete_wellbeing(ctx: ContextDep) -> WellbeingOut:
    """Drop one's own choice: the agency's default, or vident's, applies again."""
    return set_my_wellbeing(ctx, None)


@router.get("/me/week", response_model=WeekOut)
def get_week(ctx: ContextDep) -> WeekOut:
    """Media revealed and minutes signed in on each of the last seven days."""
    return my_week(ctx)


@router.get("/me/sessions", response_model=MySessionsOut)
def get_sessions(request: Request, ctx: ContextDep) -> MySessionsOut:
    """The caller's live sessions, newest first; the request's own is marked current."""
    return my_sessions(ctx, _cookie_secret(request))


@router.delete("/me/sessions/{session_id}", response_model=SessionEndedOut)
def delete_session(session_id: SessionId, request: Request, ctx: ContextDep) -> SessionEndedOut:
    """End one of the caller's own sessions now; any other id ends nothing."""
    return end_my_session(ctx, session_id, remote=remote_of(request))


@router.get("/agencies/{name}/wellbeing", response_model=AgencyWellbeingOut)
def get_agency_wellbeing(name: AgencyName, ctx: ContextDep) -> AgencyWellbeingOut:
    """The wellbeing default of an agency's users (its administrators, system admins)."""
    return AgencyWellbeingOut(agency=name, default=agency_wellbeing(ctx, name))


@router.put("/agencies/{name}/wellbeing", response_model=AgencyWellbeingOut)
def put_agency_wellbeing(name: AgencyName, body: VeilIn, ctx: ContextDep) -> AgencyWellbeingOut:
    """Set the default of the agency's users who chose none; it blurs at least the floor."""
    return AgencyWellbeingOut(agency=name, default=set_agency_wellbeing(ctx, name, body))
