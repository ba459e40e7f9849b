"""Lower-layer failures as service errors, translated once at the edge of each use case.

The store, the walker, the lock and the record readers raise their own exceptions with
messages a person can act on; a use case wraps its work in :func:`translated` so that every
interface sees only the :class:`~vident.service.errors.ServiceError` family, with the right
kind (and so the right HTTP status), and the message unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as NoFreeConnection

from vident.exchange.records import RecordError
from vident.ingest.cluster import ClusterUnreachable
from vident.ingest.lock import DataDirBusy
from vident.ingest.walk import SourceNotFound
from vident.service.errors import Busy, Conflict, Invalid, NotFound, ServiceError, Unreachable
from vident.store.db import StoreError, store_failure


class StoreFailure(ServiceError):
    """The store could not be used: damaged, full, read-only, locked or out of reach."""

    status = 503
    title = "store unavailable"


@contextmanager
def translated(database_url: str | None = None) -> Iterator[None]:
    """Re-raise the expected lower-layer failures as service errors with the same message.

    ``database_url`` is the store's, so that a failure of the database names it.
    """
    try:
        yield
    except DataDirBusy as exc:
        raise Busy(str(exc)) from None
    except SourceNotFound as exc:
        raise NotFound(str(exc)) from None
    except ClusterUnreachable as exc:
        raise Unreachable(str(exc)) from None
    except RecordError as exc:
        raise Invalid(str(exc)) from None
    except StoreError as exc:  # the store holds something that contradicts the request
        raise Conflict(str(exc)) from None
    except NoFreeConnection:
        raise Busy(
            "the store has no free connection (every one is serving another request): "
            "try again in a moment"
        ) from None
    except DBAPIError as exc:
        if _nul_refused(exc):
            raise Invalid("text may not contain NUL characters (0x00): remove them") from None
        raise StoreFailure(store_failure(exc, database_url)) from None


def _nul_refused(exc: DBAPIError) -> bool:
    """PostgreSQL refuses NUL inside text; that is the request's fault, not the store's."""
    message = str(exc.orig)
    return "NUL (0x00)" in message or ("0x00" in message and "character" in message)
