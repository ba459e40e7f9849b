"""What every use case is given: the store, the settings, the indexes and who is acting.

A :class:`Context` is made once per command or request by the interface, from injected
:class:`~vident.config.Settings` and the authenticated :class:`Principal`. Use cases never read
the environment nor open the store themselves, so the command line and the web API run the
same code with the same rules.
"""

from __future__ import annotations

import enum
import getpass
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from vident.config import Settings
from vident.index.catalog import Indexes, SharedIndexes, open_indexes
from vident.security.settings import SecuritySettings
from vident.service.errors import NotFound
from vident.store.db import Store, check_current


class Role(enum.StrEnum):
    """What a principal may do; deny by default, each use case names the roles it allows."""

    VIEWER = "viewer"
    ANALYST = "analyst"
    AGENCY_ADMIN = "agency_admin"
    AUDITOR = "auditor"
    SYSTEM_ADMIN = "system_admin"
    #: Another vident instance, authenticated by its signature: only the exchange's own use
    #: cases allow it, and no user is ever given it.
    PEER = "peer"


#: The roles a user may hold.
USER_ROLES = tuple(role for role in Role if role is not Role.PEER)


class PrincipalKind(enum.StrEnum):
    OPERATOR = "operator"  # the named local operator of a data directory (the command line)
    USER = "user"  # a person logged in to the web API
    TOKEN = "token"  # a machine with an API token
    PEER = "peer"  # another vident instance, by its signed request


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: recorded in the audit trail and checked by every use case."""

    name: str
    kind: PrincipalKind
    role: Role
    #: The agency the principal belongs to; None for the local operator of a data directory
    #: that has no agencies yet.
    agency_id: int | None = None
    user_id: int | None = None


def local_operator(settings: Settings) -> Principal:
    """The command line's principal: the configured operator name, else the login name."""
    name = settings.operator or getpass.getuser()
    return Principal(name=name, kind=PrincipalKind.OPERATOR, role=Role.SYSTEM_ADMIN)


@dataclass
class Context:
    """The store, settings and principal of one command or request; indexes opened lazily.

    A command opens its own indexes; a server passes ``shared_indexes`` so that every request
    uses the same open indexes, caught up with the store at each use, instead of reading them
    from disk again.
    """

    settings: Settings
    store: Store
    principal: Principal
    shared_indexes: SharedIndexes | None = field(default=None, repr=False)
    #: Keys, sessions and lockout settings, given by the interface like ``settings``
    #: (the keyring passphrase among them); None: the defaults.
    security: SecuritySettings | None = field(default=None, repr=False)
    _indexes: Indexes | None = field(default=None, repr=False)

    def indexes(self, session: Session) -> Indexes:
        """Every index, caught up with the store: at each use when shared, else once per
        context (a command's own indexes)."""
        if self.shared_indexes is not None:
            return self.shared_indexes.get(session, self.settings)
        if self._indexes is None:
            self._indexes = open_indexes(session, self.settings)
        return self._indexes

    def close(self) -> None:
        self.store.dispose()


def open_store(settings: Settings) -> Store:
    """The initialised, current store of ``settings``, or an error saying how to make one."""
    if settings.db is None and not (settings.data / "vident.db").exists():
        raise NotFound(f"no vident store in {settings.data}: initialise it first (vident init)")
    store = Store(settings.database_url)
    check_current(store.engine)
    return store


def open_context(
    settings: Settings, principal: Principal, security: SecuritySettings | None = None
) -> Context:
    """A context on the initialised store of ``settings`` acting as ``principal``."""
    return Context(
        settings=settings, store=open_store(settings), principal=principal, security=security
    )
