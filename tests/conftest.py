"""Shared fixtures: real stores (SQLite files, a real PostgreSQL), generated pictures."""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from tests.pg import postgres_server
from tests.workspace import browser, workspace
from vident.config import Settings
from vident.demo.synthetic import photo_like
from vident.media import runtime
from vident.store.db import Store, upgrade

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("VIDENT_CORPUS", REPO.parent / "shared" / "corpora"))

_db_counter = itertools.count()


#: Fixtures defined elsewhere, registered here once for every test module.
__all__ = ["browser", "workspace"]


#: Test modules whose requests ``test_api_zcoverage`` checks, in the order a serial run takes
#: them: every module before it (by name) that records the routes it requests.
ROUTE_COVERAGE_MODULES = frozenset(
    {"test_alerts.py", *(p.name for p in Path(__file__).parent.glob("test_api_*.py"))}
)


def pytest_configure(config: pytest.Config) -> None:
    """Undo what a pytest-xdist worker's start leaves in the environment.

    A worker starts with ``COLUMNS=80``; Rich reads ``COLUMNS`` once, when the command line's
    consoles are made at import, so the tests' own ``COLUMNS`` (given to CliRunner) would be
    ignored and tables would cut file names that the tests look for.
    """
    if hasattr(config, "workerinput"):
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Whole files to each worker, and the route-coverage modules all to one worker.

    Files keep their module fixtures in one process (``--dist loadfile``). The API modules
    and ``test_api_zcoverage`` go together because it checks that the tests run before it in
    its process requested every route; a worker holding only some of them would skip the check.
    """
    from xdist.scheduler import LoadFileScheduling

    class RouteCoverageScheduling(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            scope = str(super()._split_scope(nodeid))
            return "route-coverage" if Path(scope).name in ROUTE_COVERAGE_MODULES else scope

    return RouteCoverageScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def shared_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One model cache for the whole run: each test's data directory would otherwise convert
    the scene model again (seconds each). Tests of the cache set their own."""
    folder = tmp_path_factory.mktemp("model-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIDENT_MODEL_CACHE", str(folder))  # the Settings tests make
        patch.setattr(runtime, "_model_dir", folder)  # code run without Settings (probes)
        yield folder


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def _fresh_pg_database(server_url: str) -> str:
    name = f"vident_test_{os.getpid()}_{next(_db_counter)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'vident.db'}"
        (tmp_path / "data").mkdir(exist_ok=True)
    else:
        url = _fresh_pg_database(request.getfixturevalue("pg_server"))
    store = Store(url)
    upgrade(store.engine)
    store.dispose()
    return url


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return Settings(data=data, db=store_url, workers=2)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = Store(settings.database_url)
    yield opened
    opened.dispose()


def jpeg_bytes(seed: int, size: tuple[int, int] = (640, 480), quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    photo_like(size[0], size[1], seed).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def write_jpeg(path: Path, seed: int, size: tuple[int, int] = (640, 480)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(seed, size))
    return path


def transformed(path: Path, out: Path, how: str) -> Path:
    """A copy of a picture that PDQ should still find: resized, rotated, flipped..."""
    image = Image.open(path).convert("RGB")
    if how == "resize":
        image = image.resize((image.width // 2, image.height // 2))
    elif how == "rotate90":
        image = image.transpose(Image.Transpose.ROTATE_90)
    elif how == "flip":
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    elif how == "grey":
        image = image.convert("L").convert("RGB")
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, "JPEG", quality=60)
    return out
