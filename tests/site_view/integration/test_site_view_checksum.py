"""The view's checksum on SQLite files with the real handlers: two views that took in the same
events agree however the events were fetched together; a changed replica row, not a changed
piece of bookkeeping, changes it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from services.common.persistence.database import (
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
    read_session,
)
from services.common.persistence.writer import Writer
from services.site_view.__main__ import MIGRATIONS
from services.site_view.checksum import REPLICA_TABLES, ViewChecksum, view_checksum
from tests.support.replica_events import T0
from tests.support.replica_stream import apply, stream_of

pytestmark = pytest.mark.timeout(60)


@asynccontextmanager
async def view_at(database: Path) -> AsyncIterator[Writer]:
    engine = create_database_engine(f"sqlite:///{database}", sqlite_synchronous="NORMAL")
    migrate(engine, KERNEL_MIGRATIONS, MIGRATIONS)
    writer = Writer(engine, "syracuse", clock=lambda: T0)
    writer.start()
    try:
        yield writer
    finally:
        await writer.stop()
        engine.dispose()


def checksum_of(database: Path) -> ViewChecksum:
    engine = create_database_engine(f"sqlite:///{database}")
    try:
        with read_session(engine) as session:
            return view_checksum(session)
    finally:
        engine.dispose()


async def test_views_of_the_same_events_agree_however_they_were_fetched(tmp_path: Path) -> None:
    published = stream_of(60)
    async with view_at(tmp_path / "live.db") as writer:
        await apply(writer, published)
    async with view_at(tmp_path / "rebuilt.db") as writer:
        await apply(writer, published, fetched=7)
    live, rebuilt = checksum_of(tmp_path / "live.db"), checksum_of(tmp_path / "rebuilt.db")
    assert live == rebuilt
    assert len(live.sha256) == 64
    assert [table.table for table in live.tables] == sorted(t.name for t in REPLICA_TABLES)
    rows = {table.table: table.rows for table in live.tables}
    assert rows["replica_batch"] == rows["replica_run"] == rows["replica_latest"] == 60
    assert rows["replica_batch_material"] == rows["replica_investigation"] == 0


async def test_a_replica_row_changes_the_checksum_and_bookkeeping_does_not(
    tmp_path: Path
) -> None:
    database = tmp_path / "view.db"
    async with view_at(database) as writer:
        await apply(writer, stream_of(5))
    before = checksum_of(database)
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE replica_batch SET stream_sequence = stream_sequence + 1000")
        connection.execute("UPDATE watermark SET events_applied = 0")
        connection.execute("DELETE FROM inbox")
        connection.execute("DELETE FROM change_log")
    assert checksum_of(database) == before
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE replica_latest SET value = 21.500000001 WHERE tag = 'R201.TT01'"
                           " AND run_id = 'SYR-CR-000002'")
    changed = checksum_of(database)
    assert changed.sha256 != before.sha256
    assert [t.table for t in changed.tables if t not in before.tables] == ["replica_latest"]
