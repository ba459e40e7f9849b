"""One family of errors that every interface maps once.

A use case raises one of these with a message a person can act on; the command line prints it
as one line with exit status 1, the web API answers with the HTTP status named on the class as
RFC 9457 problem JSON. Messages never name a command-line option or a route: the interface
that shows them knows how the user spells things.
"""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    """A use case could not do what was asked; ``str(error)`` says why and what to do."""

    #: The HTTP status the web API answers with.
    status: ClassVar[int] = 400
    #: A short, stable name of the kind of failure (the problem JSON ``title``).
    title: ClassVar[str] = "bad request"


class NotFound(ServiceError):
    """The thing asked for does not exist, or the principal may not know that it does."""

    status = 404
    title = "not found"


class Invalid(ServiceError):
    """The input is malformed or out of range."""

    status = 422
    title = "invalid input"


class Conflict(ServiceError):
    """The request contradicts what is stored (a duplicate name, a stale state)."""

    status = 409
    title = "conflict"


class Busy(ServiceError):
    """Another job holds what this one needs; the same request later will succeed."""

    status = 503
    title = "busy"


class Unreachable(ServiceError):
    """Something the job runs on (a Dask cluster) cannot be reached; nothing was done."""

    status = 503
    title = "unreachable"


class Forbidden(ServiceError):
    """The principal is known but may not do this (things it may not *see* are NotFound)."""

    status = 403
    title = "forbidden"


class Unauthenticated(ServiceError):
    """The credentials are missing, wrong, expired or revoked: log in again."""

    status = 401
    title = "unauthenticated"


class TooManyRequests(ServiceError):
    """The caller asked more often than it may: the same request a little later will do."""

    status = 429
    title = "too many requests"
