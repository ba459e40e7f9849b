"""Typed dependencies of the routes: the settings, the caller and a service context.

Routes take these as annotated parameters (``ctx: ContextDep``) and never build them. FastAPI
caches a dependency per request, so the caller is authenticated once however many
dependencies need it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vident.config import Settings
from vident.security.settings import SecuritySettings
from vident.service.context import Context, Principal
from vident.web.auth import ANONYMOUS, authenticate
from vident.web.state import WebState


def get_state(request: Request) -> WebState:
    state: WebState = request.app.state.vident
    return state


StateDep = Annotated[WebState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    return state.settings


def get_security(state: StateDep) -> SecuritySettings:
    return state.security


SettingsDep = Annotated[Settings, Depends(get_settings)]
SecurityDep = Annotated[SecuritySettings, Depends(get_security)]


def get_principal(request: Request, state: StateDep) -> Principal:
    """The authenticated caller; every route but health and login depends on it.

    The caller is kept on the request, so a failure handler that must know whether the caller
    was authenticated does not authenticate (and audit) a second time.
    """
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = authenticate(request, state.settings, state.security, state.store)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_context(state: StateDep, principal: PrincipalDep) -> Context:
    """A context acting as the caller, on the server's shared indexes."""
    return Context(
        settings=state.settings,
        store=state.store,
        principal=principal,
        shared_indexes=state.indexes,
        security=state.security,
    )


def get_anonymous_context(state: StateDep) -> Context:
    """A context for what happens before authentication (logging in)."""
    return Context(
        settings=state.settings,
        store=state.store,
        principal=ANONYMOUS,
        shared_indexes=state.indexes,
        security=state.security,
    )


ContextDep = Annotated[Context, Depends(get_context)]
AnonymousContextDep = Annotated[Context, Depends(get_anonymous_context)]
