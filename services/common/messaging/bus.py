"""The process's one NATS connection: connects in the background, reconnects forever.

A service starts and accepts writes while its nats-server is down; whoever needs the bus
(outbox relay, consumers) waits for ``connected()``. nats-py closes its client for good on any
``-ERR`` from the server (e.g. a message over ``max_payload`` flushed after a reconnect); the
bus then connects a new client, so the process never loses the bus.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.common.messaging.event_size import EventSizeLimit

log = logging.getLogger(__name__)


class Bus:
    def __init__(
        self, url: str, *, name: str,
        on_connect: Callable[[Client], Awaitable[None]] | None = None,
        event_limit: EventSizeLimit | None = None,
    ) -> None:
        self._url = url
        self._name = name
        self._on_connect = on_connect
        # Told the server's max_payload at every (re)connect: the writer sizes events by it.
        self.event_limit = event_limit or EventSizeLimit()
        self._client: Client | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._reset: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._connect(), name="bus-connect")

    async def _connect(self) -> None:
        delay = 0.05
        while True:
            try:
                client = await nats.connect(
                    self._url,
                    name=self._name,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.1,
                    connect_timeout=1,
                    allow_reconnect=True,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                    error_cb=self._error,
                )
            except Exception as exc:  # nats down at start: keep trying, never give up
                log.info("nats %s not reachable yet (%s); retrying", self._url, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            self.event_limit.learn(client.max_payload)
            await self._set_up(client)
            log.info(
                "connected to nats %s (streams set up, max_payload %d)",
                self._url, client.max_payload,
            )
            self._client = client
            self._ready.set()
            return

    async def _set_up(self, client: Client) -> None:
        """Runs the set-up (streams, consumers) until it succeeds; it must be idempotent."""
        if self._on_connect is None:
            return
        while True:
            try:
                await self._on_connect(client)
                return
            except Exception as exc:
                log.warning("bus set-up failed (%s); retrying", exc)
                await asyncio.sleep(0.5)

    async def _disconnected(self) -> None:
        log.warning("nats disconnected from %s", self._url)

    async def _reconnected(self) -> None:
        log.info("nats reconnected to %s", self._url)
        if self._client is not None:
            self.event_limit.learn(self._client.max_payload)
        # The server may have come back without its store: set the streams up again.
        if self._client is not None and (self._reset is None or self._reset.done()):
            self._reset = asyncio.get_running_loop().create_task(
                self._set_up(self._client), name="bus-set-up"
            )

    async def _error(self, exc: Exception) -> None:
        log.debug("nats error: %s", exc)

    async def connected(self) -> Client:
        if (
            self._client is not None and self._client.is_closed and not self._closing
            and self._ready.is_set()
        ):
            log.warning(
                "nats client to %s was closed (%s); connecting a new one",
                self._url, self._client.last_error,
            )
            self._ready.clear()
            self._task = asyncio.get_running_loop().create_task(
                self._connect(), name="bus-connect"
            )
        await self._ready.wait()
        assert self._client is not None
        return self._client

    async def jetstream(self) -> JetStreamContext:
        return (await self.connected()).jetstream()

    @property
    def is_connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    async def close(self) -> None:
        self._closing = True
        for task in (self._task, self._reset):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=2)
        if self._client is not None and not self._client.is_closed:
            try:
                # Flush, then close; never drain: a drain that times out (a silent or slow
                # server) leaves a traceback in nats.py's own tasks ("exception never
                # retrieved"). Nothing is lost: the outbox republishes what was not acked, and
                # JetStream redelivers what was not acked to us.
                await self._client.flush(timeout=1)
                await self._client.close()
            except Exception:
                log.warning("nats at %s does not answer; closed without draining", self._url)
                await self._client.close()
