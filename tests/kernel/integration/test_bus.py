"""The process's bus on a real nats-server: a client that nats-py closed for good (it does so
on any -ERR from the server, e.g. a message over max_payload flushed after a reconnect) is
replaced, so the relay and the consumers get a working connection again."""

from __future__ import annotations

import pytest

from services.common.messaging.bus import Bus
from tests.support.nats_harness import NatsSites

pytestmark = pytest.mark.timeout(30)


async def test_a_client_closed_under_the_bus_is_replaced_by_a_new_connection(
    nats_sites: NatsSites,
) -> None:
    set_ups = 0

    async def provision(client: object) -> None:
        nonlocal set_ups
        set_ups += 1

    bus = Bus(nats_sites.url("syracuse"), name="bus-test", on_connect=provision)
    bus.start()
    try:
        first = await bus.connected()
        await first.close()  # as nats-py does after an -ERR
        second = await bus.connected()
        assert second is not first and second.is_connected
        await second.publish("bus.test", b"still here")
        await second.flush(timeout=5)
        assert set_ups == 2  # the new connection is set up (streams) like the first
    finally:
        await bus.close()
