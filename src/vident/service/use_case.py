"""Every use case checked and recorded the same way: who may call it, and what it did.

:func:`use_case` wraps a service function whose first argument is the
:class:`~vident.service.context.Context`: it refuses a principal whose role is not allowed
(deny by default, the refusal audited), then records the outcome in the audit trail: ``ok``,
or ``failed`` with the one-line reason when the use case raised a
:class:`~vident.service.errors.ServiceError`. The target recorded is the use case's first
argument after the context (a source name, a file, a media hash, a person id).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from vident.service.audit import record, require
from vident.service.context import Context, Role
from vident.service.errors import ServiceError
from vident.service.failures import translated
from vident.store.generation import move_on

P = ParamSpec("P")
R = TypeVar("R")
#: A use case: a function of the context and its own arguments.
UseCase = Callable[Concatenate[Context, P], R]

#: Roles that may see material and results: everyone but the auditor.
SEE_MEDIA = frozenset({Role.VIEWER, Role.ANALYST, Role.AGENCY_ADMIN, Role.SYSTEM_ADMIN})
#: Roles that may load material and record decisions about it.
WORK_ON_MEDIA = frozenset({Role.ANALYST, Role.AGENCY_ADMIN, Role.SYSTEM_ADMIN})
#: Roles that may run maintenance of the whole data directory.
MAINTAIN = frozenset({Role.SYSTEM_ADMIN})


def use_case(action: str, allowed: frozenset[Role]) -> Callable[[UseCase[P, R]], UseCase[P, R]]:
    """Check the principal's role before ``action``, audit its outcome after it, and move the
    store's generation on after a use case that may change the store."""

    # A use case a viewer may not call changes something: results kept from the store (see
    # vident.store.generation) must not outlive it.
    changes = Role.VIEWER not in allowed

    def wrap(function: UseCase[P, R]) -> UseCase[P, R]:
        @functools.wraps(function)
        def run(ctx: Context, /, *args: P.args, **kwargs: P.kwargs) -> R:
            target = str(args[0]) if args else None
            require(ctx, action, target, allowed)
            try:
                with translated(ctx.settings.database_url):
                    result = function(ctx, *args, **kwargs)
            except ServiceError as exc:
                record(ctx, action, target, "failed", {"reason": str(exc)[:500]})
                raise
            finally:
                if changes:
                    # Even a change that failed half-way may have committed part of its work.
                    with translated(ctx.settings.database_url):
                        move_on(ctx.store)
            record(ctx, action, target)
            return result

        return run

    return wrap
