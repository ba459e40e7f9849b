"""Every failure as RFC 9457 problem JSON, mapped once from the service's error family.

A use case raises a :class:`~vident.service.errors.ServiceError` whose class names the HTTP
status and title; lower-layer failures that reach the edge are translated the same way the
command line translates them. A client therefore always gets ``application/problem+json``
with ``type``, ``title``, ``status`` and ``detail``, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import JsonValue
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as NoFreeConnection
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from vident.exchange.records import RecordError
from vident.ingest.lock import DataDirBusy
from vident.ingest.walk import SourceNotFound
from vident.service.errors import ServiceError
from vident.service.failures import translated
from vident.store.db import StoreError
from vident.web.deps import get_principal, get_state
from vident.web.pages.render import _, page

_log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
#: Lower-layer failures that the service layer translates into ServiceErrors.
_LOWER = (DataDirBusy, SourceNotFound, RecordError, StoreError, DBAPIError, NoFreeConnection)


class TooLarge(ServiceError):
    """An upload is larger than the configured limit."""

    status = 413
    title = "payload too large"


class InsufficientStorage(ServiceError):
    """An upload would leave less free disk than the configured reserve."""

    status = 507
    title = "insufficient storage"


def problem_type(title: str) -> str:
    """A stable URI per kind of problem, so clients can branch on it."""
    return "urn:vident:problem:" + title.replace(" ", "-")


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    extra: Mapping[str, JsonValue] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, JsonValue] = {
        "type": problem_type(title),
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def service_problem(error: ServiceError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return problem(error.status, error.title, str(error), headers=headers)


async def _service_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return service_problem(exc)


async def _lower_error(request: Request, exc: Exception) -> JSONResponse:
    url: str | None = getattr(request.app.state, "database_url", None)
    try:
        with translated(url):
            raise exc
    except ServiceError as translated_error:
        return service_problem(translated_error)
    except Exception:  # not one the service layer knows: a server error, logged
        return _logged_failure(request)


def _logged_failure(request: Request) -> JSONResponse:
    """A server error: logged with its traceback here, one line of problem JSON to the client."""
    _log.exception("unexpected failure of %s %s", request.method, request.url.path)
    return problem(500, "internal error", "the server failed; the failure was logged")


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    """Anything no other handler knows: problem JSON (an error page for a browser), never
    Starlette's plain-text "Internal Server Error" that API clients cannot parse."""
    try:
        raise exc
    except Exception:
        if request.url.path.startswith("/api/"):
            return _logged_failure(request)
        _log.exception("unexpected failure of %s %s", request.method, request.url.path)
    context = {"title": _("Server error"), "message": _("The server failed; it was logged.")}
    return page("error.html", context, 500)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[JsonValue] = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        errors.append({"location": where, "message": str(error.get("msg", ""))})
    first = errors[0] if errors else {"location": "", "message": "invalid request"}
    assert isinstance(first, dict)
    detail = f"{first['location']}: {first['message']}" if first["location"] else "invalid"
    return problem(422, "invalid input", str(detail), extra={"errors": errors})


_HTTP_TITLES = {
    400: "bad request",
    404: "not found",
    405: "method not allowed",
    413: "payload too large",
    415: "unsupported media type",
}
#: Statuses FastAPI answers while it reads a request's body, before any dependency runs.
_BODY_STATUSES = frozenset({400, 413, 415})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and not request.url.path.startswith("/api/"):
        # A browser that followed a stale or mistyped link gets a page, not JSON.
        context = {"title": _("Not found"), "message": _("There is no page at this address.")}
        return page("error.html", context, 404)
    title = _HTTP_TITLES.get(exc.status_code, "http error")
    detail = str(exc.detail) if exc.detail else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such route: see /api/v1/openapi.json"
    return problem(exc.status_code, title, detail, headers=exc.headers)


def _refused_caller(request: Request) -> JSONResponse | None:
    """The problem of a caller without valid credentials, else None."""
    try:
        get_principal(request, get_state(request))
    except ServiceError as refused:
        return service_problem(refused)
    return None


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _credentials_first(public: frozenset[tuple[str, str]], handler: Handler) -> Handler:
    """``handler``, but a caller without valid credentials gets 401 (or 403) instead.

    FastAPI reads and parses a body before it runs a route's dependencies, so a malformed body
    fails before the caller is authenticated. Checking credentials first on every route but
    the ``public`` (method, path) pairs keeps deny by default exact: without them a caller
    learns nothing, not even whether the body was well-formed.
    """

    async def checked(request: Request, exc: Exception) -> Response:
        before_dependencies = isinstance(exc, RequestValidationError) or (
            isinstance(exc, HTTPException) and exc.status_code in _BODY_STATUSES
        )
        matched = "route" in request.scope
        if (
            before_dependencies
            and matched
            and (request.method, request.scope["path"]) not in public
        ):
            refused = await run_in_threadpool(_refused_caller, request)
            if refused is not None:
                return refused
        return await handler(request, exc)

    return checked


def install(app: FastAPI, public: frozenset[tuple[str, str]] = frozenset()) -> None:
    """Register the problem JSON handlers on ``app``; ``public`` are the (method, path) pairs
    that need no credentials."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _credentials_first(public, _validation_error))
    app.add_exception_handler(HTTPException, _credentials_first(public, _http_error))
    for kind in _LOWER:
        app.add_exception_handler(kind, _lower_error)
    app.add_exception_handler(Exception, _unexpected_error)
