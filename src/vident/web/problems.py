"""Every failure as RFC 9457 problem JSON, mapped once from the service's error family.

A use case raises a :class:`~vident.service.errors.ServiceError` whose class names the HTTP
status and title; lower-layer failures that reach the edge are translated the same way the
command line translates them. A client therefore always gets ``application/problem+json``
with ``type``, ``title``, ``status`` and ``detail``, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import JsonValue
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from vident.exchange.records import RecordError
from vident.ingest.lock import DataDirBusy
from vident.ingest.walk import SourceNotFound
from vident.service.errors import ServiceError
from vident.service.failures import translated
from vident.store.db import StoreError

_log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
#: Lower-layer failures that the service layer translates into ServiceErrors.
_LOWER = (DataDirBusy, SourceNotFound, RecordError, StoreError, DBAPIError)


class TooLarge(ServiceError):
    """An upload is larger than the configured limit."""

    status = 413
    title = "payload too large"


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
        _log.exception("unexpected failure of %s %s", request.method, request.url.path)
        return problem(500, "internal error", "the server failed; the failure was logged")


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


_HTTP_TITLES = {404: "not found", 405: "method not allowed", 413: "payload too large"}


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    title = _HTTP_TITLES.get(exc.status_code, "http error")
    detail = str(exc.detail) if exc.detail else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such route: see /api/v1/openapi.json"
    return problem(exc.status_code, title, detail, headers=exc.headers)


def install(app: FastAPI) -> None:
    """Register the problem JSON handlers on ``app``."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for kind in _LOWER:
        app.add_exception_handler(kind, _lower_error)
