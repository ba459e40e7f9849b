"""The FastAPI application of ``/api/v1``: routers, problem JSON, security headers.

Deny by default: every router but the public one (health, login) is mounted under a
dependency that authenticates the caller, so a route added to any of them needs credentials
without saying so. OpenAPI is served at ``/api/v1/openapi.json``; no documentation UI is
served (it would load scripts from elsewhere). The browser pages (:mod:`vident.web.pages`) are
mounted beside it at ``/``, their CSS at ``/static``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from vident import __version__
from vident.config import Settings
from vident.security.settings import SecuritySettings
from vident.service.context import open_store
from vident.web import problems
from vident.web.deps import get_principal
from vident.web.headers import SecurityHeaders
from vident.web.job_runner import JobRunner
from vident.web.pages import STATIC as PAGES_STATIC
from vident.web.pages import router as pages_router
from vident.web.routers import (
    admin,
    alerts,
    audit,
    auth,
    cases,
    compare,
    exchange,
    hashsets,
    health,
    jobs,
    me,
    peering,
    people,
    places,
    previews,
    reviews,
    schemes,
    search,
    sources,
    subjects,
)
from vident.web.state import WebState

PREFIX = "/api/v1"
#: Routes that answer without credentials, as (method, path template).
PUBLIC_ROUTES = frozenset(
    {
        ("GET", f"{PREFIX}/health"),
        ("POST", f"{PREFIX}/auth/login"),
        # Signed by a peer instead of a session (vident.web.routers.peering).
        ("GET", f"{PREFIX}/exchange/changes"),
        ("POST", f"{PREFIX}/exchange/changes"),
        ("POST", f"{PREFIX}/exchange/match"),
        ("POST", f"{PREFIX}/exchange/private-match"),
    }
)


def create_app(settings: Settings, security: SecuritySettings | None = None) -> FastAPI:
    """The API over the initialised store of ``settings`` (NotFound when there is none)."""
    store = open_store(settings)

    security = security or SecuritySettings()
    runner = JobRunner(settings, store, security)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runner.start()
        try:
            yield
        finally:
            runner.stop()
            store.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="vident",
        version=__version__,
        description="Victim-identification database: triage, search, compare and connect.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.vident = WebState(settings=settings, security=security, store=store, jobs=runner)
    app.state.database_url = settings.database_url
    public = APIRouter(prefix=PREFIX)
    public.include_router(health.router)
    public.include_router(auth.public)
    # Other instances: signed requests, no session (see routers/peering.py).
    public.include_router(peering.peer_router)
    protected = APIRouter(prefix=PREFIX, dependencies=[Depends(get_principal)])
    for module in (
        auth,
        sources,
        jobs,
        search,
        people,
        hashsets,
        exchange,
        cases,
        subjects,
        places,
        previews,
        compare,
        reviews,
        schemes,
        audit,
        admin,
        me,
        peering,
        alerts,
    ):
        protected.include_router(module.router)
    app.include_router(public)
    app.include_router(protected)
    # The browser pages: outside /api/v1 and its schema; each page checks its own session.
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=PAGES_STATIC), name="static")
    problems.install(app, public=PUBLIC_ROUTES)
    app.add_middleware(SecurityHeaders)
    return app
