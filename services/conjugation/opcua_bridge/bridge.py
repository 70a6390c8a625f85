"""The bridge: the plant's data changes into the buffer, the buffer into the service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable

from services.conjugation.opcua_bridge.buffer import Buffer
from services.conjugation.opcua_bridge.config import BridgeConfig
from services.conjugation.opcua_bridge.delivery import deliver
from services.conjugation.opcua_bridge.plant import PlantSubscription
from services.conjugation.opcua_bridge.service import ReadingsService

log = logging.getLogger("twinline.opcua_bridge")


async def run_bridge(config: BridgeConfig, stop: asyncio.Event) -> None:
    """Until ``stop``; then what arrived is in the buffer and nothing is lost."""
    with Buffer(config.buffer) as buffer:
        held = buffer.pending_count()
        if held:
            log.info("%d points held in %s from before; resending them", held, config.buffer)
        plant = PlantSubscription(config, buffer)
        service = ReadingsService(config)
        subscription = asyncio.create_task(plant.run(stop), name="opcua-subscription")
        try:
            await _forward(config, buffer, service, stop, subscription)
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await subscription
            await service.close()


async def _forward(
    config: BridgeConfig, buffer: Buffer, service: ReadingsService, stop: asyncio.Event,
    subscription: asyncio.Task[None],
) -> None:
    delay, reachable = config.flush_interval_seconds, True
    while not stop.is_set():
        await _wait_either(stop, subscription, delay)
        if subscription.done():
            subscription.result()  # a configuration error ends the bridge, loudly
        held = buffer.oldest(config.max_points_per_call)
        if not held:
            delay = config.flush_interval_seconds
            continue
        refusals: Counter[str] = Counter()
        delivered = await deliver(
            held, service.send, acknowledged=buffer.acknowledge,
            refused=_refuse(buffer, refusals),
        )
        for reason, count in refusals.items():
            log.error("the service refused %d points (%s); kept in the buffer's refused table",
                      count, reason)
        if delivered:
            if not reachable:
                log.info("the service is reachable again; %d points still held",
                         buffer.pending_count())
            reachable = True
            # A full call means more may be waiting: go on at once.
            delay = 0 if len(held) == config.max_points_per_call else config.flush_interval_seconds
        else:
            if reachable:
                log.warning("the service %s is unreachable; holding %d points in %s",
                            config.service.address, buffer.pending_count(), config.buffer)
            reachable = False
            delay = min(max(delay * 2, config.flush_interval_seconds), config.max_retry_seconds)


def _refuse(buffer: Buffer, refusals: Counter[str]) -> Callable[[list[int], str], None]:
    def refused(ids: list[int], reason: str) -> None:
        buffer.refuse(ids, reason)
        refusals[reason] += len(ids)
    return refused


async def _wait_either(stop: asyncio.Event, task: asyncio.Task[None], seconds: float) -> None:
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({waiter, task}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
