"""The plant's OPC UA server as the bridge sees it: subscribe to the configured nodes and
hand each data change, with its source time and quality, to the buffer."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from asyncua import Client, Node, ua
from asyncua.common.subscription import DataChangeNotif

from services.conjugation.opcua_bridge.buffer import Buffer
from services.conjugation.opcua_bridge.config import BridgeConfig, NodeMapping
from services.conjugation.opcua_bridge.points import NotAReading, Point, point_of

log = logging.getLogger("twinline.opcua_bridge")

# Data changes collected in memory are written to the buffer at least this often.
WRITE_EVERY_S = 0.05
RETRY_MAX_S = 10.0


class NodesRefused(RuntimeError):
    """The server does not know some configured nodes: a configuration error."""


class PlantSubscription:
    """asyncua calls ``datachange_notification`` for each change of a subscribed node."""

    def __init__(self, config: BridgeConfig, buffer: Buffer) -> None:
        self._config = config
        self._buffer = buffer
        self._by_node: dict[ua.NodeId, NodeMapping] = {}
        self._arrived: list[Point] = []

    def datachange_notification(self, node: Node, val: Any, data: DataChangeNotif) -> None:
        mapping = self._by_node.get(node.nodeid)
        if mapping is None:
            return
        value = data.monitored_item.Value
        when = value.SourceTimestamp or value.ServerTimestamp or datetime.now(UTC)
        status = value.StatusCode.value if value.StatusCode is not None else 0
        try:
            self._arrived.append(point_of(mapping.tag, mapping.unit, val, when, status))
        except NotAReading as exc:
            log.error("node %s: %s; not sent", mapping.node_id, exc)

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        log.warning("the OPC UA subscription's status changed: %s", status.Status)

    def write_arrived(self) -> None:
        """What arrived since the last call, into the buffer (one transaction)."""
        if self._arrived:
            arrived, self._arrived = self._arrived, []
            self._buffer.add(arrived)

    async def run(self, stop: asyncio.Event) -> None:
        """Connected and subscribed until ``stop``; reconnects (with backoff) when the server
        is gone. asyncua's supervisor restores a subscription it had created."""
        delay = WRITE_EVERY_S
        while not stop.is_set():
            try:
                await self._subscribed(stop)
            except NodesRefused:
                raise
            except (OSError, TimeoutError, ua.UaError, ConnectionError) as exc:
                self.write_arrived()
                delay = min(max(delay * 2, 0.5), RETRY_MAX_S)
                log.warning("OPC UA server %s unreachable (%s); again in %.1f s",
                            self._config.opcua.endpoint, exc or type(exc).__name__, delay)
                await _wait(stop, delay)
        self.write_arrived()

    async def _subscribed(self, stop: asyncio.Event) -> None:
        source = self._config.opcua
        client = Client(source.endpoint, auto_reconnect=True)
        async with client:
            nodes = [client.get_node(mapping.node_id) for mapping in self._config.node]
            mappings = zip(nodes, self._config.node, strict=True)
            self._by_node = {node.nodeid: mapping for node, mapping in mappings}
            subscription = await client.create_subscription(source.publishing_interval_ms, self)
            handles = await subscription.subscribe_data_change(
                nodes, queuesize=source.queue_size, sampling_interval=ua.Double(0)
            )
            refused = [
                f"{mapping.node_id} ({handle.name})"
                for mapping, handle in zip(self._config.node, handles, strict=True)
                if isinstance(handle, ua.StatusCode)
            ]
            if refused:
                raise NodesRefused("the OPC UA server refused nodes: " + ", ".join(refused))
            log.info("subscribed to %d nodes of %s", len(nodes), source.endpoint)
            while not stop.is_set():
                self.write_arrived()
                await _wait(stop, WRITE_EVERY_S)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
