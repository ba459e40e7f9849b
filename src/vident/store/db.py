"""Opening the store: engines, SQLite pragmas, and Alembic migrations on every backend."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

#: The newest migration. Checked against Alembic's own head by a test, so that opening the
#: store for everyday work never has to import Alembic and parse the migration scripts.
SCHEMA_REVISION = "0012"


#: Full-text objects each backend builds natively in the migrations; the models do not
#: describe them, so schema comparison leaves them out.
NATIVE_SEARCH_OBJECTS = frozenset({"media_text_fts", "ix_media_text_tsv"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's filter: skip the backend-native full-text objects (and FTS5's shadow tables)."""
    del obj, type_, reflected, compare_to
    return not (name and (name in NATIVE_SEARCH_OBJECTS or name.startswith("media_text_fts_")))


class StoreError(Exception):
    """The store cannot be used as asked; the message says what to do."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers never block the single writer; NORMAL is durable at each checkpoint in WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 64 MiB of page cache: bulk loads insert into indexes keyed by random hashes.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _parse_url(url: str) -> URL:
    """``url`` parsed, or a StoreError saying what a store URL looks like."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        shown = re.sub(r"//[^/@]*@", "//***@", url)  # never echo a password
        raise StoreError(
            f"{shown!r} is not a store URL: use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DATABASE"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(
            f"vident keeps its store in SQLite or PostgreSQL, not {backend}: use sqlite:///PATH "
            "or postgresql+psycopg://USER@HOST/DATABASE"
        )
    return parsed


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and foreign keys."""
    parsed = _parse_url(url)
    try:
        return _engine(url, parsed)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(
            f"cannot open a {parsed.drivername} store ({exc}): use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DATABASE"
        ) from None


#: PostgreSQL connections one process keeps open, and the most it opens beyond them. The API
#: serves up to 40 requests at once (its thread pool) from one engine, each holding a connection
#: for the whole of a slow call (a search decodes the upload first): with SQLAlchemy's default
#: 5 + 10, 32 clients waited past the pool's 30 s timeout and got 500s (``bench/load_pg.py``).
#: 50 stays under PostgreSQL's default 100 connections, leaving room for ingest workers.
PG_POOL_SIZE, PG_POOL_OVERFLOW = 10, 40


def _engine(url: str, parsed: URL) -> Engine:
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(
        url, pool_pre_ping=True, pool_size=PG_POOL_SIZE, max_overflow=PG_POOL_OVERFLOW
    )


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (creates it on an empty database)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def head_revision() -> str | None:
    """The newest revision among the migration scripts, as Alembic sees it."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for a database vident never initialised)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return str(value) if value is not None else None


def check_current(engine: Engine) -> None:
    """Refuse to work on a store that was never initialised or needs a migration."""
    current = current_revision(engine)
    if current is None:
        where = engine.url.render_as_string(hide_password=True)
        raise StoreError(f"{where} holds no vident store: run 'vident init' on it first")
    if current != SCHEMA_REVISION:
        raise StoreError(
            f"the store is at schema {current}, this vident needs {SCHEMA_REVISION}: "
            "run 'vident init' to migrate it"
        )


#: SQLite result codes (the primary code is the low byte of an extended one).
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26
_SQLITE_FULL, _SQLITE_IOERR, _SQLITE_CANTOPEN, _SQLITE_BUSY = 13, 10, 14, 5
_SQLITE_READONLY = 8
#: Below this much free space, a SQLite I/O error is taken for a full disk.
_NEARLY_FULL = 1024 * 1024


def store_failure(exc: DBAPIError, url: str | None) -> str:
    """One line saying what went wrong with the store at ``url`` and what to do about it.

    The driver's own message is kept, but the common causes (a damaged or foreign file, a
    full disk, a server that does not answer) are named with the way out, and the store is
    never touched here: a damaged store is the analyst's to restore, not ours to replace.
    """
    orig = exc.orig
    reason = (str(orig) if orig is not None else str(exc)).strip().splitlines()
    first = reason[0] if reason else exc.__class__.__name__
    parsed = _try_parse(url)
    if parsed is not None and parsed.get_backend_name() == "sqlite":
        return _sqlite_failure(getattr(orig, "sqlite_errorcode", None), first, parsed)
    sqlstate = getattr(orig, "sqlstate", None) or ""
    where = parsed.render_as_string(hide_password=True) if parsed is not None else "the store"
    if sqlstate == "53100":
        return (
            f"no space left on the database server of {where}: free space there and run the "
            "same command again"
        )
    if sqlstate.startswith("08") or (orig is not None and "connection" in first.lower()):
        return (
            f"cannot reach the store {where}: {first}; check that the server runs and the URL "
            "is right"
        )
    return f"cannot use the store {where}: {first}"


def _try_parse(url: str | None) -> URL | None:
    if url is None:
        return None
    try:
        return make_url(url)
    except ArgumentError:
        return None


def _sqlite_failure(code: int | None, reason: str, url: URL) -> str:
    path = Path(url.database or "")
    primary = code & 0xFF if code is not None else None
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return (
            f"the store {path} is damaged or not a vident store ({reason}): restore it from a "
            "backup, or move it aside and run 'vident init' to start an empty one"
        )
    if primary == _SQLITE_FULL or (primary == _SQLITE_IOERR and _nearly_full(path.parent)):
        return (
            f"no space left on device in {path.parent}: free space and run the same command again"
        )
    if primary == _SQLITE_CANTOPEN:
        return (
            f"cannot open the store {path} ({reason}): check that its folder exists and can "
            "be written"
        )
    if primary == _SQLITE_BUSY:
        return f"the store {path} is busy ({reason}): wait for the other process and run again"
    if primary == _SQLITE_READONLY:
        return f"the store {path} is read-only ({reason}): make it writable and run again"
    return f"cannot use the store {path}: {reason}"


def _nearly_full(directory: Path) -> bool:
    try:
        return shutil.disk_usage(directory).free < _NEARLY_FULL
    except OSError:
        return False


class Store:
    """An engine plus a session factory: the one handle the rest of vident gets."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed at the end, or rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def reader(self) -> Session:
        """A plain session for reads (no transaction commit needed)."""
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()
