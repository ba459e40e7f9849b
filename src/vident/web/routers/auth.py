"""Logging in and out with a cookie session (people in a browser; machines use API tokens)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import Field

from vident.service.schemas import Model
from vident.service.sessions import SessionOut, login, revoke_session
from vident.web.auth import COOKIE, cookie_secure, csrf_token, remote_of
from vident.web.deps import AnonymousContextDep, PrincipalDep, SecurityDep

#: Routes of this module that need no credentials.
public = APIRouter(tags=["auth"])
router = APIRouter(tags=["auth"])


class LoginIn(Model):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1024)
    totp: str = Field(max_length=100, description="The one-time code, or a recovery code.")


class LoginOut(Model):
    session: SessionOut
    csrf_token: str = Field(
        description="Send it in the X-CSRF-Token header of every POST, PUT, PATCH and DELETE."
    )


class LogoutOut(Model):
    ended: bool


@public.post("/auth/login", response_model=LoginOut)
def log_in(
    body: LoginIn,
    request: Request,
    response: Response,
    ctx: AnonymousContextDep,
    security: SecurityDep,
) -> LoginOut:
    """Check password and one-time code, open a session and set its HttpOnly cookie."""
    opened = login(
        ctx, body.username, body.password, body.totp, security=security, remote=remote_of(request)
    )
    response.set_cookie(
        COOKIE,
        opened.secret,
        max_age=security.session_absolute_hours * 3600,
        path="/api/",
        secure=cookie_secure(request),
        httponly=True,
        samesite="strict",
    )
    return LoginOut(session=opened.session, csrf_token=csrf_token(opened.secret))


@router.post("/auth/logout", response_model=LogoutOut)
def log_out(
    request: Request, response: Response, ctx: AnonymousContextDep, _who: PrincipalDep
) -> LogoutOut:
    """End the cookie's session now (an API token stays valid: revoke it instead)."""
    secret = request.cookies.get(COOKIE)
    if secret:
        revoke_session(ctx, secret, remote=remote_of(request))
    response.delete_cookie(
        COOKIE, path="/api/", secure=cookie_secure(request), httponly=True, samesite="strict"
    )
    return LogoutOut(ended=bool(secret))
