"""No command commits an event the bus cannot carry: the writer sizes each event against the
nats-server's max_payload (learned at connect) and refuses the command, writing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.aio.client import Client
from sqlalchemy import Engine, text
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events

from services.common.messaging.bus import Bus
from services.common.messaging.event_size import DEFAULT_MAX_PAYLOAD, HEADROOM, EventTooLarge
from services.common.messaging.streams import ensure_site_stream
from services.common.persistence.database import (
    read_session,
)
from services.common.persistence.outbox import OutboxRelay
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from services.common.sites import SiteRegistry
from services.devstack.nats_server import NatsServerProcess
from tests.support.nats_harness import free_port
from tests.support.one_site import nats_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)
SITE = "syracuse"
MAX_PAYLOAD = 32 * 1024


def created(name: str, title_bytes: int):  # type: ignore[no-untyped-def]
    """A command that writes one row of state, its audit entry and one event of about
    ``title_bytes`` bytes."""

    def command(uow: UnitOfWork) -> bytes:
        uow.session.execute(
            text(
                "INSERT INTO inbox (event_id, subject, stream_sequence, handled_time)"
                " VALUES (:id, :id, 0, :id)"
            ),
            {"id": name},
        )
        uow.record_change(
            actor="alice", service="batch_records", context="batchrecords",
            aggregate="master_batch_record", event="created", aggregate_id=name,
            resource_name=name, old_value="", new_value=name,
            payload=mbr_events.MasterBatchRecordCreated(
                master_batch_record=pb.MasterBatchRecord(title="x" * title_bytes)
            ),
        )
        return name.encode()

    return command


def count(kernel_engine: Engine, table: str) -> int:
    with read_session(kernel_engine) as session:
        return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


async def test_an_event_beyond_the_servers_max_payload_is_refused_and_nothing_is_written(
    tmp_path: Path, kernel_engine: Engine
) -> None:
    port = free_port()
    registry = SiteRegistry.load()
    nats = NatsServerProcess(
        nats_config(tmp_path, registry, port, MAX_PAYLOAD), port,
        store_dir=tmp_path / "jetstream",
    )
    await nats.start()
    writer = Writer(kernel_engine, SITE)
    assert writer.event_limit.max_payload == DEFAULT_MAX_PAYLOAD  # before any server said

    async def provision(client: Client) -> None:
        await ensure_site_stream(client, registry.get(SITE), registry)

    bus = Bus(
        nats.url, name="event-size-test", on_connect=provision, event_limit=writer.event_limit
    )
    relay = OutboxRelay(kernel_engine, writer, bus)
    writer.set_on_commit(relay.committed)
    writer.start()
    bus.start()
    relay.start()
    try:
        await bus.connected()
        assert writer.event_limit.max_payload == MAX_PAYLOAD

        with pytest.raises(EventTooLarge) as refused:
            await writer.run_idempotent(
                request_id="r-big", method="/test/Create", principal="alice",
                request=pb.MasterBatchRecord(), command=created("BIG", MAX_PAYLOAD),
            )
        assert refused.value.reason == "EVENT_TOO_LARGE"
        assert refused.value.metadata["limitBytes"] == str(MAX_PAYLOAD - HEADROOM)
        assert int(refused.value.metadata["eventBytes"]) > MAX_PAYLOAD
        for table in ("inbox", "audit_entry", "outbox", "request_record"):
            assert count(kernel_engine, table) == 0, table

        # Just under the limit: committed, and the relay publishes it (the bus took it).
        fits = MAX_PAYLOAD - HEADROOM - 1024
        assert await writer.run_idempotent(
            request_id="r-fits", method="/test/Create", principal="alice",
            request=pb.MasterBatchRecord(), command=created("FITS", fits),
        ) == b"FITS"
        assert relay.pending_count() <= 1
        assert await relay.flush(15.0)
        await wait_until(lambda: relay.pending_count() == 0, 15.0, message="published")
    finally:
        await relay.stop()
        await writer.stop()
        await bus.close()
        await nats.stop()
