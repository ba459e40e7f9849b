"""Opening the store: engines, SQLite pragmas, and Alembic migrations on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

#: The newest migration. Checked against Alembic's own head by a test, so that opening the
#: store for everyday work never has to import Alembic and parse the migration scripts.
SCHEMA_REVISION = "0002"


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


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True)


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
        raise StoreError("no vident store here: run 'vident init' first (or pass --data/--db)")
    if current != SCHEMA_REVISION:
        raise StoreError(
            f"the store is at schema {current}, this vident needs {SCHEMA_REVISION}: "
            "run 'vident init' to migrate it"
        )


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
