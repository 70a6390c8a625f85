"""The databases of the backend contract suites: each test on SQLite (WAL) and on a real
PostgreSQL, with every service's schema (fixtures registered in tests/conftest.py)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

import services.common.persistence.tables
from services.common.identity.directory import UserDirectory
from services.common.persistence.database import (
    IDENTITY_MIGRATIONS,
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
)
from services.common.persistence.writer import Writer
from services.common.sites import DEFAULT_REGISTRY, SiteRegistry
from services.devstack.topology import SERVICES

SITE = "syracuse"
T0 = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
# Every service of the topology registry, found there: its migrations (beside its __main__)
# and its tables module. A new service is in the contract suites once it is registered.
SERVICE_MIGRATIONS = (
    KERNEL_MIGRATIONS,
    *(importlib.import_module(f"{spec.module}.__main__").MIGRATIONS for spec in SERVICES),
)
EVERY_MIGRATION = (*SERVICE_MIGRATIONS, IDENTITY_MIGRATIONS)
TABLE_MODULES = (
    services.common.persistence.tables,
    *(importlib.import_module(f"{spec.module}.tables") for spec in SERVICES),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend; PostgreSQL's server starts only when asked for."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'twinline.db'}"
    return str(request.getfixturevalue("postgres_database"))


def open_engine(url: str) -> Engine:
    return create_database_engine(url, sqlite_synchronous="NORMAL")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A service database: kernel, batch records and site view tables."""
    engine = open_engine(database_url)
    migrate(engine, *SERVICE_MIGRATIONS)
    yield engine
    engine.dispose()


@pytest.fixture
async def writer(engine: Engine) -> AsyncIterator[Writer]:
    writer = Writer(engine, SITE, clock=lambda: T0)
    writer.start()
    yield writer
    await writer.stop()




@pytest.fixture
def kernel_engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite database in tmp with the kernel's tables only."""
    engine = create_database_engine(f"sqlite:///{tmp_path / 'kernel.db'}")
    migrate(engine, KERNEL_MIGRATIONS)
    yield engine
    engine.dispose()


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[UserDirectory]:
    """An empty user directory (SQLite) that knows the sites of deploy/sites.toml."""
    engine = create_database_engine(f"sqlite:///{tmp_path / 'identity.db'}")
    migrate(engine, IDENTITY_MIGRATIONS)
    yield UserDirectory(engine, SiteRegistry.load(DEFAULT_REGISTRY))
    engine.dispose()
