"""Database engines and schema migrations: SQLite (WAL) embedded, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlmodel import Session

T = TypeVar("T")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
KERNEL_MIGRATIONS = MIGRATIONS / "kernel"
IDENTITY_MIGRATIONS = MIGRATIONS / "identity"
# PostgreSQL: processes starting at once migrate one after the other (SQLite: BEGIN IMMEDIATE).
MIGRATION_LOCK = text("SELECT pg_advisory_xact_lock(8392292353614376550)")


def create_database_engine(url: str, *, sqlite_synchronous: str = "FULL") -> Engine:
    """An engine tuned for one writer and many readers."""
    if not url.startswith("sqlite"):
        # PostgreSQL: the execution option readonly means nothing to it, so a read session is
        # a plain READ COMMITTED transaction, which never blocks the writer either.
        return create_engine(url, pool_pre_ping=True)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT and defers BEGIN; take it over.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # A writer takes the lock at once (IMMEDIATE), so a read-then-write never deadlocks;
        # readers (execution option readonly=True) begin deferred and never block the writer.
        if connection.get_execution_options().get("readonly"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def read_session(engine: Engine) -> Session:
    """A session for queries only: never takes SQLite's write lock."""
    return Session(readonly_engine(engine))


def read(engine: Engine, query: Callable[..., T], *args: object) -> T:
    """``query(session, *args)`` in a read-only session (see ``read_session``)."""
    with read_session(engine) as session:
        return query(session, *args)


def readonly_engine(engine: Engine) -> Engine:
    """The engine's read-only variant, made once per engine (making one is not free)."""
    readonly = engine.__dict__.get("_twinline_readonly")
    if readonly is None:
        readonly = engine.__dict__["_twinline_readonly"] = engine.execution_options(readonly=True)
    return readonly


def migrate(engine: Engine, *locations: Path) -> None:
    """Brings the schema to the newest revision of every location (Alembic ``upgrade heads``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_locations", " ".join(str(path) for path in locations))
    config.set_main_option("path_separator", "space")
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(MIGRATION_LOCK)
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
