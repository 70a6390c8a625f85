"""The outbox relay on a real nats-server, with SQLite and PostgreSQL: what it publishes, in which
order, how often.

A core-NATS subscriber on the site's subjects sees every publish the relay makes, duplicates
included (JetStream drops a duplicate from the stream, not from the wire), so it can tell a
relay that publishes an event twice from one that does not.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from nats.aio.msg import Msg
from sqlalchemy import Engine, text
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events

from services.common.messaging.bus import Bus
from services.common.messaging.streams import ensure_site_stream
from services.common.messaging.subjects import site_subjects
from services.common.persistence import outbox
from services.common.persistence.database import (
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
    read_session,
)
from services.common.persistence.outbox import OutboxRelay
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.nats_harness import NatsSites

pytestmark = pytest.mark.timeout(60)
SITE = "syracuse"
DEADLINE_S = 15.0


def changed(name: str):  # type: ignore[no-untyped-def]
    """A command that writes one event, its ce-subject ``name``."""
    def command(uow: UnitOfWork) -> None:
        uow.record_change(
            actor="alice", service="batch_records", context="batchrecords",
            aggregate="master_batch_record", event="created", aggregate_id=name,
            resource_name=name, old_value="", new_value=name,
            payload=mbr_events.MasterBatchRecordCreated(),
        )

    return command


def unpublished(kernel_engine: Engine) -> int:
    with read_session(kernel_engine) as session:
        return int(
            session.execute(
                text("SELECT count(*) FROM outbox WHERE published_time IS NULL")
            ).scalar_one()
        )


async def published_subjects(nats_sites: NatsSites) -> list[str]:
    """The site's stream made, and a list that a core subscriber fills with the ce-subject of
    every publish on the site's subjects, as it arrives."""
    client = await nats_sites.client(SITE)
    await ensure_site_stream(client, nats_sites.registry.get(SITE), nats_sites.registry)
    seen: list[str] = []

    async def on_message(msg: Msg) -> None:
        seen.append((msg.headers or {})["ce-subject"])

    await client.subscribe(site_subjects(SITE), cb=on_message)
    await client.flush()
    return seen


async def test_backlog_then_handed_over_entries_go_out_once_each_in_commit_order(
    nats_sites: NatsSites, kernel_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No idle read during the test: every read counted below is one the relay chose to make.
    monkeypatch.setattr(outbox, "IDLE_READ_S", 3600.0)
    seen = await published_subjects(nats_sites)

    writer = Writer(kernel_engine, SITE)
    bus = Bus(nats_sites.url(SITE), name="relay-test")
    relay = OutboxRelay(kernel_engine, writer, bus)
    writer.set_on_commit(relay.committed)
    reads = 0
    table_read = relay._unpublished

    def counted_read():  # type: ignore[no-untyped-def]
        nonlocal reads
        reads += 1
        return table_read()

    monkeypatch.setattr(relay, "_unpublished", counted_read)
    writer.start()
    try:
        # A backlog committed while no relay ran: the relay's first read finds it.
        for i in range(5):
            await writer.run(changed(f"B{i}"))
        bus.start()
        relay.start()
        # Commits racing the first read: each is in the table, handed over, or both.
        for group in range(4):
            await asyncio.gather(*(writer.run(changed(f"R{group}-{i}")) for i in range(5)))
        racing = [f"B{i}" for i in range(5)] + [
            f"R{group}-{i}" for group in range(4) for i in range(5)
        ]
        await wait_until(lambda: len(seen) >= len(racing), DEADLINE_S, message="all published")
        await wait_until(lambda: unpublished(kernel_engine) == 0, DEADLINE_S, message="all marked")
        reads_when_caught_up = reads

        # Caught up: what the writer hands over goes out without the table being read again.
        later = [f"L{i}" for i in range(10)]
        for name in later:
            await writer.run(changed(name))
        await wait_until(
            lambda: len(seen) >= len(racing) + len(later), DEADLINE_S, message="later published"
        )
        await wait_until(
            lambda: unpublished(kernel_engine) == 0, DEADLINE_S, message="later marked"
        )
        reads_after_later = reads

        # Another process's commit (a second writer: nothing handed over to this relay). A
        # flush, as at shutdown, reads the table and publishes it too.
        other = Writer(kernel_engine, SITE)
        other.start()
        try:
            await other.run(changed("O1"))
        finally:
            await other.stop()
        assert await relay.flush(DEADLINE_S)
        await wait_until(lambda: "O1" in seen, DEADLINE_S, message="the other's event published")
    finally:
        await relay.stop()
        await writer.stop()
        await bus.close()

    assert seen == racing + later + ["O1"]  # commit order, each once
    assert reads_after_later == reads_when_caught_up >= 1
    assert unpublished(kernel_engine) == 0


def outbox_order(kernel_engine: Engine) -> list[str]:
    """The ce-subject of every outbox entry, in position (= commit) order."""
    import json

    with read_session(kernel_engine) as session:
        rows = session.execute(text("SELECT headers FROM outbox ORDER BY position")).scalars()
        return [json.loads(headers)["ce-subject"] for headers in rows]


async def test_two_processes_on_one_postgresql_database_publish_in_commit_order(
    nats_sites: NatsSites, postgres_database: str
) -> None:
    """Two service processes (here: two engines, writers, buses and relays) share a PostgreSQL
    database: every event goes out once, and in the order of the commits of both together."""
    engines = [create_database_engine(postgres_database) for _ in range(2)]
    migrate(engines[0], KERNEL_MIGRATIONS)
    seen = await published_subjects(nats_sites)
    writers = [Writer(kernel_engine, SITE) for kernel_engine in engines]
    buses = [Bus(nats_sites.url(SITE), name=f"relay-{i}") for i in range(2)]
    relays = [
        OutboxRelay(kernel_engine, writer, bus)
        for kernel_engine, writer, bus in zip(engines, writers, buses, strict=True)
    ]
    for writer, bus, relay in zip(writers, buses, relays, strict=True):
        writer.set_on_commit(relay.committed)
        writer.start()
        bus.start()
        relay.start()
    try:
        total = 0
        for round_number in range(15):
            await asyncio.gather(*(
                writers[i % 2].run(changed(f"P{round_number}-{i}")) for i in range(8)
            ))
            total += 8
        await wait_until(lambda: len(seen) >= total, DEADLINE_S, message="all published")
        await wait_until(
            lambda: unpublished(engines[0]) == 0, DEADLINE_S, message="all marked"
        )
    finally:
        for relay, writer, bus in zip(relays, writers, buses, strict=True):
            await relay.stop()
            await writer.stop()
            await bus.close()
    order = outbox_order(engines[0])
    for kernel_engine in engines:
        kernel_engine.dispose()
    assert len(order) == total
    assert seen == order  # commit order across both processes, each event once
